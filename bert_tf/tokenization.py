"""BERT word-piece tokenization in TensorFlow graph ops (tensorflow-text).

`BertTokenizer` gives the same ids as google-research/bert's
`tokenization.FullTokenizer`, with nothing but TensorFlow and
tensorflow-text ops, so it runs in `tf.function`, `tf.data` and exported
SavedModels served by TF Serving. The original algorithm, step by step:

1. Clean: drop U+0000, U+FFFD and control/format characters (categories Cc,
   Cf, except tab/newline/CR); turn whitespace (tab, newline, CR, Zs) into
   spaces. Bytes that are not UTF-8 are dropped first, as the original's
   `decode("utf-8", "ignore")` did.
2. Put spaces around CJK ideographs, so each is a token of its own.
3. Uncased only: lower-case (full Unicode mapping, final sigma included),
   NFD, drop non-spacing marks (Mn), i.e. strip accents.
4. Split on whitespace (what Python's `str.split()` still sees: spaces,
   U+2028, U+2029) and around punctuation (ASCII non-alphanumeric symbols and
   Unicode category P*), keeping the punctuation as tokens. Here: CJK and
   punctuation characters get spaces around them, then spaces split.
5. WordPiece: greedy longest-match-first with "##" continuations (tf-text's
   `FastWordpieceTokenizer`); a word longer than 200 characters, or one that
   cannot be fully matched, becomes [UNK].

Literal "[CLS]" in text is not a special token: "[" and "]" are punctuation.

tensorflow-text's own `BertTokenizer` / `FastBertTokenizer` are not used for
the normalisation: they case-fold with NFKC (ß -> ss, … -> ..., full-width
-> ASCII), turn control characters into spaces and cap words at 100 bytes,
so their ids differ from the original's.
"""

import json
import os

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf import errors

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# RE2 character classes of the original's tests (tokenization.py's
# _is_whitespace, _is_control, _is_chinese_char, _is_punctuation). U+2028
# and U+2029 are not whitespace to the original's cleaning, but its
# `str.split()` splits on them, so they become spaces too.
# Zs is spelled out without U+0020: replacing every space by itself would
# cost a pass over each line.
_WHITESPACE = (r"[\t\n\r\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}"
               r"\x{3000}\x{2028}\x{2029}]")
_DELETED = r"[\x00\x{FFFD}\p{Cc}\p{Cf}]"
_CJK = (r"\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}"
        r"\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}"
        r"\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}")
_PUNCTUATION = r"!-/:-@\[-`{-~\p{P}"
# Characters that are tokens of their own: spaced out, then split on spaces.
_SPACED = f"[{_CJK}{_PUNCTUATION}]"
# Lines of printable ASCII (plus tab, newline, CR): on these, tf-text's
# FastBertTokenizer computes exactly the original algorithm, faster.
_ASCII_LINE = r"[\t\n\r -~]*"


VocabError = errors.VocabError


def load_vocab(path, required=SPECIAL_TOKENS):
    """{token: id} from a vocab.txt, id = 0-based line number.

    Raises:
        VocabError: missing file, empty file, bad encoding, empty or
            duplicate entries (naming the lines), or a missing special token.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise VocabError(f"{path}: vocab file not found") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise VocabError(f"{path}:{line}: not UTF-8 text (byte "
                         f"0x{raw[e.start]:02x})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise VocabError(f"{path}: vocab file is empty")
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


def vocab_is_cased(vocab):
    """True if more than 1% of the plain tokens hold an upper-case letter."""
    plain = [t for t in vocab if not (t.startswith("[") and t.endswith("]"))]
    cased = sum(1 for t in plain if t != t.lower())
    return cased > 0.01 * max(len(plain), 1)


def check_lower_case(vocab_file, lower_case, checkpoint=None):
    """Raises ValueError if `lower_case` contradicts the vocab or checkpoint.

    A cased vocabulary with lower-casing never sees its capitalised entries,
    and an uncased one without lower-casing turns every capital into [UNK]:
    both train silently worse. The vocabulary decides; for a checkpoint, an
    HF directory's `tokenizer_config.json` (`do_lower_case`) and a path
    named like google-research's releases (`uncased_L-12_H-768_A-12`,
    `cased_L-12_...`, checked as the original did) are compared too.
    """
    cased = vocab_is_cased(load_vocab(vocab_file))
    if cased and lower_case:
        raise ValueError(
            f"{vocab_file} is a cased vocabulary but lower-casing is on; "
            "pass --do_lower_case=false (or use an uncased vocabulary)")
    if not cased and not lower_case:
        raise ValueError(
            f"{vocab_file} is an uncased vocabulary but lower-casing is off; "
            "pass --do_lower_case=true (or use a cased vocabulary)")
    if checkpoint:
        declared = _declared_lower_case(checkpoint)
        if declared is not None and declared != lower_case:
            raise ValueError(
                f"checkpoint {checkpoint} declares do_lower_case="
                f"{str(declared).lower()} (tokenizer_config.json) but "
                f"lower-casing is {'on' if lower_case else 'off'}")
        name = str(checkpoint).replace("\\", "/").lower()
        if "uncased_l-" in name and not lower_case:
            raise ValueError(f"checkpoint {checkpoint} is an uncased model "
                             "but lower-casing is off")
        if "/cased_l-" in "/" + name and lower_case:
            raise ValueError(f"checkpoint {checkpoint} is a cased model but "
                             "lower-casing is on")


def _declared_lower_case(checkpoint):
    """do_lower_case from an HF directory's tokenizer_config.json, if any."""
    path = os.path.join(str(checkpoint), "tokenizer_config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f).get("do_lower_case")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def clean_utf8(strings):
    """Drops bytes that are not valid UTF-8 (documented input behaviour)."""
    return tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8",
                                        errors="ignore")


def normalize(strings, lower_case):
    """Steps 1-4 of the module docstring on valid UTF-8 strings (any shape):
    the result holds the tokens separated by single or repeated spaces.

    Every step maps characters one by one (lower-casing's final sigma looks
    at neighbours but keeps lengths), which `tokenize_with_offsets` relies
    on to map positions back.
    """
    strings = tf.strings.regex_replace(strings, _WHITESPACE, " ")
    strings = tf.strings.regex_replace(strings, _DELETED, "")
    if lower_case:
        strings = tf.strings.lower(strings, encoding="utf-8")
        strings = tf_text.normalize_utf8(strings, "NFD")
        strings = tf.strings.regex_replace(strings, r"\p{Mn}", "")
    # After NFD: some characters only decompose into punctuation (U+1FEF ->
    # "`"), as in the original, which tests punctuation after stripping.
    return tf.strings.regex_replace(strings, _SPACED, r" \0 ")


def split_words(strings, lower_case):
    """The original's BasicTokenizer: [B] strings -> ragged [B, (words)]."""
    normalized = normalize(clean_utf8(strings), lower_case)
    return tf.strings.split(normalized)  # on runs of spaces, none empty


def _unused_character(vocab):
    """A noncharacter that no vocabulary entry contains."""
    used = set("".join(vocab))
    for code in (0xFFFF, 0xFFFE, 0x10FFFF, 0x10FFFE, 0xFDD0):
        if chr(code) not in used:
            return chr(code)
    raise VocabError("the vocabulary holds every candidate sentinel "
                     "noncharacter (U+FFFF, U+FFFE, ...)")


def _keep_first(ragged, counts):
    positions = tf.ragged.range(ragged.row_lengths())
    return tf.ragged.boolean_mask(
        ragged, positions < tf.expand_dims(tf.cast(counts, tf.int64), 1))


def trim_round_robin(segments, budget):
    """Trims 1 or 2 ragged [B, (pieces)] segments to `budget` pieces in all.

    google-research/bert's rule: while too long, drop the last piece of the
    longer segment (of B on ties). In closed form: A keeps
    min(len A, max(budget - len B, ceil(budget / 2))) pieces, B the rest of
    the budget. The same as tf.text's RoundRobinTrimmer, but in core
    TensorFlow ops: TF Serving links RoundRobinTrim only from 2.20, so
    exports that trim this way also load in older servers.
    """
    if len(segments) == 1:
        return [segments[0][:, :budget]]
    first, second = segments
    first_length, second_length = first.row_lengths(), second.row_lengths()
    keep_first = tf.minimum(first_length, tf.maximum(
        budget - second_length, (budget + 1) // 2))
    keep_second = tf.minimum(second_length, budget - keep_first)
    return [_keep_first(first, keep_first), _keep_first(second, keep_second)]


class BertTokenizer(tf.Module):
    """The original BERT tokenizer (FullTokenizer) as TensorFlow graph ops.

    Args:
        vocab_file: str. A vocab.txt, one token per line, id = line number.
        lower_case: bool. Lower-case and strip accents (uncased models).
        max_chars_per_word: int. Longer words become [UNK] (the original: 200).

    Example (a vocabulary of 14 tokens, written for it):

    >>> import os, tempfile
    >>> vocab_file = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> with open(vocab_file, "w") as f:
    ...     _ = f.write("\\n".join([
    ...         "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##want",
    ...         "##ed", ",", "runn", "##ing", "a", "question", "context"]))
    >>> tokenizer = BertTokenizer(vocab_file, lower_case=True)
    >>> tokenizer.tokenize(["UNwant\\u00e9d,running"]).to_list()
    [[5, 6, 7, 8, 9, 10]]
    >>> inputs = tokenizer.encode(["a question"], ["a context"],
    ...                           seq_length=8)
    >>> inputs["input_word_ids"].numpy().tolist()
    [[2, 11, 12, 3, 11, 13, 3, 0]]
    >>> inputs["input_type_ids"].numpy().tolist()
    [[0, 0, 0, 0, 1, 1, 1, 0]]
    """

    def __init__(self, vocab_file, lower_case=True, max_chars_per_word=200,
                 name="bert_tokenizer"):
        super().__init__(name=name)
        self.vocab_file = vocab_file
        self.vocab = load_vocab(vocab_file)
        self.lower_case = lower_case
        self.max_chars_per_word = max_chars_per_word
        self.vocab_size = len(self.vocab)
        self.pad_id = self.vocab["[PAD]"]
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.mask_id = self.vocab["[MASK]"]
        self._tokens = tf.constant(list(self.vocab))
        # Exact on ASCII lines only: lower-casing there is plain ASCII, no
        # control characters, and 200 bytes are 200 characters.
        self._ascii_tokenizer = tf_text.FastBertTokenizer(
            list(self.vocab),
            suffix_indicator="##",
            max_bytes_per_word=max_chars_per_word,
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            lower_case_nfd_strip_accents=lower_case,
        )
        # On normalized text: splits on its spaces itself (its punctuation
        # split finds nothing left to split).
        self._split_wordpiece = self._fast_wordpiece()
        self._unk_sentinel = _unused_character(self.vocab)
        # On single words, with offsets within each word.
        self._wordpiece = self._fast_wordpiece(no_pretokenization=True,
                                               support_detokenization=True)

    def _fast_wordpiece(self, **options):
        return tf_text.FastWordpieceTokenizer(
            vocab=list(self.vocab),
            suffix_indicator="##",
            # Words are capped by characters (see tokenize); the byte cap
            # must never bind first: up to 4 bytes per character.
            max_bytes_per_word=4 * self.max_chars_per_word,
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            **options,
        )

    def _words_for_wordpiece(self, words):
        """Over-long words -> the string "[UNK]", which maps to [UNK] alone."""
        too_long = (tf.strings.length(words, unit="UTF8_CHAR")
                    > self.max_chars_per_word)
        return tf.where(too_long, "[UNK]", words), too_long

    def tokenize(self, strings):
        """[B] strings -> ragged [B, (pieces)] int32 word-piece ids."""
        strings = tf.convert_to_tensor(strings, tf.string)
        # Printable-ASCII lines take tf-text's fused tokenizer, which is
        # exact on them; the others the step-by-step path. Rows are split by
        # kind and put back in their order.
        is_ascii = tf.strings.regex_full_match(strings, _ASCII_LINE)
        ascii_rows = tf.where(is_ascii)[:, 0]
        other_rows = tf.where(~is_ascii)[:, 0]
        ids = tf.concat([
            self._ascii_tokenizer.tokenize(tf.gather(strings, ascii_rows)),
            self._tokenize_exact(tf.gather(strings, other_rows)),
        ], axis=0)
        order = tf.math.invert_permutation(tf.concat([ascii_rows, other_rows],
                                                     axis=0))
        return tf.gather(ids, order)

    def _tokenize_exact(self, strings):
        normalized = normalize(clean_utf8(strings), self.lower_case)
        # A word of more than max_chars_per_word characters becomes the
        # sentinel, a character no vocabulary entry holds: one [UNK].
        normalized = tf.strings.regex_replace(
            normalized, f"[^ ]{{{self.max_chars_per_word + 1},}}",
            self._unk_sentinel)
        return self._split_wordpiece.tokenize(normalized)

    def tokenize_with_offsets(self, strings):
        """Ids plus where each piece comes from in the input.

        Returns:
            (ids, starts, ends): ragged [B, (pieces)]; ids int32, offsets
            int64 character (code point) positions in the input string once
            invalid UTF-8 bytes are dropped, so that in Python
            `text[start:end]` is the span the piece was read from. Pieces of
            one character (e.g. the jamo of a Hangul syllable) share its span.
        """
        text = clean_utf8(tf.convert_to_tensor(strings, tf.string))
        normalized = normalize(text, self.lower_case)
        words, word_starts, _ = tf_text.regex_split_with_offsets(
            normalized, " +")  # byte offsets in `normalized`
        flat_words, too_long = self._words_for_wordpiece(words.flat_values)
        pieces, starts, ends = self._wordpiece.tokenize_with_offsets(
            flat_words)  # byte offsets in each word
        rows = pieces.value_rowids()
        base = tf.gather(word_starts.flat_values, rows)
        # An over-long word's single [UNK] spans the whole word.
        word_bytes = tf.cast(tf.strings.length(words.flat_values), tf.int64)
        ends = tf.where(tf.gather(too_long, rows), tf.gather(word_bytes, rows),
                        ends.flat_values)
        starts = base + starts.flat_values
        ends = base + ends

        def regroup(values):
            return words.with_flat_values(
                pieces.with_flat_values(values)).merge_dims(1, 2)

        ids = regroup(pieces.flat_values)
        starts, ends = regroup(starts), regroup(ends)
        # Normalisation is character-local, so the normalized bytes of the
        # whole string are the concatenation of each input character's:
        # their running total maps a normalized byte back to its character.
        # The running total spans the whole batch (each row's offsets shifted
        # by the bytes of the rows before it), so one sorted vector serves
        # every row: cost linear in the batch's characters, where a padded
        # [B, longest row] table would cost B x the longest text.
        chars = tf.strings.unicode_split(text, "UTF-8")  # [B, (C)]
        char_ends = tf.cumsum(tf.cast(tf.strings.length(normalize(
            chars.flat_values, self.lower_case)), tf.int64))  # [total C]
        # Where each row starts, in characters and in normalized bytes of the
        # batch (not tf.reduce_sum over the ragged rows: it pads them).
        row_chars = chars.row_starts()  # [B]
        row_bytes = tf.gather(tf.concat([tf.zeros([1], tf.int64), char_ends], 0),
                              row_chars)  # [B]
        # Each piece's row. Not ids.value_rowids(): it goes through
        # tf.repeat, which builds a [B, longest row] table.
        rows = tf.searchsorted(ids.row_splits[1:], tf.range(
            tf.size(ids.flat_values, out_type=tf.int64)), side="right")

        def to_chars(byte_offsets):  # flat normalized bytes -> characters
            found = tf.searchsorted(
                char_ends[tf.newaxis],
                (byte_offsets + tf.gather(row_bytes, rows))[tf.newaxis],
                side="right", out_type=tf.int64)[0]
            return found - tf.gather(row_chars, rows)

        return (ids, ids.with_flat_values(to_chars(starts.flat_values)),
                ids.with_flat_values(to_chars(ends.flat_values - 1) + 1))

    def detokenize(self, ids):
        """Ragged [B, (pieces)] ids -> [B] strings, "##" pieces joined."""
        return self._wordpiece.detokenize(ids)

    def id_to_token(self, ids):
        """The vocabulary strings of `ids` (any shape, ragged included)."""
        if isinstance(ids, tf.RaggedTensor):
            return ids.with_flat_values(
                tf.gather(self._tokens, ids.flat_values))
        return tf.gather(self._tokens, ids)

    def combine(self, segments, seq_length):
        """`[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP]`, unpadded.

        Over-long pairs are trimmed as the original did: one piece at a time
        from the end of the longer segment (B on ties); see
        `trim_round_robin`.

        Args:
            segments: list of 1 or 2 ragged [B, (pieces)] id tensors.
            seq_length: int. Longest output, special tokens included.

        Returns:
            (input_word_ids, input_type_ids): ragged int32 [B, (length)].
        """
        if not 1 <= len(segments) <= 2:
            raise ValueError(f"pack takes 1 or 2 segments, got "
                             f"{len(segments)}")
        budget = seq_length - 1 - len(segments)
        if budget < len(segments):
            raise ValueError(
                f"seq_length {seq_length} leaves no room for "
                f"{len(segments)} segment(s) after [CLS] and [SEP]")
        trimmed = trim_round_robin([tf.cast(s, tf.int32) for s in segments],
                                   budget)
        ids, types = tf_text.combine_segments(trimmed, self.cls_id,
                                              self.sep_id)
        return tf.cast(ids, tf.int32), tf.cast(types, tf.int32)

    def model_inputs(self, ids, types=None, length=None):
        """Packed sequences as the model's three int32 inputs: the one
        place ids are padded (training batches, exports, the TF Hub-style
        preprocessor all come here).

        Args:
            ids: ragged [B, (pieces)] packed ids (`combine`).
            types: ragged ids of the same shape, or None (all segment 0).
            length: int or scalar tensor, the padded length; at least every
                row's. None: the batch's longest row, at least 1 (so that an
                empty batch is [0, 1]: the model reads position 0).

        Returns:
            dict of int32 [B, length]: input_word_ids ([PAD] after each
            row), input_mask (1 on real pieces), input_type_ids.
        """
        ids = tf.cast(ids, tf.int32)
        types = tf.zeros_like(ids) if types is None else tf.cast(types,
                                                                 tf.int32)
        if isinstance(length, int):  # a static shape: XLA, TPU, TFRecords
            shape = [None, length]
        else:
            if length is None:
                length = tf.maximum(ids.bounding_shape(axis=1), 1)
            shape = tf.stack([ids.nrows(), tf.cast(length, tf.int64)])
        return {"input_word_ids": ids.to_tensor(self.pad_id, shape=shape),
                "input_mask": tf.ones_like(ids).to_tensor(0, shape=shape),
                "input_type_ids": types.to_tensor(0, shape=shape)}

    def pack(self, segments, seq_length, pad_to_seq_length=True):
        """`combine` (trimmed to seq_length), then `model_inputs`.

        Args:
            segments: list of 1 or 2 ragged [B, (pieces)] id tensors.
            seq_length: int. Longest packed sequence.
            pad_to_seq_length: bool. Pad every row to seq_length (fixed
                shapes) or only to the batch's longest (less work).

        Returns:
            dict of int32 [B, L]: input_word_ids, input_mask,
            input_type_ids.
        """
        ids, types = self.combine(segments, seq_length)
        return self.model_inputs(
            ids, types, seq_length if pad_to_seq_length else None)

    def encode(self, texts_a, texts_b=None, seq_length=128,
               pad_to_seq_length=True):
        """Tokenizes and packs one or two [B] batches of strings (see
        `pack`)."""
        segments = [self.tokenize(texts_a)]
        if texts_b is not None:
            segments.append(self.tokenize(texts_b))
        return self.pack(segments, seq_length, pad_to_seq_length)
