"""SQuAD answers from span logits: n-best spans per question, as the
original run_squad.py chooses them, cut out of the original context text.

For each window (feature) of a question:
1. the `n_best_size` highest start logits and end logits, over the
   window's own length (ties: the earlier position first);
2. every pair of them that is a valid span: both ends in the window's
   context part, start <= end, at most `max_answer_length` pieces, and a
   start piece that has its maximum context in this window (a piece seen
   by several windows is answered from the one where it sits most
   centrally: `SquadFeature.max_context`);
3. scored start logit + end logit.
Across the question's windows the candidates are ranked by score (ties:
window, start rank, end rank order); the first `n_best_size` distinct
texts are the n-best, with probabilities from a softmax over their scores.
A text is `context[token_starts[start]:token_ends[end]]` (plus combining
marks right after it, `squad_features.span_text`): the original characters, not
detokenized word pieces.

SQuAD v2.0: the null answer ("") scores min over windows of start_logit[0]
+ end_logit[0] ([CLS]) and joins the candidates (always in the n-best).
The question's null odds are that score minus the best non-null span's;
the prediction is "" when they exceed `null_score_diff_threshold`.

Where no valid span exists (an empty context, or none of the top logits
forms one): the prediction is "", and in v2.0 the null odds are
`NO_SPAN_ODDS`. (The original inserts the text "empty" there.)
"""

import dataclasses
import json
import os
from collections.abc import Sequence

import numpy as np

from bert_tf import file_io
from bert_tf.tasks.question_answering import features as squad_features

PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"
# Null odds of a question without any span candidate: certainly no answer
# (finite, so the file stays standard JSON).
NO_SPAN_ODDS = 1e9


@dataclasses.dataclass(frozen=True)
class SquadPredictions:
    """Answers to every question.

    Args:
        answers: {question id: predicted text ("" = no answer)}.
        nbest: {question id: [{"text", "probability", "start_logit",
            "end_logit"}], best first}.
        null_odds: {question id: null score - best span score}; None for
            v1.1.
    """

    answers: dict
    nbest: dict
    null_odds: dict | None = None


@dataclasses.dataclass(frozen=True)
class _Candidate:
    score: float
    start_logit: float
    end_logit: float
    text: str  # "" for the null answer


def _top(logits, n):
    """Positions of the n largest values, largest first, ties in order."""
    return np.argsort(-logits, kind="stable")[:n]


def feature_spans(feature, start_logits, end_logits, n_best_size,
                  max_answer_length):
    """Valid (start, end) packed positions of one window, in candidate
    order (start rank, then end rank). Logits: float64 [L], the window's
    own length."""
    if not len(feature.max_context):  # an empty context: no span
        return []
    starts = _top(start_logits, n_best_size)[:, None]  # [n, 1]
    ends = _top(end_logits, n_best_size)[None, :]  # [1, n]
    first = feature.context_offset
    stop = first + len(feature.max_context)
    inside = np.clip(starts - first, 0, len(feature.max_context) - 1)
    valid = ((starts >= first) & (starts < stop) & (ends >= first)
             & (ends < stop) & (ends >= starts)
             & (ends - starts + 1 <= max_answer_length)
             & feature.max_context[inside])
    rows, columns = np.nonzero(valid)
    return [(int(starts[r, 0]), int(ends[0, c]))
            for r, c in zip(rows, columns)]


def _softmax(scores):
    scores = np.asarray(scores, np.float64)
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def _question_answer(example, features, start_logits, end_logits,
                     n_best_size, max_answer_length, version_2):
    """(n-best _Candidates, the null _Candidate or None) of one question."""
    # (score, start logit, end logit, feature, start, end); feature None
    # for the null answer.
    candidates, null = [], None
    for feature, start, end in zip(features, start_logits, end_logits):
        if version_2 and (null is None or start[0] + end[0] < null[0]):
            null = (start[0] + end[0], start[0], end[0], None, 0, 0)
        for s, e in feature_spans(feature, start, end, n_best_size,
                                  max_answer_length):
            candidates.append((start[s] + end[e], start[s], end[e], feature,
                               s, e))
    if null is not None:
        candidates.append(null)  # after spans of equal score, as the original
    nbest, seen = [], set()
    for score, start, end, feature, s, e in sorted(
            candidates, key=lambda c: c[0], reverse=True):  # stable
        if len(nbest) >= n_best_size:
            break
        text = ""
        if feature is not None:
            first = feature.context_offset
            text = squad_features.span_text(
                example.context, int(feature.token_starts[s - first]),
                int(feature.token_ends[e - first]))
        if text not in seen:
            seen.add(text)
            nbest.append(_Candidate(score, start, end, text))
    null_answer = None if null is None else _Candidate(*null[:3], "")
    if null_answer is not None and "" not in seen:
        nbest.append(null_answer)
    if not nbest:
        nbest.append(_Candidate(0.0, 0.0, 0.0, ""))
    return nbest, null_answer


def predict_answers(examples, features, start_logits, end_logits,
                    n_best_size: int = 20, max_answer_length: int = 30,
                    version_2_with_negative: bool = False,
                    null_score_diff_threshold: float = 0.0
                    ) -> SquadPredictions:
    """Answer texts, n-best lists and (v2.0) null odds of every question.

    Args:
        examples: SquadExample sequence.
        features: SquadFeature sequence (`squad_features.create_features`
            of `examples`).
        start_logits, end_logits: float arrays [len(features), >= L], in
            `features` order; each row is read to its feature's own length
            (padding after it is ignored).
        n_best_size: int. Start and end positions tried per window, and
            answers kept per question.
        max_answer_length: int. Longest answer in pieces.
        version_2_with_negative: bool. SQuAD v2.0: the null answer competes.
        null_score_diff_threshold: float. v2.0: predict "" when the null
            score exceeds the best span's by more than this.

    Returns:
        SquadPredictions, questions in example order.
    """
    if len(start_logits) != len(features) or \
            len(end_logits) != len(features):
        raise ValueError(f"{len(features)} features but {len(start_logits)} "
                         f"start and {len(end_logits)} end logit rows")
    by_example = [[] for _ in examples]
    for i, feature in enumerate(features):
        by_example[feature.example_index].append(i)
    answers, nbest_json = {}, {}
    null_odds = {} if version_2_with_negative else None
    for example, rows in zip(examples, by_example):
        lengths = [len(features[i].input_word_ids) for i in rows]
        starts = [np.asarray(start_logits[i][:n], np.float64)
                  for i, n in zip(rows, lengths)]
        ends = [np.asarray(end_logits[i][:n], np.float64)
                for i, n in zip(rows, lengths)]
        nbest, null = _question_answer(
            example, [features[i] for i in rows], starts, ends, n_best_size,
            max_answer_length, version_2_with_negative)
        probabilities = _softmax([c.score for c in nbest])
        nbest_json[example.qas_id] = [
            {"text": c.text, "probability": float(p),
             "start_logit": float(c.start_logit),
             "end_logit": float(c.end_logit)}
            for c, p in zip(nbest, probabilities)]
        best_span = next((c for c in nbest if c.text), None)
        if not version_2_with_negative:
            answers[example.qas_id] = nbest[0].text
            continue
        odds = (null.score - best_span.score if best_span is not None
                else NO_SPAN_ODDS)
        null_odds[example.qas_id] = float(odds)
        answers[example.qas_id] = "" if odds > null_score_diff_threshold \
            else best_span.text
    return SquadPredictions(answers, nbest_json, null_odds)


def write_predictions(output_dir: str,
                      predictions: SquadPredictions) -> Sequence[str]:
    """Writes predictions.json, nbest_predictions.json and (v2.0)
    null_odds.json into `output_dir`, each atomically.

    Returns:
        The paths written, predictions.json first.
    """
    os.makedirs(output_dir, exist_ok=True)
    files = [(PREDICTIONS_FILE, predictions.answers),
             (NBEST_FILE, predictions.nbest)]
    if predictions.null_odds is not None:
        files.append((NULL_ODDS_FILE, predictions.null_odds))
    paths = []
    for name, value in files:
        path = os.path.join(output_dir, name)
        file_io.atomic_write(
            path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
