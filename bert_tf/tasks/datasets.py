"""tf.data input for fine-tuning: tokenize once, pack, batch, pad.

Shape legend: B batch, C choices, L a batch's padded sequence length.

Sentence (pair) tasks: each example becomes `[CLS] A [SEP] (B [SEP])`,
trimmed to `max_seq_length` by the original rule (`BertTokenizer.combine`).
Tokenization runs inside tf.data, in batches, each epoch (it costs far less
than a training step and keeps the input position checkpointable without
storing a cache in every checkpoint).

Padding:
- dynamic shapes (CPU/GPU): each batch is padded to its longest example, so
  short sentences do not pay for `max_seq_length`;
- fixed shapes (TPU, XLA): each batch is padded to the smallest bucket
  length that holds it, so the step compiles once per bucket length (a few
  shapes), not once per batch.

Training batches are drawn from a uniform shuffle (reshuffled every epoch)
by default. `bucket_by_length` forms them instead from examples of similar
length (`bucket_by_sequence_length`): less padding, so faster, but each
batch is then a biased sample, which costs accuracy on some tasks (see
docs/finetuning.md, "Accuracy against other stacks"). Evaluation and
prediction batches always group by length: that changes no output.

Every element carries `example_index`, its position in the input list:
bucketing reorders examples, and predictions are put back in input order
with it (`restore_order`).
"""

import dataclasses
from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from bert_tf.layers import encoder as encoder_lib



@dataclasses.dataclass(frozen=True)
class BatchingConfig:
    """How fine-tuning examples are batched.

    Args:
        batch_size: int. Examples per batch (of this input pipeline).
        max_seq_length: int. Longest packed sequence; longer inputs are
            trimmed.
        fixed_shapes: bool. Pad each batch to its bucket length (TPU, XLA)
            instead of to its longest example.
        bucket_lengths: lengths the buckets pad to (fixed shapes) or group
            by (dynamic shapes); None = a default ladder up to
            `max_seq_length`.
        training: bool. Shuffle (reshuffled each epoch), repeat forever and
            drop incomplete batches; otherwise one pass in input order
            within each bucket, every example kept.
        seed: int. Shuffle seed.
        shuffle_buffer: int. Shuffle buffer in examples.
        bucket_by_length: bool. Training only: batch examples of similar
            length together instead of in shuffled order.
    """

    batch_size: int
    max_seq_length: int = 128
    fixed_shapes: bool = False
    bucket_lengths: Optional[Tuple[int, ...]] = None
    training: bool = False
    seed: int = 0
    shuffle_buffer: int = 10000
    bucket_by_length: bool = False

    def lengths(self):
        if self.bucket_lengths:
            lengths = sorted(set(self.bucket_lengths))
            if lengths[-1] > self.max_seq_length:
                raise ValueError(
                    f"bucket length {lengths[-1]} exceeds max_seq_length "
                    f"{self.max_seq_length}")
            return lengths + ([self.max_seq_length]
                              if lengths[-1] < self.max_seq_length else [])
        ladder = [n for n in (16, 32, 64, 128, 256) if n < self.max_seq_length]
        return ladder + [self.max_seq_length]


def _tokenize_and_pack(tokenizer, texts_a, texts_b, max_seq_length):
    segments = [tokenizer.tokenize(texts_a)]
    if texts_b is not None:
        segments.append(tokenizer.tokenize(texts_b))
    return tokenizer.combine(segments, max_seq_length)


def _batched(dataset, config, length_fn, padded_shapes, padding_values):
    lengths = config.lengths()
    if config.training:
        dataset = dataset.shuffle(config.shuffle_buffer, seed=config.seed,
                                  reshuffle_each_iteration=True).repeat()
    if config.training and not config.bucket_by_length:
        batches = dataset.padded_batch(
            config.batch_size, padded_shapes=padded_shapes,
            padding_values=padding_values, drop_remainder=True)
    else:
        # bucket_by_sequence_length's boundaries are exclusive upper
        # bounds; with pad_to_bucket_boundary it pads to boundary - 1.
        batches = dataset.bucket_by_sequence_length(
            element_length_func=length_fn,
            bucket_boundaries=[n + 1 for n in lengths[:-1]],
            bucket_batch_sizes=[config.batch_size] * len(lengths),
            padded_shapes=padded_shapes,
            padding_values=padding_values,
            pad_to_bucket_boundary=False,
            drop_remainder=config.training,
        )
    return batches.map(_pad_to_bucket(lengths) if config.fixed_shapes
                       else _identity)


def _identity(features):
    return features


def _pad_to_bucket(lengths):
    """Pads the last axis of every sequence feature (rank >= 2: inputs,
    per-token labels) to the smallest bucket length that holds the batch
    (static shape: XLA compiles once per bucket)."""
    lengths_tensor = tf.constant(lengths, tf.int32)

    def pad(features):
        length = tf.shape(features["input_word_ids"])[-1]
        target = tf.reduce_min(tf.boolean_mask(
            lengths_tensor, lengths_tensor >= length))
        padded = dict(features)
        for name, value in features.items():
            rank = len(value.shape)
            if rank < 2:
                continue
            paddings = [[0, 0]] * (rank - 1) + [[0, target - length]]
            padded[name] = tf.pad(value, paddings)
        return padded

    return pad


def _unpadded(features):
    """One example cut back to its own length (the batch it was tokenized
    in padded it to that batch's longest)."""
    out = {k: v for k, v in features.items() if k != "length"}
    for name in encoder_lib.INPUT_NAMES:
        out[name] = features[name][..., :features["length"]]
    return out


def classification_dataset(tokenizer, texts_a, texts_b, labels, config):
    """Batches of packed sentences (pairs) with their labels.

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        texts_a: sequence of str, first segments.
        texts_b: sequence of str (second segments) or None.
        labels: sequence of int class ids or float scores (one per text).
        config: `BatchingConfig`.

    Returns:
        tf.data.Dataset of dicts: input_word_ids, input_mask,
        input_type_ids (int32 [B, L]), label ([B]), example_index ([B]).
    """
    columns = {"text_a": np.asarray(texts_a, dtype=object),
               "label": np.asarray(labels),
               "example_index": np.arange(len(texts_a), dtype=np.int64)}
    if texts_b is not None:
        columns["text_b"] = np.asarray(texts_b, dtype=object)

    def pack(batch):
        ids, types = _tokenize_and_pack(tokenizer, batch["text_a"],
                                        batch.get("text_b"),
                                        config.max_seq_length)
        features = tokenizer.model_inputs(ids, types)
        features["length"] = tf.cast(ids.row_lengths(), tf.int32)
        features["label"] = batch["label"]
        features["example_index"] = batch["example_index"]
        return features

    dataset = (tf.data.Dataset.from_tensor_slices(columns)
               .batch(256).map(pack).unbatch().map(_unpadded))
    return _batched(
        dataset, config,
        length_fn=lambda f: tf.shape(f["input_word_ids"])[0],
        padded_shapes={**{name: [None] for name in encoder_lib.INPUT_NAMES},
                       "label": [], "example_index": []},
        padding_values={**{name: tf.constant(0, tf.int32)
                           for name in encoder_lib.INPUT_NAMES},
                        "input_word_ids": tf.constant(tokenizer.pad_id,
                                                      tf.int32),
                        "label": tf.constant(0, columns["label"].dtype),
                        "example_index": tf.constant(0, tf.int64)},
    ).prefetch(tf.data.AUTOTUNE)


def multiple_choice_dataset(tokenizer, contexts, choices, labels, config):
    """Batches of C packed `[CLS] context [SEP] choice [SEP]` per example.

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        contexts: sequence of str, one per example.
        choices: sequence of C-tuples of str (the same C for all).
        labels: sequence of int, the right choice (0 for unlabeled data).
        config: `BatchingConfig`.

    Returns:
        tf.data.Dataset of dicts: inputs int32 [B, C, L], label [B],
        example_index [B].
    """
    choices = np.asarray([tuple(c) for c in choices], dtype=object)  # [N, C]
    num_choices = choices.shape[1]
    columns = {"context": np.asarray(contexts, dtype=object),
               "choices": choices,
               "label": np.asarray(labels, dtype=np.int32),
               "example_index": np.arange(len(contexts), dtype=np.int64)}

    def pack(batch):
        flat_choices = tf.reshape(batch["choices"], [-1])  # [B * C]
        flat_contexts = tf.repeat(batch["context"], num_choices)
        ids, types = _tokenize_and_pack(tokenizer, flat_contexts,
                                        flat_choices, config.max_seq_length)
        features = {}
        for name, value in tokenizer.model_inputs(ids, types).items():
            features[name] = tf.reshape(
                value, [-1, num_choices, tf.shape(value)[-1]])  # [B, C, L]
        # Each example's length is that of its longest choice.
        features["length"] = tf.reduce_max(tf.reshape(
            tf.cast(ids.row_lengths(), tf.int32), [-1, num_choices]), axis=1)
        features["label"] = batch["label"]
        features["example_index"] = batch["example_index"]
        return features

    dataset = (tf.data.Dataset.from_tensor_slices(columns)
               .batch(64).map(pack).unbatch().map(_unpadded))
    return _batched(
        dataset, config,
        length_fn=lambda f: tf.shape(f["input_word_ids"])[1],
        padded_shapes={**{name: [num_choices, None]
                          for name in encoder_lib.INPUT_NAMES},
                       "label": [], "example_index": []},
        padding_values={**{name: tf.constant(0, tf.int32)
                           for name in encoder_lib.INPUT_NAMES},
                        "input_word_ids": tf.constant(tokenizer.pad_id,
                                                      tf.int32),
                        "label": tf.constant(0, tf.int32),
                        "example_index": tf.constant(0, tf.int64)},
    ).prefetch(tf.data.AUTOTUNE)


def pretokenized_dataset(sequences, scalars, config, pad_id=0):
    """Batches of already tokenized and packed examples.

    For tasks that build their inputs in Python (SQuAD windows, NER word
    labels): every example's sequences have one length; the batches are
    bucketed and padded as `classification_dataset`'s.

    Args:
        sequences: dict name -> list (one per example) of int lists; must
            hold "input_word_ids" and "input_type_ids" (packed, special
            tokens included) and may hold per-token features (e.g. label
            ids), each as long as the example's input_word_ids.
        scalars: dict name -> array [N] of per-example values (labels...).
        config: `BatchingConfig`.
        pad_id: int. [PAD]'s id, for input_word_ids.

    Returns:
        tf.data.Dataset of dicts: the sequences int32 [B, L] (zero-padded;
        input_word_ids with pad_id), input_mask [B, L], the scalars [B]
        and example_index [B] (position in the input lists).
    """
    num_examples = len(sequences["input_word_ids"])
    lengths = [len(ids) for ids in sequences["input_word_ids"]]
    for name, values in sequences.items():
        if len(values) != num_examples or \
                any(len(v) != n for v, n in zip(values, lengths)):
            raise ValueError(f"sequence feature {name!r} does not match "
                             "input_word_ids in count or lengths")
    if max(lengths, default=0) > config.max_seq_length:
        raise ValueError(f"an example has {max(lengths)} pieces, more than "
                         f"max_seq_length {config.max_seq_length}")
    longest = max(lengths, default=0)
    columns = {}
    for name, values in sequences.items():
        padded = np.zeros((num_examples, longest), np.int32)
        for row, value in enumerate(values):
            padded[row, :len(value)] = value
        columns[name] = padded
    columns["input_mask"] = (np.arange(longest)[None, :]
                             < np.asarray(lengths)[:, None]).astype(np.int32)
    for name, values in scalars.items():
        columns[name] = np.asarray(values)
    columns["example_index"] = np.arange(num_examples, dtype=np.int64)
    sequence_names = list(sequences) + ["input_mask"]

    def cut(features):  # each example back to its own length
        length = tf.reduce_sum(features["input_mask"])
        return {name: value[:length] if name in sequence_names else value
                for name, value in features.items()}

    dataset = tf.data.Dataset.from_tensor_slices(columns).map(cut)
    padding = {name: tf.constant(0, tf.int32) for name in sequence_names}
    padding["input_word_ids"] = tf.constant(pad_id, tf.int32)
    for name in scalars:
        padding[name] = tf.constant(0, columns[name].dtype)
    padding["example_index"] = tf.constant(0, tf.int64)
    return _batched(
        dataset, config,
        length_fn=lambda f: tf.shape(f["input_word_ids"])[0],
        padded_shapes={**{name: [None] for name in sequence_names},
                       **{name: [] for name in scalars},
                       "example_index": []},
        padding_values=padding,
    ).prefetch(tf.data.AUTOTUNE)


def restore_order(example_indices, values, num_examples):
    """Puts per-batch outputs back in input order.

    Args:
        example_indices: list of int arrays [B], as the batches came.
        values: list of arrays [B, ...], the outputs of those batches;
            where batches differ in length (axis 1: per-token outputs),
            they are zero-padded to the longest.
        num_examples: int. How many examples went in; each must come back
            exactly once.

    Returns:
        array [num_examples, ...].
    """
    indices = np.concatenate(example_indices)
    if values[0].ndim >= 2:
        longest = max(v.shape[1] for v in values)
        values = [np.pad(v, [(0, 0), (0, longest - v.shape[1])]
                         + [(0, 0)] * (v.ndim - 2)) for v in values]
    stacked = np.concatenate(values)
    if len(indices) != num_examples or \
            len(np.unique(indices)) != num_examples:
        raise ValueError(f"expected {num_examples} predictions, one per "
                         f"example; got {len(indices)} "
                         f"({len(np.unique(indices))} distinct)")
    ordered = np.empty_like(stacked)
    ordered[indices] = stacked
    return ordered

