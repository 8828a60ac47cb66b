"""Fine-tuning input: packing, length bucketing, fixed shapes, order."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from bert_tf.layers import encoder as encoder_lib
from bert_tf.tasks import datasets as finetuning_data
from bert_tf import tokenization
from tests import testing

WORDS = ("the movie was good bad long short and very quite a story of "
         "people who never stop talking").split()


def _tokenizer():
    return tokenization.BertTokenizer(
        os.path.join(testing.minilm_dir(), "vocab.txt"))


def _sentences(n, seed=0, max_words=40):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(1, max_words)))
            for _ in range(n)]


class ClassificationDatasetTest(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        self.tokenizer = _tokenizer()
        self.texts_a = _sentences(50, seed=1)
        self.texts_b = _sentences(50, seed=2, max_words=10)

    def _batches(self, **config):
        config.setdefault("batch_size", 8)
        config.setdefault("max_seq_length", 32)
        dataset = finetuning_data.classification_dataset(
            self.tokenizer, self.texts_a, self.texts_b, np.arange(50),
            finetuning_data.BatchingConfig(**config))
        return list(dataset.as_numpy_iterator())

    def test_eval_batches_hold_every_example_once_packed_as_encode(self):
        batches = self._batches()
        indices = np.concatenate([b["example_index"] for b in batches])
        self.assertCountEqual(indices, range(50))
        expected = self.tokenizer.encode(tf.constant(self.texts_a),
                                         tf.constant(self.texts_b), 32)
        for batch in batches:
            length = batch["input_word_ids"].shape[1]
            for row, index in enumerate(batch["example_index"]):
                for name in encoder_lib.INPUT_NAMES:
                    self.assertAllEqual(batch[name][row],
                                        expected[name][index][:length])
                # The rest of the full-length encoding is padding.
                self.assertFalse(np.any(
                    expected["input_mask"][index][length:]))
                self.assertEqual(batch["label"][row], index)

    def test_dynamic_batches_pad_to_their_longest_example(self):
        for batch in self._batches():
            self.assertEqual(batch["input_word_ids"].shape[1],
                             batch["input_mask"].sum(axis=1).max())

    def test_fixed_shapes_pad_to_bucket_lengths(self):
        lengths = set()
        for batch in self._batches(fixed_shapes=True,
                                   bucket_lengths=(8, 16)):
            lengths.add(batch["input_word_ids"].shape[1])
            self.assertLessEqual(batch["input_mask"].sum(axis=1).max(),
                                 batch["input_word_ids"].shape[1])
        self.assertLessEqual(lengths, {8, 16, 32})
        self.assertGreater(len(lengths), 1)

    def test_training_batches_are_full_shuffled_and_repeat(self):
        # repeat(): infinite, so take a few epochs' worth.
        dataset = finetuning_data.classification_dataset(
            self.tokenizer, self.texts_a, self.texts_b, np.arange(50),
            finetuning_data.BatchingConfig(batch_size=5, max_seq_length=32,
                                           training=True, seed=3))
        seen = []
        for batch in dataset.take(40).as_numpy_iterator():
            self.assertLen(batch["example_index"], 5)
            seen.extend(batch["example_index"])
        self.assertEqual(set(seen), set(range(50)))
        self.assertNotEqual(seen[:50], sorted(seen[:50]))

    def test_training_batches_are_a_uniform_shuffle_unless_bucketed(self):
        # Lengths 3..52 pieces: a shuffled batch mixes them; each epoch of
        # 10 batches holds every example once.
        texts = [" ".join(["the"] * n) for n in range(1, 51)]
        config = finetuning_data.BatchingConfig(
            batch_size=5, max_seq_length=64, training=True, seed=3,
            bucket_lengths=(8, 16, 32))
        shuffled = list(finetuning_data.classification_dataset(
            self.tokenizer, texts, None, np.arange(50), config)
            .take(20).as_numpy_iterator())
        for epoch in (shuffled[:10], shuffled[10:]):
            self.assertCountEqual(
                np.concatenate([b["example_index"] for b in epoch]),
                range(50))
        spreads = [np.ptp(b["input_mask"].sum(axis=1)) for b in shuffled]
        self.assertGreater(np.mean(spreads), 16)
        bucketed = finetuning_data.classification_dataset(
            self.tokenizer, texts, None, np.arange(50),
            dataclasses.replace(config, bucket_by_length=True))
        for batch in bucketed.take(20).as_numpy_iterator():
            lengths = batch["input_mask"].sum(axis=1)
            bucket = np.searchsorted([8, 16, 32, 64], lengths)
            self.assertLen(set(bucket), 1, lengths)

    def test_single_segment_has_type_ids_zero(self):
        dataset = finetuning_data.classification_dataset(
            self.tokenizer, self.texts_a, None, np.zeros(50, np.int32),
            finetuning_data.BatchingConfig(batch_size=8, max_seq_length=16))
        for batch in dataset.as_numpy_iterator():
            self.assertFalse(np.any(batch["input_type_ids"]))
            self.assertLessEqual(batch["input_word_ids"].shape[1], 16)

    def test_bucket_longer_than_max_seq_length_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "bucket length 64 exceeds "
                                    "max_seq_length 32"):
            finetuning_data.BatchingConfig(
                batch_size=2, max_seq_length=32,
                bucket_lengths=(16, 64)).lengths()


class MultipleChoiceDatasetTest(tf.test.TestCase):

    def test_each_choice_packed_with_its_context(self):
        tokenizer = _tokenizer()
        contexts = _sentences(9, seed=4)
        choices = [tuple(_sentences(4, seed=10 + i, max_words=6))
                   for i in range(9)]
        dataset = finetuning_data.multiple_choice_dataset(
            tokenizer, contexts, choices, [i % 4 for i in range(9)],
            finetuning_data.BatchingConfig(batch_size=4, max_seq_length=24))
        seen = 0
        for batch in dataset.as_numpy_iterator():
            ids = batch["input_word_ids"]
            self.assertEqual(ids.shape[1], 4)  # [B, C, L]
            for row, index in enumerate(batch["example_index"]):
                expected = tokenizer.encode(
                    tf.constant([contexts[index]] * 4),
                    tf.constant(list(choices[index])), 24)
                length = ids.shape[2]
                self.assertAllEqual(ids[row],
                                    expected["input_word_ids"][:, :length])
                self.assertAllEqual(batch["input_type_ids"][row],
                                    expected["input_type_ids"][:, :length])
                self.assertEqual(batch["label"][row], index % 4)
                seen += 1
        self.assertEqual(seen, 9)


class PretokenizedDatasetTest(tf.test.TestCase):

    def test_sequences_and_scalars_batched_and_padded_together(self):
        rng = np.random.default_rng(5)
        ids = [list(rng.integers(5, 50, n)) for n in rng.integers(3, 20, 30)]
        tags = [[i % 7 for i in range(len(x))] for x in ids]
        for fixed in (False, True):
            dataset = finetuning_data.pretokenized_dataset(
                {"input_word_ids": ids,
                 "input_type_ids": [[0] * len(x) for x in ids],
                 "tag_ids": tags},
                {"start": np.arange(30)},
                finetuning_data.BatchingConfig(
                    batch_size=4, max_seq_length=24, fixed_shapes=fixed,
                    bucket_lengths=(8, 16)))
            seen = 0
            for batch in dataset.as_numpy_iterator():
                length = batch["input_word_ids"].shape[1]
                if fixed:
                    self.assertIn(length, (8, 16, 24))
                self.assertEqual(batch["tag_ids"].shape[1], length)
                for row, index in enumerate(batch["example_index"]):
                    n = len(ids[index])
                    self.assertAllEqual(batch["input_word_ids"][row, :n],
                                        ids[index])
                    self.assertAllEqual(batch["tag_ids"][row, :n],
                                        tags[index])
                    self.assertEqual(batch["input_mask"][row].sum(), n)
                    self.assertEqual(batch["start"][row], index)
                    seen += 1
            self.assertEqual(seen, 30)

    def test_mismatched_or_too_long_sequences_are_errors(self):
        config = finetuning_data.BatchingConfig(batch_size=2,
                                                max_seq_length=4)
        with self.assertRaisesRegex(ValueError, "'tag_ids' does not match"):
            finetuning_data.pretokenized_dataset(
                {"input_word_ids": [[1, 2]], "input_type_ids": [[0, 0]],
                 "tag_ids": [[1]]}, {}, config)
        with self.assertRaisesRegex(ValueError, "5 pieces, more than "
                                    "max_seq_length 4"):
            finetuning_data.pretokenized_dataset(
                {"input_word_ids": [[1] * 5], "input_type_ids": [[0] * 5]},
                {}, config)


class RestoreOrderTest(tf.test.TestCase):

    def test_outputs_return_to_input_order(self):
        ordered = finetuning_data.restore_order(
            [np.array([2, 0]), np.array([1])],
            [np.array([[20.0], [0.0]]), np.array([[10.0]])], 3)
        self.assertAllEqual(ordered, [[0.0], [10.0], [20.0]])

    def test_per_token_outputs_are_padded_to_the_longest_batch(self):
        ordered = finetuning_data.restore_order(
            [np.array([1]), np.array([0])],
            [np.ones((1, 2)), np.ones((1, 3))], 2)
        self.assertAllEqual(ordered, [[1, 1, 1], [1, 1, 0]])

    def test_missing_or_duplicate_examples_are_an_error(self):
        with self.assertRaisesRegex(ValueError, "expected 3 predictions"):
            finetuning_data.restore_order([np.array([0, 0, 1])],
                                          [np.zeros(3)], 3)


if __name__ == "__main__":
    tf.test.main()
