"""Faults a long run meets: kill -9, corrupted checkpoints, an export cut
off mid-way or out of disk space.

(Pre-training's kill -9 + resume is in pretraining_test.py; the serving
soak is in serving_soak_test.py.)
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from unittest import mock

from absl import flags
from absl.testing import flagsaver
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.export import exporter as export
from bert_tf import models
from bert_tf import training
from serving.client import lib as client
from serving.dev_server import errors as serving_errors
from serving.dev_server import model_registry
from serving.dev_server import server as dev_server
from serving.export import cli as export_cli
from tensorflow_serving.apis import model_pb2
from tests import serving_testing as st
from tests import testing

SST2 = os.path.join(testing.REPO_ROOT, "tasks", "data", "glue", "SST-2")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _finetune_command(init_checkpoint, output_dir):
    return [sys.executable, "-m", "tasks.finetune", "--task=sst2",
            f"--data_dir={SST2}", f"--init_checkpoint={init_checkpoint}",
            f"--output_dir={output_dir}", "--do_train",
            "--max_seq_length=32", "--train_batch_size=16",
            "--num_train_epochs=0.4", "--learning_rate=1e-3",
            "--save_checkpoints_steps=5", "--log_steps=5"]


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


@pytest.mark.large
class TrainingFaultsTest(tf.test.TestCase):

    def test_finetuning_killed_then_resumed_past_a_corrupted_checkpoint(
            self):
        """kill -9 after step 15's checkpoint, which then gets corrupted:
        the restart falls back to step 10's and still ends with the weights
        of an uninterrupted run (30 steps)."""
        encoder_dir = testing.tiny_encoder_dir()
        straight = self.create_tempdir().full_path
        subprocess.run(_finetune_command(encoder_dir, straight), check=True,
                       capture_output=True, cwd=testing.REPO_ROOT, env=ENV,
                       timeout=600)

        resumed = self.create_tempdir().full_path
        # kill -9 the moment step 15's checkpoint is written.
        killed = subprocess.run(
            [sys.executable, "-m", "tests.kill_at", "checkpoint:15"]
            + _finetune_command(encoder_dir, resumed)[2:],
            capture_output=True, text=True, cwd=testing.REPO_ROOT, env=ENV,
            timeout=600)
        self.assertEqual(killed.returncode, -signal.SIGKILL,
                         killed.stderr[-3000:])
        latest = os.path.join(resumed, "checkpoints", "ckpt-15")
        self.assertEqual(tf.train.latest_checkpoint(os.path.dirname(latest)),
                         latest)
        self.assertFalse(os.path.exists(os.path.join(resumed, "model")))
        _truncate(latest + ".data-00000-of-00001")

        result = subprocess.run(
            _finetune_command(encoder_dir, resumed), capture_output=True,
            text=True, cwd=testing.REPO_ROOT, env=ENV, timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn(f"Cannot read checkpoint {latest}", result.stderr)
        self.assertIn("Restored " + latest.replace("15", "10"),
                      result.stderr)
        self.assertIn("Resumed at step 10", result.stderr)
        testing.assert_same_weights(
            self, checkpoints.load_model(os.path.join(straight, "model")),
            checkpoints.load_model(os.path.join(resumed, "model")))

    def test_no_readable_checkpoint_is_a_clear_error(self):
        variable = tf.Variable(tf.zeros([64]))
        checkpoint = tf.train.Checkpoint(variable=variable)
        directory = self.create_tempdir().full_path
        manager = tf.train.CheckpointManager(checkpoint, directory, 3)
        paths = [manager.save(checkpoint_number=n) for n in (5, 10)]
        _truncate(paths[0] + ".data-00000-of-00001")
        with open(paths[1] + ".index", "wb") as f:
            f.write(b"not an index")
        with self.assertRaisesRegex(
                training.CheckpointRestoreError,
                r"no checkpoint could be read back:\n  .*ckpt-10: .*\n"
                r"  .*ckpt-5: (.|\n)*use a new output directory"):
            training._restore_newest_readable(checkpoint, paths)

    def test_corrupted_model_weights_are_refused_naming_the_file(self):
        model_dir, _ = st.tiny_task_model(
            self.create_tempdir().full_path, models.BertClassifier,
            {"name": "sst2", "family": "text_classification", "is_pair": False,
             "labels": ["0", "1"]}, num_classes=2)
        weights = os.path.join(model_dir, checkpoints.WEIGHTS_FILE)
        backup = weights + ".good"
        shutil.copyfile(weights, backup)
        with open(weights, "rb") as f:
            data = bytearray(f.read())
        for damage in ("flip", "truncate"):
            corrupted = bytearray(data)
            if damage == "flip":  # inside a tensor: safetensors would load it
                corrupted[len(data) // 2] ^= 0xFF
            else:
                corrupted = corrupted[:len(data) // 3]
            with open(weights, "wb") as f:
                f.write(corrupted)
            with self.assertRaisesRegex(checkpoints.CheckpointError,
                                        f"{weights}: corrupted"):
                checkpoints.load_model(model_dir)
        shutil.copyfile(backup, weights)
        self.assertIsNotNone(checkpoints.load_model(model_dir))


@pytest.mark.large
class ExportFaultsTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Read by every test, written by none: made once.
        root = tempfile.mkdtemp(prefix="export_faults_")
        cls.addClassCleanup(shutil.rmtree, root, ignore_errors=True)
        cls.model_dir, _ = st.tiny_task_model(
            root, models.BertClassifier,
            {"name": "sst2", "family": "text_classification", "is_pair": False,
             "labels": ["0", "1"]}, num_classes=2)

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.create_tempdir().full_path, "exports")
        self.export_dir = os.path.join(self.base, "sst2")

    def test_export_killed_mid_way_leaves_no_loadable_version(self):
        # kill -9 the moment the SavedModel is written to staging (before
        # its warmup requests, op audit and publishing).
        killed = subprocess.run(
            [sys.executable, "-m", "tests.kill_at", "saved_model",
             "serving.export", "--task=sst2", f"--model_dir={self.model_dir}",
             f"--export_dir={self.export_dir}"],
            capture_output=True, text=True, cwd=testing.REPO_ROOT, env=ENV,
            timeout=600)
        self.assertEqual(killed.returncode, -signal.SIGKILL,
                         killed.stderr[-3000:])
        [staging] = os.listdir(self.export_dir)
        self.assertRegex(staging, r"^\.staging-1-\d+$")
        self.assertTrue(os.path.isfile(os.path.join(
            self.export_dir, staging, "saved_model.pb")))
        # What a server polling the directory sees: no version.
        registry = model_registry.ModelRegistry(
            model_registry.single_model_config("sst2", self.export_dir))
        registry.poll()
        self.addCleanup(registry.stop)
        with self.assertRaisesRegex(serving_errors.ServingError,
                                    "Could not find any versions of model "
                                    "sst2"):
            registry.status(model_pb2.ModelSpec(name="sst2"))
        # The next export cleans up and publishes version 1.
        export.export(self.model_dir, self.export_dir)
        self.assertEqual(os.listdir(self.export_dir), ["1"])

    def test_disk_full_during_export_keeps_the_previous_version_serving(
            self):
        export.export(self.model_dir, self.export_dir)
        server = dev_server.DevServer(
            os.path.join(self.base, "models.config"),
            file_system_poll_wait_seconds=0.05).start()
        self.addCleanup(server.stop)
        api = client.Client(server.grpc_address)
        self.addCleanup(api.close)
        inputs = {"text_a": st.text_inputs(["a fine film"])["text_a"]}
        before = api.predict("sst2", inputs)["probabilities"]

        # The disk fills up while the variables are written.
        real_save = tf.saved_model.save

        def save_then_run_out_of_space(module, path, **kwargs):
            real_save(module, path, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device",
                          os.path.join(path, "variables"))

        tf.saved_model.save = save_then_run_out_of_space
        try:
            with self.assertRaisesRegex(OSError, "No space left on device"):
                export.export(self.model_dir, self.export_dir)
        finally:
            tf.saved_model.save = real_save
        self.assertEqual(os.listdir(self.export_dir), ["1"])
        time.sleep(0.5)  # a few polls of the directory
        self.assertEqual(api.status("sst2"),
                         [client.VersionStatus(1, "AVAILABLE")])
        self.assertAllClose(api.predict("sst2", inputs)["probabilities"],
                            before)

    def test_command_line_reports_disk_full_without_a_traceback(self):
        # The CLI's answer to an OSError, checked through its main(), which
        # reads the global flags.
        if "export_dir" not in flags.FLAGS:
            export_cli.define_flags()

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        with mock.patch.object(export, "_publish", full), \
                flagsaver.flagsaver(task="sst2", model_dir=self.model_dir,
                                    export_dir=self.export_dir):
            self.assertEqual(export_cli.main(["export"]), 1)
        self.assertFalse(os.path.exists(self.export_dir))

if __name__ == "__main__":
    tf.test.main()
