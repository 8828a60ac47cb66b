"""Fine-tuning end to end on tiny configs: tasks learn, outputs as promised,
bad input is named."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoint_sources
from bert_tf import checkpoints
from bert_tf import finetuning
from bert_tf.tasks.text_classification import data as glue_data
from tests import testing

POSITIVE = ("good", "great", "fine", "lovely")
NEGATIVE = ("bad", "awful", "poor", "dull")
FILLER = "the movie was really quite and very so it a story".split()


def _vocab():
    return os.path.join(testing.minilm_dir(), "vocab.txt")


def _sentence(rng, label):
    """Filler words around one word that decides the label."""
    words = [rng.choice(FILLER) for _ in range(rng.randint(2, 12))]
    words.insert(rng.randint(0, len(words)),
                 rng.choice(POSITIVE if label else NEGATIVE))
    return " ".join(words)


def _write(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        for row in rows:
            f.write("\t".join(str(v) for v in row) + "\n")


def _sst2_dir(test, sizes=(("train", 400), ("dev", 100))):
    rng = random.Random(0)
    data_dir = test.create_tempdir().full_path
    for split, n in sizes:
        labels = [rng.randint(0, 1) for _ in range(n)]
        _write(os.path.join(data_dir, f"{split}.tsv"), "sentence\tlabel",
               [(_sentence(rng, y), y) for y in labels])
    _write(os.path.join(data_dir, "test.tsv"), "index\tsentence",
           [(i, _sentence(rng, i % 2)) for i in range(30)])
    return data_dir


def _run(task, data_dir, output_dir, init, **overrides):
    values = dict(task=task, data_dir=data_dir, output_dir=output_dir,
                  init_checkpoint=init, max_seq_length=32,
                  train_batch_size=16, learning_rate=1e-3,
                  num_train_epochs=8, log_steps=50,
                  save_checkpoints_steps=1000)
    values.update(overrides)
    results, _ = finetuning.run(finetuning.FinetuningRun(**values))
    return results


@pytest.mark.large
class FinetuningTest(tf.test.TestCase):

    def test_sst2_layout_learns_and_writes_model_results_submission(self):
        data_dir = _sst2_dir(self)
        output_dir = self.create_tempdir().full_path
        results = _run("sst2", data_dir, output_dir, testing.tiny_encoder_dir(),
                       do_train=True, do_eval=True, do_predict=True)
        self.assertGreater(results["dev"]["accuracy"], 0.9)
        with open(os.path.join(output_dir, "eval_results.json")) as f:
            self.assertEqual(json.load(f)["dev"], results["dev"])
        with open(os.path.join(output_dir, "SST-2.tsv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "index\tprediction")
        self.assertEqual([line.split("\t")[0] for line in lines[1:]],
                         [str(i) for i in range(30)])
        predicted = [int(line.split("\t")[1]) for line in lines[1:]]
        # Test sentences alternate negative, positive.
        self.assertGreater(np.mean(np.equal(predicted, [0, 1] * 15)), 0.9)

        # The saved model evaluates alone to the same numbers.
        model_dir = os.path.join(output_dir, "model")
        task = checkpoints.read_model_description(model_dir)["task"]
        self.assertEqual(task["name"], "sst2")
        self.assertEqual(task["labels"], ["0", "1"])
        again = _run("sst2", data_dir, self.create_tempdir().full_path,
                     model_dir, do_eval=True)
        self.assertAllClose(again["dev"]["accuracy"],
                            results["dev"]["accuracy"])

    def test_stsb_regression_learns_scores(self):
        rng = random.Random(1)
        data_dir = self.create_tempdir().full_path
        header = ("index\tgenre\tfilename\tyear\told_index\tsource1\t"
                  "source2\tsentence1\tsentence2")

        def rows(n):
            for i in range(n):
                # Score: 4 if the first sentence is positive, plus noise.
                a, b = rng.randint(0, 1), rng.randint(0, 1)
                yield (i, "g", "f", "2012", i, "s", "s", _sentence(rng, a),
                       _sentence(rng, b), f"{4 * a + rng.random():.3f}")

        _write(os.path.join(data_dir, "train.tsv"), header + "\tscore",
               rows(400))
        _write(os.path.join(data_dir, "dev.tsv"), header + "\tscore",
               rows(100))
        results = _run("stsb", data_dir, self.create_tempdir().full_path,
                       testing.tiny_encoder_dir(), do_train=True, do_eval=True,
                       num_train_epochs=16, learning_rate=3e-3)
        self.assertGreater(results["dev"]["pearson"], 0.8)
        # Within a class the order is noise: Spearman stays lower.
        self.assertGreater(results["dev"]["spearman"], 0.6)

    def test_swag_multiple_choice_learns_and_writes_predictions(self):
        rng = random.Random(2)
        data_dir = self.create_tempdir().full_path
        header = (",video-id,fold-ind,startphrase,sent1,sent2,gold-source,"
                  "ending0,ending1,ending2,ending3")

        def rows(n, labelled=True):
            for i in range(n):
                label = rng.randint(0, 3)
                endings = [_sentence(rng, int(j == label)).replace(",", "")
                           for j in range(4)]
                row = [i, "v", i, "s", _sentence(rng, rng.randint(0, 1)),
                       "then", "gen"] + endings
                yield ",".join(map(str, row + [label] if labelled else row))

        for split, n in (("train", 300), ("val", 80)):
            with open(os.path.join(data_dir, f"{split}.csv"), "w") as f:
                f.write(header + ",label\n" + "\n".join(rows(n)) + "\n")
        with open(os.path.join(data_dir, "test.csv"), "w") as f:
            f.write(header + "\n" + "\n".join(rows(20, False)) + "\n")
        output_dir = self.create_tempdir().full_path
        results = _run("swag", data_dir, output_dir, testing.tiny_encoder_dir(),
                       do_train=True, do_eval=True, do_predict=True,
                       train_batch_size=8)
        self.assertGreater(results["dev"]["accuracy"], 0.8)
        with open(os.path.join(output_dir, "swag_predictions.csv")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], ",ending0,ending1,ending2,ending3,"
                         "prediction")
        self.assertLen(lines, 21)
        probabilities = [float(v) for v in lines[1].split(",")[1:5]]
        self.assertAllClose(sum(probabilities), 1.0, atol=1e-4)

    def test_google_checkpoint_init_with_xla_and_bf16_runs(self):
        from unittest import mock

        import keras

        # finetuning.run sets the global policy; later tests expect float32.
        self.addCleanup(keras.mixed_precision.set_global_policy, "float32")
        init = testing.tiny_encoder_dir()
        google_dir = os.path.join(self.create_tempdir().full_path, "tf1")
        model = checkpoints.load_model(init)
        checkpoints.save_google_checkpoint(google_dir, model, _vocab())
        # As run_classifier.py leaves it: with its own task layer.
        hidden = model.config.hidden_size
        checkpoint_sources.write_google(
            os.path.join(google_dir, "bert_model.ckpt"),
            {**checkpoints.model_weights(model),
             "output_weights": np.zeros([3, hidden], np.float32),
             "output_bias": np.zeros([3], np.float32)})
        output_dir = self.create_tempdir().full_path
        # The encoder's weights as fine-tuning set them, before any step.
        initialised = []
        assign_weights = checkpoints.assign_weights

        def assign_and_record(encoder, weights, source):
            unused = assign_weights(encoder, weights, source)
            initialised.append(checkpoints.model_weights(encoder))
            return unused

        with self.assertLogs(level="WARNING") as logs, mock.patch.object(
                checkpoints, "assign_weights", assign_and_record):
            results, history = finetuning.run(finetuning.FinetuningRun(
                task="sst2", data_dir=_sst2_dir(
                    self, (("train", 64), ("dev", 20))),
                output_dir=output_dir,
                init_checkpoint=os.path.join(google_dir, "bert_model.ckpt"),
                max_seq_length=32, train_batch_size=16, learning_rate=1e-3,
                num_train_epochs=1, log_steps=50,
                save_checkpoints_steps=1000, do_train=True, do_eval=True,
                jit_compile=True, mixed_precision="bf16"))
        self.assertTrue(any("leaving out 2 weight(s)" in line and
                            "output_bias, output_weights" in line
                            for line in logs.output), logs.output)
        self.assertEqual(results["dev"]["num_examples"], 20)
        self.assertTrue(os.path.isdir(os.path.join(output_dir, "model")))
        # Initialised from the checkpoint: every encoder weight as written.
        self.assertLen(initialised, 1)
        before = checkpoints.model_weights(model)
        testing.assert_same_weights(self, before, initialised[0])
        # Four steps moved every encoder weight, with a finite loss, and
        # not far: AdamW moves a weight by about the learning rate a step
        # (at most ~3x), 2.5e-3 in all with the linear decay (measured:
        # <= 0.004); one trained from a fresh initialisation (stddev 0.02)
        # is further off.
        after = checkpoints.model_weights(
            checkpoints.load_model(os.path.join(output_dir, "model")))
        for name, value in before.items():
            self.assertFalse(np.array_equal(value, after[name]), name)
            self.assertLess(np.abs(after[name] - value).max(), 1e-2, name)
        self.assertEqual([step for step, _ in history], [4])
        self.assertTrue(np.isfinite(history[-1][1]["loss"]), history)


class FinetuningErrorsTest(tf.test.TestCase):

    def test_missing_file_lists_what_the_task_expects(self):
        data_dir = self.create_tempdir().full_path
        with self.assertRaisesRegex(glue_data.DataError,
                                    "task mnli expects train.tsv .*"
                                    "dev_matched.tsv"):
            _run("mnli", data_dir, self.create_tempdir().full_path,
                 testing.tiny_encoder_dir(), do_train=True)

    def test_eval_without_training_needs_a_fine_tuned_model(self):
        with self.assertRaisesRegex(finetuning.FinetuningError,
                                    "must be a model fine-tuned for sst2"):
            _run("sst2", _sst2_dir(self), self.create_tempdir().full_path,
                 testing.tiny_encoder_dir(), do_eval=True)

    def test_nothing_to_do_and_unknown_task_are_errors(self):
        with self.assertRaisesRegex(finetuning.FinetuningError,
                                    "nothing to do"):
            _run("sst2", "d", "o", "i")
        with self.assertRaisesRegex(finetuning.FinetuningError,
                                    "unknown task 'sst3'"):
            _run("sst3", "d", "o", "i", do_train=True)

    def test_cli_names_the_bad_row_and_exits_2(self):
        data_dir = _sst2_dir(self, sizes=(("train", 5),))
        with open(os.path.join(data_dir, "train.tsv"), "a") as f:
            f.write("an extra row\t7\n")
        result = subprocess.run(
            [sys.executable, "-m", "tasks.finetune", "--task=sst2",
             f"--data_dir={data_dir}",
             f"--output_dir={self.create_tempdir().full_path}",
             f"--init_checkpoint={testing.tiny_encoder_dir()}", "--do_train",
             "--max_seq_length=32"],
            cwd=testing.REPO_ROOT, capture_output=True, text=True,
            timeout=300)
        self.assertEqual(result.returncode, 2, result.stderr[-2000:])
        self.assertIn(f"{data_dir}/train.tsv:7:", result.stderr)
        self.assertIn("not one of sst2's labels (0, 1)", result.stderr)


if __name__ == "__main__":
    tf.test.main()
