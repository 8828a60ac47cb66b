"""Writes tasks/data/glue/{SST-2,MRPC}/{train,dev,test}.tsv: small GLUE sets.

Synthetic English written for bert_tf from the word lists and templates
below, in the original GLUE files' layouts (header rows, columns, MRPC's
byte-order mark), so the real readers and fine-tuning code run on them:

- SST-2: review snippets (films, restaurants, products), lower-cased and
  tokenized as in SST ("it 's", "does n't", " , "); 1 = positive. Negation
  ("not bad") and contrast ("X , but Y": the clause after "but" decides)
  make it non-trivial; a few mixed reviews get a coin-flip label, as real
  annotators disagree.
- MRPC: news-style sentence pairs; 1 = the same facts re-expressed
  (synonyms, passive voice, reordering, "5 percent" / "5%"), 0 = one key
  fact differs (number, company, day, negation, opposite verb) or, for a
  fifth of them, the sentences are unrelated.

1200 train, 300 dev and 200 test rows per task, labels 50/50, no row in
two splits. Deterministic (fixed seeds):

    python tasks/data/make_glue_samples.py
"""

import os
import random

SPLITS = (("train", 1200), ("dev", 300), ("test", 200))
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "glue")


def pick(rng, options):
    """One of the '|'-separated `options`."""
    return rng.choice(options.split("|"))


def article(text):
    lead = text.split()[0].replace("%", "").split(".")[0]
    return "an" if lead[0] in "aeiou8" or lead in ("11", "18") else "a"


# SST-2 ------------------------------------------------------------------

POS = (
    "wonderful|superb|excellent|terrific|fantastic|great|lovely|impressive|"
    "solid|pleasant|delightful|charming|memorable|satisfying|refreshing|"
    "first-rate|polished|elegant|smart|fresh|thoughtful|stunning|engaging"
)
NEG = (
    "dull|boring|tedious|bland|forgettable|sloppy|awful|dreadful|pointless|"
    "messy|uninspired|flat|stale|mediocre|tepid|annoying|unbearable|lousy|shoddy|"
    "terrible|horrible|weak|disappointing|miserable|irritating|clumsy"
)
ADV = (
    "very|really|truly|remarkably|genuinely|utterly|surprisingly|"
    "consistently|thoroughly|quite|so|incredibly|oddly|altogether|pretty"
)
NEGATORS = "not|hardly|never|far from|anything but|in no way|not at all"
# FEEL, DOESNT and VERDICT are indexed by label: negative first.
FEEL = (
    "i hated|we regretted|i was bored by|i could n't stand|i got tired of|"
    "we were let down by|i was annoyed by|i really disliked",
    "i loved|we enjoyed|i adored|i was impressed by|we were charmed by|"
    "i could n't get enough of|i was won over by|i really liked",
)
DOESNT = (
    "work|hold together|make much sense|live up to the hype|deliver|"
    "earn its price|come close",
    "disappoint|let you down|miss a beat|overstay its welcome|"
    "waste a moment|try too hard",
)
VERDICT = (
    "save your money|a waste of time|avoid at all costs|skip it|never again|"
    "one of the worst i have tried|i want my money back|not worth the price",
    "highly recommended|worth every penny|a real treat|five stars|"
    "one of the best i have tried in years|an easy recommendation|"
    "a pleasure from start to finish|i would gladly do it again",
)
WHO = "i|we|my wife and i|my brother|a friend and i|our whole family"
WHEN = (
    "last weekend|on a rainy tuesday|after work|for a birthday|on a whim|"
    "during the holidays|after reading a few reviews|with two old friends|"
    "on opening night|late one evening|on our anniversary|last month"
)
TAILS = (
    "from start to finish|for the most part|at least for me|if you ask me|"
    "this time around|by any measure|in every way that counts|more or less"
)
TOPICS = [
    dict(
        subj="the film|this movie|the picture|the script|the plot|the acting|"
        "the dialogue|the ending|the soundtrack|the director 's latest|"
        "the sequel|the second half|the lead performance|the camera work",
        kind="movie|comedy|thriller|drama|documentary|romance|horror film|"
        "animated feature|war story|musical|period piece",
        pos="gripping|heartfelt|witty|tender|affecting|inventive|hilarious|"
        "moving|funny|clever|vibrant|graceful|lively|poignant|stylish",
        neg="incoherent|pretentious|overlong|predictable|mawkish|cliched|"
        "lifeless|shallow|tiresome|bloated|joyless|hollow|plodding|shrill",
        did="saw it|watched it|rented it|caught a late show",
        context="the story follows a retired teacher in a fishing town|"
        "it 's about two brothers trying to save the family farm|"
        "it runs a little over two hours|the trailer promised a thriller|"
        "it 's based on a novel i have not read|it was shot in black and white",
    ),
    dict(
        subj="the food|the service|the pasta|the dessert|the soup|the steak|"
        "our waiter|the wine list|the dining room|the bread|the curry|"
        "the pizza|the staff|the brunch menu|the fried chicken",
        kind="restaurant|bistro|diner|cafe|noodle bar|steakhouse|bakery|"
        "pizzeria|taco stand|tea room",
        pos="delicious|tasty|flavorful|attentive|friendly|cozy|crisp|"
        "perfectly seasoned|fairly priced|fragrant|hearty|welcoming",
        neg="greasy|soggy|rude|overpriced|undercooked|cold|salty|cramped|"
        "watery|burnt|chaotic|bitter",
        did="went there for dinner|ordered takeout|stopped in for lunch|"
        "booked a table",
        context="the place sits next to the old train station|"
        "it 's in a converted warehouse downtown|the menu changes weekly|"
        "they do n't take reservations|it opened about a year ago|"
        "the owner used to run a food truck",
    ),
    dict(
        subj="the battery|this blender|the headset|the screen|the keyboard|"
        "the app|the charger|the camera|the manual|the speaker|the vacuum|"
        "the mattress|the build quality|the customer support|the zipper",
        kind="gadget|phone|laptop|backpack|coffee maker|printer|jacket|"
        "lamp|tablet|toaster|electric kettle",
        pos="sturdy|reliable|comfortable|intuitive|well made|fast|quiet|"
        "durable|sleek|accurate|responsive|handy",
        neg="flimsy|buggy|fragile|uncomfortable|confusing|noisy|slow|"
        "cheaply made|unreliable|leaky|clunky|overheated",
        did="bought one|ordered it online|got it as a gift|"
        "picked one up on sale",
        context="i use it every day at the office|it replaced a ten year old "
        "model|it comes in three colors|the box arrived a day late|"
        "i mostly take it on long trips|it costs about as much as its rivals",
    ),
]


def adjectives(label, topic, rng):
    """Two different adjectives of sentiment `label` that suit `topic`."""
    own = topic["pos"] if label else topic["neg"]
    return rng.sample(((POS if label else NEG) + "|" + own).split("|"), 2)


def clause(label, topic, rng, kinds=7):
    """A lower-case clause of sentiment `label` about `topic`."""
    subj, kind = pick(rng, topic["subj"]), rng.randrange(kinds)
    adj, second = adjectives(label, topic, rng)
    if kind == 0:
        return f"{subj} is {pick(rng, ADV)} {adj}"
    if kind == 1:
        return f"{subj} is {adj} and {second}"
    if kind == 2:
        return f"{pick(rng, FEEL[label])} {subj}"
    if kind == 3:  # A negated opposite: "not bad" is positive.
        opposite = adjectives(1 - label, topic, rng)[0]
        return f"{subj} is {pick(rng, NEGATORS)} {opposite}"
    if kind == 4:
        return f"{subj} does n't {pick(rng, DOESNT[label])}"
    if kind == 5:
        noun = pick(rng, topic["kind"])
        return f"{article(adj)} {adj} , {second} {noun}"
    return pick(rng, VERDICT[label])


def context(topic, rng):
    """A sentiment-free sentence that makes reviews longer."""
    if rng.random() < 0.5:
        return pick(rng, topic["context"])
    return f"{pick(rng, WHO)} {pick(rng, topic['did'])} {pick(rng, WHEN)}"


def review(label, rng):
    """((sentence,), label): an SST-style review, usually of `label`."""
    topic, r = rng.choice(TOPICS), rng.random()
    main, other = clause(label, topic, rng, 5), clause(1 - label, topic, rng, 5)
    if r < 0.07:  # Mixed: genuinely ambiguous, so the label is a coin flip.
        text, label = f"{main} and {other}", rng.randrange(2)
    elif r < 0.32:  # Contrast: the main clause decides.
        text = rng.choice(
            [
                f"{other} , but {main}",
                f"although {other} , {main}",
                f"{main} , even though {other}",
                f"{other} ; still , {main}",
            ]
        )
    else:
        text = clause(label, topic, rng)
        if rng.random() < 0.25:
            text += f" , and {main}"
    if rng.random() < 0.2:
        text += f" {pick(rng, TAILS)}"
    parts = [text]
    for _ in range(rng.choice((0, 0, 0, 0, 0, 1, 1, 2, 3))):
        parts.insert(rng.randrange(len(parts) + 1), context(topic, rng))
    return (" . ".join(parts) + " .",), label


def make_splits(example, rng):
    """{split: [(texts, label)]}: `example(label, rng)`s, labels alternating,
    no texts (in either order) twice."""
    rows, seen = {}, set()
    for split, size in SPLITS:
        rows[split] = []
        while len(rows[split]) < size:
            texts, label = example(len(rows[split]) % 2, rng)
            if texts not in seen and texts[::-1] not in seen:
                seen.add(texts)
                rows[split].append((texts, label))
        rng.shuffle(rows[split])
    return rows


def write_sst2(rows):
    os.makedirs(os.path.join(OUT, "SST-2"), exist_ok=True)
    for split, examples in rows.items():
        path = os.path.join(OUT, "SST-2", f"{split}.tsv")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            if split == "test":  # SST-2's test rows have no trailing space.
                f.write("index\tsentence\n")
                f.writelines(
                    f"{i}\t{t}\n" for i, ((t,), _) in enumerate(examples)
                )
            else:
                f.write("sentence\tlabel\n")
                f.writelines(f"{t} \t{label}\n" for (t,), label in examples)


# MRPC -------------------------------------------------------------------

SHARED = dict(
    day="Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday",
    month="January|March|April|June|July|September|October|December",
    co="Norvale Systems|Bellmark Foods|Castlerock Energy|Veridian Motors|"
    "Harbor Point Bank|Alder Pharmaceuticals|Silverline Airlines|"
    "Quarry Hill Mining|Brightwave Telecom|Redfern Retail|Oakhurst Insurance|"
    "Summit Ridge Software|Lakeshore Steel|Pinecrest Media|Everly Chemicals",
    city="Chicago|Denver|Seattle|Atlanta|Boston|Houston|Phoenix|Detroit|"
    "Dallas|Portland|Toronto|Manchester|Sydney|Munich|Osaka|Cleveland",
)
SHARED["buyer"] = SHARED["target"] = SHARED["co"]
FIRST = "Laura|Daniel|Maria|James|Priya|Thomas|Elena|Robert|Grace|Nadia"
LAST = "Hartley|Okafor|Brennan|Castillo|Whitmore|Nakamura|Delgado|Fischer"
NUMBER_WORDS = "two three four five six seven eight nine ten eleven twelve"
POLICIES = [  # (objects, mutually exclusive actions with their synonyms)
    (
        "parking fees|bus fares|water rates|tuition fees|property taxes",
        ["raise|increase", "cut|reduce|lower", "freeze"],
    ),
    (
        "two rural hospitals|the old rail depot|three branch libraries|"
        "the downtown shelter|the city zoo",
        ["close|shut down", "renovate|upgrade|refurbish", "sell|sell off"],
    ),
    (
        "the vote on the budget|the new transit plan|the school merger|"
        "the stadium project|the housing bill",
        ["delay|postpone|put off", "approve|back|endorse", "reject|block"],
    ),
]
# Each frame: its facts as 'name' or 'name=spec' ('a|b' picks one, '2-40'
# an int, '0.5-9.9' a decimal; bare names are SHARED lists, people, or
# coin flips), then the templates that can express those facts.
FRAMES = [
    (
        "co; day; metric=net profit|revenue|sales|operating income; up; "
        "n=2-40; q=first|second|third|fourth",
        "{co} {said} {on_day} that its {metric} {moved} {pct} in the {q} "
        "quarter.",
        "{Metric} at {co} {moved} {pct} in the {q} quarter, the company said "
        "{on_day}.",
        "In the {q} quarter, {co}'s {metric} {moved} {pct}, figures released "
        "{on_day} showed.",
        "{co} on {day} reported {a_pct} {change} in {metric} for the {q} "
        "quarter.",
    ),
    (
        "buyer; target; day; m=60-990",
        "{buyer} has agreed to {buy} {target} for {money}, the companies "
        "{said} {on_day}.",
        "{target} will be {bought} by {buyer} in a deal worth {money}, the "
        "two companies {said} {on_day}.",
        "On {day}, {buyer} announced that it would {buy} {target} for {money}.",
        "{buyer} {said} {on_day} it would pay {money} to {buy} {target}.",
    ),
    (
        "title=Mayor|Governor|Commissioner|Minister|Senator; who; "
        "gov=the city|the state|the county|the ministry; policy=0-2; act=0-2; "
        "obj; neg; day",
        "{title} {who} told reporters {on_day} that {gov} {would} {act} {obj}.",
        "{Gov} {would} {act} {obj}, {title} {who} said {on_day}.",
        "Speaking {on_day}, {title} {who} said {gov} {would} {act} {obj}.",
        "{Obj} {will_be} {act_pp} by {gov}, {title} {who} {said} {on_day}.",
    ),
    (
        "who; neg; city; day; crime=fraud|bribery|tax evasion|insider trading|"
        "money laundering|perjury|embezzlement|arson|extortion",
        "A jury in {city} found {who} {verdict} of {crime} {on_day}.",
        "{who} was {convicted} {crime} by a jury in {city} {on_day}.",
        "On {day}, jurors in {city} found {who} {verdict} of {crime}.",
        "{who} was found {verdict} of {crime} {on_day} by jurors in {city}.",
    ),
    (
        "event=the storm|the flooding|the tornado|the blizzard; k=2-60; day; "
        "region=northern Texas|coastal Louisiana|southern Ohio|coastal Oregon|"
        "eastern Kentucky|upstate New York|central Florida; homes=10-400",
        "{Event} killed at least {num} people in {region} {on_day} and left "
        "{homes},000 homes without power.",
        "At least {num} people died in {region} {on_day} as {event} knocked "
        "out power to {homes},000 homes.",
        "{Event}, which struck {region} {on_day}, claimed at least {num} lives "
        "and cut power to {homes},000 households.",
        "Officials said {event} left {homes},000 homes in {region} without "
        "electricity {on_day} and killed at least {num} people.",
    ),
    (
        "co; up; k=13-95; n=0.5-9.9; price=10.00-90.00; day",
        "Shares of {co} {moved} {num} cents, or {pct}, to ${price} {on_day}.",
        "{co} stock {moved} {pct}, or {num} cents, to close at ${price} "
        "{on_day}.",
        "On {day}, {co}'s shares {moved} {num} cents to ${price}, a {change} "
        "of {pct}.",
    ),
    (
        "uni=Harwood University|the University of Eastfield|Marston College|"
        "the Lakeland Institute; group=adults|children|women|older people; "
        "habit=ate fish twice a week|walked every day|drank green tea|"
        "slept at least seven hours a night|cooked most meals at home; up; "
        "n=10-60; disease=heart disease|diabetes|dementia|asthma|depression",
        "Researchers at {uni} found that {group} who {habit} were {pct} "
        "{less} likely to develop {disease}.",
        "{Group} who {habit} had {a_pct} {lower} risk of {disease}, "
        "according to a study by {uni}.",
        "A new study from {uni} shows that {group} who {habit} are {pct} "
        "{less} likely to get {disease}.",
    ),
    (
        "co; hire; k=150-2400; city; month; day",
        "{co} {said} {on_day} that it plans to {cut} {num} {jobs} at its "
        "{city} plant by the end of {month}.",
        "A total of {num} {jobs} will be {done} at the {co} plant in {city} "
        "by the end of {month}, the company {said} {on_day}.",
        "By the end of {month}, {co} expects to {cut} {num} {jobs} at its "
        "factory in {city}, it {said} {on_day}.",
    ),
]
TAILS_NEWS = (
    ", the latest in a string of similar announcements|, after weeks of "
    "speculation|, in a move that surprised some analysts|, though few "
    "details were given|, according to a statement"
)


def fields(frame):
    """[(name, spec)] of a frame's facts."""
    return [part.strip().partition("=")[::2] for part in frame[0].split(";")]


def sample_field(key, spec, rng, facts):
    if key == "who":
        return f"{pick(rng, FIRST)} {pick(rng, LAST)}"
    if key == "obj":
        return pick(rng, POLICIES[facts["policy"]][0])
    if not spec:
        return pick(rng, SHARED[key]) if key in SHARED else rng.random() < 0.5
    if not spec[0].isdigit():
        return pick(rng, spec)
    low, high = spec.split("-")
    if "." not in low:
        return rng.randint(int(low), int(high))
    places = len(low.split(".")[1])
    return f"{rng.uniform(float(low), float(high)):.{places}f}"


def sample_facts(frame, rng, facts=None, field=None):
    """New facts for `frame`, or `facts` with `field` resampled."""
    new = dict(facts or {})
    for key, spec in fields(frame):
        if facts is None or key == field:
            new[key] = sample_field(key, spec, rng, new)
    if new == facts or ("buyer" in new and new["buyer"] == new["target"]):
        return sample_facts(frame, rng, facts, field)
    return new


def count(n, rng):
    if n <= 12 and rng.random() < 0.5:
        return NUMBER_WORDS.split()[n - 2]
    return f"{n:,}"


def percent(p, rng):
    number = count(p, rng) if isinstance(p, int) else p
    return f"{p}%" if rng.random() < 0.4 else f"{number} percent"


def words(f, rng):
    """Surface choices for facts `f`: synonyms and number formats."""
    up, neg, hire = f.get("up"), f.get("neg"), f.get("hire")
    w = dict(said=pick(rng, "said|announced|reported"), money="")
    w["on_day"] = pick(rng, f"on {f.get('day')}|{f.get('day')}")
    w["moved"] = pick(rng, "rose|climbed|gained" if up else "fell|dropped")
    w["change"] = pick(rng, "rise|increase|gain" if up else "drop|decline")
    w["less"], w["lower"] = ("more", "higher") if up else ("less", "lower")
    w["cut"] = pick(rng, "add|create" if hire else "cut|eliminate|shed")
    w["done"] = pick(rng, "added|created" if hire else "cut|eliminated")
    w["jobs"] = pick(rng, "jobs|positions")
    w["pct"] = percent(f.get("n", 0), rng)
    w["a_pct"] = f"{article(w['pct'])} {w['pct']}"
    w["num"] = count(f.get("k", 99), rng)
    if "m" in f:
        amount = f"{f['m']} million"
        w["money"] = pick(rng, f"${amount}|{amount} dollars|US${amount}")
    w["buy"] = pick(rng, "buy|acquire|purchase|take over")
    w["bought"] = pick(rng, "bought|acquired|purchased|taken over")
    w["verdict"] = "not guilty" if neg else "guilty"
    w["convicted"] = pick(
        rng, "acquitted of|cleared of" if neg else "convicted of"
    )
    if "policy" in f:
        w.update(policy_words(f, rng))
    return w


def policy_words(f, rng):
    action = pick(rng, POLICIES[f["policy"]][1][f["act"]]).split()
    irregular = dict(shut="shut", put="put", sell="sold", cut="cut")
    irregular["freeze"] = "frozen"
    done = irregular.get(action[0], action[0].rstrip("e") + "ed")
    return dict(
        act=" ".join(action),
        act_pp=" ".join([done] + action[1:]),
        would="would not" if f["neg"] else pick(rng, "would|will"),
        will_be="will not be" if f["neg"] else "will be",
    )


def render(frame, facts, rng):
    """One sentence expressing `facts`, with random wording."""
    values = dict(facts, **words(facts, rng))
    for key, value in list(values.items()):
        if isinstance(value, str) and value:
            values[key.capitalize()] = value[0].upper() + value[1:]
    text = rng.choice(frame[1:]).format(**values)
    if rng.random() < 0.2:
        text = text[:-1] + pick(rng, TAILS_NEWS) + "."
    text = text.replace("s's ", "s' ")  # Norvale Systems' revenue
    return text[0].upper() + text[1:]


def pair(label, rng):
    """((sentence1, sentence2), label): the same facts, or (0) not."""
    frame = rng.choice(FRAMES)
    facts = sample_facts(frame, rng)
    other, other_frame = facts, frame
    if label == 0 and rng.random() < 0.2:  # Unrelated.
        other_frame = rng.choice([f for f in FRAMES if f is not frame])
        other = sample_facts(other_frame, rng)
    elif label == 0:
        changeable = [key for key, _ in fields(frame) if key != "policy"]
        field = rng.choice(changeable + ["swap"] * ("buyer" in facts))
        if field == "swap":  # Buyer and target trade places.
            other = dict(facts, buyer=facts["target"], target=facts["buyer"])
        else:
            other = sample_facts(frame, rng, facts, field)
    while True:
        texts = render(frame, facts, rng), render(other_frame, other, rng)
        if texts[0] != texts[1]:
            return texts, label


def write_mrpc(rows, rng):
    os.makedirs(os.path.join(OUT, "MRPC"), exist_ok=True)
    columns = "#1 ID\t#2 ID\t#1 String\t#2 String\n"
    ids = {}  # Sentence -> its random, unique id.
    for split, examples in rows.items():
        path = os.path.join(OUT, "MRPC", f"{split}.tsv")
        # utf-8-sig: the byte-order mark the real MRPC files start with.
        with open(path, "w", encoding="utf-8-sig", newline="\n") as f:
            f.write(
                ("index" if split == "test" else "Quality") + "\t" + columns
            )
            for i, (texts, label) in enumerate(examples):
                for text in texts:
                    while text not in ids:
                        new_id = rng.randint(100000, 3999999)
                        if new_id not in ids.values():
                            ids[text] = new_id
                row = [i if split == "test" else label]
                row += [ids[text] for text in texts] + list(texts)
                f.write("\t".join(str(x) for x in row) + "\n")


if __name__ == "__main__":
    write_sst2(make_splits(review, random.Random(2019)))
    rng = random.Random(2005)
    write_mrpc(make_splits(pair, rng), rng)
