"""The README's main job, run as a user runs it."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests import testing


@pytest.mark.large
class DemoTest(tf.test.TestCase):

    def test_demo_pairs_each_paraphrase_with_its_partner(self):
        out = os.path.join(self.create_tempdir().full_path, "demo")
        result = subprocess.run(
            [sys.executable, "-m", "tasks.demo", f"--output_dir={out}"],
            capture_output=True, text=True, cwd=testing.REPO_ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        # The bundled sentences come in paraphrase pairs (0,1), (2,3), (4,5).
        for i, j in ((0, 1), (1, 0), (2, 3), (3, 2), (4, 5), (5, 4)):
            self.assertRegex(result.stdout, rf"  {i}: .*\n     -> {j}: ")
        self.assertTrue(os.path.isfile(os.path.join(out, "bert_tf_model.json")))


if __name__ == "__main__":
    tf.test.main()
