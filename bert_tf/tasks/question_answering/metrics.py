"""SQuAD exact match and F1, as the official evaluation scripts define them.

Written from the definitions of `evaluate-v1.1.py` and `evaluate-v2.0.py`
(the SQuAD site's scripts, which google-research/bert's README runs):

* An answer is normalised by, in this order: lower-casing (`str.lower`);
  deleting every character of `string.punctuation` (ASCII only: accented
  letters, CJK and non-ASCII punctuation such as "–" or "’" are kept,
  and "long-term" becomes "longterm"); replacing the whole words "a", "an"
  and "the" by a space; collapsing whitespace runs to single spaces, none at
  the ends.
* Exact match: the normalised prediction equals the normalised gold answer.
* F1: over the normalised answers' whitespace tokens, counted as
  multisets: 2PR / (P + R) of the tokens in common.
* Each question scores the best over its gold answers; the reported values
  are percentages (0-100) averaged over the questions.

Where the two versions differ:
- F1 when a side has no tokens: v1.1 0 (nothing in common, even when both
  are empty); v2.0 1 if both have none, else 0.
- Gold answers: v1.1 every `answers` text; v2.0 those that normalise to
  something, [""] if none (no-answer questions: `answers` is []).
- Reported: v1.1 exact_match, f1; v2.0 exact, f1, total, HasAns_* and
  NoAns_* (questions with and without `answers`), best_* with null odds.

v2.0 with no-answer probabilities (`na_probs`; google-research/bert writes
`null_odds.json`, the null score minus the best span's): a question whose
value exceeds `na_prob_thresh` (default 1.0) is scored as if answered "";
`best_exact` / `best_f1` are the scores at the best threshold and
`best_*_thresh` that threshold: predictions are answered in increasing
`na_probs` order, and the threshold is the value reached when the running
score peaks (all-unanswered first).

Where this module differs from the scripts (they cannot take these inputs):
a question without a prediction scores 0 in both versions and is logged
(v1.1 prints a message and scores 0; v2.0 fails with a KeyError); a v1.1
question without any gold answer raises a ValueError naming it (v1.1 fails
on `max` of nothing).
"""

import collections
import re
import string
from collections.abc import Mapping, Sequence

from absl import logging

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_LOGGED_MISSING = 5


def normalize_answer(text: str) -> str:
    """Lower-cased, ASCII punctuation and articles removed, spaces collapsed."""
    text = text.lower()
    text = "".join(c for c in text if c not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, ground_truth: str) -> float:
    """1.0 if both normalise to the same string, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1_score(prediction: str, ground_truth: str,
             version_2: bool = False) -> float:
    """Token-level F1 of the normalised answers.

    Args:
        prediction: str. Predicted answer.
        ground_truth: str. One gold answer.
        version_2: bool. v2.0's rule for answers without tokens: 1.0 when
            both have none; v1.1 gives 0.0 (no token in common).
    """
    predicted = normalize_answer(prediction).split()
    gold = normalize_answer(ground_truth).split()
    if version_2 and (not predicted or not gold):
        return float(predicted == gold)
    common = collections.Counter(predicted) & collections.Counter(gold)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(predicted)
    recall = num_same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _best(metric, prediction, ground_truths):
    return max(metric(prediction, truth) for truth in ground_truths)


def _warn_missing(missing):
    if missing:
        logging.warning("%d questions have no prediction and score 0: %s",
                        len(missing), ", ".join(missing[:_LOGGED_MISSING]))


def evaluate_v1(gold: Mapping[str, Sequence[str]],
                predictions: Mapping[str, str]) -> dict:
    """SQuAD v1.1 scores, as `evaluate-v1.1.py` prints them.

    Args:
        gold: {question id: its gold answer texts}, every question of the
            data file.
        predictions: {question id: predicted text}.

    Returns:
        {"exact_match": float, "f1": float}, percentages.

    Raises:
        ValueError: a question has no gold answer (v2.0 data?).
    """
    exact = f1 = 0.0
    missing = []
    for qid, answers in gold.items():
        if not answers:
            raise ValueError(f"question {qid} has no gold answer: v1.1 "
                             "cannot score it (SQuAD v2.0 data?)")
        if qid not in predictions:
            missing.append(qid)
            continue
        exact += _best(exact_match_score, predictions[qid], answers)
        f1 += _best(f1_score, predictions[qid], answers)
    _warn_missing(missing)
    total = max(len(gold), 1)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def raw_scores_v2(gold, predictions):
    """Per-question v2.0 exact and F1 before any no-answer threshold:
    ({id: exact}, {id: f1}) over the questions with a prediction."""
    exact, f1 = {}, {}
    for qid, answers in gold.items():
        if qid not in predictions:
            continue
        truths = [a for a in answers if normalize_answer(a)] or [""]
        exact[qid] = _best(exact_match_score, predictions[qid], truths)
        f1[qid] = _best(lambda p, t: f1_score(p, t, version_2=True),
                        predictions[qid], truths)
    return exact, f1


def _best_threshold(scores, predictions, na_probs, has_answer, total):
    """(best score in percent, its threshold): answering questions in
    increasing na_probs order, starting from none answered."""
    running = sum(1 for qid in has_answer if not has_answer[qid])
    best, best_thresh = running, 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            running += scores[qid]
        elif predictions[qid]:
            running -= 1  # a no-answer question answered with a span
        if running > best:
            best, best_thresh = running, na_probs[qid]
    return 100.0 * best / total, best_thresh


def evaluate_v2(gold: Mapping[str, Sequence[str]],
                predictions: Mapping[str, str],
                na_probs: Mapping[str, float] | None = None,
                na_prob_thresh: float = 1.0) -> dict:
    """SQuAD v2.0 scores, as `evaluate-v2.0.py` prints them.

    Args:
        gold: {question id: its gold answer texts ([] for no-answer
            questions)}, every question of the data file.
        predictions: {question id: predicted text ("" = no answer)}.
        na_probs: {question id: no-answer score} (null_odds.json) or None
            (all 0.0).
        na_prob_thresh: float. Questions whose na_probs exceed it count as
            answered "".

    Returns:
        dict: exact, f1, total; HasAns_exact, HasAns_f1, HasAns_total and
        NoAns_exact, NoAns_f1, NoAns_total (for the kinds present); with
        `na_probs` also best_exact, best_exact_thresh, best_f1,
        best_f1_thresh. Scores in percent.

    Raises:
        ValueError: `na_probs` lacks a question that has a prediction.
    """
    has_answer = {qid: bool(answers) for qid, answers in gold.items()}
    exact_raw, f1_raw = raw_scores_v2(gold, predictions)
    _warn_missing([qid for qid in gold if qid not in predictions])
    if na_probs is not None:
        lacking = [qid for qid in exact_raw if qid not in na_probs]
        if lacking:
            raise ValueError(f"no-answer probabilities lack {len(lacking)} "
                             f"predicted questions: "
                             f"{', '.join(lacking[:_LOGGED_MISSING])}")
    probs = na_probs if na_probs is not None else {}

    def thresholded(raw):
        return {qid: float(not has_answer[qid])
                if probs.get(qid, 0.0) > na_prob_thresh else score
                for qid, score in raw.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)

    def averages(qids):
        n = len(qids)
        return {"exact": 100.0 * sum(exact.get(q, 0.0) for q in qids) / n,
                "f1": 100.0 * sum(f1.get(q, 0.0) for q in qids) / n,
                "total": n}

    results = averages(list(gold)) if gold else \
        {"exact": 0.0, "f1": 0.0, "total": 0}
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid in gold if has_answer[qid] == wanted]
        if qids:
            for name, value in averages(qids).items():
                results[f"{prefix}_{name}"] = value
    if na_probs is not None and gold:
        for name, raw in (("exact", exact_raw), ("f1", f1_raw)):
            score, thresh = _best_threshold(raw, predictions, na_probs,
                                            has_answer, len(gold))
            results[f"best_{name}"] = score
            results[f"best_{name}_thresh"] = thresh
    return results
