"""SQuAD fine-tuning: extractive question answering (v1.1 and v2.0).

Tasks `squad` (DATA_DIR/train-v1.1.json, dev-v1.1.json) and `squad_v2`
(train-v2.0.json, dev-v2.0.json). Each question is packed with windows of
its paragraph, `[CLS] question [SEP] window [SEP]` (`--max_query_length`,
`--doc_stride`; see bert_tf/tasks/question_answering/features.py); `BertSpanLabeler`
gives start and end logits per piece; the loss is the mean of the start and
end cross-entropies (`bert_tf.losses.span_loss`). Answers are decoded as the
original run_squad.py does (`--n_best_size`, `--max_answer_length`, v2.0's
`--null_score_diff_threshold`; see bert_tf/tasks/question_answering/postprocessing.py) and
scored with the official EM/F1 (bert_tf/tasks/question_answering/metrics.py).

Splits: SQuAD's test set is hidden; its leaderboard runs a model on files in
the dev layout. So `--do_eval` scores dev (exact_match and f1 for v1.1;
exact, f1, HasAns_*, NoAns_* and best_* for v2.0, percentages as the
official scripts print), and `--do_predict` predicts dev (or any file put in
its place) into OUTPUT_DIR/predictions.json ({id: text}),
nbest_predictions.json and, for v2.0, null_odds.json (what
`python -m tasks.squad_eval` and the official scripts read:
`--na_prob_file null_odds.json`). v2.0's `best_f1_thresh` is the
`--null_score_diff_threshold` that would have scored best on dev.

Training data: answers whose `answer_start` does not match their text are
never trained on, and a question left without a usable answer is dropped
(counted in a warning); impossible questions (v2.0) train on [CLS].
"""

import os

from absl import logging
import numpy as np

from bert_tf import errors
from bert_tf import losses
from bert_tf import models
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.question_answering import data as squad_data
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks.question_answering import metrics as squad_metrics
from bert_tf.tasks.question_answering import postprocessing as squad_postprocessing

TASK_NAMES = ("squad", "squad_v2")
_VERSIONS = {"squad": "v1.1", "squad_v2": "v2.0"}


class Task:
    """SQuAD v1.1 or v2.0 as fine-tuning needs it (see bert_tf/finetuning.py).

    Args:
        name: str. "squad" (v1.1) or "squad_v2" (v2.0).
        max_query_length: int. Question pieces kept.
        doc_stride: int. Pieces between the starts of two context windows.
        n_best_size: int. Candidate starts/ends per window and answers kept
            per question (nbest_predictions.json).
        max_answer_length: int. Longest answer, in pieces.
        null_score_diff_threshold: float. v2.0: answer "" when the null
            score exceeds the best span's by more than this.
    """

    eval_splits = ("dev",)
    test_splits = ("dev",)  # the leaderboard predicts dev-layout files
    # --do_eval writes the prediction files of what it scores, too.
    eval_writes_predictions = True
    loss_fn = staticmethod(losses.span_loss)

    def __init__(self, name="squad", max_query_length=64, doc_stride=128,
                 n_best_size=20, max_answer_length=30,
                 null_score_diff_threshold=0.0):
        if name not in _VERSIONS:
            raise ValueError(f"unknown SQuAD task {name!r}; expected one of "
                             f"{', '.join(TASK_NAMES)}")
        self.name = name
        self.version = _VERSIONS[name]
        self.version_2_with_negative = name == "squad_v2"
        self.accepted_models = (name,)
        self.max_query_length = max_query_length
        self.doc_stride = doc_stride
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = null_score_diff_threshold

    def check_lengths(self, max_seq_length):
        """Raises ValueError (naming the flags) if `max_seq_length` leaves
        no room for context after the question; `features` checks too."""
        squad_features.check_lengths(max_seq_length, self.max_query_length,
                                     self.doc_stride)

    def read(self, data_dir, split):
        examples = squad_data.read_split(data_dir, split, self.version)
        path = os.path.join(data_dir,
                            squad_data.FILES[self.version][split])
        if not examples:
            raise errors.DataError(f"{path}: no questions")
        impossible = next((e for e in examples if e.is_impossible), None)
        if impossible is not None and not self.version_2_with_negative:
            raise errors.DataError(
                f"{impossible.where}: an impossible question (SQuAD v2.0); "
                f"use --task=squad_v2")
        if split == "train":
            examples, dropped = squad_data.trainable_examples(examples)
            if dropped:
                logging.warning("%s: %d questions without a usable answer "
                                "are not trained on", path, dropped)
            if not examples:
                raise errors.DataError(f"{path}: no question with a "
                                          "usable answer to train on")
        return examples

    def features(self, tokenizer, examples, max_seq_length):
        """Packed windows: one or more per example (SquadFeature)."""
        return squad_features.create_features(
            tokenizer, examples, max_seq_length, self.max_query_length,
            self.doc_stride)

    def dataset(self, tokenizer, features, batching):
        sequences = {
            "input_word_ids": [f.input_word_ids for f in features],
            "input_type_ids": [f.input_type_ids for f in features]}
        scalars = {
            "start_positions": np.asarray(
                [f.start_position for f in features], np.int32),
            "end_positions": np.asarray(
                [f.end_position for f in features], np.int32)}
        return finetuning_data.pretokenized_dataset(
            sequences, scalars, batching, tokenizer.pad_id)

    def build_model(self, encoder):
        return models.BertSpanLabeler(encoder)

    def predictions(self, examples, features, outputs):
        """SquadPredictions from the model's outputs, in features order."""
        return squad_postprocessing.predict_answers(
            examples, features, outputs["start_logits"],
            outputs["end_logits"], self.n_best_size, self.max_answer_length,
            self.version_2_with_negative, self.null_score_diff_threshold)

    def evaluate(self, examples, features, outputs):
        """v1.1: exact_match, f1; v2.0: exact, f1, HasAns_*, NoAns_*,
        best_* (percent, as the official scripts)."""
        predicted = self.predictions(examples, features, outputs)
        gold = {e.qas_id: [a.text for a in e.answers] for e in examples}
        if not self.version_2_with_negative:
            unanswered = next((e for e in examples if not e.answers), None)
            if unanswered is not None:
                raise errors.DataError(
                    f"{unanswered.where}: no answers to score against")
            return squad_metrics.evaluate_v1(gold, predicted.answers)
        return squad_metrics.evaluate_v2(gold, predicted.answers,
                                         na_probs=predicted.null_odds)

    def write_predictions(self, output_dir, split, examples, features,
                          outputs):
        del split  # one split: dev (or a file in its place)
        paths = squad_postprocessing.write_predictions(
            output_dir, self.predictions(examples, features, outputs))
        return paths[0]

    def description(self, max_seq_length, lower_case):
        """What an export needs to serve the model (bert_tf_model.json)."""
        return {"name": self.name, "family": "question_answering",
                "version_2_with_negative": self.version_2_with_negative,
                "max_seq_length": max_seq_length,
                "max_query_length": self.max_query_length,
                "doc_stride": self.doc_stride,
                "max_answer_length": self.max_answer_length,
                "n_best_size": self.n_best_size,
                "null_score_diff_threshold":
                    self.null_score_diff_threshold,
                "lower_case": lower_case}
