"""Pre-training (masked LM + next sentence prediction), as a library call.

`run(PretrainingRun(...))` is what `python -m tasks.pretrain` does: build
the tokenizer and input pipeline, the encoder with its MLM and NSP heads
(fresh, or from any checkpoint bert_tf reads), and train them with
`bert_tf.training.train`; the result is written as a bert_tf model
directory (`OUTPUT_DIR/model`) that fine-tuning starts from.
"""

import dataclasses
import os
import time
from typing import Optional, Tuple

from absl import logging
import keras

from bert_tf import checkpoints
from bert_tf.cli import run_flags
from bert_tf import configs
from bert_tf import data
from bert_tf.data import pretraining as pretraining_data
from bert_tf import distribute
from bert_tf.layers import encoder as encoder_lib
from bert_tf import losses
from bert_tf import models
from bert_tf import optimization
from bert_tf import tokenization
from bert_tf import training
from bert_tf import zoo


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainingRun(training.RunOptions):
    """Everything one pre-training run needs; each field is also a flag of
    `python -m tasks.pretrain` (bert_tf/cli/run_flags.py)."""

    input_files: Tuple[str, ...] = run_flags.required(
        "Input text files or TFRecords (globs, comma-separated).",
        flag="input_file")
    output_dir: str = run_flags.required(
        "Checkpoints, summaries and the final model directory go here.")
    vocab_file: str = run_flags.required("vocab.txt of the model.")
    bert_config_file: Optional[str] = run_flags.option(
        None, "bert_config.json (or HF config.json) of the architecture.")
    preset: Optional[str] = run_flags.option(
        None, "Architecture preset instead of a config file: tiny, mini, "
        "small, medium, base, large, bert_L{2..12}_H{128..768}.")
    init_checkpoint: Optional[str] = run_flags.option(
        None, "Checkpoint to continue from (bert_tf, google TF1, HF or "
        "keras-hub, or a catalog name: python -m bert_tf.zoo list).")
    do_lower_case: bool = run_flags.option(
        True, "Lower-case and strip accents (uncased vocabularies).")
    input_format: str = run_flags.option(
        "text", "text: raw documents, examples made on the fly; tfrecord: "
        "google-research create_pretraining_data.py output.",
        choices=("text", "tfrecord"))
    data: pretraining_data.PretrainingDataConfig = dataclasses.field(
        default_factory=pretraining_data.PretrainingDataConfig)
    train_batch_size: int = run_flags.option(32, "Global batch size.")
    num_train_steps: int = run_flags.option(100000, "Optimizer steps.")
    num_warmup_steps: int = run_flags.option(10000, "Linear warmup steps.")
    learning_rate: float = run_flags.option(1e-4, "Peak learning rate.")


def bert_config(run, vocab_size, init_config=None):
    """The architecture: a config file, a preset, or the init checkpoint's
    (`init_config`)."""
    if run.bert_config_file:
        config = configs.BertConfig.from_json_file(run.bert_config_file)
    elif run.preset:
        config = configs.BertConfig.preset(run.preset, vocab_size=vocab_size)
    elif init_config is not None:
        config = init_config
    else:
        raise configs.ConfigError(
            "no architecture: pass --bert_config_file, --preset or "
            "--init_checkpoint")
    if config.vocab_size != vocab_size:
        raise configs.ConfigError(
            f"{run.vocab_file} has {vocab_size} tokens but the model's "
            f"vocab_size is {config.vocab_size}")
    config.check_max_seq_length(run.data.max_seq_length)
    return config


def build_pretrainer(config, init_weights=None, source=None):
    """Encoder + MLM + NSP heads, set from canonical `init_weights` (read
    from `source`) when given; heads stay freshly initialised if the
    weights have none."""
    pretrainer = models.BertPretrainer(encoder_lib.BertEncoder(config))
    if init_weights is not None:
        target = pretrainer \
            if checkpoints.has_pretraining_heads(init_weights) \
            else pretrainer.encoder
        checkpoints.assign_weights(target, init_weights, source)
        logging.info("Initialised %s from %s", target.name, source)
    return pretrainer


def run(run):
    """Pre-trains; returns the saved bert_tf model directory and the logged
    metrics ([(step, {name: value})])."""
    # First: multi-worker collectives must be set up before any TF op runs.
    strategy = distribute.get_strategy(run.distribution_strategy, run.tpu)
    # A catalog name becomes its model directory (fetched on first use).
    run = dataclasses.replace(
        run, init_checkpoint=zoo.resolve_path(run.init_checkpoint))
    tokenizer = tokenization.BertTokenizer(run.vocab_file, run.do_lower_case)
    tokenization.check_lower_case(run.vocab_file, run.do_lower_case,
                                  run.init_checkpoint)
    init_config = init_weights = None
    if run.init_checkpoint:  # read once: config and weights
        init_config, init_weights, _, _ = checkpoints.read_checkpoint(
            run.init_checkpoint)
    config = bert_config(run, tokenizer.vocab_size, init_config)
    files = data.expand_input_files(run.input_files)
    if run.input_format == "tfrecord":  # lengths vs. flags, before any build
        pretraining_data.check_google_tfrecords(files, run.data)
    keras.mixed_precision.set_global_policy(
        training.PRECISIONS[run.mixed_precision])
    # Initial weights and dropout masks follow the seed too: a run is a
    # function of its flags, which exact resumption relies on.
    keras.utils.set_random_seed(run.data.seed)

    def dataset_fn(context, batch_size):
        shard = (context.num_input_pipelines, context.input_pipeline_id) \
            if context.num_input_pipelines > 1 else None
        if shard:
            logging.info("Input pipeline %d of %d: its own share of the %s",
                         shard[1], shard[0], "files"
                         if run.input_format == "tfrecord" else "documents")
        if run.input_format == "tfrecord":
            return pretraining_data.google_tfrecord_dataset(
                files, run.data, batch_size, shard)
        return pretraining_data.pretraining_dataset(
            files, tokenizer, run.data, batch_size, shard=shard)

    pretrainer, history = training.train(
        strategy,
        build_model=lambda: build_pretrainer(config, init_weights,
                                             run.init_checkpoint),
        build_optimizer=lambda: optimization.create_optimizer(
            run.optimizer, run.learning_rate, run.num_train_steps,
            run.num_warmup_steps),
        loss_fn=losses.pretraining_loss,
        dataset_fn=dataset_fn,
        config=training.TrainingConfig(
            output_dir=run.output_dir,
            num_train_steps=run.num_train_steps,
            global_batch_size=run.train_batch_size,
            save_checkpoints_steps=run.save_checkpoints_steps,
            log_steps=run.log_steps,
            jit_compile=run.jit_compile))
    model_dir = os.path.join(run.output_dir, "model")
    if distribute.is_chief(strategy):
        if os.path.exists(model_dir):
            # From an earlier run of this output_dir: kept, renamed aside.
            aside = f"{model_dir}.replaced-{int(time.time())}"
            os.rename(model_dir, aside)
            logging.info("Moved the previous %s to %s", model_dir, aside)
        checkpoints.save_model(model_dir, pretrainer, run.vocab_file,
                               source=f"pretrained:{run.output_dir}")
    return model_dir, history
