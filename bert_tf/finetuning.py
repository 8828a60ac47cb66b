"""Fine-tuning, as a library call: `run(FinetuningRun(...))`.

What `python -m tasks.finetune` does, for every task:

1. Weights and vocabulary from `init_checkpoint` (a bert_tf model
   directory, a google-research TF1 checkpoint or an HF BERT directory).
2. `do_train`: the task's train split through `bert_tf.training.train`
   (the one training loop of the project: any strategy, XLA, mixed
   precision, exact resume from OUTPUT_DIR/checkpoints), then the model is
   saved as a bert_tf model directory, OUTPUT_DIR/model, with the task
   description that serving needs.
3. `do_eval`: the dev split(s) predicted and scored as the task defines;
   OUTPUT_DIR/eval_results.json.
4. `do_predict`: the test split(s) predicted into the files the task's
   leaderboard expects (GLUE submission TSVs, SWAG CSV).

The task-specific parts live in one folder per task family,
bert_tf/tasks/<family>/ (text_classification, multiple_choice,
question_answering, token_classification), whose `Task` (the interface is
`bert_tf.tasks.base.Task`) `bert_tf.tasks.registry` finds by task name.
"""

import dataclasses
import json
import math
import os
from typing import Optional

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.cli import run_flags
from bert_tf import distribute
from bert_tf import errors
from bert_tf import file_io
from bert_tf.layers import encoder as encoder_lib
from bert_tf import optimization
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.question_answering import task as question_answering_task
from bert_tf.tasks import registry
from bert_tf import tokenization
from bert_tf import training
from bert_tf import zoo



@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuningRun(training.RunOptions):
    """Everything one fine-tuning run needs; each field is also a flag of
    `python -m tasks.finetune` (bert_tf/cli/run_flags.py)."""

    task: str = run_flags.required("Task to run.",
                                   choices=sorted(registry.TASKS))
    data_dir: str = run_flags.required(
        "The task's data directory, in its original layout.")
    output_dir: str = run_flags.required(
        "Model, checkpoints, metrics and predictions go here.")
    init_checkpoint: Optional[str] = run_flags.option(
        None, "Pre-trained model (bert_tf, google TF1 or HF, or a catalog "
        "name such as bert_base_uncased: python -m bert_tf.zoo list); "
        "without --do_train a fine-tuned one.")
    vocab_file: Optional[str] = run_flags.option(
        None, "vocab.txt; default: the one beside --init_checkpoint.")
    bert_config_file: Optional[str] = run_flags.option(
        None, "bert_config.json, if not beside --init_checkpoint.")
    do_lower_case: Optional[bool] = run_flags.option(
        None, "Lower-case and strip accents; default: true for uncased "
        "vocabularies, false for cased.")
    do_train: bool = run_flags.option(False, "Fine-tune on the train split.")
    do_eval: bool = run_flags.option(False, "Score the dev split(s).")
    do_predict: bool = run_flags.option(False, "Predict the test split(s).")
    max_seq_length: int = run_flags.option(
        128, "Longest packed input, special tokens included; longer "
        "sentence (pair)s are trimmed, the longer segment first; longer NER "
        "sentences are split into windows.")
    train_batch_size: int = run_flags.option(32, "Global training batch "
                                             "size.")
    eval_batch_size: int = run_flags.option(32, "Evaluation/prediction batch "
                                            "size.")
    learning_rate: float = run_flags.option(5e-5, "Peak learning rate.")
    num_train_epochs: float = run_flags.option(3.0, "Passes over the train "
                                               "split.")
    warmup_proportion: float = run_flags.option(
        0.1, "Fraction of the steps with linear warmup.")
    fixed_shapes: Optional[bool] = run_flags.option(
        None, "Pad batches to a few bucket lengths instead of each batch's "
        "longest; default: on with --jit_compile or a TPU.")
    bucket_by_length: bool = run_flags.option(
        False, "Form training batches from examples of similar length (less "
        "padding, faster) instead of a uniform shuffle; costs accuracy on "
        "some tasks (docs/finetuning.md).")
    seed: int = run_flags.option(12345, "Seed of initialisation, dropout "
                                 "and shuffling.")
    # SQuAD: windows and answer decoding (flags --max_query_length, ...).
    question_answering: question_answering_task.Options = dataclasses.field(
        default_factory=question_answering_task.Options)

    def batches_have_fixed_shapes(self):
        """Fixed shapes where recompiling per shape is costly: TPU, XLA."""
        if self.fixed_shapes is not None:
            return self.fixed_shapes
        return self.jit_compile or self.distribution_strategy == "tpu"


class FinetuningError(errors.Error):
    """A run that cannot start: what is missing and how to give it."""


def _check(run):
    if run.task not in registry.TASKS:
        raise FinetuningError(f"unknown task {run.task!r}; expected one of "
                              f"{', '.join(sorted(registry.TASKS))}")
    if not (run.do_train or run.do_eval or run.do_predict):
        raise FinetuningError("nothing to do: pass at least one of "
                              "--do_train, --do_eval, --do_predict")
    if not run.init_checkpoint:
        raise FinetuningError(
            "--init_checkpoint is required: the pre-trained model to "
            "fine-tune (or, without --do_train, the fine-tuned model)")


def _make_task(run):
    try:
        return registry.family_of_task(run.task).Task.from_run(run.task, run)
    except ValueError as e:
        raise FinetuningError(str(e)) from e


def _vocab_and_lower_case(run, checkpoint_vocab):
    vocab_file = run.vocab_file or checkpoint_vocab
    if not vocab_file:
        raise FinetuningError(f"{run.init_checkpoint}: no vocab.txt beside "
                              "the checkpoint; pass --vocab_file")
    lower_case = run.do_lower_case
    if lower_case is None:  # follow the vocabulary: cased ones keep case
        lower_case = not tokenization.vocab_is_cased(
            tokenization.load_vocab(vocab_file))
    tokenization.check_lower_case(vocab_file, lower_case,
                                  run.init_checkpoint)
    return vocab_file, lower_case


def run(run):
    """Fine-tunes, evaluates and/or predicts.

    Returns:
        (eval results {split: {metric: value}}, empty without `do_eval`;
        training history [(step, {metric: value})], empty without
        `do_train`).
    """
    _check(run)
    # First: multi-worker collectives must be set up before any TF op runs.
    strategy = distribute.get_strategy(run.distribution_strategy, run.tpu)
    # A catalog name becomes its model directory (fetched on first use).
    run = dataclasses.replace(
        run, init_checkpoint=zoo.resolve_path(run.init_checkpoint))
    task = _make_task(run)
    # A checkpoint fine-tuned elsewhere (run_classifier.py's output_weights,
    # run_squad.py's cls/squad/*) starts a new run too: its old task layer
    # is left out, with a warning naming it.
    config, weights, checkpoint_vocab, fmt = checkpoints.read_checkpoint(
        run.init_checkpoint, config_file=run.bert_config_file,
        skip_unknown=True)
    config.check_max_seq_length(run.max_seq_length)
    vocab_file, lower_case = _vocab_and_lower_case(run, checkpoint_vocab)
    tokenizer = tokenization.BertTokenizer(vocab_file, lower_case)
    keras.mixed_precision.set_global_policy(
        training.PRECISIONS[run.mixed_precision])
    keras.utils.set_random_seed(run.seed)

    history = []
    if run.do_train:
        model, history = _train(run, strategy, task, tokenizer, config,
                                weights)
        if distribute.is_chief(strategy):
            checkpoints.save_model(
                os.path.join(run.output_dir, "model"), model, vocab_file,
                source=f"fine-tuned:{run.init_checkpoint}",
                task=task.description(run.max_seq_length,
                                      lower_case).to_json())
    else:
        model = _fine_tuned_model(run, task, fmt)

    results, predicted = {}, {}
    if run.do_eval:
        for split in task.eval_splits:
            results[split], predicted[split] = _evaluate_split(
                task, tokenizer, model, run.data_dir, split,
                _batching(run, training=False), run.jit_compile)
        if distribute.is_chief(strategy):
            _write_json(os.path.join(run.output_dir, "eval_results.json"),
                        {"task": run.task, **results})
    # SQuAD writes its prediction files for the dev split it evaluates.
    if getattr(task, "eval_writes_predictions", False) and run.do_eval:
        for split, (examples, features, outputs) in predicted.items():
            if distribute.is_chief(strategy):
                task.write_predictions(run.output_dir, split, examples,
                                       features, outputs)
    if run.do_predict and distribute.is_chief(strategy):
        for split in task.test_splits:
            examples, features, outputs = predicted.get(split) or \
                _predict_split(task, tokenizer, model, run.data_dir, split,
                               _batching(run, training=False),
                               run.jit_compile)
            path = task.write_predictions(run.output_dir, split, examples,
                                          features, outputs)
            logging.info("Wrote %d predictions to %s", len(examples), path)
    return results, history


def evaluate(model_dir, data_dir, splits=None, batch_size=32,
             jit_compile=False):
    """Scores a fine-tuned model directory as `--do_eval` does.

    Args:
        model_dir: the OUTPUT_DIR/model of a fine-tuning run (any bert_tf
            model directory with a task).
        data_dir: the task's data directory, in its original layout.
        splits: split names; default the task's eval splits ("dev", MNLI's
            "dev_matched" and "dev_mismatched", CoNLL's "dev" and "test").
        batch_size: int. Examples per prediction batch.
        jit_compile: bool. XLA-compile the model.

    Returns:
        {split: {metric: value, "num_examples": n}}.
    """
    task, description = registry.task_of_model(model_dir)
    tokenizer = tokenization.BertTokenizer(
        os.path.join(model_dir, "vocab.txt"), description.lower_case)
    model = checkpoints.load_model(model_dir)
    batching = finetuning_data.BatchingConfig(
        batch_size=batch_size, max_seq_length=description.max_seq_length,
        fixed_shapes=jit_compile)
    return {split: _evaluate_split(task, tokenizer, model, data_dir, split,
                                   batching, jit_compile)[0]
            for split in splits or task.eval_splits}


def _evaluate_split(task, tokenizer, model, data_dir, split, batching,
                    jit_compile):
    """({metric: value, "num_examples"}, (examples, features, outputs))."""
    predicted = _predict_split(task, tokenizer, model, data_dir, split,
                               batching, jit_compile)
    results = task.evaluate(*predicted)
    results["num_examples"] = len(predicted[0])
    logging.info("%s %s: %s", task.name, split, results)
    return results, predicted


def _predict_split(task, tokenizer, model, data_dir, split, batching,
                   jit_compile):
    examples = task.read(data_dir, split)
    features = task.features(tokenizer, examples, batching.max_seq_length)
    dataset = task.dataset(tokenizer, features, batching)
    outputs = predict(model, dataset, len(features), jit_compile)
    return examples, features, outputs


def _batching(run, training):
    return finetuning_data.BatchingConfig(
        batch_size=run.train_batch_size if training else run.eval_batch_size,
        max_seq_length=run.max_seq_length,
        fixed_shapes=run.batches_have_fixed_shapes(),
        training=training, seed=run.seed,
        bucket_by_length=run.bucket_by_length)


def _train(run, strategy, task, tokenizer, config, weights):
    examples = task.features(tokenizer, task.read(run.data_dir, "train"),
                             run.max_seq_length)
    num_train_steps = max(1, math.ceil(
        len(examples) * run.num_train_epochs / run.train_batch_size))
    num_warmup_steps = int(num_train_steps * run.warmup_proportion)
    logging.info("%s: %d train inputs, %d steps (%d warmup)", run.task,
                 len(examples), num_train_steps, num_warmup_steps)

    def build_model():
        encoder = encoder_lib.BertEncoder(config)
        # The encoder's weights; other heads in the checkpoint (MLM, NSP,
        # another task's) are left out, the task head starts fresh.
        unused = checkpoints.assign_weights(encoder, weights,
                                            run.init_checkpoint)
        if unused:
            logging.info("Not used from %s: %s", run.init_checkpoint,
                         ", ".join(unused))
        return task.build_model(encoder)

    def dataset_fn(context, batch_size):
        # Each worker reads every num_input_pipelines-th example.
        shard = examples[context.input_pipeline_id::
                         context.num_input_pipelines]
        batching = dataclasses.replace(_batching(run, training=True),
                                       batch_size=batch_size)
        return task.dataset(tokenizer, shard, batching)

    return training.train(
        strategy, build_model,
        build_optimizer=lambda: optimization.create_optimizer(
            run.optimizer, run.learning_rate, num_train_steps,
            num_warmup_steps),
        loss_fn=task.loss_fn,
        dataset_fn=dataset_fn,
        config=training.TrainingConfig(
            output_dir=run.output_dir,
            num_train_steps=num_train_steps,
            global_batch_size=run.train_batch_size,
            save_checkpoints_steps=run.save_checkpoints_steps,
            log_steps=min(run.log_steps, num_train_steps),
            jit_compile=run.jit_compile))


def _fine_tuned_model(run, task, fmt):
    """Without --do_train the model to evaluate is a fine-tuned one."""
    description = checkpoints.read_model_description(run.init_checkpoint) \
        if fmt == "bert_tf" else {}
    trained_task = (description.get("task") or {}).get("name")
    accepted = task.accepted_models or (task.name,)
    if trained_task not in accepted:
        raise FinetuningError(
            f"{run.init_checkpoint}: without --do_train, --init_checkpoint "
            f"must be a model fine-tuned for {' or '.join(accepted)} "
            f"(the OUTPUT_DIR/"
            f"model of a --do_train run); this one is "
            f"{'for ' + trained_task if trained_task else 'not fine-tuned'}")
    return checkpoints.load_model(run.init_checkpoint)


def predict(model, dataset, num_examples, jit_compile=False):
    """The model's float32 outputs for every example, in input order."""
    input_names = list(model.input.keys())
    # Batches vary in length (and the last in size): one trace for all.
    signature = {k: dataset.element_spec[k] for k in input_names}

    @tf.function(jit_compile=jit_compile, input_signature=[signature])
    def forward(features):
        return model({k: features[k] for k in input_names}, training=False)

    indices, outputs = [], {}
    for features in dataset:
        indices.append(features["example_index"].numpy())
        inputs = {k: features[k] for k in input_names}
        for name, value in forward(inputs).items():
            outputs.setdefault(name, []).append(
                np.asarray(value, dtype=np.float32))
    return {name: finetuning_data.restore_order(indices, values,
                                                num_examples)
            for name, values in outputs.items()}


def _write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    file_io.atomic_write(path, json.dumps(value, indent=2, sort_keys=True)
                         + "\n")
