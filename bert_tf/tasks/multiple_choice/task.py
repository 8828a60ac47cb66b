"""SWAG fine-tuning: multiple choice over four endings.

Each example is packed four times, `[CLS] context [SEP] start ending [SEP]`
(one per choice); `BertMultipleChoice` scores each with a one-output head
on the pooled vector and the softmax runs across the four. Loss:
cross-entropy over the choices; metric: accuracy. Predictions: a CSV with
each ending's probability and the chosen one (`swag_predictions.csv`).
"""

import dataclasses
import os

import numpy as np

from bert_tf import errors
from bert_tf import losses
from bert_tf import models
from bert_tf.tasks import base
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.multiple_choice import data as swag_data
from bert_tf.tasks.text_classification import metrics

TASK_NAMES = ("swag",)
PREDICTIONS_FILE = "swag_predictions.csv"


@dataclasses.dataclass(frozen=True)
class Description(base.TaskDescription):
    """A SWAG model's task: `num_choices` endings per example."""

    num_choices: int = swag_data.NUM_CHOICES


class Task(base.Task):
    """SWAG as fine-tuning needs it (see bert_tf/finetuning.py)."""

    name = "swag"
    eval_splits = ("dev",)
    test_splits = ("test",)
    accepted_models = ("swag",)
    loss_fn = staticmethod(losses.classification_loss)

    def __init__(self, name="swag"):
        del name  # one task in this family

    def read(self, data_dir, split):
        examples = swag_data.read_split(data_dir, split)
        if not examples:
            raise errors.DataError(
                f"{os.path.join(data_dir, swag_data.FILES[split])}: "
                f"no examples")
        return examples

    def features(self, tokenizer, examples, max_seq_length):
        """Examples are tokenized in the tf.data pipeline: one input each."""
        del tokenizer, max_seq_length
        return examples

    def dataset(self, tokenizer, examples, batching):
        return finetuning_data.multiple_choice_dataset(
            tokenizer, [e.context for e in examples],
            [e.choices for e in examples],
            [e.label if e.label is not None else 0 for e in examples],
            batching)

    def build_model(self, encoder):
        return models.BertMultipleChoice(encoder,
                                         num_choices=swag_data.NUM_CHOICES)

    def evaluate(self, examples, features, outputs):
        del features  # the examples themselves
        return {"accuracy": metrics.accuracy(
            [e.label for e in examples],
            np.argmax(outputs["logits"], axis=-1))}

    def write_predictions(self, output_dir, split, examples, features,
                          outputs):
        del features
        logits = outputs["logits"]
        probabilities = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        path = os.path.join(output_dir, PREDICTIONS_FILE)
        swag_data.write_predictions(path, examples, probabilities)
        return path

    def description(self, max_seq_length, lower_case):
        return Description(name=self.name, family="multiple_choice",
                           max_seq_length=max_seq_length,
                           lower_case=lower_case,
                           num_choices=swag_data.NUM_CHOICES)
