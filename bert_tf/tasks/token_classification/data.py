"""CoNLL-2003 NER data: column files in, word-piece windows out, columns back.

Files. The shared task's English files, in either layout people download:
`eng.train`, `eng.testa`, `eng.testb` (the original release) or
`train.txt`, `valid.txt`, `test.txt` (most re-distributions); the splits
train, dev and test map to whichever file exists. Each token line is
`token POS chunk NER`, four columns separated by spaces (runs of spaces or
tabs are accepted; leading and trailing ones ignored). A blank line ends a
sentence; a `-DOCSTART-` line (any columns) starts a document and ends a
sentence, and is not a token. UTF-8, LF or CRLF. Only the NER column is
used; it must be one of `TAGS`. Anything else is a `DataError` whose
message starts with 'FILE:LINE: ' (or 'FILE: ', 'DIR: ').

Tagging schemes. The original files are IOB1: an entity starts with I-X,
and B-X appears only on the first word of an entity that directly follows
another X entity. Many copies (e.g. the one behind the HF `conll2003`
dataset) are IOB2: every entity starts with B-X. The scheme is detected per
file: a file is IOB1 if any entity starts with I- (an I-X that is first in
its sentence or follows a tag other than B-X / I-X); otherwise it is IOB2.
An IOB2 file never has such a tag, and an IOB1 file with any entity always
has one (the first entity of every run starts with I-); a file without
entities reads the same either way and is reported as IOB2. The scheme is
logged. Every file is then converted to IOB2 by `to_iob2`, which rewrites
each entity-initial I-X as B-X: that is the IOB1 -> IOB2 conversion, a
no-op on IOB2, and it keeps the entities conlleval reads.

Features. All words of all sentences are tokenized in a few batched calls.
Each sentence becomes `[CLS] pieces [SEP]`. The unit the model tags is the
word as BERT splits text (on whitespace and around every punctuation mark:
the unit the NER export sees in raw text), so a CoNLL token such as `U.S.`
or `1-0` is several words (`U . S .`, `1 - 0`). Each of them is labelled
at its first piece (the pieces that do not start with `##`): the token's
first word with the token's tag, its later words with the tag carried
inside the entity (B-X and I-X -> I-X; O stays O); every other position
has weight 0. Trained this way, the export's entities in the text of a
sentence are the entities evaluation scores on its tokens. A
sentence of more than `max_seq_length - 2` pieces is not truncated: it is
cut between words into consecutive windows (greedily, as many whole words
per window as fit), each packed alone, so every word is predicted; the
number of split sentences is logged. A word whose pieces alone exceed a
window keeps its first `max_seq_length - 2` pieces (only its first piece
is labelled); a word that gives no pieces at all (only characters BERT's
cleaning drops) is given one [UNK], so it still has a position.

Predictions. Each CoNLL token's tag is the argmax at its first piece (its
first BERT word), so scores are on the shared task's tokens. A predicted
sequence can be invalid IOB2 (I-X after O or after another type); it is
repaired minimally with the same `to_iob2`: such an I-X becomes B-X. This
is how conlleval reads the invalid sequence anyway, so it never changes the
score; it only makes the written file valid IOB2. Output: `token gold
predicted` per line, a blank line after each sentence, both tag columns
IOB2 (conlleval reads either scheme).
"""

import dataclasses
import os
import re

from absl import logging
import numpy as np

from bert_tf import errors
from bert_tf import file_io

DataError = errors.DataError

ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
# Tag ids are positions in this tuple: the model's output order.
TAGS = ("O",) + tuple(f"{prefix}-{kind}" for kind in ENTITY_TYPES
                      for prefix in ("B", "I"))
# Split -> candidate file names, original release first.
FILES = {"train": ("eng.train", "train.txt"),
         "dev": ("eng.testa", "valid.txt"),
         "test": ("eng.testb", "test.txt")}
DOCSTART = "-DOCSTART-"
NUM_COLUMNS = 4  # token POS chunk NER

_SEPARATOR = re.compile(r"[ \t]+")
_TOKENIZE_CHUNK = 65536  # words per tokenizer call


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One sentence of a CoNLL file.

    Args:
        guid: str. '<split>-<n>', n its position in the file's sentences.
        words: tuple of str. The tokens, verbatim.
        tags: tuple of str. Their NER tags, converted to IOB2.
        document: int. 0-based index of its document (a new one starts at
            each -DOCSTART- line; a file without them is one document).
        line: int. Line number of its first word (words are consecutive
            lines).
    """

    guid: str
    words: tuple[str, ...]
    tags: tuple[str, ...]
    document: int = 0
    line: int = 0


@dataclasses.dataclass(frozen=True)
class Feature:
    """One packed window of a sentence (the whole sentence if it fits).

    Args:
        example_index: int. Position of the sentence in the list given to
            `features`.
        first_word: int. Index in the sentence of the window's first word.
        input_word_ids: tuple of int. `[CLS] pieces [SEP]`.
        input_type_ids: tuple of int. All 0 (one segment).
        label_ids: tuple of int. Tag id at the first piece of each BERT
            word (see the module doc), else 0.
        label_weights: tuple of int. 1 at those pieces, else 0.
        word_positions: tuple of int. Position of each word's first piece,
            for words first_word, first_word + 1, ...
    """

    example_index: int
    first_word: int
    input_word_ids: tuple[int, ...]
    input_type_ids: tuple[int, ...]
    label_ids: tuple[int, ...]
    label_weights: tuple[int, ...]
    word_positions: tuple[int, ...]


def split_file(data_dir, split):
    """The path of `split`'s file in `data_dir`, in either layout."""
    if split not in FILES:
        raise ValueError(f"unknown CoNLL-2003 split {split!r}; expected one "
                         f"of {', '.join(FILES)}")
    for name in FILES[split]:
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    layouts = ", ".join("/".join(names) for names in zip(*FILES.values()))
    raise DataError(f"{data_dir}: no {split} file: expected "
                    f"{' or '.join(FILES[split])} (CoNLL-2003 layouts: "
                    f"{layouts})")


def read_split(data_dir, split):
    """The sentences of one split (train, dev or test) of `data_dir`."""
    return read_file(split_file(data_dir, split), split)


def read_file(path, split="train"):
    """Sentences of a CoNLL-2003 column file, tags converted to IOB2.

    Raises:
        DataError: not UTF-8, a token line without 4 columns, a tag not in
            `TAGS`, or no sentence at all.
    """
    sentences, words, tags = [], [], []
    document, document_used, start = 0, False, 0

    def end_sentence():
        nonlocal words, tags, document_used
        if words:
            sentences.append((tuple(words), tuple(tags), document, start))
            document_used = True
        words, tags = [], []

    for line_no, text in file_io.read_lines(path):
        fields = _SEPARATOR.split(text.strip(" \t"))
        if fields == [""]:
            end_sentence()
            continue
        if fields[0] == DOCSTART:
            end_sentence()
            if document_used:
                document, document_used = document + 1, False
            continue
        if len(fields) != NUM_COLUMNS:
            raise DataError(
                f"{path}:{line_no}: expected {NUM_COLUMNS} space-separated "
                f"columns (token POS chunk NER), found {len(fields)}")
        if fields[3] not in TAGS:
            raise DataError(
                f"{path}:{line_no}: tag {fields[3]!r} is not a CoNLL-2003 "
                f"NER tag ({', '.join(TAGS)})")
        if not words:
            start = line_no
        words.append(fields[0])
        tags.append(fields[3])
    end_sentence()
    if not sentences:
        raise DataError(f"{path}: no sentences")
    _log_scheme(path, sentences)
    return [Sentence(f"{split}-{i}", words, tuple(to_iob2(tags)), document,
                     line)
            for i, (words, tags, document, line) in enumerate(sentences)]


def _continues(previous, tag):
    """Whether I-X `tag` continues the entity of the tag before it."""
    return previous != "O" and previous[2:] == tag[2:]


def entity_initial_i_tags(tags):
    """Positions of the I-X tags that start an entity (none in IOB2)."""
    return [i for i, tag in enumerate(tags) if tag.startswith("I-")
            and not (i > 0 and _continues(tags[i - 1], tag))]


def detect_scheme(tag_sequences):
    """"IOB1" if any entity in the sentences starts with I-, else "IOB2"."""
    if any(entity_initial_i_tags(tags) for tags in tag_sequences):
        return "IOB1"
    return "IOB2"


def to_iob2(tags):
    """IOB1 (or invalid IOB2) -> IOB2: each entity-initial I-X becomes B-X.

    Entities are kept as conlleval reads them; valid IOB2 is unchanged.
    """
    out = list(tags)
    for i in entity_initial_i_tags(out):
        out[i] = "B-" + out[i][2:]
    return out


def _log_scheme(path, sentences):
    tag_sequences = [tags for _, tags, _, _ in sentences]
    scheme = detect_scheme(tag_sequences)
    entities = sum(tag.startswith("B-") for tags in tag_sequences
                   for tag in tags)
    entities += sum(len(entity_initial_i_tags(t)) for t in tag_sequences)
    logging.info("%s: %d sentences, %d entities; %s tags%s", path,
                 len(sentences), entities, scheme,
                 ", converted to IOB2" if scheme == "IOB1" else "")
    if scheme == "IOB1":
        # IOB1 puts B-X only right after an X entity; others mean a file
        # mixing the schemes. It is still read as conlleval reads it.
        mixed = [(line + i) for _, tags, _, line in sentences
                 for i, tag in enumerate(tags) if tag.startswith("B-")
                 and not (i > 0 and _continues(tags[i - 1], tag))]
        if mixed:
            logging.warning(
                "%s: IOB1 file with %d B- tags that start an entity after a "
                "different tag (IOB2 style), first at line %d", path,
                len(mixed), mixed[0])


def _word_pieces(tokenizer, words):
    """(flat piece ids, row splits): pieces of every word, batched calls."""
    values, lengths = [], []
    for start in range(0, len(words), _TOKENIZE_CHUNK):
        ids = tokenizer.tokenize(words[start:start + _TOKENIZE_CHUNK])
        values.append(ids.flat_values.numpy())
        lengths.append(ids.row_lengths().numpy())
    lengths = np.concatenate(lengths) if lengths else np.zeros([0], np.int64)
    splits = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.concatenate(values) if values else np.zeros([0], np.int32)
    return flat, splits


def _continuation_ids(tokenizer):
    """Ids of the vocabulary's '##' pieces: every other piece starts a
    word as BERT splits text (the export's word unit)."""
    return frozenset(i for token, i in tokenizer.vocab.items()
                     if token.startswith("##"))


def _inside(tag):
    """The tag of a token's second and later words: B-X and I-X -> I-X."""
    return tag if tag == "O" else "I-" + tag[2:]


def _windows(lengths, capacity):
    """[start, end) word ranges, greedy, each at most `capacity` pieces."""
    windows, start, used = [], 0, 0
    for i, n in enumerate(lengths):
        if used + n > capacity and i > start:
            windows.append((start, i))
            start, used = i, 0
        used += n
    windows.append((start, len(lengths)))
    return windows


def features(tokenizer, sentences, max_seq_length):
    """`Feature`s of the sentences: one per window (see the module doc).

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        sentences: sequence of `Sentence`.
        max_seq_length: int. Longest packed window, [CLS] and [SEP]
            included; at least 3.

    Returns:
        list of `Feature`, in sentence order (windows of a sentence in
        word order).
    """
    capacity = max_seq_length - 2
    if capacity < 1:
        raise ValueError(f"max_seq_length {max_seq_length} leaves no room "
                         "for a word between [CLS] and [SEP]")
    tag_ids = {tag: i for i, tag in enumerate(TAGS)}
    continues = _continuation_ids(tokenizer)
    flat, splits = _word_pieces(
        tokenizer, [w for sentence in sentences for w in sentence.words])
    result, num_split, word = [], 0, 0
    for index, sentence in enumerate(sentences):
        if len(sentence.tags) != len(sentence.words):
            raise ValueError(f"{sentence.guid}: {len(sentence.words)} words "
                             f"but {len(sentence.tags)} tags")
        pieces = []
        for _ in sentence.words:
            ids = flat[splits[word]:splits[word + 1]].tolist()
            pieces.append(ids[:capacity] or [tokenizer.unk_id])
            word += 1
        windows = _windows([len(p) for p in pieces], capacity)
        num_split += len(windows) > 1
        for start, end in windows:
            ids, labels, weights, positions = [tokenizer.cls_id], [0], [0], []
            for word_pieces, tag in zip(pieces[start:end],
                                        sentence.tags[start:end]):
                positions.append(len(ids))
                ids += word_pieces
                for i, piece in enumerate(word_pieces):
                    if i and piece in continues:
                        labels.append(0)
                        weights.append(0)
                    else:  # the token's first word, or a later one
                        labels.append(tag_ids[tag if not i
                                              else _inside(tag)])
                        weights.append(1)
            ids.append(tokenizer.sep_id)
            labels.append(0)
            weights.append(0)
            result.append(Feature(index, start, tuple(ids),
                                  (0,) * len(ids), tuple(labels),
                                  tuple(weights), tuple(positions)))
    if num_split:
        logging.info(
            "%d of %d sentences have more than %d word pieces: split into "
            "windows (%d windows in all)", num_split, len(sentences),
            capacity, len(result))
    return result


def predicted_tags(sentences, packed, logits):
    """Word-level IOB2 tags from the model's per-token logits.

    Args:
        sentences: sequence of `Sentence`.
        packed: list of `Feature`, what `features` made of `sentences`.
        logits: array [len(packed), L, len(TAGS)], in `packed` order.

    Returns:
        list (one per sentence) of lists of tag strings, repaired to valid
        IOB2 (`to_iob2`).
    """
    if len(packed) != len(logits):
        raise ValueError(f"{len(packed)} features but {len(logits)} rows "
                         "of logits")
    tags = [[None] * len(sentence.words) for sentence in sentences]
    for feature, row in zip(packed, logits):
        best = np.argmax(row[list(feature.word_positions)], axis=-1)
        for offset, tag_id in enumerate(best):
            tags[feature.example_index][feature.first_word + offset] = \
                TAGS[tag_id]
    for sentence, sentence_tags in zip(sentences, tags):
        if None in sentence_tags:
            raise ValueError(f"{sentence.guid}: word "
                             f"{sentence_tags.index(None)} has no prediction")
    return [to_iob2(t) for t in tags]


def _entities(tags):
    """(first, last, type) of the entities in valid IOB2 tags."""
    found, start = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and tag != "I-" + tags[start][2:]:
            found.append((start, i - 1, tags[start][2:]))
            start = None
        if tag.startswith("B-"):
            start = i
    return found


def text_entity_scores(sentences, packed, logits):
    """Entity scores of the words as the NER export tags raw text.

    The export sees a sentence as text and tags every BERT word, so an
    entity it returns may start or end inside a CoNLL token (`U` of
    `U.S.`). Here each BERT word is predicted at its first piece, the tags
    repaired to IOB2 over the sentence's words, and an entity counts as
    found only if it starts at the first word of a gold entity's first
    token and ends at the last word of its last token, with its type.
    This is the F1 of the export's entities, measured against the gold
    tokens' entities, next to the conlleval F1 on the tokens.

    Args: as `predicted_tags`.

    Returns:
        {"text_precision", "text_recall", "text_f1"}: micro-averaged
        floats (0.0 where a ratio is 0/0).
    """
    words = [[] for _ in sentences]  # per sentence: (token, last?, tag id)
    for feature, row in zip(packed, logits):
        positions = list(feature.word_positions)
        token_starts = set(positions)
        starts = [i for i, w in enumerate(feature.label_weights) if w]
        best = np.argmax(row[starts], axis=-1)
        for k, (position, tag_id) in enumerate(zip(starts, best)):
            token = feature.first_word + np.searchsorted(
                positions, position, side="right") - 1
            last = k + 1 == len(starts) or starts[k + 1] in token_starts
            words[feature.example_index].append((int(token), last,
                                                 TAGS[tag_id]))
    found = num_predicted = num_gold = 0
    for sentence, sentence_words in zip(sentences, words):
        tags = to_iob2([tag for _, _, tag in sentence_words])
        predicted = set()
        for first, last, kind in _entities(tags):
            starts_token = first == 0 or \
                sentence_words[first - 1][0] != sentence_words[first][0]
            if starts_token and sentence_words[last][1]:
                predicted.add((sentence_words[first][0],
                               sentence_words[last][0], kind))
            else:  # cut inside a token: matches no gold entity
                predicted.add((first, last, kind, "inside"))
        gold = set(_entities(sentence.tags))
        found += len(predicted & gold)
        num_predicted += len(predicted)
        num_gold += len(gold)
    precision = found / num_predicted if num_predicted else 0.0
    recall = found / num_gold if num_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if found else 0.0
    return {"text_precision": precision, "text_recall": recall,
            "text_f1": f1}


def write_predictions(path, sentences, predicted, document_starts=False):
    """Writes `token gold predicted` lines as conlleval reads them.

    A blank line follows each sentence. With `document_starts`, each
    document begins with a `-DOCSTART- O O` line and a blank line (conlleval
    counts it as one more O token, which changes its token accuracy, not
    the entity scores). Written atomically.
    """
    if len(sentences) != len(predicted):
        raise ValueError(f"{len(sentences)} sentences but {len(predicted)} "
                         f"predictions for {path}")
    lines, document = [], None
    for sentence, tags in zip(sentences, predicted):
        if len(tags) != len(sentence.words):
            raise ValueError(f"{sentence.guid}: {len(sentence.words)} words "
                             f"but {len(tags)} predicted tags")
        if document_starts and sentence.document != document:
            lines += [f"{DOCSTART} O O", ""]
            document = sentence.document
        lines += [f"{word} {gold} {tag}" for word, gold, tag
                  in zip(sentence.words, sentence.tags, tags)]
        lines.append("")
    file_io.atomic_write(path, "\n".join(lines) + "\n")
