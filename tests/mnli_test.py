"""MNLI and AX end to end: fine-tune on MNLI's files, score dev_matched and
dev_mismatched each on its own file, predict the test splits and AX (the
diagnostic set) with the MNLI model into the GLUE submission files.

The generated sentences follow one rule: the hypothesis holds a word that
decides the label (true/right/correct: entailment, false/wrong/never:
contradiction, maybe/perhaps/possibly: neutral). dev_matched is labelled by
the rule; dev_mismatched, of another size, is labelled against it, so
scoring one file twice, or under the other's name, shows.
"""

import json
import os
import random

import pytest
import tensorflow as tf

import bert_tf
from bert_tf import checkpoints
from tests import testing

CUES = {"entailment": ("true", "right", "correct"),
        "contradiction": ("false", "wrong", "never"),
        "neutral": ("maybe", "perhaps", "possibly")}
# Labelled against the rule in dev_mismatched.
OTHER = {"entailment": "neutral", "contradiction": "entailment",
         "neutral": "contradiction"}
FILLER = "the a man dog park walked in to near old house red car".split()
BASE = ("index", "promptID", "pairID", "genre", "sentence1_binary_parse",
        "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
        "sentence1", "sentence2")
SIZES = {"dev_matched": 30, "dev_mismatched": 21, "test_matched": 24,
         "test_mismatched": 18}


def _pair(rng, label):
    """(premise, hypothesis): filler words; the hypothesis holds the cue."""
    premise = " ".join(rng.choice(FILLER) for _ in range(rng.randint(3, 8)))
    words = [rng.choice(FILLER) for _ in range(rng.randint(1, 5))]
    words.insert(rng.randint(0, len(words)), rng.choice(CUES[label]))
    return premise, " ".join(words)


def _row(index, genre, premise, hypothesis, labels=()):
    """One MNLI row: the 10 base columns, then the label columns."""
    return [str(index), str(1000 + index), f"{1000 + index}e", genre,
            "( x )", "( y )", "(ROOT x)", "(ROOT y)", premise,
            hypothesis] + list(labels)


def _write(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        f.writelines("\t".join(row) + "\n" for row in rows)


def _mnli_dir(directory, train_size=300, seed=0):
    """MNLI in the GLUE layout; returns (data_dir, {test split: pairs})."""
    rng = random.Random(seed)
    labels = sorted(CUES)
    data_dir = os.path.join(directory, "MNLI")
    os.makedirs(data_dir)
    train = []
    for i in range(train_size):
        label = labels[i % 3]
        train.append(_row(i, "fiction", *_pair(rng, label), [label, label]))
    _write(os.path.join(data_dir, "train.tsv"),
           BASE + ("label1", "gold_label"), train)
    for split, relabel in (("dev_matched", lambda y: y),
                           ("dev_mismatched", OTHER.get)):
        rows = []
        for i in range(SIZES[split]):
            label = labels[i % 3]
            gold = relabel(label)
            rows.append(_row(i, "travel", *_pair(rng, label),
                             [gold] * 5 + [gold]))
        _write(os.path.join(data_dir, f"{split}.tsv"),
               BASE + tuple(f"label{i}" for i in range(1, 6))
               + ("gold_label",), rows)
    tests = {}
    for split in ("test_matched", "test_mismatched"):
        tests[split] = [(labels[i % 3], _pair(rng, labels[i % 3]))
                        for i in range(SIZES[split])]
        _write(os.path.join(data_dir, f"{split}.tsv"), BASE,
               [_row(i, "slate", a, b) for i, (_, (a, b))
                in enumerate(tests[split])])
    return data_dir, tests


def _tiny_init_dir(directory):
    """A random tiny encoder with the MiniLM vocabulary."""
    config = bert_tf.BertConfig(vocab_size=30522, hidden_size=32,
                                num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=37,
                                max_position_embeddings=64)
    path = os.path.join(directory, "init")
    checkpoints.save_model(path, bert_tf.BertEncoder(config),
                           os.path.join(testing.minilm_dir(), "vocab.txt"))
    return path


def _submission(path):
    """[(index, prediction)] of a GLUE submission file, header checked."""
    with open(path, encoding="utf-8") as f:
        header, *rows = f.read().splitlines()
    assert header == "index\tprediction", header
    return [tuple(row.split("\t")) for row in rows]


def _finetune(**overrides):
    values = dict(max_seq_length=32, train_batch_size=16,
                  eval_batch_size=32, learning_rate=1e-3,
                  num_train_epochs=30, warmup_proportion=0.1, log_steps=100,
                  save_checkpoints_steps=10**6)
    values.update(overrides)
    results, _ = bert_tf.finetune(bert_tf.FinetuningRun(**values))
    return results


@pytest.mark.large  # 560 training steps: about 30 s on 2 cores
class MnliTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tmp = tf.compat.v1.test.get_temp_dir()
        cls.data_dir, cls.tests = _mnli_dir(os.path.join(tmp, "glue"))
        cls.output_dir = os.path.join(tmp, "mnli_run")
        cls.results = _finetune(
            task="mnli", data_dir=cls.data_dir, output_dir=cls.output_dir,
            init_checkpoint=_tiny_init_dir(tmp), do_train=True,
            do_eval=True, do_predict=True)
        cls.model_dir = os.path.join(cls.output_dir, "model")

    def test_mnli_scores_matched_and_mismatched_each_on_its_file(self):
        results = self.results
        self.assertCountEqual(results, ["dev_matched", "dev_mismatched"])
        self.assertEqual(results["dev_matched"]["num_examples"], 30)
        self.assertEqual(results["dev_mismatched"]["num_examples"], 21)
        # The model learnt the rule; only dev_matched is labelled by it.
        self.assertGreater(results["dev_matched"]["accuracy"], 0.9)
        self.assertLess(results["dev_mismatched"]["accuracy"], 0.1)
        with open(os.path.join(self.output_dir, "eval_results.json")) as f:
            self.assertEqual(json.load(f),
                             {"task": "mnli", **results})
        # The saved model, scored alone, gives the same two numbers.
        again = bert_tf.evaluate(self.model_dir, self.data_dir)
        for split in ("dev_matched", "dev_mismatched"):
            self.assertAllClose(again[split], results[split])

    def test_mnli_predicts_both_test_splits_with_mnli_label_names(self):
        for split, name in (("test_matched", "MNLI-m.tsv"),
                            ("test_mismatched", "MNLI-mm.tsv")):
            rows = _submission(os.path.join(self.output_dir, name))
            self.assertEqual([index for index, _ in rows],
                             [str(i) for i in range(SIZES[split])])
            truth = [label for label, _ in self.tests[split]]
            predicted = [label for _, label in rows]
            self.assertContainsSubset(predicted, ["contradiction",
                                                  "entailment", "neutral"])
            agree = sum(p == t for p, t in zip(predicted, truth))
            self.assertGreater(agree / len(truth), 0.9, (split, rows))

    def test_ax_is_predicted_with_the_mnli_model_into_ax_tsv(self):
        # AX's diagnostic.tsv holds test_matched's pairs (other indices):
        # AX.tsv must say what MNLI-m.tsv says, in MNLI's label names.
        ax_dir = self.create_tempdir().full_path
        pairs = self.tests["test_matched"]
        _write(os.path.join(ax_dir, "diagnostic.tsv"),
               ("index", "sentence1", "sentence2"),
               [[str(100 + i), a, b] for i, (_, (a, b)) in enumerate(pairs)])
        output_dir = self.create_tempdir().full_path
        self.assertEqual(_finetune(
            task="ax", data_dir=ax_dir, output_dir=output_dir,
            init_checkpoint=self.model_dir, do_predict=True), {})
        self.assertEqual(os.listdir(output_dir), ["AX.tsv"])
        rows = _submission(os.path.join(output_dir, "AX.tsv"))
        self.assertEqual([index for index, _ in rows],
                         [str(100 + i) for i in range(len(pairs))])
        mnli = _submission(os.path.join(self.output_dir, "MNLI-m.tsv"))
        self.assertEqual([label for _, label in rows],
                         [label for _, label in mnli])
        truth = [label for label, _ in pairs]
        agree = sum(p == t for (_, p), t in zip(rows, truth))
        self.assertGreater(agree / len(truth), 0.9, rows)

    def test_ax_refuses_a_model_not_fine_tuned_on_mnli(self):
        ax_dir = self.create_tempdir().full_path
        _write(os.path.join(ax_dir, "diagnostic.tsv"),
               ("index", "sentence1", "sentence2"), [["0", "A.", "B."]])
        # The MNLI model's weights, described as an RTE model.
        rte_model = os.path.join(self.create_tempdir().full_path, "model")
        task = checkpoints.read_model_description(self.model_dir)["task"]
        checkpoints.save_model(
            rte_model, checkpoints.load_model(self.model_dir),
            os.path.join(self.model_dir, "vocab.txt"),
            task={**task, "name": "rte"})
        with self.assertRaisesRegex(
                bert_tf.Error, r"must be a model fine-tuned for mnli \(the "
                r"OUTPUT_DIR/model of a --do_train run\); this one is for rte"):
            _finetune(task="ax", data_dir=ax_dir,
                      output_dir=self.create_tempdir().full_path,
                      init_checkpoint=rte_model, do_predict=True)

    def test_real_mnli_files_score_through_the_mnli_model(self):
        real = os.path.join(testing.SHARED_DATA, "MNLI", "mtdnn_sample")
        if not os.path.isdir(real):
            self.skipTest(f"{real} is absent")
        results = bert_tf.evaluate(self.model_dir, real)
        self.assertEqual(
            {split: r["num_examples"] for split, r in results.items()},
            {"dev_matched": 1, "dev_mismatched": 1})


if __name__ == "__main__":
    tf.test.main()
