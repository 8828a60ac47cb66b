"""Writes tasks/data/pretraining_corpus.txt, the bundled pre-training corpus.

Synthetic English written for bert_tf: documents on one topic each, one
sentence per line, a blank line between documents (google-research/bert's
format). Sentences follow topic-specific patterns, so a small model can
learn which words fit (masked LM) and which sentences belong together (next
sentence prediction) within minutes on a CPU. Deterministic:

    python tasks/data/make_pretraining_corpus.py
"""

import os
import random

TOPICS = {
    "kitchen": dict(
        people=["the cook", "the baker", "my aunt", "the chef", "a student"],
        things=["bread", "soup", "the oven", "fresh herbs", "the dough",
                "a sharp knife", "the recipe", "warm butter", "the onions"],
        verbs=["stirred", "baked", "tasted", "chopped", "seasoned", "served",
               "prepared", "mixed"],
        places=["in the kitchen", "at the market", "near the stove",
                "on the table"],
        qualities=["salty", "sweet", "crisp", "golden", "delicious",
                   "bitter"]),
    "sea": dict(
        people=["the sailor", "the captain", "a fisherman", "the crew",
                "the diver"],
        things=["the boat", "the net", "a storm", "the waves", "the anchor",
                "the harbor lights", "a whale", "the tide", "the sails"],
        verbs=["watched", "steered", "pulled", "repaired", "followed",
               "crossed", "tied", "raised"],
        places=["at sea", "off the coast", "in the harbor", "near the reef"],
        qualities=["rough", "calm", "dark", "cold", "wide", "salty"]),
    "school": dict(
        people=["the teacher", "a pupil", "the principal", "the class",
                "my brother"],
        things=["the lesson", "the exam", "a notebook", "the blackboard",
                "the homework", "a question", "the library", "the answer"],
        verbs=["explained", "studied", "wrote", "read", "checked", "asked",
               "finished", "graded"],
        places=["at school", "in the classroom", "after lunch",
                "in the hallway"],
        qualities=["difficult", "easy", "long", "clear", "boring",
                   "important"]),
    "farm": dict(
        people=["the farmer", "his daughter", "the workers", "a neighbor",
                "the vet"],
        things=["the cows", "the wheat", "a tractor", "the barn", "the eggs",
                "the fields", "fresh milk", "the fence", "the horses"],
        verbs=["fed", "planted", "harvested", "milked", "fixed", "watered",
               "sold", "counted"],
        places=["on the farm", "in the barn", "by the river",
                "behind the house"],
        qualities=["green", "muddy", "healthy", "tall", "ripe", "quiet"]),
    "city": dict(
        people=["the driver", "a tourist", "the mayor", "the police",
                "a musician"],
        things=["the bus", "the traffic", "a bridge", "the museum",
                "the train", "the tall buildings", "a taxi", "the park"],
        verbs=["visited", "crossed", "closed", "opened", "painted", "built",
               "photographed", "cleaned"],
        places=["downtown", "in the square", "at the station",
                "near the river"],
        qualities=["busy", "noisy", "modern", "crowded", "old", "bright"]),
    "space": dict(
        people=["the astronaut", "the engineers", "a scientist",
                "mission control", "the pilot"],
        things=["the rocket", "the moon", "a satellite", "the telescope",
                "the orbit", "the signal", "a distant star", "the fuel"],
        verbs=["launched", "observed", "measured", "tracked", "landed",
               "tested", "launched", "studied"],
        places=["in orbit", "on the launch pad", "above the earth",
                "in the control room"],
        qualities=["bright", "distant", "heavy", "silent", "fast",
                   "precise"]),
    "music": dict(
        people=["the singer", "the band", "a pianist", "the audience",
                "the conductor"],
        things=["the song", "a guitar", "the concert", "the drums",
                "the melody", "the orchestra", "a new album", "the piano"],
        verbs=["played", "recorded", "practiced", "heard", "tuned",
               "performed", "wrote", "enjoyed"],
        places=["on stage", "in the studio", "at the festival",
                "in the hall"],
        qualities=["loud", "soft", "beautiful", "slow", "famous", "happy"]),
    "forest": dict(
        people=["the ranger", "a hiker", "the hunters", "my father",
                "the scouts"],
        things=["the trees", "a deer", "the trail", "the campfire",
                "the mushrooms", "a wolf", "the old oak", "the birds"],
        verbs=["followed", "saw", "climbed", "found", "heard", "crossed",
               "protected", "counted"],
        places=["in the forest", "along the trail", "near the lake",
                "at the camp"],
        qualities=["deep", "wild", "green", "quiet", "ancient", "thick"]),
}

PATTERNS = [
    "{Person} {verb} {thing} {place} .",
    "{Thing} was {quality} {place} .",
    "{Person} said that {thing} looked {quality} .",
    "Every morning {person} {verb} {thing} .",
    "{Place}, {person} {verb} {thing} and {thing2} .",
    "Nobody expected {thing} to be so {quality} .",
    "Later {person} {verb} {thing} again .",
    "{Person} and {person2} {verb} {thing} together .",
    "It was a {quality} day {place} .",
    "After that, {thing} seemed {quality} to {person} .",
]


# Each document follows one person, named in most of its sentences: the
# recurring name (with the topic) is what ties consecutive segments
# together for next sentence prediction, as entities do in real text.
NAMES = ["anna", "ben", "carla", "david", "elena", "frank", "grace", "henry",
         "iris", "jack", "laura", "mark", "nina", "oscar", "paula", "peter",
         "rosa", "sam", "tom", "victor", "alice", "bruno", "clara", "daniel",
         "emma", "felix", "hugo", "julia", "kevin", "lucy", "maria", "noah",
         "olga", "paul", "ruth", "simon", "tina", "walter", "yuri", "zoe"]


def sentence(topic, name, rng):
    words = TOPICS[topic]

    def person():
        return name.capitalize() if rng.random() < 0.6 else \
            rng.choice(words["people"])

    values = dict(
        person=person(),
        person2=rng.choice(words["people"]),
        thing=rng.choice(words["things"]),
        thing2=rng.choice(words["things"]),
        verb=rng.choice(words["verbs"]),
        place=rng.choice(words["places"]),
        quality=rng.choice(words["qualities"]),
    )
    for key in list(values):
        values[key.capitalize()] = values[key][0].upper() + values[key][1:]
    return rng.choice(PATTERNS).format(**values)


def write(path, num_documents=240, seed=2018):
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(num_documents):
            topic = rng.choice(topics)
            name = rng.choice(NAMES)
            for _ in range(rng.randint(8, 24)):
                f.write(sentence(topic, name, rng) + "\n")
            f.write("\n")


if __name__ == "__main__":
    write(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "pretraining_corpus.txt"))
