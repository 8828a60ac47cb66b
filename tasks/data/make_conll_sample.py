"""Writes tasks/data/conll2003/{train,valid,test}.txt: a small CoNLL-2003 set.

Synthetic English news written for bert_tf from the word lists and
templates below (business, politics, sport and general news about invented
people, companies, clubs, towns and countries), in the column layout of the
original CoNLL-2003 English files: a `-DOCSTART- -X- -X- O` line and a
blank line open each document, then one `token POS chunk NER` line per
token and a blank line after each sentence. Documents have 5-20 sentences:
an upper-case headline, a dateline ("VELMORA 2021-03-14") and body
sentences that mention their entities again (surnames alone, as in news).

NER tags are IOB1, as in the original files: I-PER, I-ORG, I-LOC and
I-MISC throughout, B-X only on the first word of an entity that directly
follows another X entity (a few "Ostrian Velmish talks"). The same word
can be of several types ("Velmora" LOC, "Velmora City" ORG, "Central Bank
of Ostria" ORG, "Ostrian" MISC), and days and months are capitalised but
not entities, so a tagger has to use the context. POS tags come from a
small lexicon and chunk tags from the POS sequence (B-NP, I-NP, B-VP,
I-VP, B-PP, B-SBAR, B-ADVP, B-ADJP, O); the models do not use them.
Valid and test also draw names from held-out lists never used in train.

1200 train, 300 valid and 300 test sentences. Deterministic (fixed seed):

    python tasks/data/make_conll_sample.py
"""

import os
import random

SPLITS = (("train", 1200), ("valid", 300), ("test", 300))
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conll2003")
HELD_OUT = 0.25  # Share of each name list kept out of train.
UNSEEN = 0.35  # Chance that valid/test draw a name from the held-out part.
REUSE = 0.4  # Chance that a slot names an entity already in the document.
DOCSTART = "-DOCSTART- -X- -X- O"

# Names -------------------------------------------------------------------

ONSETS = (
    "Vel Ost Kar Bren Tal Mor Ash Fen Hal Dun Cor Lis Mar Sel Tor Wen Gal "
    "Rav Ber Nol Esk Quen Pell Sar Thal Ulm Var Zel Brun Cal Dor Gren Hol "
    "Ivr Jor Kel Lun Mir Nor Orv Pra Rod Stav Tir Vos Wal Yar Hest Lom"
).split()
MIDDLES = ("", "", "", "a", "e", "i", "o", "en", "er")
ENDS = dict(
    surname="ington ard ell ow ez sen ani ov berg ley croft mont ier ski "
    "hart wood".split(),
    town="mora ford wick haven stead brook dale holm ton mere gate ley "
    "wald burg ric ano ova isk".split(),
    country="ia ania oria elia avia".split(),
    stem="vale tek mark tron dex well line corp ex ium".split(),
)
FIRST_NAMES = (
    "Anna Clara Elena Grace Helen Ida Julia Laura Maria Nora Rosa Sofia "
    "Vera Agnes Edith Marta Lena Zoe Irene Paula Ruth Sara Teresa Ines "
    "Anton Bruno Carl Daniel Edgar Felix Hugo Isak Jonas Karl Leon Martin "
    "Oskar Paul Simon Tomas Viktor Peter Lukas Mark Emil Ivan Jan Stefan"
).split()
COMPANY_SUFFIXES = ("Corp|Systems|Holdings|Group|Bank|Airlines|Motors|"
                    "Foods|Energy|Telecom|Steel|Media|Insurance|Chemicals|"
                    "Mining").split("|")
CLUB_SUFFIXES = "City|United|Rovers|Athletic|Wanderers|Town".split("|")


class Pools:
    """Name lists, each split into a part for every file and a part kept
    out of train."""

    def __init__(self, rng):
        self.shared, self.held_out = {}, {}
        lists = {kind: self._generate(rng, kind, n) for kind, n in (
            ("surname", 500), ("town", 300), ("country", 90),
            ("stem", 200))}
        lists["first"] = list(FIRST_NAMES)
        for kind, names in lists.items():
            rng.shuffle(names)
            cut = int(len(names) * HELD_OUT)
            self.held_out[kind], self.shared[kind] = names[:cut], names[cut:]

    @staticmethod
    def _generate(rng, kind, n):
        names, seen = [], set()
        middles = MIDDLES if kind in ("surname", "town") else ("",)
        while len(names) < n:
            name = (rng.choice(ONSETS) + rng.choice(middles)
                    + rng.choice(ENDS[kind]))
            if name not in seen:
                seen.add(name)
                names.append(name)
        return names

    def draw(self, rng, kind, split):
        unseen = split != "train" and rng.random() < UNSEEN
        return rng.choice((self.held_out if unseen else self.shared)[kind])


def person(pools, rng, split):
    return [pools.draw(rng, "first", split), pools.draw(rng, "surname",
                                                       split)]


def company(pools, rng, split):
    stem = pools.draw(rng, "stem", split)
    if rng.random() < 0.12:
        return ["Central", "Bank", "of", pools.draw(rng, "country", split)]
    return [stem, rng.choice(COMPANY_SUFFIXES)]


def club(pools, rng, split):
    return [pools.draw(rng, "town", split), rng.choice(CLUB_SUFFIXES)]


def party(pools, rng, split):
    stem = pools.draw(rng, "stem", split)
    return rng.choice(([stem, "Party"], [stem, "Alliance"],
                       ["National", stem, "Front"]))


def agency(pools, rng, split):
    stem = pools.draw(rng, "stem", split)
    return rng.choice(([stem + "press"], [stem, "News"]))


def event(pools, rng, split):
    place = pools.draw(rng, rng.choice(("town", "country")), split)
    return [place, rng.choice(("Open", "Cup", "Classic", "Marathon"))]


def nationality(pools, rng, split):
    return [pools.draw(rng, "country", split) + "n"]


# slot -> (entity type, maker, POS of its words)
ENTITIES = {
    "PER": ("PER", person, "NNP"),
    "ORG": ("ORG", company, "NNP"),
    "CLUB": ("ORG", club, "NNP"),
    "PARTY": ("ORG", party, "NNP"),
    "AGENCY": ("ORG", agency, "NNP"),
    "LOC": ("LOC", lambda p, r, s: [p.draw(r, "town", s)], "NNP"),
    "COUNTRY": ("LOC", lambda p, r, s: [p.draw(r, "country", s)], "NNP"),
    "NAT": ("MISC", nationality, "JJ"),
    "EVENT": ("MISC", event, "NNP"),
}
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = ("January February March April May June July August September "
          "October November December").split()
# slot -> (POS, maker) for words that are not entities.
VALUES = {
    "NUM": ("CD", lambda r: str(r.randint(2, 60))),
    "BIG": ("CD", lambda r: f"{r.randint(1000, 90000):,}"),
    "PCT": ("CD", lambda r: f"{r.uniform(0.5, 9.9):.1f}"),
    "PRICE": ("CD", lambda r: f"{r.uniform(5, 300):.2f}"),
    "SCORE": ("CD", lambda r: f"{r.randint(0, 5)}-{r.randint(0, 5)}"),
    "SET": ("CD", lambda r: f"{r.choice((6, 7))}-{r.randint(0, 4)}"),
    "DAY": ("NNP", lambda r: r.choice(DAYS)),
    "MONTH": ("NNP", lambda r: r.choice(MONTHS)),
}

# Templates ---------------------------------------------------------------
# Space-separated tokens: {SLOT} from ENTITIES or VALUES, else a word whose
# POS is in LEXICON, or word/POS where a word needs another tag.

DOMAINS = {
    "business": dict(
        headlines=[
            "{ORG} profit rises {PCT} pct",
            "{ORG} to buy {ORG}",
            "{COUNTRY} shares close higher",
            "{ORG} shares fall in {LOC}",
        ],
        sentences=[
            "{ORG} shares rose {PCT} percent to {PRICE} crowns in {LOC} on "
            "{DAY} .",
            "{ORG} shares fell {PCT} percent in early trading in {LOC} , "
            "said analyst {PER} .",
            "{ORG} said on {DAY} it would buy {ORG} for {NUM} million "
            "crowns .",
            "{PER} , chief executive of {ORG} , told reporters that "
            "profits would rise next year .",
            "The {NAT} company reported a net profit of {NUM} million "
            "crowns for the first half .",
            "{ORG} , based in {LOC} , employs about {BIG} people .",
            "Analysts at {ORG} said the deal would help/VB {ORG} expand in "
            "{COUNTRY} .",
            "Trading in {ORG} shares was suspended/VBN in {LOC} after the "
            "announcement .",
            '" We expect/VBP a strong second half , " {PER} said .',
            "{PER} , an economist at {ORG} in {LOC} , said the figures "
            "were better than expected .",
            "{ORG} will open {NUM} new stores in {COUNTRY} by the end of "
            "{MONTH} .",
            "Shares in {ORG} closed {PCT} percent higher at {PRICE} crowns "
            ".",
            "The merger with {ORG} must still be approved by regulators "
            "in {COUNTRY} .",
            "{PER} said {ORG} had no plans to cut jobs in {LOC} .",
        ],
    ),
    "politics": dict(
        headlines=[
            "{NAT} police arrest {NUM} in {LOC}",
            "{PARTY} wins election in {COUNTRY}",
            "{COUNTRY} and {COUNTRY} to resume talks",
            "{NAT} minister visits {COUNTRY}",
        ],
        sentences=[
            "{NAT} Prime/NNP Minister/NNP {PER} arrived in {LOC} on {DAY} "
            "for talks with {NAT} officials .",
            "{PER} , who leads/VBZ the opposition {PARTY} , said the "
            "government had failed/VBN .",
            "Police in {LOC} arrested {NUM} people after clashes near the "
            "border with {COUNTRY} .",
            "The {PARTY} said in a statement that {NUM} soldiers were "
            "killed/VBN near {LOC} .",
            "Talks between {COUNTRY} and {COUNTRY} will resume in {LOC} "
            "next week , a spokesman said .",
            "{NAT} {NAT} talks ended in {LOC} on {DAY} without agreement .",
            "Foreign/NNP Minister/NNP {PER} said {COUNTRY} would not send "
            "troops to {COUNTRY} .",
            "The {PARTY} won {NUM} seats in the election , officials in "
            "{LOC} said .",
            "{PER} told the {AGENCY} news agency that the vote would go "
            "ahead .",
            "Thousands of people marched through {LOC} on {DAY} to protest "
            "against the new tax .",
            "The {NAT} government has denied/VBN the reports , according to "
            "{AGENCY} .",
            "President/NNP {PER} will visit {COUNTRY} and {COUNTRY} in "
            "{MONTH} .",
            "{NAT} {NAT} relations have improved/VBN since {MONTH} , {PER} "
            "said .",
            "{PER} , a member of the {PARTY} , resigned on {DAY} .",
        ],
    ),
    "sport": dict(
        headlines=[
            "soccer - {CLUB} beat {CLUB}",
            "tennis - {PER} wins {EVENT}",
            "soccer - {NAT} league results",
            "athletics - {PER} sets record in {LOC}",
        ],
        sentences=[
            "{PER} scored twice as {CLUB} beat {CLUB} {SCORE} in {LOC} on "
            "{DAY} .",
            "{CLUB} coach {PER} said his team deserved to win .",
            "{PER} of {COUNTRY} won the {EVENT} on {DAY} .",
            "The {NAT} champion {PER} lost in the first round to {PER} of "
            "{COUNTRY} .",
            "{PER} ( {COUNTRY} ) beat {PER} ( {COUNTRY} ) {SET} {SET}",
            "{CLUB} {NUM} {CLUB} {NUM}",
            "{PER} , who joined {CLUB} from {CLUB} last season , was "
            "sent/VBN off after {NUM} minutes .",
            "The {EVENT} will be held in {LOC} from {MONTH} {NUM} .",
            "{CLUB} lead/VBP the table with {NUM} points , {NUM} ahead of "
            "{CLUB} .",
            "{NAT} striker {PER} has signed a new contract with {CLUB} .",
            "{PER} finished third behind {PER} and {PER} .",
            "Attendance : {BIG}",
            "{CLUB} have won/VBN their last {NUM} matches .",
            "{PER} will miss the {EVENT} with a knee injury , the club "
            "said .",
        ],
    ),
    "general": dict(
        headlines=[
            "fire kills {NUM} in {LOC}",
            "storm hits {COUNTRY}",
            "{NUM} hurt in bus crash near {LOC}",
        ],
        sentences=[
            "A fire destroyed {NUM} homes in {LOC} on {DAY} , police said "
            ".",
            "The {ORG} said the storm had left/VBN {BIG} people without power "
            "in {COUNTRY} .",
            "{PER} , a spokesman for {ORG} , said the airport in {LOC} "
            "would reopen on {DAY} .",
            "Heavy rain caused flooding in parts of {COUNTRY} and "
            "{COUNTRY} .",
            "The {NAT} embassy in {LOC} was closed/VBN on {DAY} .",
            "{NUM} people were injured/VBN when a bus crashed near {LOC} , "
            "the {AGENCY} news agency reported .",
            "Rescue teams from {COUNTRY} arrived in {LOC} on {DAY} .",
            "{PER} , the mayor of {LOC} , said the town would need help "
            "from {COUNTRY} .",
            "The road between {LOC} and {LOC} was closed/VBN for {NUM} "
            "hours .",
            "{PER} , a police spokesman in {LOC} , said {NUM} people had "
            "been arrested/VBN .",
            "Flights between {LOC} and {COUNTRY} were cancelled on {DAY} .",
            "{ORG} said it would donate {NUM} million crowns to the relief "
            "effort .",
            "Schools in {LOC} will stay closed/JJ until {DAY} , officials "
            "said .",
        ],
    ),
}

LEXICON = """
DT: the a an no
IN: in on for at after by from of with behind near since through against
    about than without that as between until
WRB: when
TO: to
CC: and
CD: million
RB: not still ahead off twice
JJ: early strong new first second net opposition expected heavy next last
    third
JJR: higher better
NN: percent trading profit deal company announcement half end merger
    government statement border election news agency vote tax table
    contract knee injury team season record league round champion
    striker coach analyst economist spokesman member fire storm power
    rain flooding embassy bus crash airport road mayor town help club
    chief executive week attendance pct police soccer tennis minister
    rescue agreement year relief effort
NNS: shares crowns reporters profits people analysts figures stores
    regulators clashes soldiers seats officials troops thousands reports
    points minutes homes parts teams hours jobs relations talks results
    plans athletics matches flights schools
VB: rise buy expand expect win send go visit miss reopen need cut protest be
    open resume donate stay
VBD: rose fell said told reported closed arrived arrested killed ended
    marched denied scored beat won lost joined finished destroyed left
    caused crashed resigned improved suspended failed injured sent
    deserved was were had
VBN: approved based signed held hurt been cancelled
VBP: have lead close fall arrest
VBZ: rises wins sets kills hits has employs visits leads
MD: would will must
PRP: it we
PRP$: his their
WP: who
NNP: Minister Prime President Foreign
VBG: according
:: - :
,: ,
.: .
(: (
): )
": "
"""
PUNCTUATION = {",", ".", ":", "(", ")", '"'}


def lexicon():
    """{word: POS} from LEXICON; the first tag listed for a word wins."""
    table = {}
    for line in LEXICON.strip().replace("\n    ", " ").splitlines():
        tag, _, words = line.partition(": ")
        for word in words.split():
            word, _, own = word.partition("/")
            table.setdefault(word, own or tag)
    return table


# Sentences ---------------------------------------------------------------


class Document:
    """Entities already named in one document, reused by later slots."""

    def __init__(self, pools, rng, split):
        self.pools, self.rng, self.split = pools, rng, split
        self.seen = {slot: [] for slot in ENTITIES}

    def entity(self, slot, taken):
        """The words of an entity for `slot`, none of `taken`."""
        make = ENTITIES[slot][1]
        known = [e for e in self.seen[slot] if e not in taken]
        if known and self.rng.random() < REUSE:
            words = self.rng.choice(known)
            if slot == "PER" and self.rng.random() < 0.6:
                return words, words[-1:]  # Later mentions: the surname.
            return words, words
        while True:
            words = make(self.pools, self.rng, self.split)
            if words not in taken and words not in self.seen[slot]:
                self.seen[slot].append(words)
                return words, words


def fill(template, doc, lex, rng):
    """[(word, POS, entity type or None, entity number)] of `template`."""
    tokens, taken = [], []
    for number, item in enumerate(template.split()):
        slot = item[1:-1] if item.startswith("{") else None
        if slot in ENTITIES:
            full, words = doc.entity(slot, taken)
            taken.append(full)
            kind, _, tag = ENTITIES[slot]
            tokens += [(w, "IN" if w == "of" else tag, kind, number)
                       for w in words]
        elif slot in VALUES:
            tag, make = VALUES[slot]
            tokens.append((make(rng), tag, None, number))
        else:
            word, _, own = item.partition("/")
            tag = own or lex.get(word.lower()) or lex[word]
            tokens.append((word, tag, None, number))
    return tokens


def ner_tags(tokens):
    """IOB1: I-X, except B-X where an entity follows another X entity."""
    tags = []
    for i, (_, _, kind, number) in enumerate(tokens):
        if kind is None:
            tags.append("O")
            continue
        previous = tokens[i - 1] if i else None
        adjacent = previous and previous[2] == kind and previous[3] != number
        tags.append(("B-" if adjacent else "I-") + kind)
    return tags


NP_TAGS = {"DT", "JJ", "JJR", "NN", "NNS", "NNP", "NNPS", "CD", "PRP",
           "PRP$", "POS"}
VP_TAGS = {"MD", "VB", "VBD", "VBN", "VBP", "VBZ", "VBG"}


def chunk_tag(words, tags, i, previous):
    """The chunk tag of word i, given the chunk of word i - 1."""
    word, tag = words[i], tags[i]
    following = tags[i + 1] if i + 1 < len(tags) else "."
    if tag in NP_TAGS:
        if tag in ("JJ", "JJR") and previous == "VP" and \
                following not in NP_TAGS:
            return "ADJP", True
        starts = previous != "NP" or tag in ("DT", "PRP", "PRP$") or \
            (i > 0 and tags[i - 1] == "PRP")
        return "NP", starts
    if tag in VP_TAGS or (tag == "TO" and following == "VB") or \
            (tag == "RB" and previous == "VP" and following in VP_TAGS):
        return "VP", previous != "VP"
    if tag == "IN" and word == "that":
        return "SBAR", True
    if tag in ("IN", "TO"):
        return "PP", True
    if tag == "RB":
        return "ADVP", True
    if tag == "WP":
        return "NP", True
    return "O", True


def chunk_tags(words, tags):
    chunks, previous = [], "O"
    for i in range(len(words)):
        kind, starts = chunk_tag(words, tags, i, previous)
        chunks.append("O" if kind == "O" else
                      ("B-" if starts else "I-") + kind)
        previous = kind
    return chunks


def sentence(template, doc, lex, rng, upper=False):
    """Lines `word POS chunk NER` of one sentence."""
    tokens = fill(template, doc, lex, rng)
    words = [t[0].upper() if upper else t[0] for t in tokens]
    tags = [t[1] for t in tokens]
    return [" ".join(columns) for columns in zip(
        words, tags, chunk_tags(words, tags), ner_tags(tokens))]


def dateline(doc, rng):
    """'VELMORA 2021-03-14': a place, the date."""
    words, _ = doc.entity("LOC", [])
    date = f"{rng.randint(2019, 2023)}-{rng.randint(1, 12):02d}-" \
        f"{rng.randint(1, 28):02d}"
    return [f"{words[0].upper()} NNP B-NP I-LOC", f"{date} CD I-NP O"]


def document(pools, rng, split, lex, size):
    """The sentences (lists of lines) of one document of `size` >= 3."""
    domain = DOMAINS[rng.choice(sorted(DOMAINS))]
    doc = Document(pools, rng, split)
    headline = rng.choice(domain["headlines"]) + rng.choice(("", " ."))
    sentences = [sentence(headline, doc, lex, rng, upper=True),
                 dateline(doc, rng)]
    body = list(domain["sentences"])
    while len(sentences) < size:
        if not body:
            body = list(domain["sentences"])
        sentences.append(sentence(body.pop(rng.randrange(len(body))), doc,
                                  lex, rng))
    return sentences


def split_documents(pools, rng, split, lex, size):
    """Documents of 5-20 sentences, `size` sentences in all."""
    documents, left = [], size
    while left:
        n = min(rng.randint(5, 20), left)
        if left - n < 5:
            n = left if left <= 20 else left - 5
        documents.append(document(pools, rng, split, lex, n))
        left -= n
    return documents


def write(path, documents):
    lines = []
    for sentences in documents:
        lines += [DOCSTART, ""]
        for sentence_lines in sentences:
            lines += sentence_lines + [""]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main():
    rng = random.Random(2003)
    pools, lex = Pools(rng), lexicon()
    os.makedirs(OUT, exist_ok=True)
    for split, size in SPLITS:
        documents = split_documents(pools, rng, split, lex, size)
        write(os.path.join(OUT, f"{split}.txt"), documents)


if __name__ == "__main__":
    main()
