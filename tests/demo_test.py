"""The README's main job (`python -m tasks.demo`), run as a user runs it:
stage by stage, short, with the tiny pre-trained model standing in for
MiniLM so that CI stays quick (the full run is the README command)."""

import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from tests import testing


def _demo(*flags):
    return subprocess.run(
        [sys.executable, "-m", "tasks.demo", *flags], capture_output=True,
        text=True, cwd=testing.REPO_ROOT, timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.large
class DemoTest(tf.test.TestCase):

    def test_every_stage_runs_alone_and_the_path_ends_in_served_answers(
            self):
        out = os.path.join(self.create_tempdir().full_path, "demo")
        result = _demo(f"--output_dir={out}", "--stages=pretrain",
                       "--pretrain_steps=12")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertRegex(result.stdout, r"pretrain +\d+:\d\d +tiny BERT 12 "
                         r"steps: MLM loss [\d.]+ -> [\d.]+, NSP")
        # A later stage before its input exists: a clear error.
        missing = _demo(f"--output_dir={out}-other", "--stages=export",
                        "--tasks=sst2")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("finetune/sst2/model is missing: run "
                      "--stages=finetune first", missing.stderr)

        result = _demo(f"--output_dir={out}",
                       f"--checkpoint={os.path.join(out, 'pretrain', 'model')}",
                       "--stages=convert,finetune,export,serve",
                       "--epochs=0.05")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        stdout = result.stdout
        for task, metric in (("sst2", "accuracy"), ("mrpc", "f1"),
                             ("squad", "exact_match"), ("conll2003", "f1")):
            self.assertRegex(stdout, rf"finetune {task} +\d+:\d\d +dev "
                             rf".*{metric} [\d.]+")
            self.assertRegex(stdout, rf"export {task} +\d+:\d\d +.*"
                             rf"exports/{task}/1")
            for flag in ("", " --rest"):
                self.assertIn(f"--model={task}{flag} --input=", stdout)
        self.assertRegex(stdout, r"\n    0\tclass_ids=\d  class_names=\d")
        self.assertRegex(stdout, r"\n    0\tanswer=.*  end=-?\d+  score=")
        self.assertRegex(stdout, r"\n    0\tentities=\[.*\]  entity_ends=")
        self.assertIn("8 queries answered (4 models, gRPC and REST); server "
                      "stopped cleanly", stdout)
        self.assertTrue(re.search(r"\n  total +\d+:\d\d", stdout))


if __name__ == "__main__":
    tf.test.main()
