"""SQuAD fine-tuning: answer decoding, the Task, and a tiny model that
learns a synthetic SQuAD end to end."""

import functools
import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from bert_tf import finetuning
from bert_tf import losses
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.question_answering import data as squad_data
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks.question_answering import postprocessing as squad_postprocessing
from bert_tf.tasks.question_answering import task as squad
from bert_tf.tasks.text_classification import data as glue
from bert_tf import tokenization
from tests import testing

# One piece each in the uncased vocabulary.
NUMBERS = ("one two three four five six seven eight nine ten eleven "
           "twelve").split()


@functools.lru_cache(maxsize=None)
def _tokenizer():
    return tokenization.BertTokenizer(
        os.path.join(testing.minilm_dir(), "vocab.txt"), lower_case=True)


def _example(context, answers=(), qid="q", impossible=False, where=""):
    return squad_data.SquadExample(
        qid, "what", context,
        tuple(squad_data.Answer(a, context.index(a)) for a in answers),
        impossible, where=where)


def _logits(features, values):
    """[F, L + 3] zeros, with {(feature, position): (start, end)} set; the
    3 columns of padding past every feature hold huge values, which must
    be ignored."""
    width = max(len(f.input_word_ids) for f in features) + 3
    start = np.zeros((len(features), width), np.float32)
    end = np.zeros_like(start)
    for i, f in enumerate(features):
        start[i, len(f.input_word_ids):] = 100.0
        end[i, len(f.input_word_ids):] = 100.0
    for (i, position), (s, e) in values.items():
        start[i, position] = s
        end[i, position] = e
    return start, end


def _decode(examples, features, values, **options):
    start, end = _logits(features, values)
    return squad_postprocessing.predict_answers(examples, features, start,
                                                end, **options)


class PostprocessingTest(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        # "what" + 12 numbers, windows of 6 pieces every 3: (0, 6), (3, 6),
        # (6, 6); context pieces start at packed position 3.
        self.examples = [_example(" ".join(NUMBERS))]
        self.features = squad_features.create_features(
            _tokenizer(), self.examples, max_seq_length=10,
            max_query_length=4, doc_stride=3)

    def test_windows_answer_only_where_the_start_has_max_context(self):
        self.assertLen(self.features, 3)
        # "six" (piece 5) is the last of window 0 but central in window 1:
        # window 0's strong start there is not a candidate, window 1's is.
        predicted = _decode(self.examples, self.features, {
            (0, 3 + 5): (10.0, 0.0), (1, 3 + 2): (2.0, 2.0)})
        self.assertEqual(predicted.answers, {"q": "six"})
        self.assertEqual(predicted.nbest["q"][0]["start_logit"], 2.0)
        # "five" (piece 4) sits one from an edge in both: the earlier
        # window wins the tie.
        predicted = _decode(self.examples, self.features, {
            (0, 3 + 4): (1.0, 1.0), (1, 3 + 1): (5.0, 5.0)})
        self.assertEqual(predicted.answers, {"q": "five"})
        self.assertEqual(predicted.nbest["q"][0]["start_logit"], 1.0)
        self.assertIsNone(predicted.null_odds)

    def test_spans_must_be_ordered_short_and_in_the_context(self):
        # [CLS] and the question score highest but are never answers; end
        # before start is skipped; so is a span longer than 2 pieces.
        predicted = _decode(self.examples, self.features, {
            (0, 0): (50.0, 50.0), (0, 1): (40.0, 40.0),
            (0, 3 + 2): (9.0, 0.0), (0, 3 + 1): (0.0, 8.0),
            (0, 3 + 4): (0.0, 7.0), (0, 3 + 3): (0.0, 6.0)},
            max_answer_length=2)
        self.assertEqual(predicted.answers, {"q": "three four"})
        nbest = predicted.nbest["q"]
        self.assertEqual(nbest[0], {"text": "three four", "probability":
                                    nbest[0]["probability"],
                                    "start_logit": 9.0, "end_logit": 6.0})
        self.assertAllClose(sum(e["probability"] for e in nbest), 1.0)
        scores = [e["start_logit"] + e["end_logit"] for e in nbest]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertLen({e["text"] for e in nbest}, len(nbest))

    def test_n_best_size_limits_candidates_and_answers(self):
        rising = {(w, 3 + k): (k / 10, k / 10) for w in range(3)
                  for k in range(6)}
        predicted = _decode(self.examples, self.features, rising,
                            n_best_size=3)
        self.assertLen(predicted.nbest["q"], 3)
        # Top logits only in [CLS] and the question: no span at all.
        predicted = _decode(self.examples, self.features,
                            {(w, p): (1.0, 1.0) for w in range(3)
                             for p in range(3)}, n_best_size=3)
        self.assertEqual(predicted.answers, {"q": ""})

    def test_null_answer_uses_the_lowest_cls_score_and_the_threshold(self):
        values = {(0, 0): (1.0, 1.0), (1, 0): (3.0, 0.5),
                  (2, 0): (4.0, 4.0), (1, 3 + 2): (2.0, 1.0)}
        predicted = _decode(self.examples, self.features, values,
                            version_2_with_negative=True)
        # Null score min(2, 3.5, 8) = 2; best span "six" (window 1) = 3.
        self.assertEqual(predicted.answers, {"q": "six"})
        self.assertAllClose(predicted.null_odds["q"], -1.0)
        null = [e for e in predicted.nbest["q"] if e["text"] == ""]
        self.assertEqual(null, [{"text": "", "probability":
                                 null[0]["probability"],
                                 "start_logit": 1.0, "end_logit": 1.0}])
        predicted = _decode(self.examples, self.features, values,
                            version_2_with_negative=True,
                            null_score_diff_threshold=-1.5)
        self.assertEqual(predicted.answers, {"q": ""})

    def test_text_is_cut_from_the_original_context(self):
        context = "Tokyo is  東京,  in  Ja\u0301pan  now"
        examples = [_example(context, qid="a"),
                    _example("   ", qid="empty")]
        features = squad_features.create_features(_tokenizer(), examples, 32,
                                              max_query_length=4)
        first = features[0].context_offset
        # Pieces: tokyo is 東 京 , in japan now
        predicted = _decode(examples, features, {
            (0, first + 2): (5.0, 0.0), (0, first + 6): (0.0, 5.0)})
        self.assertEqual(predicted.answers,
                         {"a": "東京,  in  Ja\u0301pan", "empty": ""})
        self.assertEqual(predicted.nbest["empty"][0]["text"], "")

    def test_write_predictions_writes_the_files_atomically(self):
        output_dir = self.create_tempdir().full_path
        predicted = _decode(self.examples, self.features, {},
                            version_2_with_negative=True)
        paths = squad_postprocessing.write_predictions(output_dir,
                                                       predicted)
        self.assertEqual([os.path.basename(p) for p in paths],
                         ["predictions.json", "nbest_predictions.json",
                          "null_odds.json"])
        self.assertCountEqual(os.listdir(output_dir),
                              [os.path.basename(p) for p in paths])
        for path, value in zip(paths, (predicted.answers, predicted.nbest,
                                       predicted.null_odds)):
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f), value)


def _squad_file(path, paragraphs, version="1.1"):
    """paragraphs: [(context, [(id, [answer texts], impossible)])]."""
    data = {"version": version, "data": [{"title": "T", "paragraphs": [
        {"context": context, "qas": [
            {"id": qid, "question": "which animal is it ?",
             "answers": [{"text": a, "answer_start": context.index(a)}
                         for a in answers],
             **({"is_impossible": impossible} if version != "1.1"
                else {})}
            for qid, answers, impossible in qas]}
        for context, qas in paragraphs]}]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


class TaskTest(tf.test.TestCase):

    def test_unknown_name_and_splits(self):
        with self.assertRaisesRegex(ValueError, "unknown SQuAD task"):
            squad.Task("squad_v3")
        task = squad.Task("squad_v2", squad.Options(max_query_length=16))
        self.assertEqual((task.eval_splits, task.test_splits),
                         (("dev",), ("dev",)))
        self.assertEqual(task.accepted_models, ("squad_v2",))
        self.assertEqual(task.description(384, True).options.max_query_length,
                         16)
        with self.assertRaisesRegex(ValueError, "--max_seq_length 64 leaves "
                                    "no room .* --max_query_length 64"):
            squad.Task("squad").check_lengths(64)

    def test_read_drops_unusable_train_questions_and_v2_data_for_v1(self):
        data_dir = self.create_tempdir().full_path
        path = os.path.join(data_dir, "train-v1.1.json")
        _squad_file(path, [("red fox here", [("a", ["red fox"], False),
                                              ("b", ["fox"], False)])])
        with open(path) as f:
            data = json.load(f)
        data["data"][0]["paragraphs"][0]["qas"][1]["answers"][0][
            "answer_start"] = 0  # "fox" is not at 0
        with open(path, "w") as f:
            json.dump(data, f)
        with self.assertLogs(level="WARNING") as logs:
            examples = squad.Task("squad").read(data_dir, "train")
        self.assertEqual([e.qas_id for e in examples], ["a"])
        self.assertTrue(any("1 questions without a usable answer" in line
                            for line in logs.output))

        _squad_file(os.path.join(data_dir, "dev-v1.1.json"),
                    [("red fox", [("c", [], True)])], version="v2.0")
        with self.assertRaisesRegex(glue.DataError,
                                    r"qas\[0\]: an impossible question .*"
                                    "--task=squad_v2"):
            squad.Task("squad").read(data_dir, "dev")

    def test_dataset_carries_span_labels_and_loss_is_mean_xent(self):
        task = squad.Task("squad",
                          squad.Options(max_query_length=8, doc_stride=8))
        examples = [_example(" ".join(NUMBERS[:n]), [NUMBERS[n - 1]],
                             qid=str(n)) for n in range(1, 13)]
        features = task.features(_tokenizer(), examples, 16)
        dataset = task.dataset(_tokenizer(), features,
                               finetuning_data.BatchingConfig(
                                   batch_size=64, max_seq_length=16))
        batches = list(dataset)
        for name, attribute in (("start_positions", "start_position"),
                                ("end_positions", "end_position")):
            labels = np.concatenate([b[name] for b in batches])
            order = np.concatenate([b["example_index"] for b in batches])
            self.assertAllEqual(labels[np.argsort(order)],
                                [getattr(f, attribute) for f in features])
        batch = batches[0]
        size, length = batch["input_word_ids"].shape
        zeros = tf.zeros([size, length])
        loss, metrics = losses.span_loss(
            batch, {"start_logits": zeros, "end_logits": zeros})
        self.assertAllClose(loss, np.log(length), rtol=1e-5)
        total, count = metrics["start_accuracy"]
        self.assertEqual(count, size)
        # argmax of all-zero logits is position 0: right for [CLS] labels.
        self.assertEqual(total, np.sum(batch["start_positions"] == 0))

    def test_oracle_logits_score_100_and_v1_needs_gold_answers(self):
        data_dir = self.create_tempdir().full_path
        _squad_file(os.path.join(data_dir, "dev-v2.0.json"), [
            ("a red fox ran", [("a", ["red fox"], False)]),
            ("nothing here", [("b", [], True)])], version="v2.0")
        task = squad.Task("squad_v2", squad.Options(max_query_length=8))
        examples = task.read(data_dir, "dev")
        features = task.features(_tokenizer(), examples, 32)
        start, end = _logits(features, {})
        for i, f in enumerate(features):
            start[i, f.start_position] = 5.0
            end[i, f.end_position] = 5.0
        outputs = {"start_logits": start, "end_logits": end}
        results = task.evaluate(examples, features, outputs)
        self.assertEqual(results["exact"], 100.0)
        self.assertEqual(results["HasAns_total"], 1)
        self.assertEqual(results["best_f1"], 100.0)
        path = task.write_predictions(self.create_tempdir().full_path,
                                      "dev", examples, features, outputs)
        with open(path) as f:
            self.assertEqual(json.load(f), {"a": "red fox", "b": ""})
        unlabelled = [_example("x y", where="f.json: data[0].paragraphs[0]"
                               ".qas[0]")]
        with self.assertRaisesRegex(glue.DataError,
                                    r"f.json: data.0..paragraphs.0..qas.0.: "
                                    "no answers"):
            squad.Task("squad").evaluate(
                unlabelled, task.features(_tokenizer(), unlabelled, 32),
                {"start_logits": np.zeros((1, 32)),
                 "end_logits": np.zeros((1, 32))})


# Synthetic SQuAD: the answer is the one "<colour> <animal>" pair of a
# paragraph of filler words (10-140 of them, so some paragraphs need two
# windows of --max_seq_length 128).
COLOURS = ("red", "blue", "green", "black", "white", "brown")
ANIMALS = ("fox", "dog", "cat", "horse", "bird", "fish", "cow", "pig")
FILLER = ("the river was long and quiet under a grey sky while people "
          "walked slowly near old houses").split()


def _synthetic_paragraphs(rng, n, prefix, impossible_rate=0.0):
    paragraphs = []
    for i in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(10, 140))]
        impossible = rng.random() < impossible_rate
        answers = []
        if not impossible:
            answer = f"{rng.choice(COLOURS)} {rng.choice(ANIMALS)}"
            words.insert(rng.randint(0, len(words)), answer)
            answers = [answer]
        paragraphs.append((" ".join(words),
                           [(f"{prefix}{i}", answers, impossible)]))
    return paragraphs


def _run(test, task, data_dir, output_dir, **overrides):
    values = dict(task=task, data_dir=data_dir, output_dir=output_dir,
                  init_checkpoint=testing.tiny_encoder_dir(), max_seq_length=128,
                  train_batch_size=16, eval_batch_size=64,
                  learning_rate=2e-3, num_train_epochs=6, log_steps=50,
                  save_checkpoints_steps=10000, do_train=True, do_eval=True,
                  do_predict=True)
    values.update(overrides)
    results, _ = finetuning.run(finetuning.FinetuningRun(**values))
    return results["dev"]


@pytest.mark.large
class SquadLearningTest(tf.test.TestCase):

    def test_squad_v1_learns_the_span_and_writes_predictions(self):
        rng = random.Random(0)
        data_dir = self.create_tempdir().full_path
        _squad_file(os.path.join(data_dir, "train-v1.1.json"),
                    _synthetic_paragraphs(rng, 320, "t"))
        _squad_file(os.path.join(data_dir, "dev-v1.1.json"),
                    _synthetic_paragraphs(rng, 80, "d"))
        output_dir = self.create_tempdir().full_path
        results = _run(self, "squad", data_dir, output_dir)
        # Measured: EM 100, F1 100; the initial random model: EM 0, F1 5.
        self.assertGreater(results["exact_match"], 90.0)
        self.assertGreater(results["f1"], 90.0)
        with open(os.path.join(output_dir, "predictions.json")) as f:
            predictions = json.load(f)
        self.assertLen(predictions, 80)
        with open(os.path.join(output_dir, "nbest_predictions.json")) as f:
            nbest = json.load(f)
        self.assertLessEqual(len(nbest["d0"]), 20)
        self.assertFalse(os.path.exists(os.path.join(output_dir,
                                                     "null_odds.json")))

    def test_squad_v2_learns_when_there_is_no_answer(self):
        rng = random.Random(1)
        data_dir = self.create_tempdir().full_path
        _squad_file(os.path.join(data_dir, "train-v2.0.json"),
                    _synthetic_paragraphs(rng, 320, "t", 0.5), "v2.0")
        _squad_file(os.path.join(data_dir, "dev-v2.0.json"),
                    _synthetic_paragraphs(rng, 80, "d", 0.5), "v2.0")
        output_dir = self.create_tempdir().full_path
        results = _run(self, "squad_v2", data_dir, output_dir)
        # Measured: exact 98.75, F1 99.6; the initial random model: exact
        # 6, F1 9; always answering "": exact 46 (37 of 80 questions).
        self.assertGreater(results["exact"], 90.0)
        self.assertGreater(results["HasAns_f1"], 85.0)
        self.assertGreater(results["NoAns_exact"], 85.0)
        with open(os.path.join(output_dir, "null_odds.json")) as f:
            self.assertLen(json.load(f), 80)


if __name__ == "__main__":
    tf.test.main()
