r"""Pre-trains BERT (masked LM + next sentence prediction).

    python -m tasks.pretrain \
        --input_file='corpus/*.txt' --vocab_file=vocab.txt --preset=base \
        --output_dir=runs/base --max_seq_length=128 \
        --max_predictions_per_seq=20 --train_batch_size=256 \
        --num_train_steps=900000 --num_warmup_steps=10000 \
        --learning_rate=1e-4

Input: text in google-research/bert's format (one sentence per line, blank
line between documents; globs, comma-separated) turned into examples on the
fly, or `--input_format=tfrecord` for files written by
`create_pretraining_data.py`. Architecture from `--bert_config_file`,
`--preset` or `--init_checkpoint` (any format bert_tf reads; continues
pre-training from it, e.g. phase two at --max_seq_length=512 from phase
one's OUTPUT_DIR/model). An interrupted run restarted with the same flags
resumes from its last checkpoint in OUTPUT_DIR/checkpoints.
Writes: OUTPUT_DIR/checkpoints, OUTPUT_DIR/train (TensorBoard),
OUTPUT_DIR/model (a bert_tf model directory for fine-tuning).
"""

from bert_tf.cli import console  # noqa: F401  (first: TensorFlow loads quietly)

import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf import configs
from bert_tf import data as bert_tf_data
from bert_tf.data import pretraining as data
from bert_tf import distribute
from bert_tf import optimization
from bert_tf import pretraining
from bert_tf import tokenization
from bert_tf import training

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_list("input_file", None, "Input text files or TFRecords "
                      "(globs, comma-separated).", **fv)
    flags.DEFINE_enum("input_format", "text", ["text", "tfrecord"],
                      "text: raw documents, examples made on the fly; "
                      "tfrecord: google-research create_pretraining_data.py "
                      "output.", **fv)
    flags.DEFINE_string("output_dir", None, "Checkpoints, summaries and the "
                        "final model directory go here.", **fv)
    flags.DEFINE_string("vocab_file", None, "vocab.txt of the model.", **fv)
    flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents "
                      "(uncased vocabularies).", **fv)
    flags.DEFINE_string("bert_config_file", None, "bert_config.json (or HF "
                        "config.json) of the architecture.", **fv)
    flags.DEFINE_string("preset", None, "Architecture preset instead of a "
                        "config file: tiny, mini, small, medium, base, "
                        "large, bert_L{2..12}_H{128..768}.", **fv)
    flags.DEFINE_string("init_checkpoint", None, "Checkpoint to continue "
                        "from (bert_tf, google TF1, HF or keras-hub).", **fv)
    flags.DEFINE_integer("max_seq_length", 128, "Pieces per example, "
                         "special tokens included.", **fv)
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Most masked "
                         "positions per example.", **fv)
    flags.DEFINE_float("masked_lm_prob", 0.15, "Fraction of pieces masked: "
                       "min(--max_predictions_per_seq, max(1, round(n * "
                       "this))) of an example's n pieces, as the original.",
                       **fv)
    flags.DEFINE_float("short_seq_prob", 0.1, "Chance of a shorter example.",
                       **fv)
    flags.DEFINE_bool("whole_word_mask", False, "Mask all pieces of a word "
                      "together.", **fv)
    flags.DEFINE_integer("train_batch_size", 32, "Global batch size.", **fv)
    flags.DEFINE_integer("num_train_steps", 100000, "Optimizer steps.", **fv)
    flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps.",
                         **fv)
    flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate.", **fv)
    flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS),
                      "adamw (Adam with bias correction and decoupled "
                      "weight decay), adam_weight_decay (google-research/"
                      "bert's: no bias correction) or lamb (a per-layer "
                      "trust ratio, for large batches); docs/pretraining.md.",
                      **fv)
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "Steps between "
                         "checkpoints.", **fv)
    flags.DEFINE_integer("log_steps", 100, "Steps between log lines.", **fv)
    flags.DEFINE_integer("seed", 12345, "Seed of the input pipeline.", **fv)
    flags.DEFINE_enum("distribution_strategy", "default",
                      list(distribute.STRATEGIES), "tf.distribute strategy.",
                      **fv)
    flags.DEFINE_string("tpu", None, "TPU name or address (with "
                        "--distribution_strategy=tpu).", **fv)
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the training step.",
                      **fv)
    flags.DEFINE_enum("mixed_precision", "fp32", list(training.PRECISIONS),
                      "fp32, bf16 (mixed bfloat16) or fp16 (with loss "
                      "scaling).", **fv)
    flags.mark_flags_as_required(["input_file", "output_dir", "vocab_file"],
                                 **fv)
    _define_checks(flag_values)


def _define_checks(fv):
    flag_checks.input_files(fv, "input_file")
    flag_checks.output_dir(fv, "output_dir")
    flag_checks.existing_file(fv, "vocab_file", "bert_config_file")
    flag_checks.choices(fv, sorted(configs.PRESETS), "preset")
    flag_checks.existing_checkpoint(fv, "init_checkpoint")
    flag_checks.at_least(fv, 5, "max_seq_length",
                         why="[CLS] A [SEP] B [SEP]")
    flag_checks.positive(fv, "max_predictions_per_seq", "masked_lm_prob",
                         "train_batch_size", "num_train_steps",
                         "learning_rate", "save_checkpoints_steps",
                         "log_steps")
    flag_checks.in_range(fv, 0, 1, "masked_lm_prob", "short_seq_prob")
    flag_checks.non_negative(fv, "num_warmup_steps")
    flag_checks.seed(fv, "seed")
    flag_checks.check(
        fv, ["max_seq_length", "max_predictions_per_seq", "masked_lm_prob"],
        data.config_problem)
    flag_checks.check(
        fv, ["bert_config_file", "preset", "init_checkpoint"], lambda v: (
            None if any(v.values()) else "no architecture: pass "
            "--bert_config_file, --preset or --init_checkpoint"))
    flag_checks.check(fv, ["distribution_strategy", "tpu"], lambda v: (
        "--distribution_strategy=tpu needs --tpu (a TPU name or address, or "
        "local)" if v["distribution_strategy"] == "tpu" and not v["tpu"]
        else None))


def run_from_flags(flag_values=FLAGS):
    """The one place flags become a `PretrainingRun`."""
    f = flag_values
    return pretraining.PretrainingRun(
        input_files=tuple(f.input_file),
        output_dir=f.output_dir,
        vocab_file=f.vocab_file,
        bert_config_file=f.bert_config_file,
        preset=f.preset,
        init_checkpoint=f.init_checkpoint,
        do_lower_case=f.do_lower_case,
        input_format=f.input_format,
        data=data.PretrainingDataConfig(
            max_seq_length=f.max_seq_length,
            max_predictions_per_seq=f.max_predictions_per_seq,
            masked_lm_prob=f.masked_lm_prob,
            short_seq_prob=f.short_seq_prob,
            whole_word_mask=f.whole_word_mask,
            seed=f.seed),
        train_batch_size=f.train_batch_size,
        num_train_steps=f.num_train_steps,
        num_warmup_steps=f.num_warmup_steps,
        learning_rate=f.learning_rate,
        optimizer=f.optimizer,
        save_checkpoints_steps=f.save_checkpoints_steps,
        log_steps=f.log_steps,
        distribution_strategy=f.distribution_strategy,
        tpu=f.tpu,
        jit_compile=f.jit_compile,
        mixed_precision=f.mixed_precision)


def main(argv):
    del argv
    try:
        model_dir, _ = pretraining.run(run_from_flags())
    except (configs.ConfigError, data.PretrainingDataError,
            bert_tf_data.InputFilesError,
            tokenization.VocabError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"pre-trained model: {model_dir}")
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
