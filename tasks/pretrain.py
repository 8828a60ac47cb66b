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

import sys

from absl import app
from absl import flags

from bert_tf import configs
from bert_tf import data as bert_tf_data
from bert_tf import distribute
from bert_tf import optimization
from bert_tf import tokenization
from bert_tf import training
from bert_tf.data import pretraining as data
from tasks import pretraining

FLAGS = flags.FLAGS

flags.DEFINE_list("input_file", None, "Input text files or TFRecords "
                  "(globs, comma-separated).")
flags.DEFINE_enum("input_format", "text", ["text", "tfrecord"],
                  "text: raw documents, examples made on the fly; tfrecord: "
                  "google-research create_pretraining_data.py output.")
flags.DEFINE_string("output_dir", None, "Checkpoints, summaries and the "
                    "final model directory go here.")
flags.DEFINE_string("vocab_file", None, "vocab.txt of the model.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents "
                  "(uncased vocabularies).")
flags.DEFINE_string("bert_config_file", None, "bert_config.json (or HF "
                    "config.json) of the architecture.")
flags.DEFINE_string("preset", None, "Architecture preset instead of a config "
                    "file: tiny, mini, small, medium, base, large, "
                    "bert_L{2..12}_H{128..768}.")
flags.DEFINE_string("init_checkpoint", None, "Checkpoint to continue from "
                    "(bert_tf, google TF1, HF or keras-hub).")
flags.DEFINE_integer("max_seq_length", 128, "Pieces per example, special "
                     "tokens included.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per "
                     "example.")
flags.DEFINE_float("masked_lm_prob", 0.15, "Fraction of pieces masked.")
flags.DEFINE_float("short_seq_prob", 0.1, "Chance of a shorter example.")
flags.DEFINE_bool("whole_word_mask", False, "Mask all pieces of a word "
                  "together.")
flags.DEFINE_integer("train_batch_size", 32, "Global batch size.")
flags.DEFINE_integer("num_train_steps", 100000, "Optimizer steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps.")
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate.")
flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS),
                  "Optimizer.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Steps between "
                     "checkpoints.")
flags.DEFINE_integer("log_steps", 100, "Steps between log lines.")
flags.DEFINE_integer("seed", 12345, "Seed of the input pipeline.")
flags.DEFINE_enum("distribution_strategy", "default",
                  list(distribute.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU name or address (with "
                    "--distribution_strategy=tpu).")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the training step.")
flags.DEFINE_enum("mixed_precision", "fp32", list(training.PRECISIONS),
                  "fp32, bf16 (mixed bfloat16) or fp16 (with loss scaling).")
flags.mark_flags_as_required(["input_file", "output_dir", "vocab_file"])


def run_from_flags():
    """The one place flags become a `PretrainingRun`."""
    return pretraining.PretrainingRun(
        input_files=tuple(FLAGS.input_file),
        output_dir=FLAGS.output_dir,
        vocab_file=FLAGS.vocab_file,
        bert_config_file=FLAGS.bert_config_file,
        preset=FLAGS.preset,
        init_checkpoint=FLAGS.init_checkpoint,
        do_lower_case=FLAGS.do_lower_case,
        input_format=FLAGS.input_format,
        data=data.PretrainingDataConfig(
            max_seq_length=FLAGS.max_seq_length,
            max_predictions_per_seq=FLAGS.max_predictions_per_seq,
            masked_lm_prob=FLAGS.masked_lm_prob,
            short_seq_prob=FLAGS.short_seq_prob,
            whole_word_mask=FLAGS.whole_word_mask,
            seed=FLAGS.seed),
        train_batch_size=FLAGS.train_batch_size,
        num_train_steps=FLAGS.num_train_steps,
        num_warmup_steps=FLAGS.num_warmup_steps,
        learning_rate=FLAGS.learning_rate,
        optimizer=FLAGS.optimizer,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        log_steps=FLAGS.log_steps,
        distribution_strategy=FLAGS.distribution_strategy,
        tpu=FLAGS.tpu,
        jit_compile=FLAGS.jit_compile,
        mixed_precision=FLAGS.mixed_precision)


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
    app.run(main)
