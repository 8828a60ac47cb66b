"""What every task family provides: the `Task` the fine-tuning runner
drives, and the typed `TaskDescription` a fine-tuned model keeps.

A family folder's task.py subclasses both; bert_tf/tasks/registry.py lists
the family; docs/adding_a_task.md walks through adding one.
"""

import abc
import dataclasses
import typing

import keras

from bert_tf import errors
from bert_tf.layers import encoder as encoder_lib


@dataclasses.dataclass(frozen=True)
class TaskDescription:
    """What a fine-tuned model directory keeps about its task
    (bert_tf_model.json, "task"): everything its export needs to build the
    serving module. A family adds its own fields; a field whose type is a
    dataclass (an options group) is stored flat, its fields beside the
    others.

    Args:
        name: str. The task (`--task`), e.g. "mrpc".
        family: str. The family folder's name, e.g. "text_classification".
        max_seq_length: int. The packed length the model was trained at.
        lower_case: bool. Whether the tokenizer lower-cases.

        >>> description = TaskDescription("mrpc", "text_classification",
        ...                               128, True)
        >>> description.to_json()
        {'name': 'mrpc', 'family': 'text_classification', \
'max_seq_length': 128, 'lower_case': True}
        >>> TaskDescription.from_json(description.to_json(), "here")
        TaskDescription(name='mrpc', family='text_classification', \
max_seq_length=128, lower_case=True)
        >>> TaskDescription.from_json({"name": "mrpc"}, "model.json")
        Traceback (most recent call last):
        ...
        bert_tf.errors.Error: model.json: the task description has no 'family'
    """

    name: str
    family: str
    max_seq_length: int
    lower_case: bool

    def to_json(self):
        """A flat dict of JSON values (tuples as lists)."""
        return _flat_values(self)

    @classmethod
    def from_json(cls, value, where):
        """The description stored as `value` (a dict) at `where` (for
        errors); a field it lacks takes its default (a model directory
        written before the field existed), or is an error if it has none."""
        if not isinstance(value, dict):
            raise errors.Error(f"{where}: the task description is "
                               f"{type(value).__name__}, not an object")
        return _from_flat(cls, value, where)


def _flat_values(instance):
    values = {}
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if dataclasses.is_dataclass(value):
            values.update(_flat_values(value))
        else:
            values[field.name] = list(value) if isinstance(value, tuple) \
                else value
    return values


def _from_flat(cls, value, where):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            kwargs[field.name] = _from_flat(kind, value, where)
        elif field.name in value:
            item = value[field.name]
            kwargs[field.name] = tuple(item) if isinstance(item, list) \
                else item
        elif (field.default is dataclasses.MISSING
              and field.default_factory is dataclasses.MISSING):
            raise errors.Error(f"{where}: the task description has no "
                               f"{field.name!r}")
    return cls(**kwargs)


class Task(abc.ABC):
    """One task of a family, as `bert_tf.finetuning.run` drives it.

    The runner reads a split, turns its examples into model inputs
    (`features`: one or more per example, e.g. SQuAD's windows), batches
    them (`dataset`), trains `build_model(encoder)` with `loss_fn`, predicts
    every feature and hands the outputs back in `features` order to
    `evaluate` and `write_predictions`. `outputs` are numpy arrays by output
    name; per-token outputs are zero-padded to the longest batch.

    Attributes:
        name: str. The task name (`--task`).
        eval_splits: split names scored by --do_eval.
        test_splits: split names predicted by --do_predict.
        accepted_models: task names whose fine-tuned models this task
            evaluates or predicts with; None: its own (AX: an MNLI
            model).
        eval_writes_predictions: bool. --do_eval writes the prediction files
            of what it scores too (SQuAD).
    """

    name: str
    eval_splits: tuple = ("dev",)
    test_splits: tuple = ("test",)
    accepted_models: tuple = None
    eval_writes_predictions = False
    # Keras fit / evaluate (`keras_dataset`): model output -> the feature
    # holding its target; the feature weighing the targets, if any.
    keras_targets = {"logits": "label"}
    keras_sample_weight = None

    @classmethod
    def from_run(cls, name, run):
        """The task named `name` with the options of `run` (a
        `FinetuningRun`) it needs; raises ValueError naming the flag of an
        option it cannot work with."""
        del run  # most families have no options
        return cls(name)

    @classmethod
    def from_description(cls, description):
        """The task a fine-tuned model was trained for, with the options
        its `TaskDescription` kept."""
        return cls(description.name)

    @abc.abstractmethod
    def loss_fn(self, features, outputs):
        """(loss, {metric: (sum, count)}) of a batch: the loss averaged over
        the replica's examples, metrics as sums the training loop adds up
        across replicas and steps (bert_tf/losses.py has the shared ones;
        a family's own goes in its task.py)."""

    @abc.abstractmethod
    def read(self, data_dir, split):
        """The examples of `split` from its file(s) under `data_dir`."""

    @abc.abstractmethod
    def features(self, tokenizer, examples, max_seq_length):
        """Model inputs of the examples: one or more per example, or the
        examples themselves when the dataset tokenizes."""

    @abc.abstractmethod
    def dataset(self, tokenizer, features, batching):
        """tf.data of batches (`bert_tf.tasks.datasets.BatchingConfig`),
        each with `example_index`, the feature's position in `features`."""

    @abc.abstractmethod
    def build_model(self, encoder):
        """The task model: `encoder` plus this family's head."""

    @abc.abstractmethod
    def evaluate(self, examples, features, outputs):
        """{metric: value} of the predictions against the examples' gold."""

    @abc.abstractmethod
    def write_predictions(self, output_dir, split, examples, features,
                          outputs):
        """Writes the predictions in the file layout the task's
        leaderboard or scorer reads; returns the (first) path."""

    @abc.abstractmethod
    def description(self, max_seq_length, lower_case):
        """The `TaskDescription` kept with the fine-tuned model."""

    def keras_dataset(self, tokenizer, features, batching):
        """`dataset` as Keras' `Model.fit` and `Model.evaluate` take it:
        (model inputs, {output: target}[, {output: weight}]) batches, for
        the model `build_model` gives, compiled with `keras_compile_args`.
        """
        targets, weight = self.keras_targets, self.keras_sample_weight

        def split(batch):
            inputs = {name: batch[name] for name in encoder_lib.INPUT_NAMES}
            labels = {output: batch[name] for output, name in targets.items()}
            if weight is None:
                return inputs, labels
            return inputs, labels, {output: batch[weight]
                                    for output in targets}

        return self.dataset(tokenizer, features, batching).map(split)

    def keras_compile_args(self):
        """`Model.compile` arguments (loss, loss_weights, metrics) with which
        Keras minimises what `loss_fn` does: here cross-entropy on the
        logits, averaged over the examples (or over the weighted targets),
        and accuracy."""
        def loss():
            return keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, reduction="mean_with_sample_weight"
                if self.keras_sample_weight else "sum_over_batch_size")

        metrics = {output: [keras.metrics.SparseCategoricalAccuracy(
            name="accuracy")] for output in self.keras_targets}
        weights = 1.0 / len(self.keras_targets)
        return {"loss": {output: loss() for output in self.keras_targets},
                "loss_weights": {output: weights
                                 for output in self.keras_targets},
                ("weighted_metrics" if self.keras_sample_weight
                 else "metrics"): metrics}

