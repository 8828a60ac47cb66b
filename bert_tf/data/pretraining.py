"""Pre-training examples as a tf.data pipeline: NSP pairs and MLM masks.

Shape legend: B batch, S max_seq_length, P max_predictions_per_seq,
K instances of one document, R random-next instances of one document.

Input text is google-research/bert's format: one sentence per line, a blank
line between documents. Examples are made as the original
`create_pretraining_data.py` makes them:
- every epoch visits every document once, in a fresh random order over the
  whole corpus (a seeded permutation of the document numbers of a
  `bert_tf.data.document_index.DocumentIndex`, read by offset, so corpora
  far larger than memory work); multi-worker input pipelines take disjoint
  shares of each epoch's documents;
- lines that tokenize to nothing are dropped, as the original drops them;
- per document, one target length: S - 3, or with probability
  `short_seq_prob` a random length in [2, S - 3];
- sentences are accumulated until the target is reached (or the document
  ends); a random number of them (at least one) becomes segment A;
- with probability 0.5 (always when the chunk has one sentence) segment B
  is random: it starts at a random sentence of a document drawn uniformly
  from the whole corpus (never this one), fresh for every such instance,
  and runs up to the remaining length; the unused sentences of the chunk
  are put back. Otherwise B is the rest of the chunk;
- the pair is trimmed to S - 3 pieces from the longer side, each piece
  from the front or the back with equal chance;
- instances are mixed across documents in a shuffle buffer (documents
  already come in random order, so the buffer need only break up the runs
  of one document's instances);
- `[CLS] A [SEP] B [SEP]`, segment ids 0/1, and masked LM exactly as the
  original selects it (`bert_tf.data.masking`).

Every random draw is stateless, keyed by (seed, epoch, document) or (seed,
input pipeline, batch): the stream is a function of the seed alone, masks
change every epoch, and an iterator checkpoint resumes it exactly.
"""

import atexit
import dataclasses
import threading
import time

from google.protobuf import message
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.cli import run_flags
from bert_tf.data import document_index
from bert_tf.data import masking
from bert_tf import errors

FEATURES = ("input_word_ids", "input_mask", "input_type_ids",
            "masked_lm_positions", "masked_lm_ids", "masked_lm_weights",
            "next_sentence_labels")


PretrainingDataError = errors.PretrainingDataError


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

    max_seq_length: int = run_flags.option(
        128, "Pieces per example, special tokens included.")
    max_predictions_per_seq: int = run_flags.option(
        20, "Most masked positions per example.")
    masked_lm_prob: float = run_flags.option(
        0.15, "Fraction of pieces masked: min(--max_predictions_per_seq, "
        "max(1, round(n * this))) of an example's n pieces, as the "
        "original.")
    short_seq_prob: float = run_flags.option(
        0.1, "Chance of a shorter example.")
    whole_word_mask: bool = run_flags.option(
        False, "Mask all pieces of a word together.")
    seed: int = run_flags.option(12345, "Seed of the input pipeline.")

    def __post_init__(self):
        if self.max_seq_length < 5:
            raise PretrainingDataError(
                f"max_seq_length {self.max_seq_length} is too short for "
                "[CLS] A [SEP] B [SEP]")
        needed = fewest_predictions(self.max_seq_length,
                                    self.masked_lm_prob)
        if self.max_predictions_per_seq < needed:
            raise PretrainingDataError(
                f"max_predictions_per_seq {self.max_predictions_per_seq} is "
                f"too small: masking {self.masked_lm_prob:.0%} of up to "
                f"{self.max_seq_length} pieces ([CLS] and [SEP] counted, as "
                f"the original counts them) selects up to {needed}; use "
                f"--max_predictions_per_seq={needed} or more")


def fewest_predictions(max_seq_length, masked_lm_prob=0.15):
    """The original's masked budget of a full sequence (`masking.budget`
    uncapped): the fewest `max_predictions_per_seq` that never cuts it."""
    return max(1, round(masked_lm_prob * max_seq_length))


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


def corpus_index(files, num_shards=1):
    """The document index of `files`, checked to make pre-training pairs.

    Raises:
        PretrainingDataError: no input, fewer than two documents (a random
            B segment needs another document), or fewer documents than
            input pipelines; naming the files.
    """
    if not files:
        raise PretrainingDataError("no input files")
    try:
        index = document_index.DocumentIndex.for_files(files)
    except (OSError, document_index.DocumentIndexError) as e:
        raise PretrainingDataError(str(e)) from None
    named = ", ".join(files)
    if index.num_documents < 2:
        raise PretrainingDataError(
            f"{named}: {index.num_documents} document(s) in all; "
            "next-sentence negatives need at least two documents (a blank "
            "line between documents)")
    if index.num_documents < num_shards:
        raise PretrainingDataError(
            f"{named}: {index.num_documents} documents for {num_shards} "
            "input pipelines; each needs at least one")
    return index


def _seed(*parts):
    """A stateless-RNG seed [2] from integer parts."""
    mixed = tf.constant(0, tf.int64)
    for part in parts:
        mixed = mixed * 1000003 + tf.cast(part, tf.int64)
    return tf.stack([mixed % 2147483647, (mixed // 2147483647) % 2147483647])


def _uniform(seed, counter, dtype=tf.float32, shape=()):
    """Uniform floats in [0, 1), as random.random."""
    return tf.random.stateless_uniform(
        shape, _seed(seed[0], seed[1], counter), dtype=dtype)


def _randint(seed, counter, low, high):
    """Uniform integer in [low, high] (inclusive), as random.randint."""
    return tf.random.stateless_uniform(
        [], _seed(seed[0], seed[1], counter), minval=tf.cast(low, tf.int64),
        maxval=tf.cast(high, tf.int64) + 1, dtype=tf.int64)


def _instance_ranges(splits, seed, config):
    """The original instance loop over one document, as token ranges.

    Args:
        splits: int64 [sentences + 1] sentence offsets into the tokens.
        seed: int64 [2], this document's seed.

    Returns:
        int64 [K, 6] rows (a_lo, a_hi, b_lo, b_hi, is_random, b_wanted):
        B ranges of random pairs are empty; b_wanted is the length the
        random B is filled up to.
    """
    max_tokens = config.max_seq_length - 3
    num_sentences = tf.shape(splits, out_type=tf.int64)[0] - 1
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
            row = tf.where(
                random_next,
                tf.stack([splits[start], splits[a_end], 0, 0, 1,
                          tf.maximum(target - a_len, 1)]),
                tf.stack([splits[start], splits[a_end], splits[a_end],
                          splits[i + 1], 0, 0]))
            # A random B leaves the rest of the chunk for the next instance.
            next_i = tf.where(random_next, a_end, i + 1)
            return next_i, rows.write(rows.size(), row)

        def wait():
            return i + 1, rows

        next_i, rows = tf.cond(ready, emit, wait)
        next_start = tf.where(ready, next_i, start)
        return next_i, next_start, counter + 2, rows

    _, _, _, rows = tf.while_loop(
        lambda i, *_: i < num_sentences, body,
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64),
         tf.constant(2, tf.int64),
         tf.TensorArray(tf.int64, size=0, dynamic_size=True,
                        element_shape=[6])))
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


class _Corpus:
    """Sentences of indexed documents as TF ops (reads run in Python).

    tf.data calls the reads from its own threads, ahead of the consumer. A
    thread that needs Python while the interpreter is finalizing never gets
    it, and the iterator's destructor then waits for it forever: a process
    that exits with an iterator alive would hang. So at exit (before
    finalizing) every read is refused, which stops each pipeline with an
    error it never delivers, and the exit waits until no thread has asked
    for a read for a while.
    """

    _closing = False
    _opened = False
    _asked = 0  # reads asked for, refused ones included
    _lock = threading.Lock()

    def __init__(self, index, tokenizer):
        self.index = index
        self.tokenizer = tokenizer
        type(self)._opened = True

    @classmethod
    def close_all(cls, quiet=0.5, limit=30):
        if not cls._opened:
            return
        cls._closing = True
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            asked = cls._asked
            time.sleep(quiet)  # the reading threads may take Python now
            if cls._asked == asked:
                return

    def _read(self, documents):
        with self._lock:
            type(self)._asked += 1
        if self._closing:
            raise RuntimeError("the process is exiting")
        sentences = [self.index.sentences(int(d)) for d in documents]
        flat = np.array([s for doc in sentences for s in doc] or [b""],
                        dtype=object)[:sum(map(len, sentences))]
        return flat, np.array([len(doc) for doc in sentences], np.int64)

    def pieces(self, documents):
        """int64 [D] document numbers -> ragged [D, (sentences), (pieces)]
        ids, lines that tokenize to nothing dropped."""
        flat, lengths = tf.numpy_function(self._read, [documents],
                                          [tf.string, tf.int64],
                                          stateful=False)
        flat.set_shape([None])
        lengths.set_shape([None])
        pieces = tf.cast(self.tokenizer.tokenize(flat), tf.int64)
        pieces = tf.RaggedTensor.from_row_lengths(pieces, lengths)
        return tf.ragged.boolean_mask(pieces, pieces.row_lengths(axis=2) > 0)


atexit.register(_Corpus.close_all)


def _random_b_ranges(pieces, start, wanted):
    """Where each random B lies in `pieces.flat_values`.

    Args:
        pieces: ragged [R, (sentences), (pieces)], the drawn documents.
        start: float64 [R] in [0, 1), where in its document B starts.
        wanted: int64 [R], the length B is filled up to.

    Returns:
        int64 [R] (lo, hi): from a random sentence, whole sentences until
        `wanted` is reached or the document ends.
    """
    token_splits = pieces.values.row_splits  # sentence -> tokens
    first_sentence, end_sentence = pieces.row_starts(), pieces.row_limits()
    count = end_sentence - first_sentence
    first = first_sentence + tf.cast(
        tf.floor(start * tf.cast(count, tf.float64)), tf.int64)
    lo = tf.gather(token_splits, first)
    last = tf.searchsorted(token_splits, lo + wanted, side="left",
                           out_type=tf.int64)
    last = tf.minimum(tf.maximum(last, first + 1), end_sentence)
    return lo, tf.gather(token_splits, last)


def make_instances(corpus, document, doc_seed, config):
    """One document -> (A pieces [K, (a)], B pieces [K, (b)], is_random
    [K])."""
    pieces = corpus.pieces(document[None])[0]  # [sentences, (pieces)]
    rows = _instance_ranges(pieces.row_splits, doc_seed, config)
    a_lo, a_hi, b_lo, b_hi, is_random, wanted = tf.unstack(rows, num=6,
                                                           axis=1)
    # Each random B: a document other than this one, uniformly, and a
    # point in it; drawn for every instance, used by the random ones.
    k = tf.shape(rows, out_type=tf.int64)[0]
    others = corpus.index.num_documents - 1
    other = tf.cast(tf.floor(_uniform(doc_seed, -2, tf.float64, [k])
                             * others), tf.int64)
    other += tf.cast(other >= document, tf.int64)
    random_rows = tf.where(is_random > 0)[:, 0]
    drawn = corpus.pieces(tf.gather(other, random_rows))
    random_lo, random_hi = _random_b_ranges(
        drawn, tf.gather(_uniform(doc_seed, -3, tf.float64, [k]),
                         random_rows), tf.gather(wanted, random_rows))
    # B of a random pair indexes the drawn tokens, after the document's.
    tokens = tf.concat([pieces.flat_values, drawn.flat_values], axis=0)
    offset = tf.shape(pieces.flat_values, out_type=tf.int64)[0]
    which = tf.where(is_random > 0, tf.cumsum(is_random) - 1,
                     tf.size(random_rows, out_type=tf.int64))
    b_lo = tf.where(is_random > 0, tf.gather(
        tf.concat([random_lo + offset, [0]], 0), which), b_lo)
    b_hi = tf.where(is_random > 0, tf.gather(
        tf.concat([random_hi + offset, [0]], 0), which), b_hi)
    la, lb = a_hi - a_lo, b_hi - b_lo
    la_new, lb_new = _trimmed_lengths(la, lb, config.max_seq_length - 3)
    # Each removed piece comes off the front or the back with equal chance.
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


def _features(a, b, is_random, batch_seed, tokenizer, config,
              is_continuation):
    ids, types = tf_text.combine_segments([a, b], tokenizer.cls_id,
                                          tokenizer.sep_id)
    masked, positions, labels = masking.mask_batch(
        tf.cast(ids, tf.int64), batch_seed,
        [tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id],
        is_continuation, tokenizer.vocab_size, tokenizer.mask_id,
        config.masked_lm_prob, config.max_predictions_per_seq,
        config.whole_word_mask)
    positions, weights = tf_text.pad_model_inputs(
        positions, config.max_predictions_per_seq)
    labels, _ = tf_text.pad_model_inputs(labels,
                                         config.max_predictions_per_seq)
    return {
        **tokenizer.model_inputs(masked, types, config.max_seq_length),
        "masked_lm_positions": tf.cast(positions, tf.int32),
        "masked_lm_ids": tf.cast(labels, tf.int32),
        "masked_lm_weights": tf.cast(weights, tf.float32),
        "next_sentence_labels": tf.cast(is_random, tf.int32),
    }


def document_order(num_documents, seed, shard=None, num_epochs=None):
    """(epoch, document) of every epoch: each epoch a fresh permutation of
    the document numbers (`tf.random.experimental.index_shuffle`, nothing
    held in memory), this input pipeline's share of it with `shard`."""
    positions = tf.data.Dataset.range(num_documents)
    if shard is not None:
        positions = positions.shard(*shard)
    last = tf.constant(num_documents - 1, tf.int64)

    def epoch_documents(epoch):
        return positions.map(lambda i: (
            epoch, tf.random.experimental.index_shuffle(
                i, _seed(seed, epoch), last)))

    return tf.data.Dataset.range(num_epochs or 2 ** 62).flat_map(
        epoch_documents)


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

    Raises:
        PretrainingDataError: see `corpus_index`.
    """
    corpus = _Corpus(corpus_index(files, shard[0] if shard else 1),
                     tokenizer)
    is_continuation = tf.constant(
        [t.startswith("##") for t in tokenizer.vocab], tf.bool)
    pipeline = shard[1] if shard else 0

    def instances(epoch, document):
        return make_instances(corpus, document,
                              _seed(config.seed, epoch, document), config)

    dataset = document_order(corpus.index.num_documents, config.seed + 1,
                             shard, num_epochs)
    dataset = dataset.map(instances, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    dataset = dataset.flat_map(
        lambda *instance: tf.data.Dataset.from_tensor_slices(instance))
    dataset = dataset.shuffle(shuffle_buffer, seed=config.seed,
                              reshuffle_each_iteration=True)
    dataset = dataset.ragged_batch(batch_size,
                                   drop_remainder=num_epochs is None)
    dataset = dataset.enumerate().map(
        lambda i, batch: _features(*batch, _seed(config.seed, pipeline, i, 7),
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
