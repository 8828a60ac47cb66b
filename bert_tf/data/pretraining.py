"""Pre-training examples as a tf.data pipeline: NSP pairs and MLM masks.

Shape legend: B batch, S max_seq_length, P max_predictions_per_seq,
K instances of one document, T tokens of one document.

Input text is google-research/bert's format: one sentence per line, a blank
line between documents. Per document, instances are cut as the original
`create_pretraining_data.py` does:
- one target length per document: S - 3, or with probability
  `short_seq_prob` a random length in [2, S - 3];
- sentences are accumulated until the target is reached (or the document
  ends); a random number of them (at least one) becomes segment A;
- with probability 0.5 (always when the chunk has one sentence) segment B is
  taken from another document (never this one), starting at a random
  sentence, up to the remaining length, and the unused sentences of the
  chunk are put back; otherwise B is the rest of the chunk;
- the pair is trimmed to S - 3 pieces from the longer side, each piece
  from the front or the back with equal chance.
Then `[CLS] A [SEP] B [SEP]`, segment ids 0/1, and masked LM: 15% of the
pieces (never [CLS]/[SEP]/[PAD]; whole words with `whole_word_mask`) are
selected by tf-text's `RandomItemSelector`, of which 80% become [MASK], 10%
a random id and 10% stay.

Every random draw is stateless, keyed by (seed, epoch, document or batch
index): the stream is a function of the seed alone, masks change every
epoch, and an iterator checkpoint resumes it exactly.
"""

import dataclasses

from google.protobuf import message
import tensorflow as tf
import tensorflow_text as tf_text

FEATURES = ("input_word_ids", "input_mask", "input_type_ids",
            "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
            "next_sentence_labels")


class PretrainingDataError(ValueError):
    """Pre-training input or settings that cannot give correct examples."""


@dataclasses.dataclass(frozen=True)
class PretrainingDataConfig:
    """How examples are made.

    Args:
        max_seq_length: int. S, [CLS] and both [SEP] included.
        max_predictions_per_seq: int. P, masked positions per sequence.
        masked_lm_prob: float. Fraction of pieces selected for MLM.
        short_seq_prob: float. Chance of a shorter target length.
        whole_word_mask: bool. Select whole words (all their pieces).
        seed: int. Seed of every random draw.
    """

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    whole_word_mask: bool = False
    seed: int = 12345

    def __post_init__(self):
        if self.max_seq_length < 5:
            raise PretrainingDataError(
                f"max_seq_length {self.max_seq_length} is too short for "
                "[CLS] A [SEP] B [SEP]")
        needed = -(-int(self.masked_lm_prob * (self.max_seq_length - 3)
                        * 1000) // 1000)
        if self.max_predictions_per_seq < needed:
            raise PretrainingDataError(
                f"max_predictions_per_seq {self.max_predictions_per_seq} is "
                f"too small: masking {self.masked_lm_prob:.0%} of up to "
                f"{self.max_seq_length - 3} pieces selects up to {needed}; "
                f"use --max_predictions_per_seq={needed} or more")


def config_problem(values):
    """What `PretrainingDataConfig` refuses of `values` ({field: value},
    named as the command lines' flags), as one line naming them; None if
    nothing. The flag check of tasks.pretrain and create_pretraining_data.
    """
    if values["max_predictions_per_seq"] > values["max_seq_length"]:
        return (f"--max_predictions_per_seq="
                f"{values['max_predictions_per_seq']} exceeds "
                f"--max_seq_length={values['max_seq_length']}")
    try:
        PretrainingDataConfig(**values)
    except PretrainingDataError as e:
        shown = ", ".join(f"--{name}={value}" for name, value in
                          sorted(values.items()))
        return f"{shown}: {e}"
    return None


def _documents_of_file(text):
    """One file's text -> ragged [documents, (sentences)] strings."""
    lines = tf.strings.split(tf.strings.regex_replace(text, "\r\n?", "\n"),
                             "\n")
    blank = tf.strings.regex_full_match(lines, r"\s*")
    document = tf.cumsum(tf.cast(blank, tf.int64))
    keep = tf.logical_not(blank)
    # Renumber densely: runs of blank lines make no empty documents.
    _, document = tf.unique(tf.boolean_mask(document, keep))
    return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(lines, keep),
                                             tf.cast(document, tf.int64))


def read_documents(files):
    """Dataset of documents, each a 1-D tensor of sentence strings."""
    return (tf.data.Dataset.from_tensor_slices(files)
            .map(tf.io.read_file)
            .map(_documents_of_file)
            .unbatch())


def _seed(*parts):
    """A stateless-RNG seed [2] from integer parts."""
    mixed = tf.constant(0, tf.int64)
    for part in parts:
        mixed = mixed * 1000003 + tf.cast(part, tf.int64)
    return tf.stack([mixed % 2147483647, (mixed // 2147483647) % 2147483647])


def _uniform(seed, counter):
    """Uniform float in [0, 1), as random.random."""
    return tf.random.stateless_uniform([], _seed(seed[0], seed[1], counter))


def _randint(seed, counter, low, high):
    """Uniform integer in [low, high] (inclusive), as random.randint."""
    return tf.random.stateless_uniform(
        [], _seed(seed[0], seed[1], counter), minval=tf.cast(low, tf.int64),
        maxval=tf.cast(high, tf.int64) + 1, dtype=tf.int64)


def _instance_ranges(splits, partner_splits, seed, config):
    """The original instance loop over one document, as token ranges.

    Args:
        splits: int64 [S_doc + 1] sentence offsets into the document tokens.
        partner_splits: int64 sentence offsets of another document.
        seed: int64 [2], this document's seed.

    Returns:
        int64 [K, 5] rows (a_lo, a_hi, b_lo, b_hi, is_random); B ranges of
        random pairs index the partner document.
    """
    max_tokens = config.max_seq_length - 3
    num_sentences = tf.shape(splits, out_type=tf.int64)[0] - 1
    partner_sentences = tf.shape(partner_splits, out_type=tf.int64)[0] - 1
    target = tf.where(
        _uniform(seed, 0) < config.short_seq_prob,
        _randint(seed, 1, 2, max_tokens), tf.constant(max_tokens, tf.int64))

    def body(i, start, counter, rows):
        chunk_tokens = splits[i + 1] - splits[start]
        ready = tf.logical_or(i == num_sentences - 1, chunk_tokens >= target)

        def emit():
            chunk = i + 1 - start  # sentences in the chunk
            a_end = start + tf.where(
                chunk >= 2,
                _randint(seed, counter, 1, tf.maximum(chunk - 1, 1)), 1)
            random_next = tf.logical_or(chunk == 1,
                                        _uniform(seed, counter + 1) < 0.5)
            a_len = splits[a_end] - splits[start]
            b_first = _randint(seed, counter + 2, 0, partner_sentences - 1)
            wanted = tf.maximum(target - a_len, 1)
            b_last = tf.searchsorted(
                partner_splits, partner_splits[b_first] + wanted[None],
                side="left", out_type=tf.int64)[0]
            b_last = tf.clip_by_value(b_last, b_first + 1, partner_sentences)
            row = tf.where(
                random_next,
                tf.stack([splits[start], splits[a_end],
                          partner_splits[b_first], partner_splits[b_last],
                          tf.constant(1, tf.int64)]),
                tf.stack([splits[start], splits[a_end], splits[a_end],
                          splits[i + 1], tf.constant(0, tf.int64)]))
            # A random B leaves the rest of the chunk for the next instance.
            next_i = tf.where(random_next, a_end, i + 1)
            return next_i, rows.write(rows.size(), row)

        def wait():
            return i + 1, rows

        next_i, rows = tf.cond(ready, emit, wait)
        next_start = tf.where(ready, next_i, start)
        return next_i, next_start, counter + 3, rows

    _, _, _, rows = tf.while_loop(
        lambda i, *_: i < num_sentences, body,
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64),
         tf.constant(2, tf.int64),
         tf.TensorArray(tf.int64, size=0, dynamic_size=True,
                        element_shape=[5])))
    return rows.stack()


def _trimmed_lengths(la, lb, budget):
    """Lengths after the original _truncate_seq_pair (longer first, B on
    ties), in closed form: cut the longer to the shorter, then alternate."""
    excess = tf.maximum(la + lb - budget, 0)
    gap = tf.abs(la - lb)
    both = tf.maximum(excess - gap, 0)  # removed once they are equal
    from_longer = tf.minimum(excess, gap)
    la_new = tf.where(la > lb, la - from_longer, la) - both // 2
    lb_new = tf.where(la > lb, lb, lb - from_longer) - (both - both // 2)
    return la_new, lb_new


def make_instances(sentences, partner_sentences, doc_seed, tokenizer,
                   config):
    """One document (+ a partner) -> (A pieces [K, (a)], B pieces [K, (b)],
    is_random [K])."""
    pieces = tokenizer.tokenize(sentences)  # [S_doc, (p)]
    partner = tokenizer.tokenize(partner_sentences)
    rows = _instance_ranges(pieces.row_splits, partner.row_splits, doc_seed,
                            config)
    a_lo, a_hi, b_lo, b_hi, is_random = tf.unstack(rows, num=5, axis=1)
    # B of a random pair indexes the partner's tokens, after the document's.
    tokens = tf.concat([pieces.flat_values, partner.flat_values], axis=0)
    offset = tf.shape(pieces.flat_values, out_type=tf.int64)[0]
    b_lo = b_lo + is_random * offset
    b_hi = b_hi + is_random * offset
    la, lb = a_hi - a_lo, b_hi - b_lo
    la_new, lb_new = _trimmed_lengths(la, lb, config.max_seq_length - 3)
    # Each removed piece comes off the front or the back with equal chance.
    k = tf.shape(rows, out_type=tf.int64)[0]
    counts = tf.cast(tf.stack([la - la_new, lb - lb_new]), tf.float32)
    fronts = tf.cast(tf.random.stateless_binomial(
        [2, k], _seed(doc_seed[0], doc_seed[1], -1), counts, probs=0.5),
        tf.int64)
    a_lo = a_lo + fronts[0]
    b_lo = b_lo + fronts[1]

    def gather(lo, length):
        return tf.RaggedTensor.from_row_lengths(
            tf.gather(tokens, tf.ragged.range(lo, lo + length).flat_values),
            length)

    return gather(a_lo, la_new), gather(b_lo, lb_new), is_random


class _StatelessMaskValuesChooser(tf_text.MaskValuesChooser):
    """tf-text's 80% [MASK] / 10% random id / 10% unchanged, with stateless
    draws keyed by `seed` (the stock chooser draws from the global RNG,
    which an iterator checkpoint cannot restore)."""

    def __init__(self, vocab_size, mask_token, seed):
        super().__init__(vocab_size, mask_token, mask_token_rate=0.8,
                         random_token_rate=0.1)
        self._seed = seed

    def get_mask_values(self, masked_lm_ids):
        ids = masked_lm_ids if masked_lm_ids.ragged_rank == 1 \
            else masked_lm_ids.merge_dims(1, -1)
        flat = ids.flat_values
        shape = tf.shape(flat)
        seed = self._seed
        draw = tf.random.stateless_uniform(shape, _seed(seed[0], seed[1], 1))
        random_ids = tf.random.stateless_uniform(
            shape, _seed(seed[0], seed[1], 2), maxval=self.vocab_size,
            dtype=flat.dtype)
        values = tf.where(draw < 0.8, tf.cast(self.mask_token, flat.dtype),
                          tf.where(draw < 0.9, random_ids, flat))
        return ids.with_flat_values(values)


def _word_ids(ids, is_continuation):
    """[B, (S)] piece ids -> [B, (words), (pieces)], "##" pieces joined to
    the word before them."""
    starts = tf.logical_not(tf.gather(is_continuation, ids.flat_values))
    word_index = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    words = tf.RaggedTensor.from_value_rowids(ids.flat_values, word_index)
    # Regroup the words by sequence: a sequence's first piece starts a word.
    first_words = tf.gather(word_index, ids.row_starts())
    return tf.RaggedTensor.from_row_starts(words, first_words)


def mask_batch(ids, batch_seed, tokenizer, config, is_continuation):
    """MLM masking of packed ids [B, (S)]; returns (masked ids, positions
    [B, (M)], original ids [B, (M)]) with M <= P."""
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=config.max_predictions_per_seq,
        selection_rate=config.masked_lm_prob,
        unselectable_ids=[tokenizer.cls_id, tokenizer.sep_id,
                          tokenizer.pad_id],
        shuffle_fn=lambda x: tf.random.experimental.stateless_shuffle(
            x, _seed(batch_seed[0], batch_seed[1], tf.reduce_sum(x),
                     tf.size(x))))
    chooser = _StatelessMaskValuesChooser(tokenizer.vocab_size,
                                          tokenizer.mask_id, batch_seed)
    items = _word_ids(ids, is_continuation) if config.whole_word_mask \
        else ids
    masked, positions, labels = tf_text.mask_language_model(
        items, selector, chooser, axis=1)
    masked = masked.merge_dims(1, -1) if masked.ragged_rank > 1 else masked
    if config.whole_word_mask:
        # Whole words can overshoot P pieces: keep the first P, and put the
        # original ids back where the overshoot was masked.
        keep = tf.ragged.range(positions.row_lengths()) \
            < config.max_predictions_per_seq
        dropped = tf.ragged.boolean_mask(positions, ~keep)
        restore = tf.ragged.boolean_mask(labels, ~keep)
        flat_index = tf.gather(masked.row_starts(), dropped.value_rowids()) \
            + dropped.flat_values
        masked = masked.with_flat_values(tf.tensor_scatter_nd_update(
            masked.flat_values, flat_index[:, None], restore.flat_values))
        positions = tf.ragged.boolean_mask(positions, keep)
        labels = tf.ragged.boolean_mask(labels, keep)
    return masked, positions, labels


def _features(a, b, is_random, batch_seed, tokenizer, config,
              is_continuation):
    ids, types = tf_text.combine_segments([a, b], tokenizer.cls_id,
                                          tokenizer.sep_id)
    masked, positions, labels = mask_batch(ids, batch_seed, tokenizer,
                                           config, is_continuation)
    word_ids, mask = tf_text.pad_model_inputs(masked, config.max_seq_length,
                                              pad_value=tokenizer.pad_id)
    type_ids, _ = tf_text.pad_model_inputs(types, config.max_seq_length)
    positions, weights = tf_text.pad_model_inputs(
        positions, config.max_predictions_per_seq)
    labels, _ = tf_text.pad_model_inputs(labels,
                                         config.max_predictions_per_seq)
    return {
        "input_word_ids": tf.cast(word_ids, tf.int32),
        "input_mask": tf.cast(mask, tf.int32),
        "input_type_ids": tf.cast(type_ids, tf.int32),
        "masked_lm_positions": tf.cast(positions, tf.int32),
        "masked_lm_ids": tf.cast(labels, tf.int32),
        "masked_lm_weights": tf.cast(weights, tf.float32),
        "next_sentence_labels": tf.cast(is_random, tf.int32),
    }


def _epochs(files, seed_offset, shard, num_epochs=None):
    """Documents of every epoch in a fixed order: (epoch, index, sentences).
    With `seed_offset`, shuffled (the partner stream)."""
    documents = read_documents(files).enumerate()
    if shard is not None:
        documents = documents.shard(*shard)
    stream = tf.data.Dataset.range(num_epochs or 2 ** 62).flat_map(
        lambda epoch: documents.map(lambda i, s: (epoch, i, s)))
    if seed_offset:
        stream = stream.shuffle(1000, seed=seed_offset,
                                reshuffle_each_iteration=True)
    return stream


def pretraining_dataset(files, tokenizer, config, batch_size,
                        shuffle_buffer=10000, shard=None, num_epochs=None):
    """Batches of pre-training features from text files, endless unless
    `num_epochs` passes over the documents are asked for.

    Args:
        files: list of text files (see `bert_tf.data.expand_input_files`).
        tokenizer: `bert_tf.BertTokenizer`.
        config: `PretrainingDataConfig`.
        batch_size: int. B, per input pipeline.
        shuffle_buffer: int. Instances shuffled across documents.
        shard: optional (num_shards, index): this pipeline's documents.
        num_epochs: optional int. Passes over the documents, each with new
            instances and masks (the last batch may then be smaller).

    Returns:
        A `tf.data.Dataset` of dicts of `FEATURES`, [B, S] / [B, P] / [B].
    """
    if not files:
        raise PretrainingDataError("no input files")
    is_continuation = tf.constant(
        [t.startswith("##") for t in tokenizer.vocab], tf.bool)
    main = _epochs(files, 0, shard, num_epochs)
    # B of a random pair comes from a shuffled stream of the documents; the
    # first of three consecutive ones that is not this document, else the
    # next document in file order (another one whenever there are two).
    candidates = [_epochs(files, config.seed + 1, shard).skip(k)
                  for k in range(3)] + [main.skip(1)]

    def pick_partner(doc, *candidates):
        epoch, index, sentences = doc
        different = tf.stack([c[1] != index for c in candidates])
        tf.debugging.assert_equal(
            tf.reduce_any(different), True,
            "pre-training input holds a single document: next-sentence "
            "negatives need at least two (blank line between documents)")
        choice = tf.argmax(tf.cast(different, tf.int32), output_type=tf.int32)
        partner = tf.switch_case(choice,
                                 [lambda c=c: c[2] for c in candidates])
        return epoch, index, sentences, partner

    def instances(epoch, index, sentences, partner):
        a, b, is_random = make_instances(
            sentences, partner, _seed(config.seed, epoch, index), tokenizer,
            config)
        return tf.data.Dataset.from_tensor_slices((a, b, is_random))

    dataset = tf.data.Dataset.zip((main, *candidates)).map(pick_partner)
    dataset = dataset.flat_map(instances)
    dataset = dataset.shuffle(shuffle_buffer, seed=config.seed,
                              reshuffle_each_iteration=True)
    dataset = dataset.ragged_batch(batch_size,
                                   drop_remainder=num_epochs is None)
    dataset = dataset.enumerate().map(
        lambda i, batch: _features(*batch, _seed(config.seed, i, 7),
                                   tokenizer, config, is_continuation),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


# Records shuffled across (google-research's input_fn used 100).
_RECORD_SHUFFLE_BUFFER = 1000


# google-research's TFRecord features: (dtype, the flag giving the length).
_GOOGLE_FEATURES = {
    "input_ids": (tf.int64, "max_seq_length"),
    "input_mask": (tf.int64, "max_seq_length"),
    "segment_ids": (tf.int64, "max_seq_length"),
    "masked_lm_positions": (tf.int64, "max_predictions_per_seq"),
    "masked_lm_ids": (tf.int64, "max_predictions_per_seq"),
    "masked_lm_weights": (tf.float32, "max_predictions_per_seq"),
    "next_sentence_labels": (tf.int64, None),  # always 1 value
}


def check_google_tfrecords(files, config):
    """Checks the first record of each file against `config`'s lengths.

    Records of other lengths would otherwise fail in the middle of training
    with a bare parse error; this names the file, the feature, and the
    setting the file was written with.

    Raises:
        PretrainingDataError: 'FILE: feature masked_lm_weights has 20
            values; --max_predictions_per_seq=10 expects 10 (this file was
            written with --max_predictions_per_seq=20)', or a file that is
            empty, not a TFRecord file, or lacks a feature.
    """
    for path in files:
        try:
            first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
        except tf.errors.OpError as e:  # DataLossError: not TFRecords
            raise PretrainingDataError(
                f"{path}: not a TFRecord file ({e.message}); "
                "--input_format=tfrecord reads create_pretraining_data.py "
                "output") from None
        if first is None:
            raise PretrainingDataError(f"{path}: holds no records")
        try:
            features = tf.train.Example.FromString(
                first.numpy()).features.feature
        except message.DecodeError:
            raise PretrainingDataError(
                f"{path}: its first record is not a tf.train.Example; "
                "--input_format=tfrecord reads create_pretraining_data.py "
                "output") from None
        problems, flags_named = [], set()
        for name, (dtype, flag) in _GOOGLE_FEATURES.items():
            if name not in features:
                problems.append(f"no feature {name}")
                continue
            kind = "float_list" if dtype == tf.float32 else "int64_list"
            if features[name].WhichOneof("kind") != kind:
                problems.append(f"feature {name} is a "
                                f"{features[name].WhichOneof('kind')}, not "
                                f"a {kind}")
                continue
            found = len(getattr(features[name], kind).value)
            expected = getattr(config, flag) if flag else 1
            if found != expected and flag not in flags_named:
                flags_named.add(flag)  # one feature per setting suffices
                setting = (f"; --{flag}={expected} expects {expected} (this "
                           f"file was written with --{flag}={found})"
                           if flag else f"; expected {expected}")
                problems.append(f"feature {name} has {found} values{setting}")
        if problems:
            raise PretrainingDataError(f"{path}: " + "; ".join(problems))


def google_tfrecord_dataset(files, config, batch_size, shard=None,
                            shuffle=True):
    """Batches from google-research `create_pretraining_data.py` TFRecords.

    Their features (input_ids, input_mask, segment_ids, masked_lm_positions,
    masked_lm_ids, masked_lm_weights, next_sentence_labels) are renamed to
    bert_tf's; lengths must match `config` (checked up front on each file's
    first record, see `check_google_tfrecords`). With `shuffle` (training),
    files and records are shuffled, seeded by `config.seed`; without, they
    come in file order.
    """
    check_google_tfrecords(files, config)
    spec = {}
    for name, (dtype, flag) in _GOOGLE_FEATURES.items():
        length = getattr(config, flag) if flag else 1
        spec[name] = tf.io.FixedLenFeature([length], dtype)
    names = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        features = {names.get(k, k): tf.cast(v, tf.int32)
                    if v.dtype == tf.int64 else v for k, v in parsed.items()}
        features["next_sentence_labels"] = features[
            "next_sentence_labels"][:, 0]
        return features

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shard is not None:
        dataset = dataset.shard(*shard)
    # As the original input_fn: file order shuffled every epoch, a few files
    # read at once, records shuffled in a buffer; seeded, so a run (and its
    # resumption from the iterator's checkpoint) is reproducible.
    if not shuffle:
        dataset = dataset.interleave(tf.data.TFRecordDataset).repeat()
    else:
        dataset = (dataset.shuffle(len(files), seed=config.seed).repeat()
                   .interleave(tf.data.TFRecordDataset,
                               cycle_length=min(len(files), 4))
                   .shuffle(_RECORD_SHUFFLE_BUFFER, seed=config.seed))
    return (dataset.batch(batch_size, drop_remainder=True)
            .map(parse, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))
