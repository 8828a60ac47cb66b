"""Writes tasks/data/squad/{train,dev}-v1.1.json: a small SQuAD v1.1 set.

Synthetic English written for bert_tf from the word lists and templates
below: encyclopedia-style articles about invented towns, one paragraph
each on the town, its river, a person born there, a machine first tested
there and its festival. Every question (who, when, where, what, how many)
is answered by a span of its paragraph. The same question patterns recur
across paragraphs with different answers, and each paragraph holds several
years, names and numbers, its sentences in varying wording and order, so
the answer has to be read from the context. Some names carry accents
("Zoë", "São"), exercising character offsets, and a few paragraphs run
past 300 words, so max_seq_length 128-256 needs doc_stride windows.

The files have the official layout: {"version": "1.1", "data": [{"title",
"paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text",
"answer_start"}]}]}]}]}, answer_start a character offset. Train questions
have one answer; dev questions three, as in the official dev set (some
are variants: with or without "the", a number without its unit). 800
train and 200 dev questions, no town in both. Deterministic (fixed seed):

    python tasks/data/make_squad_sample.py
"""

import json
import os
import random
import string

SPLITS = (("train", 800), ("dev", 200))
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "squad")
LONG_PARAGRAPHS = 0.06  # Share of paragraphs with every sentence + fillers.
LONG_WORDS = 310

# Names -------------------------------------------------------------------

ONSETS = (
    "Vel Ost Kar Bren Tal Mor Ash Fen Hal Dun Cor Lis Mar Sel Tor Wen Gal "
    "Rav Ber Nol Esk Quen Pell Sar Thal Ulm Var Zel Brun Cal Dor Gren Hol "
    "Ivr Jor Kel Lun Mir Nor Orv Pra Rod Stav Tir Vos Wal Yar Hest Lom"
).split()
ACCENTED_ONSETS = "Bré Sø Lö Dü Mé Çel Å".split()
TOWN_ENDS = "mora ford wick haven stead brook dale holm ton mere gate ley " \
    "wald burg ric ano ova isk".split()
MIDDLES = ("", "", "", "a", "e", "i", "o", "en", "er")  # "" most often
RIVER_ENDS = "a ra en ine ava ock ell una is ey".split()
SURNAME_ENDS = "ington ard ell ow ez sen ani ov berg ley croft mont ier " \
    "ski hart wood".split()
# (first name, pronoun)
FIRST_NAMES = [(name, "she") for name in (
    "Anna Clara Elena Grace Helen Ida Julia Laura Maria Nora Rosa Sofia "
    "Vera Agnes Edith Marta Lena Zoë Renée Inès Åsa").split()] + [
    (name, "he") for name in (
    "Anton Bruno Carl Daniel Edgar Felix Hugo Isak Jonas Karl Leon Martin "
    "Oskar Paul Simon Tomas Viktor Joël Björn Søren André").split()]
PRONOUNS = {"she": dict(He="She", he="she", his="her", His="Her",
                        him="her"),
            "he": dict(He="He", he="he", his="his", His="His", him="him")}


class Names:
    """Invented names, never the same one twice in a run."""

    def __init__(self, rng):
        self.rng, self.used = rng, set()

    def _fresh(self, make):
        while True:
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name

    def stem(self, ends, accents=0.0, middles=("",)):
        onsets = ACCENTED_ONSETS if self.rng.random() < accents else ONSETS
        return (self.rng.choice(onsets) + self.rng.choice(middles)
                + self.rng.choice(ends))

    def town(self):
        def make():
            name = self.stem(TOWN_ENDS, middles=MIDDLES)
            return "São " + name if self.rng.random() < 0.04 else name
        return self._fresh(make)

    def river(self):
        return self._fresh(lambda: self.stem(RIVER_ENDS))

    def surname(self):
        return self._fresh(lambda: self.stem(SURNAME_ENDS, 0.05, MIDDLES))

    def person(self):
        """(full name, surname, pronoun)."""
        first, pronoun = self.rng.choice(FIRST_NAMES)
        last = self.surname()
        return f"{first} {last}", last, pronoun

    def region(self):
        return self._fresh(lambda: self.stem("land mark lund shire".split()))


# Word lists --------------------------------------------------------------

JOBS = ("a salt trader|a wool merchant|a retired sea captain|a miller|"
        "a blacksmith|a ferryman|a stonemason|a glassblower|a cattle dealer|"
        "a boat builder|an innkeeper|an apothecary|a tanner|a wine merchant")
INDUSTRIES = ("glassmaking|shipbuilding|paper milling|clock making|"
              "cheese making|wool weaving|salt mining|brewing|pottery|"
              "rope making|the timber trade|leather tanning|printing")
FIRMS = "Ironworks|Mills|Brothers|Company|Works|Cooperative|and Sons"
LANDMARKS = ("clock tower|town hall|covered market|stone bridge|cathedral|"
             "guildhall|old granary|customs house|opera house|lighthouse")
NICKNAMES = [
    ("the City of Bells", "its many church towers"),
    ("the Blue Town", "the blue slate of its roofs"),
    ("the Town of Chimneys", "the smoke of its old workshops"),
    ("the Garden Town", "the orchards inside its walls"),
    ("the White Quarter", "its limestone houses"),
    ("the Little Harbour", "the fishing boats moored along its quay"),
    ("the Town of Gates", "the seven gates of its medieval wall"),
]
DIRECTIONS = "north|south|east|west|north-east|south-west|north-west"
SIDES = "left|right|northern|southern|eastern|western"
FISH = "trout|grayling|salmon|pike|eels|perch|crayfish|carp"
MEANINGS = ("slow water|grey stream|the bright one|cold river|winding path|"
            "willow water|the stony one|quiet valley")
PROFESSIONS = ("painter|engineer|botanist|composer|astronomer|chemist|poet|"
               "cartographer|architect|physician|historian|sculptor")
SUBJECTS = ("botany|mathematics|law|medicine|architecture|music|chemistry|"
            "history|painting|geology|philosophy|astronomy")
WORKS = ("The Winter Orchard|A Study of Mountain Light|The Salt Roads|"
         "On the Motion of Tides|The Glass Garden|Seven Letters on Rain|"
         "The Silent Harbour|A Grammar of Birds|The Lamp and the Compass|"
         "Notes from the Upper Valley|The Long Table|Songs of the Ferry")
AWARD_REASONS = ("a lifetime of teaching|services to science|a series of "
                 "public lectures|the restoration of the old library|"
                 "work on the history of the region|a survey of the coast")
# (thing, what it is, what it was for, parts)
MACHINES = [
    ("loom", "weaving machine", "weaving patterned cloth", "wooden rollers"),
    ("lamp", "safety lamp", "lighting mine shafts", "glass panes"),
    ("pump", "water pump", "draining flooded fields", "iron valves"),
    ("press", "printing press", "printing newspapers", "brass plates"),
    ("clock", "tower clock", "keeping time at railway stations",
     "brass gears"),
    ("kiln", "brick kiln", "firing roof tiles", "clay chambers"),
    ("winch", "hand winch", "hauling boats onto the shore", "steel cogs"),
    ("stove", "cooking stove", "heating small farmhouses", "iron plates"),
    ("plough", "steel plough", "turning heavy clay soil", "blades"),
    ("camera", "folding camera", "photographing buildings", "lenses"),
]
SUCCESSOR_ADVANTAGES = ("was driven by electricity|was half the weight|"
                        "could be run by a single worker|was made entirely "
                        "of steel|cost a third as much")
FESTIVALS = [  # (kind, prize, highlight)
    ("Lantern", "the Silver Lantern", "a procession of paper lanterns"),
    ("Harvest", "the Golden Sheaf", "a parade of decorated wagons"),
    ("Music", "the Blue Ribbon", "an open-air concert"),
    ("Kite", "the Red Kite Trophy", "a kite-flying contest"),
    ("Boat", "the Oarsman's Cup", "a race of rowing boats"),
    ("Bread", "the Baker's Shield", "the baking of a giant loaf"),
]
VENUES = ("the market square|the old harbour|the castle courtyard|the "
          "meadows by the river|the cathedral square|the town park")
FOUNDER_ROLES = ("the local schoolmaster|a parish priest|the owner of the "
                 "largest inn|a retired actress|the leader of the brass band|"
                 "a young doctor")
PRIZE_WINNERS = ("the best young performer|the most original entry|the "
                 "winning crew|the best new song|the finest decoration")
PUPIL_ROLES = ("a well-known painter|the director of the national museum|"
               "a professor of music|a famous mountaineer|a court judge|"
               "the first woman to lead the academy")
CANCEL_REASONS = ("heavy flooding|an outbreak of cholera|a fire in the "
                  "market square|a long war|a dispute over its funding")
MONTHS = ("January February March April May June July August September "
          "October November December").split()
NUMBER_WORDS = "two three four five six seven eight nine ten eleven".split()


def pick(rng, options):
    """One of the '|'-separated `options`."""
    return rng.choice(options.split("|"))


def count(rng, low, high):
    """An int from [low, high], as words up to eleven, else as digits."""
    n = rng.randint(low, high)
    return NUMBER_WORDS[n - 2] if 2 <= n <= 11 and rng.random() < 0.7 \
        else f"{n:,}"


# Facts -------------------------------------------------------------------


def person_facts(names, prefix):
    """{prefix: full name, prefix_last: surname} and pronoun forms."""
    full, last, pronoun = names.person()
    facts = {prefix: full, prefix + "_last": last}
    if prefix == "person":
        facts.update(PRONOUNS[pronoun])
    return facts


def town_facts(names, rng):
    nickname, reason = rng.choice(NICKNAMES)
    facts = dict(
        town=names.town(), region=names.region(), river=names.river(),
        city=names.town(), side=pick(rng, SIDES), dir=pick(rng, DIRECTIONS),
        dist=f"{rng.randint(6, 95)} kilometres", founder_job=pick(rng, JOBS),
        origin=names.town(), population=f"{rng.randint(1800, 48000):,}",
        industry=pick(rng, INDUSTRIES), landmark=pick(rng, LANDMARKS),
        company=f"{names.surname()} {pick(rng, FIRMS)}", nickname=nickname,
        reason=reason, twin=names.town(), twin_region=names.region(),
    )
    for role in ("founder", "architect", "mayor"):
        facts.update(person_facts(names, role))
    return facts


def river_facts(names, rng):
    source = rng.choice((f"the {names.stem(ONSETS)} Hills",
                         f"the slopes of Mount {names.stem(TOWN_ENDS)}"))
    mouth = rng.choice((f"Lake {names.stem(RIVER_ENDS)}",
                        f"the {names.stem(TOWN_ENDS)} Sea"))
    return dict(
        length=f"{rng.randint(40, 640)} kilometres", source=source,
        flow_dir=pick(rng, DIRECTIONS), mouth=mouth,
        tributary=names.river(), confluence=names.town(),
        bridges=count(rng, 3, 40), dam=f"{names.surname()} Dam",
        fish=pick(rng, FISH), meaning=pick(rng, MEANINGS),
        fish_org=f"the {names.surname()} Angling Club",
        basin=f"{rng.randint(300, 9000):,} square kilometres")


def life_facts(names, rng):
    facts = person_facts(names, "person")
    facts.update(
        profession=pick(rng, PROFESSIONS), subject=pick(rng, SUBJECTS),
        school=rng.choice((f"the University of {names.town()}",
                           f"the {names.town()} Academy")),
        work=pick(rng, WORKS), copies=f"{rng.randint(800, 30000):,}",
        children=count(rng, 2, 9), death_place=names.town(),
        award=rng.choice((f"the {names.surname()} Medal",
                          f"the {names.region()} Prize")),
        award_reason=pick(rng, AWARD_REASONS),
        pupil_role=pick(rng, PUPIL_ROLES))
    for role in ("teacher", "spouse", "pupil"):
        facts.update(person_facts(names, role))
    return facts


def machine_facts(names, rng):
    thing, kind, purpose, parts = rng.choice(MACHINES)
    facts = person_facts(names, "inventor")
    facts.update(
        device=f"{names.surname()} {thing}", device_kind=kind,
        purpose=purpose, part_kind=parts, parts=str(rng.randint(6, 120)),
        weight=f"{rng.randint(3, 900)} kilograms",
        maker=f"{names.surname()} {pick(rng, FIRMS)}",
        units=f"{rng.randint(300, 90000):,}",
        successor=f"{names.surname()} {thing}",
        advantage=pick(rng, SUCCESSOR_ADVANTAGES), master_job=pick(rng, JOBS),
        master_town=names.town(), apprentice_years=count(rng, 2, 9))
    facts.update(person_facts(names, "master"))
    return facts


def festival_facts(names, rng, town):
    kind, prize, highlight = rng.choice(FESTIVALS)
    facts = person_facts(names, "fest_founder")
    facts.update(
        festival=f"{town} {kind} Festival", month=rng.choice(MONTHS),
        fest_role=pick(rng, FOUNDER_ROLES), days=count(rng, 2, 10),
        visitors=f"{rng.randint(2, 90) * 1000:,}", highlight=highlight,
        venue=pick(rng, VENUES), prize=prize,
        prize_for=pick(rng, PRIZE_WINNERS),
        band=f"the {names.surname()} Brass Band",
        cancel_reason=pick(rng, CANCEL_REASONS))
    return facts


def years(rng):
    """Every year of an article, all different."""
    while True:
        born = rng.randint(1760, 1900)
        inv, fest = rng.randint(1820, 1950), rng.randint(1870, 1985)
        y = dict(
            founded=rng.randint(1150, 1790), census=rng.randint(1991, 2022),
            landmark_year=rng.randint(1560, 1930),
            twin_year=rng.randint(1955, 2004),
            mayor_year=rng.randint(2005, 2023),
            bridge_year=rng.randint(1300, 1700),
            nav_year=rng.randint(1880, 1960), born=born,
            died=born + rng.randint(48, 93),
            work_year=born + rng.randint(24, 40),
            marry_year=born + rng.randint(21, 33), inv_year=inv,
            patent_year=inv + rng.randint(1, 4),
            end_year=inv + rng.randint(20, 60), fest_year=fest,
            prize_year=fest + rng.randint(5, 35),
            band_year=fest + rng.randint(1, 30),
            cancel_year=fest + rng.randint(3, 38),
            flood_year=rng.randint(1700, 1990))
        y["award_year"] = rng.randint(y["work_year"] + 2, y["died"] - 1)
        if len(set(y.values())) == len(y):
            y["age"] = y["died"] - y["born"]
            return {key: str(value) for key, value in y.items()}


def article_facts(names, rng):
    facts = town_facts(names, rng)
    for more in (river_facts, life_facts, machine_facts):
        facts.update(more(names, rng))
    facts.update(festival_facts(names, rng, facts["town"]))
    facts.update(years(rng))
    return facts


# Paragraphs --------------------------------------------------------------
# Each topic: sentences (alternative wordings of one sentence separated by
# '|'; the first sentence always opens the paragraph), long filler
# sentences that carry no answers, and questions: answer field -> '|'-
# separated wordings.

TOPICS = {
    "town": dict(
        sentences=[
            "{town} is a town in the province of {region}, on the {side} "
            "bank of the {river}, about {dist} {dir} of {city}.|The town of "
            "{town} lies on the {side} bank of the {river} in the province "
            "of {region}, some {dist} {dir} of {city}.|{town} is a market "
            "town of the province of {region}, built on the {side} bank of "
            "the {river} roughly {dist} {dir} of {city}.",
            "It was founded in {founded} by {founder}, {founder_job} from "
            "{origin}.|{founder}, {founder_job} from {origin}, founded the "
            "settlement in {founded}.|The settlement was established in "
            "{founded} by {founder}, {founder_job} who had come from "
            "{origin}.",
            "At the census of {census}, {town} had a population of "
            "{population}.|The {census} census recorded a population of "
            "{population}.|According to the census of {census}, "
            "{population} people lived in the town.",
            "The local economy has long depended on {industry}, and the "
            "largest employer is {company}.|For centuries the town has "
            "lived from {industry}; today its largest employer is "
            "{company}.",
            "The {landmark}, completed in {landmark_year}, was designed by "
            "the architect {architect}.|The architect {architect} designed "
            "the {landmark}, which was completed in {landmark_year}.|Its "
            "best-known building is the {landmark}, finished in "
            "{landmark_year} to plans by {architect}.",
            "{town} is known locally as {nickname} because of {reason}."
            "|Because of {reason}, locals call {town} {nickname}.",
            "Since {twin_year}, {town} has been twinned with {twin}, a port "
            "on the coast of {twin_region}.",
            "Its current mayor, {mayor}, took office in {mayor_year}.|"
            "{mayor} has been mayor of {town} since {mayor_year}.|The town "
            "has been governed since {mayor_year} by mayor {mayor}.",
        ],
        fillers=[
            "The old centre is a maze of narrow lanes lined with tall "
            "timber-framed houses, many of them painted in pale shades of "
            "green, yellow and blue, and on summer evenings the cafés along "
            "the quay stay open until well after midnight.",
            "Most of the surrounding countryside is given over to orchards "
            "and pasture, and the weekly market, held every Saturday "
            "morning in the square in front of the church, draws farmers "
            "and traders from all the villages of the valley.",
            "Like many towns of the region, it suffered badly during the "
            "great floods of the nineteenth century, when the water rose so "
            "high that boats could be rowed through the lower streets, and "
            "the marks left by the floods can still be seen on several "
            "walls.",
            "A railway line reached the town late in the nineteenth "
            "century, bringing a short period of growth, but the station "
            "was closed again decades later, and today the nearest trains "
            "stop in a larger town further down the valley.",
        ],
        questions=dict(
            river="On which river does {town} lie?|Which river is {town} "
            "built on?|What river does {town} stand beside?",
            dist="How far is {town} from {city}?|What is the distance "
            "between {town} and {city}?",
            region="In which province is {town}?|In what province does "
            "{town} lie?",
            city="{town} lies {dist} {dir} of which city?",
            side="On which bank of the {river} is {town}?",
            founded="When was {town} founded?|In what year was {town} "
            "founded?|In which year was {town} established?",
            founder="Who founded {town}?|Who was the founder of {town}?|By "
            "whom was {town} established?",
            founder_job="What was the occupation of the founder of {town}?"
            "|What was {founder}'s trade?",
            origin="Where did the founder of {town} come from?|Where was "
            "{founder} from?",
            population="What was the population of {town} in {census}?|How "
            "many people lived in {town} at the {census} census?|What "
            "population did the {census} census record for {town}?",
            census="In what year did a census count {population} people in "
            "{town}?",
            industry="What has the economy of {town} long depended on?|What "
            "is the traditional industry of {town}?",
            company="What is the largest employer in {town}?|Which firm "
            "employs the most people in {town}?",
            landmark_year="When was the {landmark} of {town} completed?|In "
            "what year was the {landmark} in {town} finished?",
            architect="Who designed the {landmark} in {town}?|Which "
            "architect designed the {landmark} of {town}?",
            nickname="What is {town} known as locally?|What do locals call "
            "{town}?|What nickname does {town} have?",
            reason="Why is {town} called {nickname}?",
            twin="Which town is {town} twinned with?|What is the twin town "
            "of {town}?",
            twin_year="Since when has {town} been twinned with {twin}?",
            twin_region="On the coast of which province does {twin} lie?",
            mayor="Who is the mayor of {town}?|Who has governed {town} "
            "since {mayor_year}?",
            mayor_year="When did {mayor} become mayor of {town}?|Since what "
            "year has {mayor} been the mayor of {town}?",
        ),
    ),
    "river": dict(
        sentences=[
            "The {river} is a river of the province of {region} with a "
            "total length of {length}.|With a length of {length}, the "
            "{river} is the longest river in the province of {region}.",
            "It rises in {source} and flows {flow_dir} into {mouth}.|From "
            "its source in {source}, the river flows {flow_dir} until it "
            "reaches {mouth}.",
            "Its largest tributary is the {tributary}, which joins it near "
            "the village of {confluence}.|Near the village of {confluence} "
            "it is joined by the {tributary}, its largest tributary.",
            "The river is crossed by {bridges} bridges, the oldest of which "
            "dates from {bridge_year}.|Of the {bridges} bridges that cross "
            "the {river}, the oldest was built in {bridge_year}.",
            "Barges could travel up the river as far as {town} until "
            "{nav_year}, when the {dam} was built.|Until the {dam} was "
            "built in {nav_year}, the {river} was navigable as far as "
            "{town}.",
            "The {river} is known for its {fish}, and fishing permits are "
            "issued by {fish_org}.|Anglers come to the {river} for its "
            "{fish}; permits are issued by {fish_org}.",
            'The name {river} is thought to come from an old word meaning '
            '"{meaning}".',
            "The river drains a basin of {basin}, most of it farmland and "
            "forest.|Its basin covers {basin}, mostly farmland and forest.",
            "In {flood_year}, the {river} burst its banks and flooded the "
            "lower streets of {town}.",
        ],
        fillers=[
            "In spring the meltwater from the hills often swells the river "
            "within a few days, and the meadows along its lower course are "
            "flooded so regularly that almost nothing has ever been built "
            "on them, apart from a few barns raised on stone posts.",
            "A footpath follows the bank for most of its length, passing "
            "mills, locks and small chapels, and in the summer it is walked "
            "by thousands of hikers who stay in the inns of the villages "
            "along the way.",
            "Several kinds of birds nest in the reed beds near its mouth, "
            "including herons, kingfishers and grebes, and part of the "
            "delta has been protected as a nature reserve for many years.",
        ],
        questions=dict(
            length="How long is the {river}?|What is the length of the "
            "{river}?",
            source="Where does the {river} rise?|Where is the source of the "
            "{river}?",
            mouth="Into what does the {river} flow?|Where does the {river} "
            "end?|What does the {river} flow into?",
            flow_dir="In which direction does the {river} flow?",
            tributary="What is the largest tributary of the {river}?|Which "
            "river is the main tributary of the {river}?",
            confluence="Near which village does the {tributary} join the "
            "{river}?",
            bridges="How many bridges cross the {river}?",
            bridge_year="When was the oldest bridge over the {river} built?"
            "|From what year does the oldest bridge across the {river} "
            "date?",
            nav_year="Until what year was the {river} navigable?|When was "
            "the {dam} built?",
            dam="What ended navigation on the {river} in {nav_year}?|What "
            "was built on the {river} in {nav_year}?",
            fish="What fish is the {river} known for?|Why do anglers come "
            "to the {river}?",
            fish_org="Who issues fishing permits for the {river}?",
            meaning="What does the name {river} mean?|What is the meaning "
            "of the name {river}?",
            basin="How large is the basin of the {river}?|What area does "
            "the {river} drain?",
            flood_year="In what year did the {river} burst its banks?|When "
            "did the {river} flood {town}?",
        ),
    ),
    "life": dict(
        sentences=[
            "{person} ({born}–{died}) was a {profession} born in {town}.|"
            "Born in {town} in {born}, {person} was a {profession} who died "
            "in {died}.",
            "{He} studied {subject} at {school} under {teacher}.|At "
            "{school}, {he} studied {subject} under {teacher}.",
            "In {work_year}, {he} published {work}, which sold {copies} "
            "copies in its first year.|{His} best-known work, {work}, "
            "appeared in {work_year} and sold {copies} copies within a "
            "year.",
            "{person_last} married {spouse} in {marry_year}; they had "
            "{children} children.|In {marry_year}, {he} married {spouse}, "
            "with whom {he} had {children} children.",
            "{He} received {award} in {award_year} for {award_reason}.|In "
            "{award_year}, {he} was awarded {award} for {award_reason}.",
            "Among {his} pupils was {pupil}, who later became "
            "{pupil_role}.",
            "{He} spent {his} last years in {death_place}, where {he} died "
            "at the age of {age}.|{He} died in {death_place} at the age of "
            "{age}.",
        ],
        fillers=[
            "Contemporaries described {him} as a quiet and patient worker "
            "who rarely travelled, answered every letter by hand and spent "
            "long hours walking alone in the hills above the town, often "
            "carrying a small notebook in which {he} recorded whatever "
            "caught {his} attention.",
            "Although {his} early work was largely ignored by critics, a "
            "generation of younger admirers later collected {his} papers, "
            "published {his} notebooks and letters, and argued that {he} "
            "had been far ahead of the fashions of {his} time.",
            "{His} house near the river was left to the town after {his} "
            "death and has been kept much as {he} left it, with {his} "
            "books, instruments and unfinished drafts still arranged on "
            "the long table by the window.",
        ],
        questions=dict(
            born="When was {person} born?|In what year was {person} born?",
            died="When did {person} die?|In which year did {person} die?",
            profession="What was {person}'s profession?|What was {person} "
            "by profession?",
            town="Where was {person} born?|In which town was {person} "
            "born?",
            subject="What did {person} study?|Which subject did {person} "
            "study?",
            school="Where did {person} study?|At which school did {person} "
            "study?",
            teacher="Who taught {person}?|Under whom did {person} study?|"
            "Who was {person}'s teacher?",
            work="What did {person} publish in {work_year}?|What is "
            "{person}'s best-known work?",
            work_year="When did {person} publish {work}?|In what year did "
            "{work} appear?",
            copies="How many copies of {work} were sold in the first year?",
            spouse="Whom did {person} marry?|Who was {person}'s spouse?",
            marry_year="When did {person} marry {spouse}?",
            children="How many children did {person} have?",
            award="What award did {person} receive in {award_year}?|What "
            "was {person} awarded in {award_year}?",
            award_year="When did {person} receive {award}?",
            award_reason="Why was {person} awarded {award}?",
            death_place="Where did {person} die?",
            pupil="Who was among {person}'s pupils?|Which pupil of "
            "{person} later became {pupil_role}?",
            pupil_role="What did {pupil} later become?",
            age="How old was {person} when {he} died?|At what age did "
            "{person} die?",
        ),
    ),
    "machine": dict(
        sentences=[
            "The {device} is a {device_kind} invented by {inventor} in "
            "{inv_year}.|Invented by {inventor} in {inv_year}, the {device} "
            "is a {device_kind}.",
            "It was designed for {purpose} and was first tested in a "
            "workshop in {town}.|{inventor_last} built it for {purpose}, "
            "testing the first model in a workshop in {town}.",
            "The original machine had {parts} {part_kind} and weighed "
            "{weight}.|Weighing {weight}, the first model had {parts} "
            "{part_kind}.",
            "A patent for the design was granted in {patent_year}.|"
            "{inventor_last} was granted a patent in {patent_year}.",
            "{maker} produced about {units} of the machines before "
            "production ended in {end_year}.|Until {end_year}, {maker} "
            "built about {units} of them.",
            "Before inventing it, {inventor_last} had spent "
            "{apprentice_years} years as an apprentice to {master}, "
            "{master_job} in "
            "{master_town}.",
            "It was eventually replaced by the {successor}, which "
            "{advantage}.",
        ],
        fillers=[
            "Early models were notoriously difficult to adjust, and the "
            "instruction booklets printed for buyers ran to dozens of pages "
            "of diagrams, warnings and tables of settings for different "
            "kinds of work and different seasons of the year.",
            "Several museums keep working examples, and volunteers still "
            "demonstrate them on open days, explaining to visitors how each "
            "part was cast, filed and fitted by hand in small workshops "
            "that employed no more than a dozen people.",
            "Rival makers copied the design almost at once, which led to a "
            "long series of quarrels and lawsuits that were settled only "
            "when the original drawings, kept in a locked chest, were shown "
            "to the court.",
        ],
        questions=dict(
            inventor="Who invented the {device}?|Who was the inventor of "
            "the {device}?",
            inv_year="When was the {device} invented?|In what year did "
            "{inventor} invent the {device}?",
            device_kind="What kind of machine is the {device}?",
            purpose="What was the {device} designed for?|For what purpose "
            "was the {device} built?",
            town="Where was the {device} first tested?|In which town was "
            "the first {device} tested?",
            parts="How many {part_kind} did the original {device} have?",
            weight="How much did the original {device} weigh?|What was the "
            "weight of the first {device}?",
            patent_year="When was the {device} patented?|In what year was a "
            "patent for the {device} granted?",
            maker="Which company produced the {device}?|Who manufactured "
            "the {device}?",
            units="How many of the {device} machines were built?|About "
            "how many copies of the {device} were produced?",
            end_year="When did production of the {device} end?",
            successor="What replaced the {device}?|Which machine replaced "
            "the {device}?",
            master="To whom was {inventor} apprenticed?|Who trained "
            "{inventor}?",
            apprentice_years="How many years did {inventor} spend as an "
            "apprentice?",
            master_town="Where did {inventor} serve as an apprentice?",
        ),
    ),
    "festival": dict(
        sentences=[
            "The {festival} is held every {month} on the banks of the "
            "{river}.|Every {month}, the town hosts the {festival}.",
            "It was first organised in {fest_year} by {fest_founder}, "
            "{fest_role}.|{fest_founder}, {fest_role}, organised the first "
            "festival in {fest_year}.",
            "The festival lasts {days} days and attracts about {visitors} "
            "visitors.|About {visitors} visitors come to the festival, "
            "which lasts {days} days.",
            "Its highlight is {highlight}, which takes place in {venue} on "
            "the final evening.|On the final evening, {highlight} takes "
            "place in {venue}.",
            "Music is traditionally provided by {band}, which has played at "
            "every festival since {band_year}.",
            "The festival was cancelled only once, in {cancel_year}, "
            "because of {cancel_reason}.",
            "Since {prize_year}, a prize called {prize} has been awarded to "
            "{prize_for}.|A prize, {prize}, has been awarded to "
            "{prize_for} since {prize_year}.",
        ],
        fillers=[
            "Preparations begin months in advance, with volunteers from "
            "every street of the town meeting in school halls and barns to "
            "build decorations, rehearse music and sew costumes, and the "
            "whole effort is paid for mostly by small donations from local "
            "families and shops.",
            "During the festival the streets of the old town are closed to "
            "traffic, stalls selling roasted nuts, honey cakes and hot "
            "cider line the squares, and brass bands from the neighbouring "
            "villages play on makeshift stages until late at night.",
        ],
        questions=dict(
            month="In which month is the {festival} held?|When is the "
            "{festival} held each year?",
            fest_year="When was the {festival} first held?|In what year was "
            "the first {festival} organised?",
            fest_founder="Who organised the first {festival}?|Who founded "
            "the {festival}?",
            fest_role="Who was {fest_founder}?",
            days="How many days does the {festival} last?",
            visitors="How many visitors does the {festival} attract?|About "
            "how many people visit the {festival}?",
            highlight="What is the highlight of the {festival}?",
            venue="Where does the highlight of the {festival} take place?",
            prize="What prize is awarded at the {festival}?|What is the "
            "name of the prize awarded at the {festival}?",
            prize_year="Since when has {prize} been awarded?",
            prize_for="Who receives {prize}?|To whom is {prize} awarded?",
            band="Who provides the music at the {festival}?|Which band "
            "plays at the {festival}?",
            band_year="Since when has {band} played at the {festival}?",
            cancel_year="In what year was the {festival} cancelled?|When "
            "was the {festival} cancelled?",
            cancel_reason="Why was the {festival} cancelled in "
            "{cancel_year}?",
        ),
    ),
}

# Sentences that fit any topic, for long paragraphs.
GENERAL_FILLERS = [
    "Much of what is known about its early history comes from a handful "
    "of parish registers, tax rolls and letters kept in the provincial "
    "archive, and historians still disagree about how several of the "
    "surviving documents should be read.",
    "Local historians have published a number of short studies on the "
    "subject, most of them in the yearbook of the regional history "
    "society, which has appeared every autumn for as long as anyone in the "
    "town can remember.",
    "Visitors who want to learn more are usually sent to the small museum "
    "next to the library, where maps, photographs, old tools and a large "
    "model of the valley are shown in three rooms on the upper floor.",
    "Although these details are often repeated in guidebooks, some of "
    "them rest on little more than a story told by an elderly resident to "
    "a travelling writer, and they should be treated with some caution.",
]
_FORMATTER = string.Formatter()


def render(template, facts, spans, offset):
    """`template` filled from `facts`; records the first character offset
    (`offset` + position) of each field in `spans`."""
    out, length = [], offset
    for literal, field, _, _ in _FORMATTER.parse(template):
        out.append(literal)
        length += len(literal)
        if field is not None:
            value = facts[field]
            spans.setdefault(field, length)
            out.append(value)
            length += len(value)
    return "".join(out)


def num_words(templates, facts):
    return sum(len(t.format(**facts).split()) for t in templates)


def context(topic, facts, rng, long):
    """(paragraph text, {field: first offset}). A long paragraph has all
    the topic's sentences, and fillers up to LONG_WORDS words; others
    5-8 sentences."""
    sentences = [pick(rng, s) for s in topic["sentences"]]
    rest = sentences[1:]
    if not long:
        rest = rng.sample(rest, rng.randint(4, min(7, len(rest))))
        if rng.random() < 0.7:  # Usually in the topic's logical order.
            rest.sort(key=sentences.index)
    else:
        fillers = topic["fillers"] + GENERAL_FILLERS
        while num_words(sentences[:1] + rest, facts) < LONG_WORDS:
            rest.insert(rng.randint(0, len(rest)), fillers.pop(0))
    spans, parts, offset = {}, [], 0
    for template in sentences[:1] + rest:
        parts.append(render(template, facts, spans, offset))
        offset += len(parts[-1]) + 1
    return " ".join(parts), spans


def variants(text, start, context):
    """Other spans an annotator might mark for the same answer."""
    out = []
    for word in ("the ", "a ", "an "):
        at = start - len(word)
        before = context[max(0, at):start]
        if text.startswith(word):
            out.append((text[len(word):], start + len(word)))
        elif before.lower() == word and (at == 0
                                         or context[at - 1] == " "):
            out.append((before + text, start - len(word)))
    number, _, unit = text.partition(" ")
    if unit and number.replace(",", "").isdigit():
        out.append((number, start))
    return out


def answers(text, start, context, rng, dev):
    """The answer list: one answer for train, three for dev."""
    if not dev:
        return [(text, start)]
    others = variants(text, start, context)
    result = [(text, start)]
    for _ in range(2):
        use = others and rng.random() < 0.4
        result.append(rng.choice(others) if use else (text, start))
    return result


def paragraph(topic, facts, rng, new_id, dev):
    long = rng.random() < LONG_PARAGRAPHS
    text, spans = context(topic, facts, rng, long)
    fields = [f for f in topic["questions"] if f in spans]
    qas = []
    for field in rng.sample(fields, min(len(fields), rng.randint(3, 6))):
        question = pick(rng, topic["questions"][field]).format(**facts)
        found = answers(facts[field], spans[field], text, rng, dev)
        for answer, start in found:
            assert text[start:start + len(answer)] == answer, (text, answer)
        qas.append(dict(id=new_id(), question=question, answers=[
            dict(text=answer, answer_start=start) for answer, start in found
        ]))
    return dict(context=text, qas=qas)


def article(names, rng, new_id, dev):
    facts = article_facts(names, rng)
    others = ["river", "life", "machine", "festival"]
    topics = ["town"] + rng.sample(others, rng.randint(2, len(others)))
    paragraphs = [paragraph(TOPICS[t], facts, rng, new_id, dev)
                  for t in topics]
    return dict(title=facts["town"].replace(" ", "_"), paragraphs=paragraphs)


def trim(data, size):
    """Drops questions from the end so exactly `size` remain."""
    excess = sum(len(p["qas"]) for a in data for p in a["paragraphs"]) - size
    last = data[-1]["paragraphs"]
    while excess > 0:
        if len(last[-1]["qas"]) > excess:
            del last[-1]["qas"][-excess:]
            return
        excess -= len(last.pop()["qas"])


def make_split(names, rng, size, new_id, dev):
    data, total = [], 0
    while total < size:
        data.append(article(names, rng, new_id, dev))
        total += sum(len(p["qas"]) for p in data[-1]["paragraphs"])
    trim(data, size)
    return data


def id_maker(rng):
    """A function giving new 24-hex-digit ids, as in the official files."""
    used = set()

    def new_id():
        while True:
            qas_id = f"{rng.getrandbits(96):024x}"
            if qas_id not in used:
                used.add(qas_id)
                return qas_id
    return new_id


def main():
    rng = random.Random(2016)
    names, new_id = Names(rng), id_maker(rng)
    os.makedirs(OUT, exist_ok=True)
    for split, size in SPLITS:
        data = make_split(names, rng, size, new_id, split == "dev")
        path = os.path.join(OUT, f"{split}-v1.1.json")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            json.dump({"data": data, "version": "1.1"}, f,
                      ensure_ascii=False)


if __name__ == "__main__":
    main()
