"""`python -m bert_tf.convert`: round trips and user errors, as a user runs it."""

import json
import os
import subprocess
import sys

from absl import flags
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf import convert
from bert_tf.checkpoint_sources import CheckpointError
from tests import testing


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "bert_tf.convert", *args],
        capture_output=True, text=True, cwd=testing.REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.large
class ConvertCliTest(tf.test.TestCase):

    def test_hf_to_bert_tf_to_google_to_bert_tf_keeps_every_weight(self):
        tmp = self.create_tempdir().full_path
        steps = [
            ("--input", testing.minilm_dir(), "--output", f"{tmp}/a"),
            ("--input", f"{tmp}/a", "--to", "google", "--output", f"{tmp}/g"),
            ("--from", "google", "--input", f"{tmp}/g/bert_model.ckpt",
             "--output", f"{tmp}/b"),
        ]
        for args in steps:
            result = _run(*args)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        a = checkpoints.load_encoder(f"{tmp}/a")
        b = checkpoints.load_encoder(f"{tmp}/b")
        testing.assert_same_weights(self, a, b)
        with open(f"{tmp}/b/vocab.txt") as f:
            self.assertLen(f.read().splitlines(), 30522)

    def test_existing_output_is_an_error_and_untouched(self):
        tmp = self.create_tempdir().full_path
        os.makedirs(f"{tmp}/out")
        with open(f"{tmp}/out/notes.txt", "w") as f:
            f.write("mine")
        result = _run("--input", testing.minilm_dir(), "--output",
                      f"{tmp}/out")
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"error: {tmp}/out: output exists and is not empty",
                      result.stderr)
        self.assertEqual(os.listdir(f"{tmp}/out"), ["notes.txt"])


class ConvertCliErrorsTest(tf.test.TestCase):

    def test_source_without_vocab_asks_for_vocab_file(self):
        tmp = self.create_tempdir().full_path
        source = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")
        result = _run("--input", source, "--output", f"{tmp}/out")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no vocab.txt in the source; pass --vocab_file",
                      result.stderr)
        self.assertFalse(os.path.exists(f"{tmp}/out"))

    def test_vocab_size_mismatch_names_vocab_file_and_both_sizes(self):
        tmp = self.create_tempdir().full_path
        vocab = f"{tmp}/vocab.txt"
        with open(vocab, "w") as f:
            f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                              + [f"w{i}" for i in range(90)]) + "\n")
        source = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")
        result = _run("--input", source, "--vocab_file", vocab, "--output",
                      f"{tmp}/out")
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{vocab}: 95 tokens but the config says vocab_size 99",
                      result.stderr)

    def test_hostile_bin_is_one_error_line_without_traceback(self):
        from tests import checkpoint_safety_test as safety

        tmp = self.create_tempdir().full_path
        source = os.path.join(tmp, "hf")
        os.makedirs(source)
        with open(os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining",
                               "config.json")) as f, \
                open(os.path.join(source, "config.json"), "w") as g:
            g.write(f.read())
        safety.torch_bin(os.path.join(source, "pytorch_model.bin"), {}, {},
                         pickle_bytes=b"\x80\x02cposix\nsystem\n"
                         b"(X\x06\x00\x00\x00touch\x20xtR.")
        result = _run("--input", source, "--output", f"{tmp}/out")
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertIn(f"error: {source}/pytorch_model.bin: refusing to "
                      "unpickle 'posix.system'", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertFalse(os.path.exists(f"{tmp}/out"))

    def test_tanh_gelu_to_google_is_refused_with_the_way_out(self):
        tmp = self.create_tempdir().full_path
        vocab = f"{tmp}/vocab.txt"
        with open(vocab, "w") as f:
            f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                              + [f"w{i}" for i in range(94)]) + "\n")
        source = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")
        with self.assertRaisesRegex(
                CheckpointError,
                f"{tmp}/out: hidden_act 'gelu_new' cannot be written to a "
                "google-research bert_config.json.*--hidden_act=gelu"):
            convert.convert(source, f"{tmp}/out", vocab_file=vocab,
                            target_format="google")
        self.assertFalse(os.path.exists(f"{tmp}/out"))
        convert.convert(source, f"{tmp}/out", vocab_file=vocab,
                        target_format="google", hidden_act="gelu")
        with open(f"{tmp}/out/bert_config.json") as f:
            self.assertEqual(json.load(f)["hidden_act"], "gelu")

    def test_flags_are_validated_before_reading(self):
        tmp = self.create_tempdir().full_path
        with open(f"{tmp}/file", "w") as f:
            f.write("x")
        cases = [
            (["--input", f"{tmp}/missing"], "does not exist"),
            (["--output", f"{tmp}/file/out"], "must be a directory path"),
            (["--output", tmp], "--output must differ from --input"),
            (["--vocab_file", f"{tmp}/nope"], "is not a file"),
            (["--hidden_act", "gelu_fast"], "value should be one of"),
            (["--to", "hf"], "value should be one of"),
        ]
        for args, message in cases:
            values = flags.FlagValues()
            convert.define_flags(values)
            with self.subTest(message):
                with self.assertRaisesRegex(flags.Error, message):
                    values(["convert", "--input", tmp, "--output",
                            f"{tmp}/new/out", *args])
        values = flags.FlagValues()
        convert.define_flags(values)
        values(["convert", "--input", f"{tmp}/file", "--output",
                f"{tmp}/new/deeper/out"])

    def test_pretraining_heads_are_carried_over(self):
        tmp = self.create_tempdir().full_path
        vocab = f"{tmp}/vocab.txt"
        with open(vocab, "w") as f:
            f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                              + [f"w{i}" for i in range(94)]) + "\n")
        source = os.path.join(testing.GOLDEN_DIR, "tiny_hf_pretraining")
        result = _run("--input", source, "--vocab_file", vocab, "--output",
                      f"{tmp}/out")
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        pretrainer = checkpoints.load_pretrainer(f"{tmp}/out")
        reference = checkpoints.load_pretrainer(source)
        testing.assert_same_weights(self, reference, pretrainer)


if __name__ == "__main__":
    tf.test.main()
