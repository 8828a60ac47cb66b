"""The training loop's promises (bert_tf/training.py): global-norm clipping
after the cross-replica sum, float16 loss scaling, LAMB, TensorBoard
summaries of the logged history, bucket-length batches under XLA, exact
resumption from TFRecord input.

Most checks train one Dense layer whose gradient is known in advance; the
last two run fine-tuning and pre-training on ODD_CONFIG.
"""

import glob
import json
import os
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.data import create_pretraining_data
from bert_tf.data import pretraining as pretraining_data
from bert_tf import finetuning
from bert_tf.layers import encoder as encoder_lib
from bert_tf import optimization
from bert_tf import pretraining
from bert_tf import tokenization
from bert_tf import training
from tests import testing

DIM = 4


def _linear_model():
    """{"x": [B, DIM]} -> {"y": [B, 1]}: one bias-free Dense from zeros, so
    the loss below has the same gradient at every weight."""
    inputs = {"x": keras.Input(shape=(DIM,), name="x")}
    y = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                           name="dense")(inputs["x"])
    return keras.Model(inputs, {"y": y})


def _linear_loss(features, outputs):
    """mean(c * y): d/dkernel = mean(c * x), whatever the kernel."""
    y = tf.cast(outputs["y"][:, 0], tf.float32)
    loss = tf.reduce_mean(features["c"] * y)
    count = tf.cast(tf.size(y), tf.float32)
    return loss, {"loss": (loss * count, count)}


def _batches(c_per_step, batch=2):
    """One batch per step: x all ones, every example's c the step's."""
    steps = len(c_per_step)

    def dataset_fn(context, batch_size):
        del context
        assert batch_size == batch, batch_size
        return tf.data.Dataset.from_tensor_slices({
            "x": np.ones((steps, batch, DIM), np.float32),
            "c": np.repeat(np.asarray(c_per_step, np.float32)[:, None],
                           batch, axis=1)})

    return dataset_fn


def _train(output_dir, dataset_fn, steps, strategy=None, **config):
    """`_linear_model` trained by SGD at rate 1: each step moves the
    weights by exactly the gradient the loop hands the optimizer."""
    return training.train(
        strategy or tf.distribute.get_strategy(), _linear_model,
        lambda: keras.optimizers.SGD(learning_rate=1.0),
        _linear_loss, dataset_fn,
        training.TrainingConfig(output_dir=output_dir, num_train_steps=steps,
                                global_batch_size=2, **config))


def _regression_model():
    """A Dense layer with bias, from random weights (LAMB's trust ratio is
    1 at zero)."""
    inputs = {"x": keras.Input(shape=(DIM,), name="x")}
    y = keras.layers.Dense(
        1, name="dense", kernel_initializer=keras.initializers.RandomNormal(
            stddev=0.5, seed=1))(inputs["x"])
    return keras.Model(inputs, {"y": y})


def _squared_error(features, outputs):
    errors = tf.math.squared_difference(outputs["y"][:, 0],
                                        features["target"])
    count = tf.cast(tf.size(errors), tf.float32)
    return tf.reduce_mean(errors), {"loss": (tf.reduce_sum(errors), count)}


def _regression_batches(context, batch_size):
    """64 examples of target = x . (1, -2, 0.5, 3) + 0.7, repeated."""
    del context
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, DIM)).astype(np.float32)
    target = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.7
    return tf.data.Dataset.from_tensor_slices(
        {"x": x, "target": target}).repeat().batch(batch_size)


def _kernel(model):
    return model.get_layer("dense").kernel.numpy()[:, 0]


def _checkpoint_values(output_dir, step):
    reader = tf.train.load_checkpoint(
        os.path.join(output_dir, "checkpoints", f"ckpt-{step}"))
    return {name.split("/.ATTRIBUTES")[0]: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            if "/.ATTRIBUTES/VARIABLE_VALUE" in name}


def _restored_kernel(output_dir, step):
    """The Dense kernel of checkpoint `step`."""
    model = _linear_model()
    tf.train.Checkpoint(model=model).restore(os.path.join(
        output_dir, "checkpoints", f"ckpt-{step}")).expect_partial()
    return _kernel(model)


def _events(output_dir):
    """{(step, tag): value} of the scalar summaries under output_dir/train."""
    values = {}
    for path in glob.glob(os.path.join(output_dir, "train", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                values[event.step, value.tag] = float(
                    tf.make_ndarray(value.tensor))
    return values


# 99 entries, ODD_CONFIG's vocab_size: the specials and lower-case words.
WORDS = ("the a movie film story was is and so very quite really good bad "
         "great awful fine dull lovely poor it plot actors music long short "
         "funny sad").split()
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
         + [f"w{i}" for i in range(99 - 5 - len(WORDS))])


def _vocab_file(test):
    """VOCAB written as a vocab.txt."""
    path = os.path.join(test.create_tempdir().full_path, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    return path


def _odd_model_dir(test):
    """A random ODD_CONFIG encoder saved as a bert_tf model directory."""
    path = os.path.join(test.create_tempdir().full_path, "init")
    checkpoints.save_model(path, encoder_lib.BertEncoder(testing.ODD_CONFIG),
                           _vocab_file(test))
    return path


def _pretraining_records(test, data_config):
    """(vocab file, TFRecords of create_pretraining_data) from 16 documents
    of 6 sentences made of WORDS."""
    directory = test.create_tempdir().full_path
    corpus = os.path.join(directory, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for doc in range(16):
            for sentence in range(6):
                f.write(" ".join(
                    WORDS[(doc * 5 + sentence * 3 + j) % len(WORDS)]
                    for j in range(4 + (doc + sentence) % 6)) + ".\n")
            f.write("\n")
    vocab = _vocab_file(test)
    records = os.path.join(directory, "train.tfrecord")
    create_pretraining_data.write_examples(
        [corpus], tokenization.BertTokenizer(vocab), data_config, [records],
        dupe_factor=2)
    return vocab, records


class _Interrupted(Exception):
    """Stands for a run killed right after a checkpoint."""


def _sst2_dir(test, sizes):
    """SST-2 layout; sentence i of a split has 1 + 7i % 25 words."""
    data_dir = test.create_tempdir().full_path
    for split, n in sizes.items():
        with open(os.path.join(data_dir, f"{split}.tsv"), "w") as f:
            f.write("sentence\tlabel\n")
            for i in range(n):
                words = [WORDS[(i * 7 + j) % len(WORDS)]
                         for j in range(1 + i * 7 % 25)]
                f.write(f"{' '.join(words)}\t{i % 2}\n")
    return data_dir


# Run in a process of its own: two logical CPUs must be set up before
# TensorFlow starts.
TWO_REPLICAS = """
import json
import sys

import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests import training_test
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
model, _ = training_test._train(sys.argv[1], training_test._batches(
    [500.0, 0.1]), 2, strategy=strategy)
print(json.dumps([strategy.num_replicas_in_sync,
                  training_test._kernel(model).tolist()]))
"""


class TrainingLoopTest(tf.test.TestCase):

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def test_gradients_are_clipped_to_global_norm_one(self):
        # Step 1: gradient 500 per weight, global norm 1000, clipped to
        # norm 1 (0.5 per weight); step 2: norm 0.2, under the threshold,
        # applied as it is. SGD at rate 1 moves the weights by the
        # gradient it is handed.
        model, _ = _train(self.create_tempdir().full_path,
                          _batches([500.0, 0.1]), 2)
        self.assertAllClose(_kernel(model), [-0.6] * DIM, rtol=1e-6)

    def test_two_replicas_clip_the_summed_gradient(self):
        # Each replica's half of step 1 has norm 500: clipping each before
        # the sum would apply norm 2, not 1.
        result = subprocess.run(
            [sys.executable, "-c", TWO_REPLICAS,
             self.create_tempdir().full_path],
            cwd=testing.REPO_ROOT, capture_output=True, text=True,
            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        replicas, kernel = json.loads(result.stdout.splitlines()[-1])
        self.assertEqual(replicas, 2)
        self.assertAllClose(kernel, [-0.6] * DIM, rtol=1e-6)

    def test_float16_overflow_halves_the_loss_scale_and_skips_the_step(self):
        keras.mixed_precision.set_global_policy("mixed_float16")
        output_dir = self.create_tempdir().full_path
        # Step 1's gradient (c * 2^15 / batch) overflows float16; had it
        # been applied, it would move the weights up by 0.5. Steps 2 and
        # 3: gradient 1 per weight (norm 2), clipped to norm 1 in the
        # scaled units (threshold times the scale), applied as -0.5.
        model, history = _train(output_dir, _batches([-1e4, 1.0, 1.0]), 2,
                                log_steps=1, save_checkpoints_steps=1)
        self.assertEqual(model.get_layer("dense").compute_dtype, "float16")
        # Two optimizer steps from three batches: the skipped one is not
        # counted, and the loop read on until two steps were applied.
        self.assertAllClose(_kernel(model), [-1.0] * DIM, rtol=1e-3)
        first = _checkpoint_values(output_dir, 1)
        self.assertEqual(first["optimizer/dynamic_scale"], 2.0 ** 14)
        self.assertEqual(first["optimizer/inner_optimizer/_iterations"], 1)
        self.assertAllClose(_restored_kernel(output_dir, 1), [-0.5] * DIM,
                            rtol=1e-3)
        # No growth before 2000 finite steps.
        self.assertEqual(_checkpoint_values(output_dir, 2)[
            "optimizer/dynamic_scale"], 2.0 ** 14)
        # The skipped step is neither logged nor checkpointed as a step.
        self.assertEqual([step for step, _ in history], [1, 2])
        self.assertFalse(glob.glob(os.path.join(output_dir, "checkpoints",
                                                "ckpt-0.*")))

    def test_lamb_lowers_the_loss(self):
        _, history = training.train(
            tf.distribute.get_strategy(), _regression_model,
            lambda: optimization.create_optimizer("lamb", 0.2, 100, 10),
            _squared_error, _regression_batches,
            training.TrainingConfig(
                output_dir=self.create_tempdir().full_path,
                num_train_steps=100, global_batch_size=16, log_steps=25))
        # From 9.5 to 0.03 (the trust ratio moves the kernel by at most 20%
        # of its norm per step).
        losses = [values["loss"] for _, values in history]
        self.assertEqual(losses, sorted(losses, reverse=True))
        self.assertLess(losses[-1], losses[0] / 100)

    def test_summaries_are_the_logged_history(self):
        output_dir = self.create_tempdir().full_path
        # What a TensorBoard watching the run reads right after each log.
        seen_when_logged = []
        log = training._log

        def log_and_read(step, *args):
            values = log(step, *args)
            seen_when_logged.append((step, set(_events(output_dir))))
            return values

        with mock.patch.object(training, "_log", log_and_read):
            _, history = _train(output_dir, _batches([0.1, 0.2, 0.3, 0.4]),
                                4, log_steps=2)
        self.assertEqual([step for step, _ in history], [2, 4])
        logged = {(step, name): value
                  for step, values in history for name, value in
                  values.items()}
        self.assertEqual(set(logged), {
            (step, name) for step in (2, 4)
            for name in ("loss", "steps_per_second")})
        # Losses of steps 3 and 4, at kernels -0.3 and -0.6 per weight.
        self.assertAllClose(logged[4, "loss"],
                            (0.3 * 4 * -0.3 + 0.4 * 4 * -0.6) / 2)
        events = _events(output_dir)
        self.assertEqual(set(events), set(logged))
        for key, value in logged.items():
            self.assertAllClose(events[key], value, rtol=1e-6, msg=key)
        for step, seen in seen_when_logged:
            self.assertIn((step, "loss"), seen)
            self.assertIn((step, "steps_per_second"), seen)

    def test_jit_compile_pads_every_batch_to_a_bucket_length(self):
        # max_seq_length 32: buckets 16 and 32. Sentences of 1 to 25
        # words, so batches padded to their longest would take many
        # lengths, each a new XLA compilation. What the training loop and
        # prediction are handed is recorded; the compiled steps themselves
        # run in finetuning_test (XLA and bf16), slowly on CPU.
        shapes = {"train": set(), "eval": set()}

        def record_train(strategy, build_model, build_optimizer, loss_fn,
                         dataset_fn, config):
            self.assertTrue(config.jit_compile)
            batches = dataset_fn(tf.distribute.InputContext(),
                                 config.global_batch_size)
            for batch in batches.take(30):
                shapes["train"].add(tuple(batch["input_word_ids"].shape))
            return build_model(), []

        def record_predict(model, dataset, num_examples, jit_compile):
            self.assertTrue(jit_compile)
            for batch in dataset:
                shapes["eval"].add(batch["input_word_ids"].shape[1])
            return {"logits": np.zeros((num_examples, 2), np.float32)}

        with mock.patch.object(training, "train", record_train), \
                mock.patch.object(finetuning, "predict", record_predict):
            results, _ = finetuning.run(finetuning.FinetuningRun(
                task="sst2", data_dir=_sst2_dir(self, {"train": 24,
                                                       "dev": 12}),
                output_dir=self.create_tempdir().full_path,
                init_checkpoint=_odd_model_dir(self), max_seq_length=32,
                train_batch_size=4, eval_batch_size=4, do_train=True,
                do_eval=True, jit_compile=True))
        self.assertEqual(results["dev"]["num_examples"], 12)
        self.assertEqual(shapes, {"train": {(4, 16), (4, 32)},
                                  "eval": {16, 32}})

    @pytest.mark.large
    def test_resumed_tfrecord_run_ends_with_uninterrupted_weights(self):
        # The iterator's position is part of the checkpoint: the resumed
        # run reads the batches the interrupted one had not reached.
        data_config = pretraining_data.PretrainingDataConfig(
            max_seq_length=32, max_predictions_per_seq=5)
        vocab, records = _pretraining_records(self, data_config)
        config_file = os.path.join(self.create_tempdir().full_path,
                                   "bert_config.json")
        testing.ODD_CONFIG.to_json_file(config_file)

        def run(output_dir):
            return pretraining.run(pretraining.PretrainingRun(
                input_files=(records,), input_format="tfrecord",
                output_dir=output_dir, vocab_file=vocab,
                bert_config_file=config_file, data=data_config,
                train_batch_size=8, num_train_steps=6, num_warmup_steps=1,
                learning_rate=1e-3, save_checkpoints_steps=3,
                log_steps=3))[0]

        straight = run(self.create_tempdir().full_path)
        resumed = self.create_tempdir().full_path
        log = training._log

        def log_then_stop(step, *args):
            values = log(step, *args)
            if step == 3:
                raise _Interrupted()
            return values

        with mock.patch.object(training, "_log", log_then_stop):
            with self.assertRaises(_Interrupted):
                run(resumed)
        self.assertTrue(os.path.exists(os.path.join(
            resumed, "checkpoints", "ckpt-3.index")))
        resumed = run(resumed)
        a = checkpoints.load_model(straight)
        self.assertGreater(len(a.weights), 30)
        testing.assert_same_weights(self, a, checkpoints.load_model(resumed))


if __name__ == "__main__":
    tf.test.main()
