"""Pre-training pipeline: the original's statistics over many examples;
create_pretraining_data's TFRecords, complete or absent."""

import errno
import functools
import hashlib
import os
import re
import subprocess
import sys
from unittest import mock

import numpy as np
import tensorflow as tf

from bert_tf import configs
from bert_tf import data
from bert_tf import tokenization
from bert_tf.data import pretraining
from tests import testing

NUM_DOCS = 120


@functools.lru_cache(maxsize=None)
def tokenizer():
    return tokenization.BertTokenizer(
        os.path.join(testing.minilm_dir(), "vocab.txt"))


@functools.lru_cache(maxsize=None)
def corpus_words():
    """NUM_DOCS disjoint sets of 30 whole-word vocabulary entries."""
    words = [w for w in tokenizer().vocab
             if w.isalpha() and w.isascii() and len(w) > 3][:NUM_DOCS * 30]
    return [words[i * 30:(i + 1) * 30] for i in range(NUM_DOCS)]


def write_corpus(path, seed=0):
    """Documents of 60-80 sentences; each document uses its own words, so
    any piece tells which document it came from."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        for words in corpus_words():
            for _ in range(rng.integers(60, 81)):
                f.write(" ".join(rng.choice(words, rng.integers(6, 14)))
                        + " .\n")
            f.write("\n")
    return path


def write_google_records(path, seq_length, predictions, count=2):
    """`count` google-format pre-training records of the given lengths."""

    def ints(n):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[1] * n))

    example = tf.train.Example(features=tf.train.Features(feature={
        "input_ids": ints(seq_length), "input_mask": ints(seq_length),
        "segment_ids": ints(seq_length),
        "masked_lm_positions": ints(predictions),
        "masked_lm_ids": ints(predictions),
        "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
            value=[1.0] * predictions)),
        "next_sentence_labels": ints(1)}))
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(count):
            writer.write(example.SerializeToString())
    return path


class PretrainingDataTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = tf.compat.v1.test.get_temp_dir()
        cls.corpus = write_corpus(os.path.join(tmp, "corpus.txt"))
        # The original forces a random B whenever a chunk holds a single
        # sentence, which short targets (short_seq_prob) and document ends
        # make common: its random share is 50% plus half of theirs (57% on
        # documents of 12-20 sentences). Long documents and no short
        # targets make that share small, so the coin itself is measured.
        cls.config = pretraining.PretrainingDataConfig(
            max_seq_length=128, max_predictions_per_seq=20,
            short_seq_prob=0.0)
        dataset = pretraining.pretraining_dataset(
            [cls.corpus], tokenizer(), cls.config, batch_size=64,
            shuffle_buffer=500)
        batches = list(dataset.take(40).as_numpy_iterator())  # 2560 examples
        cls.batch = {k: np.concatenate([b[k] for b in batches])
                     for k in batches[0]}

    def _originals(self):
        """Input ids with the masked positions given back their labels."""
        b = self.batch
        ids = b["input_word_ids"].copy()
        rows = np.arange(len(ids))[:, None].repeat(b["masked_lm_positions"]
                                                   .shape[1], 1)
        real = b["masked_lm_weights"] > 0
        ids[rows[real], b["masked_lm_positions"][real]] = \
            b["masked_lm_ids"][real]
        return ids

    def test_fifteen_percent_of_pieces_are_selected(self):
        b, t = self.batch, tokenizer()
        ids = self._originals()
        selectable = (b["input_mask"] > 0) & (ids != t.cls_id) \
            & (ids != t.sep_id)
        fraction = b["masked_lm_weights"].sum() / selectable.sum()
        self.assertBetween(fraction, 0.14, 0.16)

    def test_special_tokens_are_never_selected(self):
        t = tokenizer()
        labels = self.batch["masked_lm_ids"][self.batch["masked_lm_weights"]
                                             > 0]
        for special in (t.cls_id, t.sep_id, t.pad_id):
            self.assertNotIn(special, labels)

    def test_selected_pieces_split_80_10_10(self):
        b, t = self.batch, tokenizer()
        real = b["masked_lm_weights"] > 0
        rows = np.arange(len(real))[:, None].repeat(real.shape[1], 1)[real]
        now = b["input_word_ids"][rows, b["masked_lm_positions"][real]]
        labels = b["masked_lm_ids"][real]
        masked = np.mean(now == t.mask_id)
        kept = np.mean(now == labels)
        self.assertBetween(masked, 0.78, 0.82)
        self.assertBetween(kept, 0.08, 0.12)
        self.assertBetween(1 - masked - kept, 0.08, 0.12)

    def test_half_the_pairs_are_random_and_from_another_document(self):
        b, t = self.batch, tokenizer()
        self.assertBetween(b["next_sentence_labels"].mean(), 0.47, 0.53)
        owner = {}
        for doc, words in enumerate(corpus_words()):
            for word in words:
                owner[t.vocab[word]] = doc
        ids = self._originals()
        for row, types, label in zip(ids, b["input_type_ids"],
                                     b["next_sentence_labels"]):
            docs_a = {owner[i] for i in row[types == 0] if i in owner}
            docs_b = {owner[i] for i in row[(types == 1)] if i in owner}
            self.assertLen(docs_a, 1)
            self.assertLen(docs_b, 1)
            self.assertEqual(docs_a == docs_b, label == 0)

    def test_layout_is_cls_a_sep_b_sep(self):
        b, t = self.batch, tokenizer()
        for ids, types, mask in zip(self._originals()[:50],
                                    b["input_type_ids"][:50],
                                    b["input_mask"][:50]):
            n = mask.sum()
            self.assertEqual(ids[0], t.cls_id)
            self.assertEqual(ids[n - 1], t.sep_id)
            first_b = np.argmax(types)
            self.assertEqual(ids[first_b - 1], t.sep_id)
            self.assertTrue(np.all(types[first_b:n] == 1))
            self.assertLessEqual(n, 128)

    def test_same_seed_same_stream_and_new_masks_each_epoch(self):
        def first(seed):
            config = pretraining.PretrainingDataConfig(
                max_seq_length=64, max_predictions_per_seq=10, seed=seed)
            dataset = pretraining.pretraining_dataset(
                [self.corpus], tokenizer(), config, batch_size=4,
                shuffle_buffer=10)
            return next(dataset.as_numpy_iterator())

        a, b, c = first(1), first(1), first(2)
        for key in a:
            self.assertAllEqual(a[key], b[key])
        self.assertNotAllEqual(a["input_word_ids"], c["input_word_ids"])

    def test_iterator_checkpoint_resumes_the_stream_exactly(self):
        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)

        def dataset():
            return pretraining.pretraining_dataset(
                [self.corpus], tokenizer(), config, batch_size=8,
                shuffle_buffer=50)

        iterator = iter(dataset())
        for _ in range(3):
            next(iterator)
        path = tf.train.Checkpoint(input=iterator).write(
            os.path.join(self.create_tempdir().full_path, "ckpt"))
        expected = [next(iterator) for _ in range(3)]
        resumed = iter(dataset())
        tf.train.Checkpoint(input=resumed).read(path).assert_consumed()
        for want in expected:
            got = next(resumed)
            for key in pretraining.FEATURES:
                self.assertAllEqual(got[key], want[key])

    def test_each_epoch_is_a_fresh_permutation_split_between_workers(self):
        def order(shard=None):
            return np.array([d for _, d in pretraining.document_order(
                1000, seed=7, shard=shard, num_epochs=2)
                .as_numpy_iterator()]).reshape(2, -1)

        both = order()
        for epoch in both:
            self.assertAllEqual(np.sort(epoch), np.arange(1000))
        self.assertNotAllEqual(both[0], both[1])
        self.assertLess(abs(np.corrcoef(both[0], np.arange(1000))[0, 1]),
                        0.1)
        self.assertAllEqual(order(), both)  # a function of the seed
        first, second = order((2, 0)), order((2, 1))
        for epoch in range(2):
            self.assertEmpty(set(first[epoch]) & set(second[epoch]))
            self.assertAllEqual(np.sort(np.r_[first[epoch], second[epoch]]),
                                np.arange(1000))

    def test_process_exits_while_the_pipeline_is_still_reading(self):
        # tf.data threads call the document reads (Python); one waiting for
        # the interpreter while it finalizes used to hang the exit forever.
        script = (
            "import sys\n"
            "from bert_tf import tokenization\n"
            "from bert_tf.data import pretraining\n"
            "t = tokenization.BertTokenizer(sys.argv[2])\n"
            "d = pretraining.pretraining_dataset([sys.argv[1]], t,\n"
            "    pretraining.PretrainingDataConfig(max_seq_length=128,\n"
            "    max_predictions_per_seq=20), batch_size=32,\n"
            "    shuffle_buffer=10000)\n"
            "it = iter(d)\n"
            "next(it), next(it)  # the threads go on reading ahead\n"
            "print('exiting', flush=True)\n")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(
            [sys.executable, "-c", script, self.corpus,
             os.path.join(testing.minilm_dir(), "vocab.txt")],
            cwd=root, capture_output=True, text=True, timeout=240)
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertIn("exiting", done.stdout)

    def test_trimmed_lengths_follow_the_original_rule(self):
        def original(la, lb, budget):
            while la + lb > budget:
                if la > lb:
                    la -= 1
                else:
                    lb -= 1
            return la, lb

        for la in range(0, 12):
            for lb in range(0, 12):
                for budget in (3, 7, 10, 30):
                    got = pretraining._trimmed_lengths(
                        tf.constant(la, tf.int64), tf.constant(lb, tf.int64),
                        budget)
                    self.assertEqual((int(got[0]), int(got[1])),
                                     original(la, lb, budget))

    def test_static_tfrecords_hold_the_pipeline_examples_in_google_format(
            self):
        from bert_tf.data import create_pretraining_data

        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)
        out = os.path.join(self.create_tempdir().full_path, "train.tfrecord")
        count = create_pretraining_data.write_examples(
            [self.corpus], tokenizer(), config, [out], dupe_factor=1)
        self.assertGreater(count, 300)
        names = set(tf.train.Example.FromString(next(iter(
            tf.data.TFRecordDataset(out))).numpy()).features.feature)
        self.assertEqual(names, {
            "input_ids", "input_mask", "segment_ids", "masked_lm_positions",
            "masked_lm_ids", "masked_lm_weights", "next_sentence_labels"})
        static = next(pretraining.google_tfrecord_dataset(
            [out], config, batch_size=count,
            shuffle=False).as_numpy_iterator())
        dynamic = list(pretraining.pretraining_dataset(
            [self.corpus], tokenizer(), config, batch_size=256,
            num_epochs=1).as_numpy_iterator())
        for key in pretraining.FEATURES:
            self.assertAllEqual(
                static[key], np.concatenate([b[key] for b in dynamic]))

    def test_tfrecords_for_training_are_shuffled_reproducibly(self):
        from bert_tf.data import create_pretraining_data

        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)
        out = os.path.join(self.create_tempdir().full_path, "train.tfrecord")
        create_pretraining_data.write_examples(
            [self.corpus], tokenizer(), config, [out], dupe_factor=1)

        def first_batch(**options):
            return next(pretraining.google_tfrecord_dataset(
                [out], config, batch_size=64,
                **options).as_numpy_iterator())["input_word_ids"]

        in_order = first_batch(shuffle=False)
        shuffled = first_batch()
        self.assertNotAllEqual(shuffled, in_order)
        self.assertAllEqual(shuffled, first_batch())

    def test_max_predictions_too_small_is_an_error(self):
        with self.assertRaisesRegex(
                pretraining.PretrainingDataError,
                r"max_predictions_per_seq 20 is too small: masking 15% of up "
                r"to 512 pieces \(\[CLS\] and \[SEP\] counted, as the "
                r"original counts them\) selects up to 77"):
            pretraining.PretrainingDataConfig(max_seq_length=512,
                                              max_predictions_per_seq=20)

    def test_input_glob_matching_nothing_is_named(self):
        with self.assertRaisesRegex(data.InputFilesError,
                                    "input '/no/such/\\*.txt' matches no"):
            data.expand_input_files(["/no/such/*.txt"])

    def test_invalid_utf8_bytes_are_dropped_not_fatal(self):
        path = self.create_tempfile(content=(
            b"first doc sen\xfftence one .\nsecond \xc3 sentence .\n\n"
            b"other document here .\nand more text .\n")).full_path
        batch = next(pretraining.pretraining_dataset(
            [path], tokenizer(), pretraining.PretrainingDataConfig(
                max_seq_length=32, max_predictions_per_seq=5),
            batch_size=2).as_numpy_iterator())
        self.assertEqual(batch["input_word_ids"].shape, (2, 32))
        self.assertNotIn(tokenizer().unk_id,
                         batch["masked_lm_ids"][batch["masked_lm_weights"]
                                                > 0])

    def test_single_document_corpus_is_an_error_naming_the_file(self):
        path = self.create_tempfile(content="one sentence .\nanother .\n"
                                    ).full_path
        with self.assertRaisesRegex(
                pretraining.PretrainingDataError,
                f"{re.escape(path)}: 1 document\\(s\\) in all; next-sentence "
                "negatives need at least two documents"):
            pretraining.pretraining_dataset(
                [path], tokenizer(), pretraining.PretrainingDataConfig(
                    max_seq_length=32, max_predictions_per_seq=5),
                batch_size=2)

    def test_more_input_pipelines_than_documents_is_an_error(self):
        path = self.create_tempfile(content="one .\n\ntwo .\n").full_path
        with self.assertRaisesRegex(pretraining.PretrainingDataError,
                                    "2 documents for 4 input pipelines"):
            pretraining.pretraining_dataset(
                [path], tokenizer(), pretraining.PretrainingDataConfig(
                    max_seq_length=32, max_predictions_per_seq=5),
                batch_size=2, shard=(4, 0))


class GoogleTfrecordInputTest(tf.test.TestCase):
    """TFRecord input is checked against the flags before training."""

    def test_tfrecords_of_other_lengths_name_file_feature_and_setting(self):
        directory = self.create_tempdir().full_path
        good = write_google_records(os.path.join(directory, "a.tfrecord"),
                                    64, 10)
        bad = write_google_records(os.path.join(directory, "b.tfrecord"),
                                   64, 20)
        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)
        batch = next(pretraining.google_tfrecord_dataset(
            [good], config, batch_size=2).as_numpy_iterator())
        self.assertEqual(batch["masked_lm_weights"].shape, (2, 10))
        with self.assertRaisesRegex(
                pretraining.PretrainingDataError,
                f"^{re.escape(bad)}: feature masked_lm_positions has 20 "
                "values; --max_predictions_per_seq=10 expects 10 \\(this "
                "file was written with --max_predictions_per_seq=20\\)$"):
            pretraining.google_tfrecord_dataset([good, bad], config,
                                                batch_size=2)
        longer = pretraining.PretrainingDataConfig(
            max_seq_length=128, max_predictions_per_seq=20)
        with self.assertRaisesRegex(
                pretraining.PretrainingDataError,
                f"^{re.escape(good)}: feature input_ids has 64 values; "
                "--max_seq_length=128 expects 128 \\(this file was written "
                "with --max_seq_length=64\\); feature masked_lm_positions "
                "has 10 values; --max_predictions_per_seq=20"):
            pretraining.google_tfrecord_dataset([good], longer, batch_size=2)

    def test_tfrecord_input_that_is_not_pretraining_records_is_named(self):
        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)
        text = self.create_tempfile(content="just text .\n" * 20).full_path
        empty = self.create_tempfile(content="").full_path
        other = os.path.join(self.create_tempdir().full_path, "o.tfrecord")
        with tf.io.TFRecordWriter(other) as writer:
            writer.write(tf.train.Example().SerializeToString())
        for path, message in (
                (text, "not a TFRecord file"), (empty, "holds no records"),
                (other, "no feature input_ids; no feature input_mask")):
            with self.assertRaisesRegex(pretraining.PretrainingDataError,
                                        f"^{re.escape(path)}: {message}"):
                pretraining.google_tfrecord_dataset([path], config, 2)

    def test_pretrain_cli_reports_tfrecord_length_mismatch_in_one_line(self):
        directory = self.create_tempdir().full_path
        records = write_google_records(
            os.path.join(directory, "train.tfrecord"), 32, 20)
        config_file = os.path.join(directory, "bert_config.json")
        configs.BertConfig(
            vocab_size=len(tokenizer().vocab), hidden_size=16,
            num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=16, max_position_embeddings=32
        ).to_json_file(config_file)
        result = subprocess.run(
            [sys.executable, "-m", "tasks.pretrain",
             f"--input_file={records}", "--input_format=tfrecord",
             f"--output_dir={os.path.join(directory, 'out')}",
             f"--vocab_file={tokenizer().vocab_file}",
             f"--bert_config_file={config_file}", "--max_seq_length=32",
             "--max_predictions_per_seq=5", "--num_train_steps=1",
             "--num_warmup_steps=0"],
            capture_output=True, text=True, timeout=300,
            cwd=testing.REPO_ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertNotIn("Traceback", result.stderr)
        errors = [line for line in result.stderr.splitlines()
                  if line.startswith("error:")]
        self.assertEqual(errors, [
            f"error: {records}: feature masked_lm_positions has 20 values; "
            "--max_predictions_per_seq=5 expects 5 (this file was written "
            "with --max_predictions_per_seq=20)"])


class StaticRecordsAtomicTest(tf.test.TestCase):
    """create_pretraining_data: each output file appears complete or not at
    all (its docstring's promise). A run that fails mid-way, here the disk
    filling while the second shard is written, leaves no output and no
    temporary file, and earlier outputs of the same names as they were."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.corpus = write_corpus(os.path.join(
            tf.compat.v1.test.get_temp_dir(), "atomic_corpus.txt"))
        cls.config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)

    def _write_until_disk_full(self, outputs, failing_write=5):
        """Runs write_examples round-robin into `outputs`; the second
        shard's `failing_write`-th record finds the disk full. Returns what
        each output path held at that moment (None: absent)."""
        from bert_tf.data import create_pretraining_data

        real_writer = tf.io.TFRecordWriter
        at_failure = {}

        class SecondShardFillsTheDisk:
            def __init__(self, path):
                self.writer = real_writer(path)
                self.second = path.startswith(outputs[1])
                self.writes = 0

            def write(self, record):
                self.writes += 1
                if self.second and self.writes == failing_write:
                    for final in outputs:
                        at_failure[final] = _digest(final)
                    raise OSError(errno.ENOSPC, "No space left on device")
                self.writer.write(record)

            def close(self):
                self.writer.close()

        with mock.patch.object(tf.io, "TFRecordWriter",
                               SecondShardFillsTheDisk):
            with self.assertRaisesRegex(OSError, "No space left on device"):
                create_pretraining_data.write_examples(
                    [self.corpus], tokenizer(), self.config, outputs,
                    dupe_factor=1)
        self.assertCountEqual(at_failure, outputs)  # it did fail mid-way
        return at_failure

    def test_failure_mid_way_leaves_no_output_and_no_temp_files(self):
        directory = self.create_tempdir().full_path
        outputs = [os.path.join(directory, name)
                   for name in ("a.tfrecord", "b.tfrecord")]
        at_failure = self._write_until_disk_full(outputs)
        # Records went to temporary files, never to the final names...
        self.assertEqual(at_failure, {path: None for path in outputs})
        # ...and the failure removed them.
        self.assertEqual(os.listdir(directory), [])

    def test_failed_run_keeps_existing_outputs(self):
        directory = self.create_tempdir().full_path
        outputs = [os.path.join(directory, name)
                   for name in ("a.tfrecord", "b.tfrecord")]
        before = {}
        for i, path in enumerate(outputs):
            write_google_records(path, 64, 10, count=i + 1)
            before[path] = _digest(path)
        at_failure = self._write_until_disk_full(outputs)
        self.assertEqual(at_failure, before)
        self.assertEqual({path: _digest(path) for path in outputs},
                         before)
        self.assertCountEqual(os.listdir(directory),
                              ["a.tfrecord", "b.tfrecord"])


def _digest(path):
    """'<bytes> bytes, sha256 <first 12 hex digits>'; None if absent."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}"


if __name__ == "__main__":
    tf.test.main()
