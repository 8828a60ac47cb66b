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
question_answering, token_classification), whose `task` module
`bert_tf.tasks.registry` finds by task name. Each has a
`Task(name)` class with:

    eval_splits, test_splits   split names for --do_eval / --do_predict
    accepted_models            task names whose fine-tuned models it uses
    loss_fn(features, outputs) -> (loss, {metric: (sum, count)})
    read(data_dir, split) -> examples
    features(tokenizer, examples, max_seq_length) -> model inputs, one or
        more per example (SQuAD windows), or the examples themselves
    dataset(tokenizer, features, batching) -> tf.data of batches, each
        with `example_index` (position in `features`)
    build_model(encoder) -> keras.Model
    evaluate(examples, features, outputs) -> {metric: value}
    write_predictions(output_dir, split, examples, features, outputs)
        -> path
    description(max_seq_length, lower_case) -> dict kept with the model

`outputs` are the model's outputs for every feature, in `features` order
(numpy; per-token outputs zero-padded to the longest batch).
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
from bert_tf import distribute
from bert_tf import errors
from bert_tf import file_io
from bert_tf.layers import encoder as encoder_lib
from bert_tf import optimization
from bert_tf.tasks import datasets as finetuning_data
from bert_tf.tasks.question_answering import task as question_answering
from bert_tf.tasks import registry
from bert_tf import tokenization
from bert_tf import training



@dataclasses.dataclass(frozen=True)
class FinetuningRun:
    """Everything one fine-tuning run needs (see tasks/finetune.py flags)."""

    task: str
    data_dir: str
    output_dir: str
    init_checkpoint: str
    vocab_file: Optional[str] = None
    bert_config_file: Optional[str] = None
    do_lower_case: Optional[bool] = None
    do_train: bool = False
    do_eval: bool = False
    do_predict: bool = False
    max_seq_length: int = 128
    train_batch_size: int = 32
    eval_batch_size: int = 32
    learning_rate: float = 5e-5
    num_train_epochs: float = 3.0
    warmup_proportion: float = 0.1
    optimizer: str = "adamw"
    save_checkpoints_steps: int = 1000
    log_steps: int = 100
    distribution_strategy: str = "default"
    tpu: Optional[str] = None
    jit_compile: bool = False
    mixed_precision: str = "fp32"
    fixed_shapes: Optional[bool] = None
    bucket_by_length: bool = False
    seed: int = 12345
    # SQuAD only.
    max_query_length: int = 64
    doc_stride: int = 128
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0

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
    family = registry.family_of_task(run.task)
    if family is not question_answering:
        return family.Task(run.task)
    task = question_answering.Task(run.task, max_query_length=run.max_query_length,
                      doc_stride=run.doc_stride, n_best_size=run.n_best_size,
                      max_answer_length=run.max_answer_length,
                      null_score_diff_threshold=run.null_score_diff_threshold)
    try:
        task.check_lengths(run.max_seq_length)
    except ValueError as e:
        raise FinetuningError(str(e)) from e
    return task


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
                task=task.description(run.max_seq_length, lower_case))
    else:
        model = _fine_tuned_model(run, task, fmt)

    results, predicted = {}, {}
    if run.do_eval:
        for split in task.eval_splits:
            examples, features, outputs = _predict_split(
                run, task, tokenizer, model, split)
            predicted[split] = examples, features, outputs
            results[split] = task.evaluate(examples, features, outputs)
            results[split]["num_examples"] = len(examples)
            logging.info("%s %s: %s", run.task, split, results[split])
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
                _predict_split(run, task, tokenizer, model, split)
            path = task.write_predictions(run.output_dir, split, examples,
                                          features, outputs)
            logging.info("Wrote %d predictions to %s", len(examples), path)
    return results, history


def _predict_split(run, task, tokenizer, model, split):
    examples = task.read(run.data_dir, split)
    features = task.features(tokenizer, examples, run.max_seq_length)
    dataset = task.dataset(tokenizer, features,
                           _batching(run, training=False))
    outputs = predict(model, dataset, len(features), run.jit_compile)
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
    if trained_task not in task.accepted_models:
        raise FinetuningError(
            f"{run.init_checkpoint}: without --do_train, --init_checkpoint "
            f"must be a model fine-tuned for {run.task} (the OUTPUT_DIR/"
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
