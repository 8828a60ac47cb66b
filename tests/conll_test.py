"""CoNLL-2003 NER task: conlleval metrics by hand, the loss, the plumbing,
and a tiny model that learns entities from context."""

import json
import os
import random
import warnings

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf import finetuning
from bert_tf.layers import encoder as encoder_lib
from bert_tf import losses
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.token_classification import data as conll_data
from bert_tf.tasks.token_classification import task as conll
from bert_tf import tokenization
from tests import testing


def scores(gold, predicted):
    """entity_metrics on space-separated tag strings, one per sentence."""
    return conll.entity_metrics([g.split() for g in gold],
                                [p.split() for p in predicted])


class EntityMetricsTest(tf.test.TestCase):
    """conlleval's definitions: an entity is correct only if its type and
    both boundaries match; P = correct / predicted, R = correct / gold,
    F1 = 2PR / (P + R), micro-averaged over all entities."""

    def assertScores(self, results, precision, recall, f1, prefix=""):
        self.assertAllClose(
            [results[prefix + k] for k in ("precision", "recall", "f1")],
            [precision, recall, f1])

    def test_exact_match_is_perfect(self):
        results = scores(["B-PER I-PER O B-LOC"], ["B-PER I-PER O B-LOC"])
        self.assertScores(results, 1.0, 1.0, 1.0)
        self.assertScores(results, 1.0, 1.0, 1.0, "PER_")
        self.assertScores(results, 1.0, 1.0, 1.0, "LOC_")
        self.assertScores(results, 0.0, 0.0, 0.0, "ORG_")  # neither side
        self.assertEqual(results["accuracy"], 1.0)

    def test_partial_entity_is_an_error_on_both_sides(self):
        # Gold: PER [0,1], LOC [3]. Predicted: PER [0] (wrong end), LOC [3].
        # correct 1 (LOC) of 2 predicted and 2 gold: P = R = F1 = 1/2.
        results = scores(["B-PER I-PER O B-LOC"], ["B-PER O O B-LOC"])
        self.assertScores(results, 0.5, 0.5, 0.5)
        self.assertScores(results, 0.0, 0.0, 0.0, "PER_")
        self.assertScores(results, 1.0, 1.0, 1.0, "LOC_")
        self.assertEqual(results["accuracy"], 0.75)  # 3 of 4 tags

    def test_wrong_type_or_longer_span_gets_nothing(self):
        self.assertScores(scores(["B-ORG O"], ["B-LOC O"]), 0.0, 0.0, 0.0)
        self.assertScores(scores(["B-ORG O"], ["B-ORG I-ORG"]), 0.0, 0.0,
                          0.0)

    def test_iob1_i_tags_form_one_entity(self):
        # IOB1 "I-PER I-PER" is one PER entity over both words: the same as
        # IOB2 "B-PER I-PER".
        self.assertScores(scores(["I-PER I-PER"], ["B-PER I-PER"]), 1.0, 1.0,
                          1.0)

    def test_iob1_b_tag_splits_adjacent_entities(self):
        # IOB1 "I-PER B-PER": two one-word entities. Predicting one
        # two-word entity ("B-PER I-PER") matches neither: P = 0/1, R = 0/2.
        self.assertScores(scores(["I-PER B-PER"], ["B-PER I-PER"]), 0.0, 0.0,
                          0.0)
        self.assertScores(scores(["I-PER B-PER"], ["B-PER B-PER"]), 1.0, 1.0,
                          1.0)
        # A type change starts a new entity even without B-.
        self.assertScores(scores(["I-PER I-LOC"], ["B-PER B-LOC"]), 1.0, 1.0,
                          1.0)

    def test_invalid_iob2_prediction_reads_as_conlleval_does(self):
        # "O I-PER": conlleval starts an entity at the I-.
        self.assertScores(scores(["O B-PER"], ["O I-PER"]), 1.0, 1.0, 1.0)

    def test_sentence_boundary_ends_an_entity(self):
        # "B-PER" | "I-PER": two entities, one per sentence.
        self.assertScores(scores(["B-PER", "I-PER"], ["B-PER", "B-PER"]),
                          1.0, 1.0, 1.0)

    def test_counts_over_sentences_and_types(self):
        # Gold: PER, ORG(2 words), LOC, MISC = 4 entities.
        # Predicted: PER (right), ORG first word only (wrong), LOC (right),
        # an extra MISC on a gold O (wrong), gold MISC missed = 4 predicted.
        # correct 2: P = 2/4, R = 2/4, F1 = 1/2.
        gold = ["B-PER O B-ORG I-ORG", "B-LOC O O B-MISC"]
        predicted = ["B-PER O B-ORG O", "B-LOC B-MISC O O"]
        results = scores(gold, predicted)
        self.assertScores(results, 0.5, 0.5, 0.5)
        self.assertScores(results, 1.0, 1.0, 1.0, "PER_")
        self.assertScores(results, 0.0, 0.0, 0.0, "ORG_")
        self.assertScores(results, 0.0, 0.0, 0.0, "MISC_")
        # Three gold, two predicted, one right: P = 1/2, R = 1/3, F1 = 2/5.
        self.assertScores(scores(["B-PER O B-LOC O B-ORG"],
                                 ["B-PER O O O B-LOC"]), 0.5, 1 / 3, 0.4)

    def test_degenerate_inputs_give_zero_without_warnings(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results = scores(["O O"], ["O O"])
            self.assertScores(results, 0.0, 0.0, 0.0)
            self.assertEqual(results["accuracy"], 1.0)
            self.assertScores(scores(["B-PER"], ["O"]), 0.0, 0.0, 0.0)
        for value in results.values():
            self.assertIsInstance(value, float)
        self.assertCountEqual(results, ["precision", "recall", "f1",
                                        "accuracy"] + [
            f"{kind}_{metric}" for kind in ("PER", "ORG", "LOC", "MISC")
            for metric in ("precision", "recall", "f1")])
        with self.assertRaisesRegex(ValueError, "differ in sentence count"):
            scores(["O O"], ["O"])


class TokenClassificationLossTest(tf.test.TestCase):

    def test_only_weighted_positions_count(self):
        rng = np.random.default_rng(0)
        logits = rng.normal(size=[2, 5, 9]).astype(np.float32)
        labels = rng.integers(0, 9, size=[2, 5]).astype(np.int32)
        weights = np.array([[0, 1, 1, 0, 0], [0, 1, 0, 1, 0]], np.int32)
        features = {"label_ids": labels, "label_weights": weights}
        loss, metrics = losses.token_classification_loss(
            features, {"logits": tf.constant(logits)})
        log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        xent = -np.take_along_axis(log_softmax, labels[..., None], -1)[..., 0]
        expected = (xent * weights).sum() / 4
        self.assertAllClose(loss, expected, rtol=1e-5)
        self.assertAllClose(metrics["loss"], ((xent * weights).sum(), 4.0),
                            rtol=1e-5)
        # Logits at weight-0 positions (pieces after the first, [CLS],
        # [SEP], padding) change nothing.
        noisy = np.where(weights[..., None] > 0, logits, 100.0)
        again, _ = losses.token_classification_loss(
            features, {"logits": tf.constant(noisy, tf.float32)})
        self.assertAllClose(again, loss)
        correct = (logits.argmax(-1) == labels) * weights
        self.assertAllClose(metrics["accuracy"], (correct.sum(), 4.0))


class TaskPlumbingTest(tf.test.TestCase):
    """Features -> batches -> model -> predictions, on a random tiny model."""

    def test_batches_predictions_and_description(self):
        task = conll.Task("conll2003")
        vocab = os.path.join(self.create_tempdir().full_path, "vocab.txt")
        with open(vocab, "w") as f:
            f.write("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nmr\nsmith\n"
                    "went\nto\nparis\n")
        tokenizer = tokenization.BertTokenizer(vocab, lower_case=True)
        # 3 to 9 words of one piece each.
        sentences = [conll_data.Sentence(
            f"dev-{i}", ("Mr", "Smith", "went") + ("Paris",) * i,
            ("O", "B-PER", "O") + ("B-LOC",) * i) for i in range(7)]
        features = task.features(tokenizer, sentences, 8)
        self.assertLen(features, 10)  # the three over 6 words are split
        for fixed_shapes in (False, True):
            batching = finetuning_data.BatchingConfig(
                batch_size=4, max_seq_length=8, fixed_shapes=fixed_shapes)
            batches = list(task.dataset(tokenizer, features, batching))
            for batch in batches:
                self.assertEqual(batch["label_ids"].shape,
                                 batch["input_word_ids"].shape)
                self.assertAllEqual(
                    batch["label_weights"] * batch["input_mask"],
                    batch["label_weights"])
            self.assertEqual(
                sum(int(tf.reduce_sum(b["label_weights"])) for b in batches),
                sum(len(s.words) for s in sentences))
        model = task.build_model(encoder_lib.BertEncoder(testing.ODD_CONFIG))
        outputs = finetuning.predict(model, task.dataset(
            tokenizer, features, batching), len(features))
        self.assertEqual(outputs["logits"].shape[::2], (10, 9))
        results = task.evaluate(sentences, features, outputs)
        self.assertBetween(results["f1"], 0.0, 1.0)
        path = task.write_predictions(
            os.path.join(self.create_tempdir().full_path, "out"), "dev",
            sentences, features, outputs)
        self.assertEndsWith(path, "out/conll2003_dev_predictions.txt")
        with open(path) as f:
            self.assertLen(f.read().split("\n"),
                           sum(len(s.words) + 1 for s in sentences) + 1)
        self.assertEqual(task.description(128, False).to_json(), {
            "name": "conll2003", "family": "token_classification",
            "labels": list(conll_data.TAGS), "max_seq_length": 128,
            "lower_case": False})


# Entity words are ambiguous: each can be a person, a place or a company;
# only the words before it say which.
NAMES = ("Jordan", "Paris", "Austin", "Florence", "Victoria", "Chester",
         "Lincoln", "Madison", "Sydney", "Warren", "Carson", "Dallas")
FILLER = "the said on today that was a new plan for talks".split()


def _ner_sentence(rng):
    """(words, IOB2 tags): filler around one or two entities."""
    words, tags = [], []
    for _ in range(rng.randint(1, 2)):
        filler = [rng.choice(FILLER) for _ in range(rng.randint(1, 4))]
        words += filler
        tags += ["O"] * len(filler)
        kind = rng.choice(("PER", "LOC", "ORG"))
        names = [rng.choice(NAMES) for _ in range(rng.randint(1, 2))]
        if kind == "PER":
            words += ["Mr"] + names
            tags += ["O", "B-PER"] + ["I-PER"] * (len(names) - 1)
        elif kind == "LOC":
            words += ["in"] + names
            tags += ["O", "B-LOC"] + ["I-LOC"] * (len(names) - 1)
        else:
            words += ["shares", "of"] + names + ["Corp"]
            tags += ["O", "O", "B-ORG"] + ["I-ORG"] * len(names)
    return words + ["."], tags + ["O"]


def _write_conll(path, sentences, iob1=False):
    lines = ["-DOCSTART- -X- O O", ""]
    for words, tags in sentences:
        if iob1:  # entities start with I- (no two same-type ones touch)
            tags = ["I" + t[1:] if t.startswith("B-") else t for t in tags]
        lines += [f"{w} NNP I-NP {t}" for w, t in zip(words, tags)] + [""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _word_memory_baseline(train, dev):
    """Each word's most frequent train tag, no context: what a model that
    ignores the words before an entity can reach."""
    counts = {}
    for words, tags in train:
        for word, tag in zip(words, tags):
            counts.setdefault(word, {}).setdefault(tag[2:] or "O", 0)
            counts[word][tag[2:] or "O"] += 1
    predicted = []
    for words, _ in dev:
        kinds = [max(counts.get(w, {"O": 1}).items(), key=lambda kv: kv[1])[0]
                 for w in words]
        predicted.append(conll_data.to_iob2(
            ["O" if k == "O" else "I-" + k for k in kinds]))
    return conll.entity_metrics([t for _, t in dev], predicted)["f1"]


@pytest.mark.large
class ConllLearningTest(tf.test.TestCase):

    def test_tiny_model_learns_entities_from_context(self):
        rng = random.Random(0)
        data_dir = self.create_tempdir().full_path
        train = [_ner_sentence(rng) for _ in range(400)]
        dev = [_ner_sentence(rng) for _ in range(100)]
        # One dev sentence longer than a window (30 pieces): split in two.
        long_words, long_tags = [], []
        while len(long_words) < 40:
            words, tags = _ner_sentence(rng)
            long_words += words
            long_tags += tags
        dev.append((long_words, long_tags))
        test = [_ner_sentence(rng) for _ in range(30)]
        # Original layout; train in IOB1 (converted), dev and test IOB2.
        _write_conll(os.path.join(data_dir, "eng.train"), train, iob1=True)
        _write_conll(os.path.join(data_dir, "eng.testa"), dev)
        _write_conll(os.path.join(data_dir, "eng.testb"), test)
        output_dir = self.create_tempdir().full_path
        with self.assertLogs("absl", "INFO") as logs:
            results, _ = finetuning.run(finetuning.FinetuningRun(
                task="conll2003", data_dir=data_dir, output_dir=output_dir,
                init_checkpoint=testing.tiny_encoder_dir(), max_seq_length=32,
                train_batch_size=16, learning_rate=3e-3, num_train_epochs=40,
                log_steps=50, do_train=True, do_eval=True, do_predict=True))
        baseline = _word_memory_baseline(train, dev)
        # An all-O tagger scores 0; remembering each word's most frequent
        # type (no context) 0.20. The model must read the context. Measured
        # (2 CPU cores, about 20 s): dev F1 0.99, test F1 0.94.
        self.assertLess(baseline, 0.5)
        self.assertGreater(results["dev"]["f1"], 0.9)
        self.assertGreater(results["test"]["f1"], 0.85)
        self.assertEqual(results["dev"]["num_examples"], 101)
        logged = "\n".join(logs.output)
        self.assertIn("eng.train: 400 sentences", logged)
        self.assertIn("IOB1 tags, converted to IOB2", logged)
        self.assertIn("1 of 101 sentences have more than 30 word pieces",
                      logged)
        with open(os.path.join(output_dir, "eval_results.json")) as f:
            self.assertEqual(json.load(f)["dev"], results["dev"])

        with open(os.path.join(output_dir,
                               conll.predictions_file("test"))) as f:
            blocks = f.read().rstrip("\n").split("\n\n")
        self.assertLen(blocks, len(test))
        for block, (words, tags) in zip(blocks, test):
            columns = [line.split(" ") for line in block.split("\n")]
            self.assertEqual([c[:2] for c in columns],
                             [[w, t] for w, t in zip(words, tags)])
            predicted = [c[2] for c in columns]
            self.assertEqual(conll_data.to_iob2(predicted), predicted)
        # The saved model evaluates alone to the same numbers.
        model_dir = os.path.join(output_dir, "model")
        description = checkpoints.read_model_description(model_dir)
        self.assertEqual(description["task"]["labels"],
                         list(conll_data.TAGS))
        again, _ = finetuning.run(finetuning.FinetuningRun(
            task="conll2003", data_dir=data_dir,
            output_dir=self.create_tempdir().full_path,
            init_checkpoint=model_dir, max_seq_length=32, do_eval=True))
        self.assertAllClose(again["dev"]["f1"], results["dev"]["f1"])


if __name__ == "__main__":
    tf.test.main()
