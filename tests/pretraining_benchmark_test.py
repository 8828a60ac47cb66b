"""benchmarks/pretraining.py's GPU rows, run on the CPU as a code check:
every column is measured and nothing is written."""

import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.large
class PretrainingBenchmarkTest(tf.test.TestCase):

    def test_gpu_rows_code_path_measures_every_column(self):
        results = os.path.join(ROOT, "benchmarks", "RESULTS.md")
        before = open(results).read()
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.pretraining", "--gpu",
             "--gpu_code_on_cpu", "--presets=tiny", "--seq_lengths=32",
             "--gpu_batch_sizes=32:8", "--warmup_steps=1", "--steps=1",
             "--peak_tflops=0.001"],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        number = r"[0-9.]+"
        row = re.search(
            rf"^\| tiny \| 32 \| 8 \| ({number}) \| ({number}) \| "
            rf"({number}) \| ({number}) \| ({number})% \| ({number})M \| "
            rf"({number}) \|$", done.stdout, re.M)
        self.assertIsNotNone(row, done.stdout[-3000:])
        step_ms, examples, tokens, tflops, mfu, params, input_rate = map(
            float, row.groups())
        self.assertAllClose(examples, 8 / (step_ms / 1e3), rtol=0.02)
        self.assertAllClose(tokens, 32 * examples, rtol=0.02)
        # 6 x parameters x tokens a second, against a 1 GFLOP/s peak.
        flops = 6 * params * 1e6 * tokens
        self.assertAllClose(mfu / 100 * 1e9, flops, rtol=0.05)
        self.assertAllClose(tflops, flops / 1e12, atol=0.051)
        self.assertGreater(input_rate, 0)
        self.assertIn("nothing is written", done.stdout)
        self.assertEqual(open(results).read(), before)


if __name__ == "__main__":
    tf.test.main()
