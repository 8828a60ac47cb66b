"""SQuAD EM/F1: hand-computed cases from the official definitions, and the
python -m tasks.squad_eval command."""

import contextlib
import io
import json
import os
import subprocess
import sys

import tensorflow as tf

from bert_tf.tasks.question_answering import metrics as squad_metrics
from bert_tf.tasks.text_classification import data as glue
from tasks import squad_eval
from tests import testing


class NormalizeTest(tf.test.TestCase):

    def test_normalize_answer_lowercases_drops_punctuation_and_articles(self):
        self.assertEqual(squad_metrics.normalize_answer("The  Cat, sat!"),
                         "cat sat")
        self.assertEqual(squad_metrics.normalize_answer("an apple a day"),
                         "apple day")
        # Articles only as whole words; hyphens deleted, not spaced.
        self.assertEqual(squad_metrics.normalize_answer("Theatre of Anna"),
                         "theatre of anna")
        self.assertEqual(squad_metrics.normalize_answer("long-term"),
                         "longterm")
        # "A." loses its period, then is an article: nothing is left.
        self.assertEqual(squad_metrics.normalize_answer("A."), "")
        self.assertEqual(squad_metrics.normalize_answer("\tx \n y  "), "x y")

    def test_normalize_answer_keeps_accents_cjk_and_unicode_punctuation(self):
        # Only string.punctuation (ASCII) goes: – and ’ stay.
        self.assertEqual(
            squad_metrics.normalize_answer("Café–Zürich’s  “東京”"),
            "café–zürich’s “東京”")


class ScoreTest(tf.test.TestCase):

    def test_exact_match_compares_normalised_texts(self):
        self.assertEqual(squad_metrics.exact_match_score(
            "the Eiffel Tower", "Eiffel tower!"), 1.0)
        self.assertEqual(squad_metrics.exact_match_score(
            "Eiffel", "Eiffel tower"), 0.0)
        self.assertEqual(squad_metrics.exact_match_score("", "The"), 1.0)

    def test_f1_counts_tokens_as_multisets(self):
        # big red fox / red fox jumped: 2 in common, P = R = 2/3.
        self.assertAllClose(squad_metrics.f1_score(
            "the big red fox", "red fox jumped"), 2 / 3)
        # x x y / x y y: x once, y once in common.
        self.assertAllClose(squad_metrics.f1_score("x x y", "x y y"), 2 / 3)
        # P = 1, R = 1/2.
        self.assertAllClose(squad_metrics.f1_score(
            "Broncos", "Denver Broncos"), 2 / 3)
        self.assertEqual(squad_metrics.f1_score("1990", "1990s"), 0.0)

    def test_f1_of_empty_answers_differs_between_versions(self):
        # v1.1: nothing in common is 0, even both empty; v2.0: 1 if both.
        self.assertEqual(squad_metrics.f1_score("", "the"), 0.0)
        self.assertEqual(squad_metrics.f1_score("", "the", version_2=True),
                         1.0)
        self.assertEqual(squad_metrics.f1_score("", "Paris",
                                                version_2=True), 0.0)
        self.assertEqual(squad_metrics.f1_score("Paris", "",
                                                version_2=True), 0.0)


class EvaluateTest(tf.test.TestCase):

    def test_evaluate_v1_takes_the_best_gold_answer_in_percent(self):
        gold = {"q1": ["Paris", "the city of Paris"], "q2": ["1990s"],
                "q3": ["Denver Broncos", "Broncos!"]}
        predictions = {"q1": "the city of paris", "q2": "1990",
                       "q3": "broncos"}
        results = squad_metrics.evaluate_v1(gold, predictions)
        self.assertEqual(set(results), {"exact_match", "f1"})
        self.assertAllClose(results["exact_match"], 200 / 3)
        self.assertAllClose(results["f1"], 200 / 3)
        predictions["q3"] = "Denver"  # F1 2/3 against "Denver Broncos"
        results = squad_metrics.evaluate_v1(gold, predictions)
        self.assertAllClose(results["exact_match"], 100 / 3)
        self.assertAllClose(results["f1"], 100 * (1 + 0 + 2 / 3) / 3)

    def test_evaluate_v1_scores_missing_predictions_zero_and_logs(self):
        with self.assertLogs(level="WARNING") as logs:
            results = squad_metrics.evaluate_v1(
                {"q1": ["a b"], "q2": ["c"]}, {"q1": "a b"})
        self.assertIn("1 questions have no prediction", logs.output[0])
        self.assertAllClose(results["exact_match"], 50.0)

    def test_evaluate_v1_rejects_a_question_without_answers(self):
        with self.assertRaisesRegex(ValueError, "question q2 has no gold"):
            squad_metrics.evaluate_v1({"q1": ["x"], "q2": []},
                                      {"q1": "x", "q2": ""})

    def test_evaluate_v2_splits_has_answer_and_no_answer(self):
        # d's only answer normalises to nothing: it has an answer, but its
        # gold is [""].
        gold = {"a": ["Paris"], "b": [], "c": [], "d": ["the"]}
        predictions = {"a": "Paris", "b": "", "c": "London", "d": ""}
        results = squad_metrics.evaluate_v2(gold, predictions)
        self.assertEqual(results, {
            "exact": 75.0, "f1": 75.0, "total": 4,
            "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 2,
            "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2})

    def test_evaluate_v2_no_answer_threshold_and_best_threshold(self):
        gold = {"a": ["Paris"], "b": [], "c": [], "d": ["the"]}
        predictions = {"a": "Rome", "b": "", "c": "London", "d": ""}
        na_probs = {"a": 0.5, "b": 2.0, "c": 3.0, "d": -1.0}
        results = squad_metrics.evaluate_v2(gold, predictions, na_probs)
        # b and c exceed 1.0: scored as answered "" (both right).
        self.assertEqual(results["exact"], 75.0)
        self.assertEqual(results["NoAns_exact"], 100.0)
        # Answering in na_probs order from none answered (2 right): d +1
        # (3, at -1.0), a +0, b 0, c -1; the best is 3 of 4 at -1.0.
        self.assertEqual(results["best_exact"], 75.0)
        self.assertEqual(results["best_exact_thresh"], -1.0)
        self.assertEqual(results["best_f1"], 75.0)
        predictions["a"] = "paris"
        results = squad_metrics.evaluate_v2(gold, predictions, na_probs)
        self.assertEqual(results["best_exact"], 100.0)
        self.assertEqual(results["best_exact_thresh"], 0.5)

    def test_evaluate_v2_needs_na_probs_for_every_prediction(self):
        with self.assertRaisesRegex(ValueError, "lack 1 predicted .*: b"):
            squad_metrics.evaluate_v2({"a": ["x"], "b": []},
                                      {"a": "x", "b": ""}, {"a": 0.0})


def _write_json(directory, name, value):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)
    return path


def _squad(questions, version=None):
    """A one-paragraph SQuAD file: questions = [(id, answers, impossible)]."""
    context = "Paris is the capital of France."
    qas = []
    for qid, answers, impossible in questions:
        qa = {"id": qid, "question": "Which?",
              "answers": [{"text": a, "answer_start": context.find(a)}
                          for a in answers]}
        if impossible is not None:
            qa["is_impossible"] = impossible
        qas.append(qa)
    data = {"data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}
    if version:
        data["version"] = version
    return data


class SquadEvalCommandTest(tf.test.TestCase):

    def test_v1_and_v2_give_the_official_keys(self):
        tmp = self.create_tempdir().full_path
        v1 = _write_json(tmp, "v1.json", _squad(
            [("q1", ["Paris"], None), ("q2", ["France"], None)], "1.1"))
        predictions = _write_json(tmp, "p.json", {"q1": "paris",
                                                  "q2": "Spain"})
        self.assertEqual(squad_eval.evaluate(v1, predictions),
                         {"exact_match": 50.0, "f1": 50.0})
        # v2.0 scores of a v1.1 file, on request.
        self.assertEqual(squad_eval.evaluate(v1, predictions,
                                             version="2.0")["exact"], 50.0)

        v2 = _write_json(tmp, "v2.json", _squad(
            [("q1", ["Paris"], False), ("q2", [], True)], "v2.0"))
        odds = _write_json(tmp, "odds.json", {"q1": -3.0, "q2": 5.0})
        # q2 (no answer) is answered "Spain", but its odds exceed 1.0.
        result = subprocess.run(
            [sys.executable, "-m", "tasks.squad_eval", v2, predictions,
             f"--na_prob_file={odds}"],
            cwd=testing.REPO_ROOT, capture_output=True, text=True,
            timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertEqual(json.loads(result.stdout), {
            "exact": 100.0, "f1": 100.0, "total": 2,
            "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1,
            "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 1,
            "best_exact": 100.0, "best_exact_thresh": -3.0,
            "best_f1": 100.0, "best_f1_thresh": -3.0})
        self.assertEqual(squad_eval.evaluate(v2, predictions)["exact"], 50.0)

    def test_bad_files_are_data_errors_naming_the_file(self):
        tmp = self.create_tempdir().full_path
        data = _write_json(tmp, "d.json", _squad([("q1", ["Paris"], None)]))
        for content, pattern in [
                (["Paris"], "p.json: expected a JSON object"),
                ({"q1": 3}, ("p.json: 'q1': expected an answer string, "
                             "found int 3"))]:
            predictions = _write_json(tmp, "p.json", content)
            with self.assertRaisesRegex(glue.DataError, pattern):
                squad_eval.evaluate(data, predictions)
        broken = os.path.join(tmp, "broken.json")
        with open(broken, "wb") as f:
            f.write(b'{"data": [\n\xff')
        with self.assertRaisesRegex(glue.DataError, "broken.json: not UTF-8"):
            squad_eval.evaluate(broken, predictions)
        with self.assertRaisesRegex(glue.DataError, "nothing.json: cannot "
                                    "read"):
            squad_eval.evaluate(data, os.path.join(tmp, "nothing.json"))
        predictions = _write_json(tmp, "p.json", {"q1": "Paris"})
        odds = _write_json(tmp, "odds.json", {"q1": "high"})
        with self.assertRaisesRegex(glue.DataError, "odds.json: 'q1': "
                                    "expected a number"):
            squad_eval.evaluate(data, predictions, na_prob_file=odds)

    def test_main_exits_2_with_the_message(self):
        tmp = self.create_tempdir().full_path
        data = _write_json(tmp, "d.json", _squad([("q1", ["Paris"], None)]))
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            self.assertEqual(squad_eval.main(["squad_eval", data]), 2)
            self.assertEqual(squad_eval.main(
                ["squad_eval", data, os.path.join(tmp, "none.json")]), 2)
        self.assertIn("usage: python -m tasks.squad_eval", stderr.getvalue())
        self.assertIn("error: " + os.path.join(tmp, "none.json"),
                      stderr.getvalue())


if __name__ == "__main__":
    tf.test.main()
