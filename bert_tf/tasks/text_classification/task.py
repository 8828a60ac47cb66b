"""GLUE fine-tuning: sentence (pair) classification and STS-B regression.

One `Task` class serves every GLUE task; what differs between tasks is
one entry of plain data in `data.TASKS` (files, columns, labels, the metric
group of `metrics.METRICS`). The head is `BertClassifier` on the pooled
[CLS] vector: C classes with cross-entropy, or one output with squared
error for STS-B. AX (the diagnostic set) has only a test split and is
predicted with an MNLI model: `--task=ax --do_predict
--init_checkpoint=MNLI_OUTPUT_DIR/model`.
"""

import dataclasses
import os
from typing import Optional

import keras
import numpy as np

from bert_tf import losses
from bert_tf import models
from bert_tf.tasks import base
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.text_classification import data as glue_data
from bert_tf.tasks.text_classification import metrics

TASK_NAMES = tuple(glue_data.TASKS)


@dataclasses.dataclass(frozen=True)
class Description(base.TaskDescription):
    """A GLUE model's task.

    Args:
        labels: the class names in logit order; None for regression (STS-B).
        is_pair: bool. Two input texts (`text_a`, `text_b`) or one.
    """

    labels: Optional[tuple] = None
    is_pair: bool = False


class Task(base.Task):
    """A GLUE task as fine-tuning needs it (see bert_tf/finetuning.py)."""

    def __init__(self, name):
        self.spec = glue_data.TASKS[name]
        self.name = name
        self.eval_splits = self.spec.eval_splits
        self.test_splits = self.spec.test_splits
        # Fine-tuned models this task evaluates or predicts with.
        self.accepted_models = ("mnli",) if name == "ax" else (name,)

    def keras_compile_args(self):
        if not self.spec.is_regression:
            return super().keras_compile_args()
        return {"loss": {"logits": keras.losses.MeanSquaredError()}}

    def loss_fn(self, features, outputs):
        if self.spec.is_regression:
            return losses.regression_loss(features, outputs)
        return losses.classification_loss(features, outputs)

    @property
    def num_outputs(self):
        return 1 if self.spec.is_regression else len(self.spec.labels)

    def read(self, data_dir, split):
        if split == "train" and self.spec.train_columns is None:
            raise glue_data.DataError(
                f"{data_dir}: task {self.name} has no train split; it is "
                f"predicted with a model fine-tuned on "
                f"{', '.join(self.accepted_models)}")
        examples = glue_data.read_split(self.spec, data_dir, split)
        if not examples:
            raise glue_data.DataError(
                f"{os.path.join(data_dir, self.spec.files()[split])}: "
                f"no examples")
        return examples

    def label_values(self, examples):
        """Class ids (float scores for STS-B); 0 for unlabelled rows."""
        if self.spec.is_regression:
            return np.asarray([e.label if e.label is not None else 0.0
                               for e in examples], np.float32)
        ids = {label: i for i, label in enumerate(self.spec.labels)}
        return np.asarray([ids[e.label] if e.label is not None else 0
                           for e in examples], np.int32)

    def features(self, tokenizer, examples, max_seq_length):
        """Examples are tokenized in the tf.data pipeline: one input each."""
        del tokenizer, max_seq_length
        return examples

    def dataset(self, tokenizer, examples, batching):
        texts_b = [e.text_b for e in examples] if self.spec.is_pair \
            else None
        return finetuning_data.classification_dataset(
            tokenizer, [e.text_a for e in examples], texts_b,
            self.label_values(examples), batching)

    def build_model(self, encoder):
        return models.BertClassifier(encoder, num_classes=self.num_outputs)

    def predictions(self, outputs):
        """Class ids [N] or scores [N] from the model's outputs."""
        logits = outputs["logits"]
        if self.spec.is_regression:
            return logits[:, 0]
        return np.argmax(logits, axis=-1)

    def evaluate(self, examples, features, outputs):
        del features  # the examples themselves
        return metrics.task_metrics(self.metric_name(),
                                    self.label_values(examples),
                                    self.predictions(outputs))

    def metric_name(self):
        return "mnli" if self.name == "ax" else self.name

    def write_predictions(self, output_dir, split, examples, features,
                          outputs):
        del features
        path = os.path.join(output_dir, self.spec.submission_file(split))
        glue_data.write_submission(path, self.spec, examples,
                                   self.predictions(outputs).tolist())
        return path

    def description(self, max_seq_length, lower_case):
        """What an export needs to serve the model (bert_tf_model.json)."""
        return Description(name=self.name, family="text_classification",
                           max_seq_length=max_seq_length,
                           lower_case=lower_case,
                           labels=self.spec.labels, is_pair=self.spec.is_pair)
