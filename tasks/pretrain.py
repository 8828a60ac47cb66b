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

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf.cli import run_flags
from bert_tf import configs
from bert_tf.data import pretraining as data
from bert_tf import errors
from bert_tf import pretraining

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags (the fields of `PretrainingRun` and its data
    config) and their checks on `flag_values`."""
    run_flags.define_flags(pretraining.PretrainingRun, flag_values)
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
    """The `PretrainingRun` the parsed flags describe."""
    return run_flags.run_from_flags(pretraining.PretrainingRun, flag_values)


def main(argv):
    del argv
    try:
        model_dir, _ = pretraining.run(run_from_flags())
    except (errors.Error, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"pre-trained model: {model_dir}")
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
