"""Vocabulary files and a provisional word-piece lookup.

`load_vocab` is the one place a `vocab.txt` is read: one token per line,
line number = id, with errors that name the file and line.

`SimpleWordPiece` is a plain-Python stand-in (lower-case, strip accents,
split on whitespace and punctuation, greedy longest-match word pieces) used
until the exact in-graph tensorflow-text tokenizer lands; it is not
guaranteed identical to google-research's `FullTokenizer` on every input.
"""

import unicodedata

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


class VocabError(ValueError):
    """A vocabulary file that cannot be used."""


def load_vocab(path, required=SPECIAL_TOKENS):
    """{token: id} from a vocab.txt, id = 0-based line number.

    Raises:
        VocabError: missing file, bad encoding, empty or duplicate entries
            (naming the line), or a missing special token.
    """
    try:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        raise VocabError(f"{path}: vocab file not found") from None
    except UnicodeDecodeError as e:
        raise VocabError(f"{path}: not UTF-8 text ({e.reason} at byte "
                         f"{e.start})") from None
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    vocab = {}
    for number, line in enumerate(lines, start=1):
        token = line.rstrip("\r")
        if not token.strip():
            raise VocabError(f"{path}:{number}: empty vocabulary entry")
        if token in vocab:
            raise VocabError(
                f"{path}:{number}: duplicate token {token!r} (first on line "
                f"{vocab[token] + 1})")
        vocab[token] = number - 1
    missing = [t for t in required if t not in vocab]
    if missing:
        raise VocabError(f"{path}: missing special token(s) "
                         f"{', '.join(missing)}")
    return vocab


def _is_punctuation(char):
    code = ord(char)
    # ASCII symbols count as punctuation, as in the original BERT.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or \
            123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


class SimpleWordPiece:
    """Provisional uncased word-piece lookup (see module docstring).

    Args:
        vocab_file: str. Path of a vocab.txt.
        max_chars_per_word: int. Longer words become [UNK].
    """

    def __init__(self, vocab_file, max_chars_per_word=200):
        self.vocab = load_vocab(vocab_file)
        self.max_chars_per_word = max_chars_per_word

    def _words(self, text):
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words = []
        for chunk in text.split():
            current = ""
            for char in chunk:
                if _is_punctuation(char):
                    if current:
                        words.append(current)
                    words.append(char)
                    current = ""
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def _pieces(self, word):
        if len(word) > self.max_chars_per_word:
            return [self.vocab["[UNK]"]]
        ids, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    start = end
                    break
            else:
                return [self.vocab["[UNK]"]]
        return ids

    def tokenize(self, text):
        """Word-piece ids of `text`, without special tokens."""
        return [i for word in self._words(text) for i in self._pieces(word)]

    def encode(self, texts, seq_length):
        """Packs `[CLS] text [SEP]` per text, padded to `seq_length`.

        Returns int32 lists (word ids, mask, type ids). Texts longer than
        `seq_length - 2` pieces are truncated at the end.
        """
        ids, masks = [], []
        for text in texts:
            pieces = self.tokenize(text)[: seq_length - 2]
            row = [self.vocab["[CLS]"], *pieces, self.vocab["[SEP]"]]
            masks.append([1] * len(row) + [0] * (seq_length - len(row)))
            ids.append(row + [self.vocab["[PAD]"]] * (seq_length - len(row)))
        types = [[0] * seq_length for _ in texts]
        return ids, masks, types
