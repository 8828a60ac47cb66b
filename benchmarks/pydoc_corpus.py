"""A real-English pre-training corpus every Python installation carries.

The standard library's `pydoc_data.topics` holds the text of the language
reference's topics ("if", "class", "exceptions", ...) as `help()` shows
them. Each topic becomes one document in google-research/bert's format
(one sentence per line, a blank line between documents):

- tables (lines starting with "+" or "|"), heading underlines and
  footnote banners are dropped;
- the rest is cut into paragraphs at blank lines; a paragraph is kept if
  it reads as prose (`is_prose`): grammar productions, interpreter
  sessions and code examples are dropped;
- kept paragraphs are joined into one line and cut into sentences
  (`split_sentences`).

A fixed tenth of the topics is held out: those whose names have the
lowest CRC-32, so the split depends on the names alone, not on their
order or on the text.
"""

import dataclasses
import os
import re
import zlib

# Lines that are never prose: table rules and rows, heading underlines,
# the "-[ Footnotes ]-" banner.
_NOT_TEXT = re.compile(r"^\s*([+|]|[*=\-~^]{3,}\s*$|-\[.*\]-\s*$)")
# A list bullet ("* ", "- ", "1. ") or footnote number ("[1] ") that opens
# a paragraph.
_BULLET = re.compile(r"^\s*(?:[*\-]|\d+\.|\[\d+\])\s+")
# Interpreter prompts and grammar productions.
_CODE_MARKERS = (">>>", "::=", "... ")
# A word of prose: letters, with quotes, brackets or emphasis around it and
# punctuation after it ("*raised*", "(see", "error.", "“termination”").
_WORD = re.compile(
    r"^[(\"“‘'*]*[A-Za-z][A-Za-z'’\-]*[)\"”’'*]*[.,;:!?]?[)\"”’'*]*$")
# Abbreviations after which a period does not end the sentence.
_ABBREVIATIONS = frozenset(
    ["e.g.", "i.e.", "etc.", "vs.", "cf.", "mr.", "mrs.", "dr.", "no.",
     "fig.", "approx.", "resp.", "ca.", "al."])
_CLOSERS = "\"”’')]*"
_OPENERS = "\"“‘'([*"

# The fraction of a paragraph's tokens that must be words (`_WORD`).
PROSE_WORD_FRACTION = 0.75
# The fraction of topics held out: those whose names hash lowest.
HOLD_OUT_FRACTION = 0.1


def paragraphs(text):
    """Splits one topic's text into paragraphs (lists of lines), after
    dropping table, underline and banner lines."""
    blocks, block = [], []
    for line in text.splitlines():
        if not line.strip() or _NOT_TEXT.match(line):
            if block:
                blocks.append(block)
            block = []
        else:
            block.append(line)
    if block:
        blocks.append(block)
    return blocks


def is_prose(text):
    """Whether a paragraph (one line) reads as English prose.

    Args:
        text: str. The paragraph's lines joined by spaces.

    Returns:
        bool. True if it holds no interpreter prompt or grammar rule, has
        at least four tokens, `PROSE_WORD_FRACTION` of them words, and at
        least one sentence-ending mark.
    """
    if any(marker in text for marker in _CODE_MARKERS):
        return False
    tokens = text.split()
    if len(tokens) < 4:
        return False
    words = sum(1 for token in tokens if _WORD.match(token))
    if words < PROSE_WORD_FRACTION * len(tokens):
        return False
    return re.search(r"[.!?][" + re.escape(_CLOSERS) + r"]*(\s|$)",
                     text) is not None


def _ends_sentence(token, next_token):
    """Whether a sentence ends after `token`, given the token after it."""
    bare = token.rstrip(_CLOSERS)
    if not bare.endswith((".", "!", "?")):
        return False
    if bare.lower().lstrip(_OPENERS) in _ABBREVIATIONS:
        return False
    if re.fullmatch(r"[A-Z]\.", bare):  # an initial: "G. van Rossum"
        return False
    first = next_token.lstrip(_OPENERS)[:1]
    return first.isupper() or first.isdigit() or (
        next_token[:1] in _OPENERS and not first.islower())


def split_sentences(text):
    """Splits a paragraph of English prose into sentences.

    A sentence ends at a token ending in ".", "!" or "?" (closing quotes
    and brackets allowed after it) that is no known abbreviation or
    initial, when the next token starts with a capital letter, a digit or
    an opening quote or bracket.

    Args:
        text: str. One paragraph.

    Returns:
        list of str, whitespace collapsed to single spaces.

    Example:
    >>> split_sentences("It ends, e.g. here. Then “x” starts one.")
    ['It ends, e.g. here.', 'Then “x” starts one.']
    """
    tokens = text.split()
    sentences, current = [], []
    for i, token in enumerate(tokens):
        current.append(token)
        if i + 1 < len(tokens) and _ends_sentence(token, tokens[i + 1]):
            sentences.append(" ".join(current))
            current = []
    if current:
        sentences.append(" ".join(current))
    return sentences


def topic_sentences(text):
    """One topic's text -> its prose sentences, in order."""
    sentences = []
    for block in paragraphs(text):
        block = [_BULLET.sub("", block[0], count=1)] + block[1:]
        joined = " ".join(line.strip() for line in block)
        if is_prose(joined):
            sentences.extend(split_sentences(joined))
    return sentences


def held_out_names(names):
    """The held-out tenth of topic `names` (at least two), as a set."""
    count = max(2, round(HOLD_OUT_FRACTION * len(names)))
    return set(sorted(names, key=lambda n: zlib.crc32(n.encode("utf-8")))
               [:count])


def documents(topics=None):
    """{topic name: sentences} of every topic with at least one sentence.

    Args:
        topics: optional {name: text}; `pydoc_data.topics.topics` if None.
    """
    if topics is None:
        from pydoc_data import topics as pydoc_topics

        topics = pydoc_topics.topics
    result = {}
    for name in sorted(topics):
        sentences = topic_sentences(topics[name])
        if sentences:
            result[name] = sentences
    return result


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The written corpus: its two files and what they hold.

    Args:
        train_file: str. Path of the training documents.
        held_out_file: str. Path of the held-out documents.
        train_documents: int.
        held_out_documents: int.
        train_sentences: int.
        held_out_sentences: int.
    """

    train_file: str
    held_out_file: str
    train_documents: int
    held_out_documents: int
    train_sentences: int
    held_out_sentences: int


def _write(path, docs):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(sentences) for sentences in docs))
        f.write("\n")


def write_corpus(directory, topics=None):
    """Writes train.txt and held_out.txt into `directory`.

    Args:
        directory: str. An existing directory.
        topics: optional {name: text}, as for `documents`.

    Returns:
        `Corpus`.
    """
    docs = documents(topics)
    chosen = held_out_names(list(docs))
    held_out = [s for name, s in docs.items() if name in chosen]
    train = [s for name, s in docs.items() if name not in chosen]
    if len(held_out) < 2 or len(train) < 2:
        raise ValueError(
            f"{len(train)} training and {len(held_out)} held-out documents: "
            "next-sentence negatives need at least two of each")
    corpus = Corpus(
        train_file=os.path.join(directory, "train.txt"),
        held_out_file=os.path.join(directory, "held_out.txt"),
        train_documents=len(train), held_out_documents=len(held_out),
        train_sentences=sum(map(len, train)),
        held_out_sentences=sum(map(len, held_out)))
    _write(corpus.train_file, train)
    _write(corpus.held_out_file, held_out)
    return corpus
