"""SQuAD fine-tuning: extractive question answering (v1.1 and v2.0).

Tasks `squad` (DATA_DIR/train-v1.1.json, dev-v1.1.json) and `squad_v2`
(train-v2.0.json, dev-v2.0.json). Each question is packed with windows of
its paragraph, `[CLS] question [SEP] window [SEP]` (`--max_query_length`,
`--doc_stride`; see features.py); `BertSpanLabeler`
gives start and end logits per piece; the loss is the mean of the start and
end cross-entropies (`bert_tf.losses.span_loss`). Answers are decoded as the
original run_squad.py does (`--n_best_size`, `--max_answer_length`, v2.0's
`--null_score_diff_threshold`; see postprocessing.py) and
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

import dataclasses
import os

from absl import logging
import numpy as np

from bert_tf.cli import run_flags
from bert_tf import errors
from bert_tf import losses
from bert_tf import models
from bert_tf.tasks import base
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.question_answering import data as squad_data
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks.question_answering import metrics as squad_metrics
from bert_tf.tasks.question_answering import postprocessing as squad_postprocessing

TASK_NAMES = ("squad", "squad_v2")
_VERSIONS = {"squad": "v1.1", "squad_v2": "v2.0"}


@dataclasses.dataclass(frozen=True)
class Options:
    """How questions are windowed and answers decoded; each a flag of
    `python -m tasks.finetune` and kept in the model's description, so the
    export decodes as evaluation did."""

    max_query_length: int = run_flags.option(
        64, "SQuAD: question pieces kept.")
    doc_stride: int = run_flags.option(
        128, "SQuAD: pieces between the starts of two windows over a long "
        "context.")
    n_best_size: int = run_flags.option(
        20, "SQuAD: candidate starts/ends per window, answers in "
        "nbest_predictions.json.")
    max_answer_length: int = run_flags.option(
        30, "SQuAD: longest answer in pieces.")
    null_score_diff_threshold: float = run_flags.option(
        0.0, "SQuAD v2.0: predict no answer when the null score beats the "
        "best span by more (use the best_f1_thresh of an earlier "
        "evaluation).")


@dataclasses.dataclass(frozen=True)
class Description(base.TaskDescription):
    """A SQuAD model's task: the version and the `Options` it was
    evaluated with (stored flat, beside the other fields; a model directory
    written before a field existed gets its default).

        >>> old = {"name": "squad", "family": "question_answering",
        ...        "max_seq_length": 384, "lower_case": True,
        ...        "doc_stride": 96}
        >>> Description.from_json(old, "bert_tf_model.json").options
        Options(max_query_length=64, doc_stride=96, n_best_size=20, \
max_answer_length=30, null_score_diff_threshold=0.0)
    """

    version_2_with_negative: bool = False
    options: Options = Options()


class Task(base.Task):
    """SQuAD v1.1 or v2.0 as fine-tuning needs it (see bert_tf/finetuning.py).

    Args:
        name: str. "squad" (v1.1) or "squad_v2" (v2.0).
        options: `Options`.
    """

    eval_splits = ("dev",)
    test_splits = ("dev",)  # the leaderboard predicts dev-layout files
    # --do_eval writes the prediction files of what it scores, too.
    eval_writes_predictions = True
    loss_fn = staticmethod(losses.span_loss)
    keras_targets = {"start_logits": "start_positions",
                     "end_logits": "end_positions"}

    def __init__(self, name="squad", options=Options()):
        if name not in _VERSIONS:
            raise ValueError(f"unknown SQuAD task {name!r}; expected one of "
                             f"{', '.join(TASK_NAMES)}")
        self.name = name
        self.version = _VERSIONS[name]
        self.version_2_with_negative = name == "squad_v2"
        self.accepted_models = (name,)
        self.options = options

    @classmethod
    def from_run(cls, name, run):
        task = cls(name, run.question_answering)
        task.check_lengths(run.max_seq_length)
        return task

    @classmethod
    def from_description(cls, description):
        return cls(description.name, description.options)

    def check_lengths(self, max_seq_length):
        """Raises ValueError (naming the flags) if `max_seq_length` leaves
        no room for context after the question; `features` checks too."""
        squad_features.check_lengths(max_seq_length,
                                     self.options.max_query_length,
                                     self.options.doc_stride)

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
            tokenizer, examples, max_seq_length,
            self.options.max_query_length, self.options.doc_stride)

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
            outputs["end_logits"], self.options.n_best_size,
            self.options.max_answer_length, self.version_2_with_negative,
            self.options.null_score_diff_threshold)

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
        return Description(
            name=self.name, family="question_answering",
            max_seq_length=max_seq_length, lower_case=lower_case,
            version_2_with_negative=self.version_2_with_negative,
            options=self.options)
