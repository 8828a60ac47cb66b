"""What bert_tf writes is readable as the umask says, like any other file:
exports (read by a TF Serving process that may run as another user), model
directories, vocabularies and prediction files."""

import contextlib
import os
import stat

import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.export import exporter as export
from bert_tf import file_io
from bert_tf.layers import encoder as encoder_lib
from bert_tf import models
from bert_tf.tasks.text_classification import data as glue
from bert_tf import vocab
from tests import serving_testing as st
from tests import testing

# umask -> (file mode, directory mode)
_EXPECTED = {0o022: (0o644, 0o755), 0o077: (0o600, 0o700)}


@contextlib.contextmanager
def umask(value):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes(root):
    """{path relative to root: permission bits} of root and all below."""
    found = {".": stat.S_IMODE(os.stat(root).st_mode)}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(
                os.lstat(path).st_mode)
    return found


class FileModesTest(tf.test.TestCase):

    def assertModes(self, root, mask):
        """Every file under `root` (or `root` itself) has the mode that
        `mask` gives a new file, every directory a new directory's."""
        file_mode, dir_mode = _EXPECTED[mask]
        wrong = {}
        for path, mode in modes(root).items():
            full = os.path.join(root, path)
            expected = dir_mode if os.path.isdir(full) else file_mode
            if mode != expected:
                wrong[path] = f"{mode:o}, expected {expected:o}"
        self.assertEmpty(wrong, f"umask {mask:03o}")

    def test_atomic_write_honours_the_umask_and_replaces(self):
        directory = self.create_tempdir().full_path
        for mask in _EXPECTED:
            path = os.path.join(directory, f"out-{mask:o}.txt")
            with umask(mask):
                file_io.atomic_write(path, "first\n")
                file_io.atomic_write(path, lambda f: f.write(b"second\n"))
            self.assertModes(path, mask)
            with open(path, encoding="utf-8") as f:
                self.assertEqual(f.read(), "second\n")
        path = os.path.join(directory, "kept.bin")
        file_io.atomic_write(path, b"\x00old")

        def fail(f):
            f.write(b"partial")
            raise OSError("disk full")

        with self.assertRaisesRegex(OSError, "disk full"):
            file_io.atomic_write(path, fail)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"\x00old")
        self.assertCountEqual(os.listdir(directory),
                              ["out-22.txt", "out-77.txt", "kept.bin"])

    def test_model_directory_vocab_and_predictions_follow_the_umask(self):
        bert = encoder_lib.BertEncoder(st.TINY_CONFIG)
        vocab_file = os.path.join(testing.minilm_dir(), "vocab.txt")
        task = glue.TASKS["sst2"]
        examples = [glue.Example(f"test-{i}", "a", None, None, str(i))
                    for i in range(2)]
        for mask in _EXPECTED:
            base = os.path.join(self.create_tempdir().full_path, "out")
            with umask(mask):
                checkpoints.save_model(os.path.join(base, "model"), bert,
                                       vocab_file)
                vocab.write_vocab(["[PAD]", "[UNK]", "a"],
                                  os.path.join(base, "vocab", "vocab.txt"))
                os.makedirs(os.path.join(base, "predictions"))
                glue.write_submission(
                    os.path.join(base, "predictions", "SST-2.tsv"), task,
                    examples, [0, 1])
            self.assertModes(base, mask)

    def test_saved_model_rewrite_keeps_the_umask_mode(self):
        # set_signature_method rewrites saved_model.pb (classification and
        # regression exports); TF wrote every other file with the umask.
        for mask in _EXPECTED:
            export_dir = os.path.join(self.create_tempdir().full_path, "1")
            with umask(mask):
                st.write_model(export_dir)
            self.assertModes(export_dir, mask)

    @pytest.mark.large
    def test_classifier_export_and_encoder_pair_are_world_readable(self):
        source, _ = st.tiny_task_model(
            self.create_tempdir().full_path, models.BertClassifier,
            {"name": "mrpc", "family": "text_classification", "is_pair": True,
             "labels": ["0", "1"]}, num_classes=2)
        base = os.path.join(self.create_tempdir().full_path, "exports")
        with umask(0o022):
            export.export(source, os.path.join(base, "mrpc"))
            export.export_encoder(source, os.path.join(base, "bert"),
                                  seq_length=16)
        for name in ("models.config", "mrpc", "bert", "bert_preprocess"):
            self.assertIn(name, os.listdir(base))
        self.assertModes(base, 0o022)

if __name__ == "__main__":
    tf.test.main()
