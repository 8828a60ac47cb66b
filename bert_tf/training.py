"""One training loop for every strategy, readable top to bottom.

Keras 3.15's `model.fit` fails under MultiWorkerMirroredStrategy ("Attempt
to convert a value (PerReplica...) to a Tensor"), so bert_tf trains with a
small custom loop around `strategy.run`, the same on one CPU, several GPUs,
several machines (TF_CONFIG) and TPUs:

1. Build model and optimizer in the strategy's scope; distribute the input.
2. Restore the latest checkpoint of `output_dir` if there is one: model,
   optimizer (its step counter included) and the input iterator's position,
   so a resumed run continues exactly where the interrupted one stopped.
3. Per step, on every replica: forward and backward (XLA-compiled with
   `jit_compile`); gradients summed across replicas, clipped to global norm
   1.0, applied. Loss scaling with float16: a step whose gradients
   overflow is skipped (the scale halved) and not counted.
4. Every `log_steps`: losses, metrics, steps/s, examples/s, ETA to the
   console and TensorBoard; every `save_checkpoints_steps`: a checkpoint.
"""

import dataclasses
import os
import time
from typing import Optional

from absl import logging
import keras
import tensorflow as tf

from bert_tf import distribute
from bert_tf import errors
from bert_tf import optimization
from bert_tf.cli import run_flags


# --mixed_precision values -> Keras dtype policies.
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16",
              "fp16": "mixed_float16"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How a run trains, whatever it trains: the options pre-training and
    fine-tuning share (the fields, and flags, of both runs)."""

    optimizer: str = run_flags.option(
        "adamw", "adamw (Adam with bias correction and decoupled weight "
        "decay), adam_weight_decay (google-research/bert's: no bias "
        "correction) or lamb (a per-layer trust ratio, for large batches); "
        "docs/finetuning.md, docs/pretraining.md.",
        choices=optimization.OPTIMIZERS)
    save_checkpoints_steps: int = run_flags.option(
        1000, "Steps between checkpoints.")
    log_steps: int = run_flags.option(100, "Steps between log lines.")
    distribution_strategy: str = run_flags.option(
        "default", "tf.distribute strategy.", choices=distribute.STRATEGIES)
    tpu: Optional[str] = run_flags.option(
        None, "TPU name or address (with --distribution_strategy=tpu).")
    jit_compile: bool = run_flags.option(False, "XLA-compile the model "
                                         "steps.")
    mixed_precision: str = run_flags.option(
        "fp32", "fp32, bf16 (mixed bfloat16) or fp16 (with loss scaling).",
        choices=PRECISIONS)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """How long and how to train.

    Args:
        output_dir: str. Checkpoints and TensorBoard summaries go here.
        num_train_steps: int. Optimizer steps in all (a resumed run counts
            the steps already done).
        global_batch_size: int. Examples per step across all replicas.
        save_checkpoints_steps: int. Steps between checkpoints.
        log_steps: int. Steps between log lines and summaries.
        jit_compile: bool. XLA-compile the forward and backward pass.
        max_grad_norm: float. Global-norm clipping threshold.
        keep_checkpoints: int. Checkpoints kept in `output_dir/checkpoints`.
    """

    output_dir: str
    num_train_steps: int
    global_batch_size: int
    save_checkpoints_steps: int = 1000
    log_steps: int = 100
    jit_compile: bool = False
    max_grad_norm: float = 1.0
    keep_checkpoints: int = 3


CheckpointRestoreError = errors.CheckpointRestoreError


def _restore_newest_readable(checkpoint, paths):
    """Restores the newest of `paths` that reads back whole.

    A checkpoint whose files are truncated or corrupted (a crash while it
    was written, a bad disk) is skipped with a warning naming it: the run
    resumes from the one before, which the manager keeps
    (`keep_checkpoints`). Every variable is assigned again by the next
    restore, so a partial read leaves nothing behind.
    """
    failures = []
    for path in reversed(paths):
        try:
            checkpoint.restore(path).assert_consumed()
        except (tf.errors.OpError, IndexError, ValueError,
                AssertionError) as e:
            reason = str(e).strip().splitlines()[0][:300]
            logging.warning("Cannot read checkpoint %s (%s: %s); trying the "
                            "one before it", path, type(e).__name__, reason)
            failures.append(f"{path}: {type(e).__name__}: {reason}")
            continue
        logging.info("Restored %s", path)
        return path
    if failures:
        raise CheckpointRestoreError(
            "no checkpoint could be read back:\n  " + "\n  ".join(failures)
            + "\nremove them (or use a new output directory) to start over")
    return None


def _checkpoint_dir(strategy, output_dir):
    # Every worker writes a multi-worker checkpoint (saving is a collective
    # operation); the chief's is the one to resume from, the others' stay
    # beside it for inspection (their variables are mirrored copies).
    if distribute.is_chief(strategy):
        return os.path.join(output_dir, "checkpoints")
    resolver = strategy.cluster_resolver
    return os.path.join(output_dir, "worker_checkpoints",
                        f"{resolver.task_type}_{resolver.task_id}")


def train(strategy, build_model, build_optimizer, loss_fn, dataset_fn,
          config):
    """Trains; returns the model and the logged metrics, a list of
    (step, {name: value averaged since the previous log, and
    "steps_per_second"}).

    Args:
        strategy: a `tf.distribute.Strategy`.
        build_model: () -> keras.Model, called in the strategy's scope.
        build_optimizer: () -> keras optimizer, called in the scope.
        loss_fn: (features, outputs) -> (scalar loss, {name: (sum, count)}):
            the loss averaged over the replica's examples, and metric sums
            and counts (summed across replicas, divided when logged).
        dataset_fn: (tf.distribute.InputContext, batch_size) ->
            tf.data.Dataset of this worker's batches (features dicts) of
            `batch_size` = global batch / number of workers.
        config: `TrainingConfig`.
    """
    model, optimizer = _build(strategy, build_model, build_optimizer)
    iterator, local_replicas = _input(strategy, dataset_fn, config)
    manager = _checkpointing(strategy, model, optimizer, iterator, config)
    train_step = _train_step(strategy, model, optimizer, loss_fn, config,
                             local_replicas)
    return model, _loop(strategy, train_step, iterator, optimizer, manager,
                        config)


def _build(strategy, build_model, build_optimizer):
    """The model and its optimizer, made in the strategy's scope (with
    dynamic loss scaling under mixed_float16) and built."""
    with strategy.scope():
        model = build_model()
        optimizer = build_optimizer()
        if keras.mixed_precision.global_policy().name == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    return model, optimizer


def _input(strategy, dataset_fn, config):
    """This worker's batches: (iterator, local replicas).

    Each worker reads its own shard through a plain tf.data iterator (tf.
    distribute's own iterators cannot be checkpointed across workers) and
    hands each local replica its slice of the batch.
    """
    num_workers = distribute.num_workers(strategy)
    context = tf.distribute.InputContext(
        num_input_pipelines=num_workers,
        input_pipeline_id=distribute.worker_index(strategy),
        num_replicas_in_sync=strategy.num_replicas_in_sync)
    iterator = iter(dataset_fn(context,
                               config.global_batch_size // num_workers))
    return iterator, strategy.num_replicas_in_sync // num_workers


def _checkpointing(strategy, model, optimizer, iterator, config):
    """The checkpoint manager, the newest readable checkpoint restored.

    Non-trainable variables include the dropout seed generators' states:
    restoring them makes a resumed run draw the masks it would have drawn.
    """
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, iterator=iterator,
        model_state=list(model.non_trainable_variables))
    manager = tf.train.CheckpointManager(
        checkpoint, _checkpoint_dir(strategy, config.output_dir),
        max_to_keep=config.keep_checkpoints)
    _restore_newest_readable(checkpoint, manager.checkpoints)
    if manager.checkpoints:
        logging.info("Resumed at step %d", int(optimizer.iterations.numpy()))
    return manager


def _train_step(strategy, model, optimizer, loss_fn, config,
                local_replicas):
    """A tf.function: one batch from the iterator -> one optimizer step on
    every replica; returns the metrics summed over replicas."""
    num_replicas = strategy.num_replicas_in_sync
    variables = model.trainable_variables
    # Keras matches dict inputs by position when extra keys are present, so
    # the model gets exactly its inputs (labels stay with the loss).
    input_names = list(model.input.keys())
    loss_scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

    @tf.function(jit_compile=config.jit_compile)
    def forward_backward(features):
        with tf.GradientTape() as tape:
            outputs = model({k: features[k] for k in input_names},
                            training=True)
            loss, metrics = loss_fn(features, outputs)
            # Summed over replicas below: divide so the sum is the mean.
            scaled = loss / num_replicas
            if loss_scaled:
                scaled = optimizer.scale_loss(scaled)
        return tape.gradient(scaled, variables), metrics

    def replica_step(features):
        grads, metrics = forward_backward(features)
        # Variables the loss does not reach (the pooler, for span and
        # token heads) have no gradient: they are left out of the update.
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        grads, used = [g for g, _ in pairs], [v for _, v in pairs]
        context = tf.distribute.get_replica_context()
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        threshold = config.max_grad_norm
        if loss_scaled:
            # Clipping commutes with the scale; the optimizer unscales,
            # and skips the step if anything overflowed.
            threshold = threshold * optimizer.dynamic_scale
        grads, _ = tf.clip_by_global_norm(grads, threshold)
        if num_replicas > 1:
            # The optimizer sums gradients across replicas once more; they
            # are equal on every replica now, so hand it 1/N of the total.
            grads = [_scale(g, 1.0 / num_replicas) for g in grads]
        optimizer.apply_gradients(zip(grads, used))
        return metrics

    def replica_slice(batch):
        def value_fn(value_context):
            index = value_context.replica_id_in_sync_group % local_replicas
            return tf.nest.map_structure(
                lambda t: tf.split(t, local_replicas)[index], batch)
        return strategy.experimental_distribute_values_from_function(value_fn)

    @tf.function
    def train_step(iterator):
        features = replica_slice(next(iterator)) if local_replicas > 1 \
            else next(iterator)
        metrics = strategy.run(replica_step, args=(features,))
        return tf.nest.map_structure(
            lambda m: strategy.reduce(tf.distribute.ReduceOp.SUM, m,
                                      axis=None), metrics)

    return train_step


def _loop(strategy, train_step, iterator, optimizer, manager, config):
    """Steps until `config.num_train_steps`, saving and logging on their
    schedules; returns the logged history."""
    writer = tf.summary.create_file_writer(
        os.path.join(config.output_dir, "train")) \
        if distribute.is_chief(strategy) else tf.summary.create_noop_writer()
    history = []
    totals, start_step, start_time = {}, int(optimizer.iterations.numpy()), \
        time.time()
    step = start_step
    while step < config.num_train_steps:
        metrics = train_step(iterator)
        previous, step = step, int(optimizer.iterations.numpy())
        for name, (total, count) in metrics.items():
            old = totals.get(name, (0.0, 0.0))
            totals[name] = (old[0] + float(total), old[1] + float(count))
        if step == previous:
            # float16 overflow: the loss scaler skipped the update (and
            # halved the scale); this step is not done yet.
            continue
        if step % config.save_checkpoints_steps == 0 \
                or step == config.num_train_steps:
            manager.save(checkpoint_number=step)
        if step % config.log_steps == 0 or step == config.num_train_steps:
            history.append((step, _log(step, config, totals, start_step,
                                       start_time, writer)))
            totals, start_step, start_time = {}, step, time.time()
    return history


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):  # embedding lookups
        return tf.IndexedSlices(gradient.values * factor, gradient.indices,
                                gradient.dense_shape)
    return gradient * factor


def _log(step, config, totals, start_step, start_time, writer):
    elapsed = max(time.time() - start_time, 1e-9)
    steps_per_second = (step - start_step) / elapsed
    eta = (config.num_train_steps - step) / max(steps_per_second, 1e-9)
    values = {name: total / max(count, 1.0)
              for name, (total, count) in totals.items()}
    logging.info(
        "step %d/%d  %.2f steps/s  %.1f examples/s  ETA %s  %s", step,
        config.num_train_steps, steps_per_second,
        steps_per_second * config.global_batch_size,
        time.strftime("%H:%M:%S", time.gmtime(eta)),
        "  ".join(f"{k} {v:.4f}" for k, v in sorted(values.items())))
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(name, value)
        tf.summary.scalar("steps_per_second", steps_per_second)
    writer.flush()
    return {**values, "steps_per_second": steps_per_second}
