"""Pre-training end to end: losses fall, resuming is exact, bad input."""

import os
import re
import signal
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf import configs
from bert_tf import data
from bert_tf.data import pretraining as pretraining_data
from bert_tf import pretraining
from tests import multi_worker
from tests import testing

CORPUS = os.path.join(testing.REPO_ROOT, "tasks", "data",
                      "pretraining_corpus.txt")


def _vocab():
    return testing.minilm_vocab()


def _small_config_file(test):
    path = os.path.join(test.create_tempdir().full_path, "bert_config.json")
    testing.TINY_CONFIG.to_json_file(path)
    return path


def _run(output_dir, steps, **overrides):
    values = dict(
        input_files=(CORPUS,), output_dir=output_dir, vocab_file=_vocab(),
        data=pretraining_data.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10),
        train_batch_size=16, num_train_steps=steps, num_warmup_steps=2,
        learning_rate=1e-3, save_checkpoints_steps=5, log_steps=5)
    values.update(overrides)
    return pretraining.run(pretraining.PretrainingRun(**values))


@pytest.mark.large
class PretrainingTest(tf.test.TestCase):

    def test_losses_fall_on_the_bundled_corpus(self):
        _, history = _run(self.create_tempdir().full_path, 120,
                          preset="tiny", log_steps=20,
                          save_checkpoints_steps=120)
        first, last = history[0][1], history[-1][1]
        # From ln(30522) = 10.3 at the start.
        self.assertLess(first["mlm_loss"], 9.5)
        self.assertLess(last["mlm_loss"], 5.0)
        self.assertGreater(last["mlm_accuracy"], 0.12)

    def test_run_killed_and_restarted_ends_with_uninterrupted_weights(self):
        config_file = _small_config_file(self)

        def command(output_dir):
            return [sys.executable, "-m", "tasks.pretrain",
                    f"--input_file={CORPUS}", f"--vocab_file={_vocab()}",
                    f"--bert_config_file={config_file}",
                    f"--output_dir={output_dir}", "--max_seq_length=64",
                    "--max_predictions_per_seq=10", "--train_batch_size=16",
                    "--num_train_steps=60", "--num_warmup_steps=2",
                    "--learning_rate=1e-3", "--save_checkpoints_steps=5",
                    "--log_steps=5"]

        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        straight = self.create_tempdir().full_path
        subprocess.run(command(straight), check=True, capture_output=True,
                       cwd=testing.REPO_ROOT, env=env, timeout=600)
        resumed = self.create_tempdir().full_path
        # kill -9 the moment step 10's checkpoint is written.
        killed = subprocess.run(
            [sys.executable, "-m", "tests.kill_at", "checkpoint:10"]
            + command(resumed)[2:], capture_output=True, text=True,
            cwd=testing.REPO_ROOT, env=env, timeout=600)
        self.assertEqual(killed.returncode, -signal.SIGKILL,
                         killed.stderr[-3000:])
        checkpoint_dir = os.path.join(resumed, "checkpoints")
        self.assertEqual(tf.train.latest_checkpoint(checkpoint_dir),
                         os.path.join(checkpoint_dir, "ckpt-10"))
        self.assertFalse(os.path.exists(os.path.join(resumed, "model")))

        restarted = subprocess.run(command(resumed), capture_output=True,
                                   text=True, cwd=testing.REPO_ROOT, env=env,
                                   timeout=600)
        self.assertEqual(restarted.returncode, 0, restarted.stderr[-3000:])
        # It continued from step 10's checkpoint: a run that ignored it
        # would start from the same seeded weights and end the same.
        self.assertIn("Restored " + os.path.join(checkpoint_dir, "ckpt-10"),
                      restarted.stderr)
        self.assertIn("Resumed at step 10", restarted.stderr)
        logged = [int(m) for m in re.findall(r"step (\d+)/60",
                                             restarted.stderr)]
        self.assertEqual(logged, list(range(15, 61, 5)))
        testing.assert_same_weights(
            self, checkpoints.load_model(os.path.join(straight, "model")),
            checkpoints.load_model(os.path.join(resumed, "model")))

    def test_two_workers_on_localhost_train_in_sync(self):
        config_file = _small_config_file(self)
        output_dir = self.create_tempdir().full_path
        outputs = multi_worker.run_workers(lambda index: [
            sys.executable, "-m", "tasks.pretrain", f"--input_file={CORPUS}",
            f"--vocab_file={_vocab()}", f"--bert_config_file={config_file}",
            f"--output_dir={output_dir}", "--max_seq_length=64",
            "--max_predictions_per_seq=10", "--train_batch_size=16",
            "--num_train_steps=10", "--num_warmup_steps=2",
            "--save_checkpoints_steps=10",
            "--distribution_strategy=multi_worker_mirrored"])
        # Each worker reads its own share of the documents (which shares
        # are disjoint: pretraining_data_test).
        for index, output in enumerate(outputs):
            self.assertIn(f"Input pipeline {index} of 2: its own share of "
                          "the documents", output)
        chief = tf.train.load_checkpoint(
            os.path.join(output_dir, "checkpoints", "ckpt-10"))
        other = tf.train.load_checkpoint(os.path.join(
            output_dir, "worker_checkpoints", "worker_1", "ckpt-10"))
        names = [n for n in chief.get_variable_to_shape_map()
                 if "ITERATOR" not in n and "OBJECT_GRAPH" not in n]
        self.assertGreater(len(names), 100)
        for name in names:
            self.assertAllEqual(chief.get_tensor(name), other.get_tensor(name),
                                msg=name)
        self.assertEqual(int(chief.get_tensor(
            "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")), 10)

    def test_two_workers_end_where_one_worker_on_their_batches_ends(self):
        """Equal weights on the two workers hold by construction (the
        all-reduce); what can break is what they compute: each must read
        its own part of every global batch and the combined step must be
        the one-worker step on that batch (plain SGD: a gradient scaled
        twice, or once too few, shows)."""
        directory = self.create_tempdir().full_path
        two = os.path.join(directory, "two.npz")
        multi_worker.run_workers(lambda index: [
            sys.executable, "-m", "tests.multi_worker", two, "8", "6",
            "multi"])
        one = os.path.join(directory, "one.npz")
        subprocess.run([sys.executable, "-m", "tests.multi_worker", one, "8",
                        "6"], check=True, capture_output=True, timeout=600,
                       cwd=testing.REPO_ROOT,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        one, chief = np.load(one), np.load(two)
        worker = np.load(two.replace(".npz", ".worker1.npz"))
        # The workers' examples: disjoint, together every example once.
        self.assertEmpty(set(chief["read"]) & set(worker["read"]))
        self.assertCountEqual(
            list(chief["read"]) + list(worker["read"]), one["read"])
        weights = [k for k in one.files if k != "read"]
        self.assertCountEqual(weights, [k for k in chief.files
                                        if k != "read"])
        for name in weights:
            self.assertAllClose(chief[name], one[name], atol=1e-6, rtol=0,
                                msg=name)
            self.assertAllClose(worker[name], one[name], atol=1e-6, rtol=0,
                                msg=name)

    def test_trains_from_google_format_tfrecords(self):
        from bert_tf.data import create_pretraining_data
        from bert_tf import tokenization

        config = pretraining_data.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10)
        records = os.path.join(self.create_tempdir().full_path, "t.tfrecord")
        create_pretraining_data.write_examples(
            [CORPUS], tokenization.BertTokenizer(_vocab()), config,
            [records], dupe_factor=1)
        model_dir, history = _run(
            self.create_tempdir().full_path, 4, input_files=(records,),
            input_format="tfrecord", bert_config_file=_small_config_file(self),
            log_steps=2)
        self.assertLen(history, 2)
        self.assertTrue(os.path.isfile(os.path.join(model_dir,
                                                    "weights.safetensors")))

    def test_mixed_precision_and_xla_steps_run(self):
        # Each policy is applied (the encoder computes in the low precision,
        # the heads and every variable stay float32), the weights move, and
        # the losses follow the float32 run's. Ten steps take the MLM loss
        # from 10.30 to 10.17; the mixed runs land within 1e-3 of float32
        # (1e-4 given the same dropout masks: XLA draws other masks than
        # the float32 run without it), so 0.01 leaves 10x room and is still
        # a tenth of the descent that a run which stopped learning misses.
        config_file = _small_config_file(self)
        build = pretraining.build_pretrainer
        losses = {}
        for precision, jit, dtype in (("fp32", False, "float32"),
                                      ("bf16", True, "bfloat16"),
                                      ("fp16", False, "float16")):
            built = []

            def build_and_keep(*args, **kwargs):
                model = build(*args, **kwargs)
                built.append((model, model.get_weights()))
                return model

            with mock.patch.object(pretraining, "build_pretrainer",
                                   build_and_keep):
                _, history = _run(self.create_tempdir().full_path, 10,
                                  bert_config_file=config_file,
                                  mixed_precision=precision, jit_compile=jit,
                                  log_steps=5)
            (model, initial), = built
            self.assertEqual(
                {layer.compute_dtype for layer in
                 model.encoder._flatten_layers() if layer.weights},
                {dtype}, precision)
            for head in ("mlm_head", "nsp_head"):
                self.assertEqual(model.get_layer(head).compute_dtype,
                                 "float32", (precision, head))
            self.assertEqual({v.dtype for v in model.trainable_variables},
                             {"float32"}, precision)
            for before, after, variable in zip(
                    initial, model.get_weights(), model.weights,
                    strict=True):
                # The attention key bias adds the same score to every key
                # of a query: softmax cancels it, its gradient is 0.
                if variable.trainable and \
                        not variable.path.endswith("key/bias"):
                    self.assertNotAllClose(
                        before, after, msg=f"{precision} {variable.path}")
            losses[precision] = {(step, name): values[name]
                                 for step, values in history
                                 for name in ("mlm_loss", "nsp_loss")}
        self.assertEqual(set(losses["fp32"]), {
            (step, name) for step in (5, 10)
            for name in ("mlm_loss", "nsp_loss")})
        self.assertLess(losses["fp32"][10, "mlm_loss"],
                        losses["fp32"][5, "mlm_loss"] - 0.05)
        for precision in ("bf16", "fp16"):
            for key, value in losses["fp32"].items():
                self.assertAllClose(losses[precision][key], value, rtol=0,
                                    atol=0.01, msg=(precision, key))

    def test_empty_input_files_are_an_error(self):
        empty = self.create_tempfile(content="").full_path
        with self.assertRaisesRegex(data.InputFilesError, "holds no text"):
            _run(self.create_tempdir().full_path, 1, input_files=(empty,),
                 bert_config_file=_small_config_file(self))

    def test_vocab_that_does_not_match_the_config_is_an_error(self):
        config = configs.BertConfig(vocab_size=1000, hidden_size=32,
                                    num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=64)
        path = os.path.join(self.create_tempdir().full_path, "cfg.json")
        config.to_json_file(path)
        with self.assertRaisesRegex(configs.ConfigError,
                                    "has 30522 tokens but the model's "
                                    "vocab_size is 1000"):
            _run(self.create_tempdir().full_path, 1, bert_config_file=path)

    def test_cli_reports_user_errors_with_exit_code_2(self):
        result = subprocess.run(
            [sys.executable, "-m", "tasks.pretrain",
             f"--input_file={CORPUS}", f"--vocab_file={_vocab()}",
             f"--output_dir={self.create_tempdir().full_path}",
             "--max_seq_length=512", "--max_predictions_per_seq=20"],
            capture_output=True, text=True, cwd=testing.REPO_ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertIn("max_predictions_per_seq 20 is too small",
                      result.stderr)


if __name__ == "__main__":
    tf.test.main()
