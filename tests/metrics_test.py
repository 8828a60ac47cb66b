"""GLUE/SWAG metrics against hand-computed values and numpy formulas."""

import json
import math
import warnings

import numpy as np
import tensorflow as tf

from bert_tf.tasks.text_classification import data as glue_data
from bert_tf.tasks.text_classification import metrics

# A 2x2 confusion matrix used throughout:
#   TP = 3 (examples 0-2), FN = 1 (3), FP = 2 (4, 5), TN = 4 (6-9).
LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
PREDICTIONS = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


class MetricsTest(tf.test.TestCase):

    def test_accuracy_counts_exact_matches(self):
        # (TP + TN) / N = (3 + 4) / 10.
        self.assertAlmostEqual(metrics.accuracy(LABELS, PREDICTIONS), 0.7)

    def test_f1_matches_hand_computed_confusion_matrix(self):
        # precision = 3/5, recall = 3/4;
        # F1 = 2PR / (P + R) = 2TP / (2TP + FP + FN) = 6 / 9 = 2/3.
        self.assertAlmostEqual(metrics.f1(LABELS, PREDICTIONS), 2.0 / 3.0)

    def test_f1_is_zero_without_warning_when_no_positive_predicted(self):
        # precision = 0/0 -> zero_division = 0.0; recall = 0/2; F1 = 0.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertEqual(metrics.f1([1, 0, 1, 0], [0, 0, 0, 0]), 0.0)
            self.assertEqual(metrics.f1([0, 0, 0], [0, 0, 0]), 0.0)

    def test_matthews_corrcoef_matches_hand_computed_confusion_matrix(self):
        # (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))
        #   = (3*4 - 2*1) / sqrt(5 * 4 * 6 * 5) = 10 / sqrt(600) = 1/sqrt(6).
        self.assertAlmostEqual(
            metrics.matthews_corrcoef(LABELS, PREDICTIONS), 1 / math.sqrt(6))

    def test_matthews_corrcoef_is_zero_when_one_class_predicted(self):
        # Always "acceptable" (1): TN = FN = 0, so the denominator's factor
        # (TN + FN) is 0 and MCC is 0/0; sklearn reports 0.0, not nan.
        result = metrics.task_metrics("cola", [1, 0, 1, 1, 0], [1] * 5)
        self.assertEqual(result, {"mcc": 0.0})
        self.assertEqual(metrics.matthews_corrcoef([0, 1, 1], [0, 0, 0]),
                         0.0)

    def test_pearson_spearman_uses_average_ranks_for_ties(self):
        labels = [1.0, 3.0, 2.0, 4.0]
        scores = [0.5, 0.5, 1.0, 2.0]
        # Pearson: label deviations [-1.5, .5, -.5, 1.5] (sum sq 5), score
        # deviations [-.5, -.5, 0, 1] (sum sq 1.5), cross sum 2;
        # r = 2 / sqrt(5 * 1.5) = sqrt(8/15).
        # Spearman: label ranks [1, 3, 2, 4]; the tied scores share rank
        # (1 + 2) / 2, so score ranks [1.5, 1.5, 3, 4]. Rank deviations
        # [-1.5, .5, -.5, 1.5] (sum sq 5) and [-1, -1, .5, 1.5]
        # (sum sq 4.5), cross sum 3; rho = 3 / sqrt(22.5) = sqrt(2/5).
        # (The no-ties shortcut 1 - 6 sum d^2 / (n(n^2-1)) would give 0.65.)
        result = metrics.pearson_spearman(labels, scores)
        self.assertAllClose(
            [result["pearson"], result["spearman"], result["corr"]],
            [math.sqrt(8 / 15), math.sqrt(2 / 5),
             (math.sqrt(8 / 15) + math.sqrt(2 / 5)) / 2])
        self.assertEqual(metrics.task_metrics("stsb", labels, scores), result)

    def test_pearson_spearman_is_zero_for_constant_input(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # No scipy ConstantInputWarning.
            constant_scores = metrics.pearson_spearman([1.0, 2.5, 4.0],
                                                       [3.0, 3.0, 3.0])
            constant_labels = metrics.pearson_spearman([2.0, 2.0],
                                                       [1.0, 4.0])
            single = metrics.pearson_spearman([2.0], [1.0])
        zeros = {"pearson": 0.0, "spearman": 0.0, "corr": 0.0}
        self.assertEqual(constant_scores, zeros)
        self.assertEqual(constant_labels, zeros)
        self.assertEqual(single, zeros)
        # Strict JSON: no NaN anywhere.
        json.dumps(constant_scores, allow_nan=False)

    def test_pearson_spearman_rejects_non_finite_scores(self):
        with self.assertRaisesRegex(
                ValueError, r"scores contain 1 non-finite values .* of 3"):
            metrics.pearson_spearman([1.0, 2.0, 3.0], [1.0, np.nan, 2.0])

    def test_binary_metrics_match_numpy_formulas(self):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 2, size=101)
        predictions = np.where(rng.random(101) < 0.7, labels, 1 - labels)
        tp = np.sum((predictions == 1) & (labels == 1))
        tn = np.sum((predictions == 0) & (labels == 0))
        fp = np.sum((predictions == 1) & (labels == 0))
        fn = np.sum((predictions == 0) & (labels == 1))
        mcc = (tp * tn - fp * fn) / np.sqrt(
            float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
        self.assertAlmostEqual(metrics.accuracy(labels, predictions),
                               np.mean(labels == predictions))
        self.assertAlmostEqual(metrics.f1(labels, predictions),
                               2 * tp / (2 * tp + fp + fn))
        self.assertAlmostEqual(metrics.matthews_corrcoef(labels, predictions),
                               mcc)

    def test_pearson_spearman_match_numpy_corrcoef(self):
        rng = np.random.default_rng(1)
        labels = rng.uniform(0, 5, size=37)
        scores = labels + rng.normal(size=37)
        result = metrics.pearson_spearman(labels, scores)
        self.assertAlmostEqual(result["pearson"],
                               np.corrcoef(labels, scores)[0, 1])
        # Continuous values: no ties, so ranks are argsort positions.
        ranks = [np.argsort(np.argsort(x)) for x in (labels, scores)]
        self.assertAlmostEqual(result["spearman"],
                               np.corrcoef(*ranks)[0, 1])

    def test_task_metrics_returns_glue_names_per_task(self):
        expected = {
            "cola": {"mcc"},
            "sst2": {"accuracy"}, "qnli": {"accuracy"}, "rte": {"accuracy"},
            "wnli": {"accuracy"}, "mnli": {"accuracy"},
            "mrpc": {"accuracy", "f1", "accuracy_and_f1"},
            "qqp": {"accuracy", "f1", "accuracy_and_f1"},
            "stsb": {"pearson", "spearman", "corr"},
        }
        self.assertEqual({name for name, spec in glue_data.TASKS.items()
                          if spec.eval_splits}, set(expected))
        for task, names in expected.items():
            labels = [0.5, 2.0, 4.5] if task == "stsb" else [0, 1, 1]
            predictions = [1.0, 2.5, 4.0] if task == "stsb" else [0, 1, 0]
            result = metrics.task_metrics(task, np.array(labels),
                                          predictions)
            self.assertEqual(set(result), names, task)
            for name, value in result.items():
                self.assertIs(type(value), float, f"{task}/{name}")

    def test_task_metrics_mrpc_averages_accuracy_and_f1(self):
        # accuracy 7/10, F1 2/3 (see above); mean = 41/60.
        result = metrics.task_metrics("mrpc", LABELS, PREDICTIONS)
        self.assertAllClose(
            [result["accuracy"], result["f1"], result["accuracy_and_f1"]],
            [0.7, 2 / 3, 41 / 60])

    def test_accuracy_over_four_choices(self):
        # SWAG's: choices 0-3; examples 0, 1 and 3 right: 3/5.
        self.assertEqual(metrics.accuracy([0, 1, 2, 3, 3], [0, 1, 3, 3, 2]),
                         0.6)

    def test_task_metrics_rejects_unknown_task(self):
        with self.assertRaisesRegex(
                ValueError, r"unknown task 'sts-b'; known tasks: cola, mnli, "
                r"mrpc, qnli, qqp, rte, sst2, stsb, wnli"):
            metrics.task_metrics("sts-b", [1.0], [1.0])

    def test_metrics_reject_length_mismatch(self):
        for fn in (metrics.accuracy, metrics.f1, metrics.matthews_corrcoef):
            with self.assertRaisesRegex(
                    ValueError, r"labels and predictions differ in length: "
                    r"3 vs 2"):
                fn([0, 1, 1], [0, 1])
        with self.assertRaisesRegex(
                ValueError, r"labels and scores differ in length: 2 vs 3"):
            metrics.task_metrics("stsb", [1.0, 2.0], [1.0, 2.0, 3.0])

    def test_metrics_reject_empty_inputs(self):
        with self.assertRaisesRegex(ValueError, "are empty"):
            metrics.task_metrics("cola", [], [])
        with self.assertRaisesRegex(ValueError, "are empty"):
            metrics.pearson_spearman([], [])

    def test_metrics_reject_logits_instead_of_class_ids(self):
        with self.assertRaisesRegex(
                ValueError, r"predictions must be 1-D .* got shape \(3, 2\); "
                "for logits, take the argmax"):
            metrics.task_metrics("sst2", [0, 1, 1], np.zeros((3, 2)))


if __name__ == "__main__":
    tf.test.main()
