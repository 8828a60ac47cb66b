"""GLUE evaluation metrics, as the GLUE benchmark reports them.

These metrics do not stream: they are computed once over the whole dev set,
from the gathered labels and predictions (class ids, or STS-B scores).
The formulas are scikit-learn's and scipy's; this module picks the ones GLUE
uses per task and fixes how degenerate inputs are reported.

| task                       | metrics                                  |
| -------------------------- | ---------------------------------------- |
| cola                       | mcc                                      |
| sst2, qnli, rte, wnli,     | accuracy                                 |
| mnli                       |                                          |
| mrpc, qqp                  | accuracy, f1, accuracy_and_f1 (the mean) |
| stsb                       | pearson, spearman, corr (the mean)       |

MNLI has two dev sets: the caller evaluates `dev_matched` and
`dev_mismatched` separately and names the two accuracies.

Degenerate inputs give 0.0, never nan, so that a results file stays valid
JSON (`json.dumps` writes nan as the non-standard `NaN`) and a broken run
sorts as "no skill" rather than poisoning averages:

* MCC when only one class is predicted (or present): the denominator is
  zero; scikit-learn already returns 0.0, and we keep it.
* F1 when no positive is predicted: precision is 0/0; we set
  `zero_division=0.0` explicitly, so F1 is 0.0 and nothing warns.
* Pearson / Spearman when the scores (or the labels) are constant: the
  correlation is undefined and scipy returns nan; we return 0.0 and log a
  warning. A model that predicts one similarity for every pair has no
  correlation with the gold scores, which is what 0.0 says.

Example:

    >>> task_metrics("mrpc", [1, 0, 1, 1], [1, 0, 0, 1])
    {'accuracy': 0.75, 'f1': 0.8, 'accuracy_and_f1': 0.775}
"""

from collections.abc import Callable

import numpy as np
from absl import logging
from scipy import stats
from sklearn import metrics as sk_metrics

from bert_tf.tasks.text_classification import data


def _check_pair(labels, predictions, name="predictions"):
    """Returns both as 1-D numpy arrays after checking shapes and sizes."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    for what, array in (("labels", labels), (name, predictions)):
        if array.ndim != 1:
            raise ValueError(
                f"{what} must be 1-D (one value per example), got shape "
                f"{array.shape}; for logits, take the argmax over the last "
                "axis first")
    if labels.shape[0] != predictions.shape[0]:
        raise ValueError(
            f"labels and {name} differ in length: {labels.shape[0]} vs "
            f"{predictions.shape[0]}")
    if labels.shape[0] == 0:
        raise ValueError(f"labels and {name} are empty")
    return labels, predictions


def accuracy(labels, predictions) -> float:
    """Fraction of examples whose predicted class id equals the label.

    Args:
        labels: 1-D sequence of int. Gold class ids.
        predictions: 1-D sequence of int. Predicted class ids (argmax of the
            logits), same length as `labels`.

    Returns:
        float in [0, 1].
    """
    labels, predictions = _check_pair(labels, predictions)
    return float(sk_metrics.accuracy_score(labels, predictions))


def f1(labels, predictions) -> float:
    """Binary F1 of the positive class 1 (MRPC "equivalent", QQP "duplicate").

    Args:
        labels: 1-D sequence of int in {0, 1}. Gold class ids.
        predictions: 1-D sequence of int in {0, 1}, same length as `labels`.

    Returns:
        float in [0, 1]. 0.0 when no example is predicted positive: precision
        is then 0/0, which `zero_division=0.0` sets to 0.0 (explicitly, so
        the result does not depend on scikit-learn's default and no
        UndefinedMetricWarning is raised).
    """
    labels, predictions = _check_pair(labels, predictions)
    return float(sk_metrics.f1_score(labels, predictions, pos_label=1,
                                     average="binary", zero_division=0.0))


def matthews_corrcoef(labels, predictions) -> float:
    """Matthews correlation coefficient, CoLA's metric.

    Args:
        labels: 1-D sequence of int. Gold class ids.
        predictions: 1-D sequence of int, same length as `labels`.

    Returns:
        float in [-1, 1]. 0.0 when only one class is predicted (or only one
        is present in the labels): the formula's denominator is then zero,
        and scikit-learn returns 0.0 rather than nan. We keep that: a model
        that always answers "acceptable" scores 0, as GLUE reports it.
    """
    labels, predictions = _check_pair(labels, predictions)
    return float(sk_metrics.matthews_corrcoef(labels, predictions))


def _is_constant(values):
    return bool(np.all(values == values[0]))


def pearson_spearman(labels, scores) -> dict[str, float]:
    """Pearson and Spearman correlations, STS-B's metrics.

    Spearman is the Pearson correlation of the ranks; tied values share the
    average of the ranks they span (scipy's `rankdata(method="average")`).

    Args:
        labels: 1-D sequence of float. Gold similarity scores (0 to 5).
        scores: 1-D sequence of float. Predicted scores, same length.

    Returns:
        `{"pearson": r, "spearman": rho, "corr": (r + rho) / 2}`, floats.
        When `labels` or `scores` is constant (including a single example)
        both correlations are undefined; scipy would return nan, we return
        0.0 for both and log a warning (see the module docstring for why).

    Raises:
        ValueError: if the lengths differ, the inputs are empty, or either
            contains nan or infinity.
    """
    labels, scores = _check_pair(labels, scores, name="scores")
    labels = labels.astype(np.float64)
    scores = scores.astype(np.float64)
    for what, array in (("labels", labels), ("scores", scores)):
        bad = int(np.sum(~np.isfinite(array)))
        if bad:
            raise ValueError(
                f"{what} contain {bad} non-finite values (nan or inf) out of "
                f"{array.shape[0]}")
    if _is_constant(labels) or _is_constant(scores):
        logging.warning(
            "Pearson/Spearman undefined: %s constant over %d examples; "
            "reporting 0.0.",
            "labels are" if _is_constant(labels) else "scores are",
            labels.shape[0])
        pearson = spearman = 0.0
    else:
        pearson = float(stats.pearsonr(labels, scores).statistic)
        spearman = float(stats.spearmanr(labels, scores).statistic)
    return {"pearson": pearson, "spearman": spearman,
            "corr": (pearson + spearman) / 2.0}


def _mcc_metrics(labels, predictions):
    return {"mcc": matthews_corrcoef(labels, predictions)}


def _accuracy_metrics(labels, predictions):
    return {"accuracy": accuracy(labels, predictions)}


def _accuracy_and_f1_metrics(labels, predictions):
    acc = accuracy(labels, predictions)
    f1_score = f1(labels, predictions)
    return {"accuracy": acc, "f1": f1_score,
            "accuracy_and_f1": (acc + f1_score) / 2.0}


# Metric group (a GLUE task's `metrics`, see data.TASKS) ->
# function(labels, predictions) -> {metric name: float}.
METRICS: dict[str, Callable[..., dict[str, float]]] = {
    "accuracy": _accuracy_metrics,
    "mcc": _mcc_metrics,
    "accuracy_and_f1": _accuracy_and_f1_metrics,
    "pearson_spearman": pearson_spearman,
}


def task_metrics(task: str, labels, predictions) -> dict[str, float]:
    """Computes the GLUE metrics of one task's dev set.

    Args:
        task: str. A GLUE task with dev splits, e.g. "cola", "mrpc", "stsb".
        labels: 1-D sequence of int class ids (float scores for "stsb").
        predictions: 1-D sequence, same length and kind as `labels`.

    Returns:
        dict of metric name to float; see the module docstring for the names.

    Raises:
        ValueError: if the task is unknown, the lengths differ, or the
            inputs are empty.
    """
    if task not in data.TASKS or not data.TASKS[task].eval_splits:
        scored = sorted(name for name, spec in data.TASKS.items()
                        if spec.eval_splits)
        raise ValueError(f"unknown task {task!r}; known tasks: "
                         f"{', '.join(scored)}")
    return METRICS[data.TASKS[task].metrics](labels, predictions)
