r"""Writes pre-training examples to TFRecords (the static mode).

    python -m bert_tf.data.create_pretraining_data \
        --input_file='corpus/*.txt' --output_file=data/train.tfrecord \
        --vocab_file=vocab.txt --do_lower_case=true --max_seq_length=128 \
        --max_predictions_per_seq=20 --masked_lm_prob=0.15 \
        --random_seed=12345 --dupe_factor=5

Flags and output features are google-research/bert's
(`create_pretraining_data.py`): input_ids, input_mask, segment_ids,
masked_lm_positions, masked_lm_ids, masked_lm_weights,
next_sentence_labels. The examples are the ones the on-the-fly pipeline
(`bert_tf.data.pretraining`) makes: `--dupe_factor` passes over the
documents, each with new instances and masks. Read them back with
`python -m tasks.pretrain --input_format=tfrecord`, or with the original
`run_pretraining.py`. Each output file appears complete or not at all.
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import os
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from bert_tf import data
from bert_tf.data import pretraining
from bert_tf import errors
from bert_tf import tokenization

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    from bert_tf.cli import flag_checks  # the command lines' shared checks

    fv = {"flag_values": flag_values}
    flags.DEFINE_list("input_file", None, "Input text files (globs).", **fv)
    flags.DEFINE_list("output_file", None, "Output TFRecord files; examples "
                      "go round-robin.", **fv)
    flags.DEFINE_string("vocab_file", None, "vocab.txt.", **fv)
    flags.DEFINE_bool("do_lower_case", True, "Lower-case the input.", **fv)
    flags.DEFINE_bool("do_whole_word_mask", False, "Mask whole words.", **fv)
    flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.",
                         **fv)
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Maximum masked LM "
                         "predictions per sequence.", **fv)
    flags.DEFINE_integer("random_seed", 12345, "Random seed.", **fv)
    flags.DEFINE_integer("dupe_factor", 10, "Passes over the input, each "
                         "with different masks.", **fv)
    flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.",
                       **fv)
    flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter "
                       "sequence.", **fv)
    flags.mark_flags_as_required(["input_file", "output_file", "vocab_file"],
                                 **fv)
    flag_checks.input_files(flag_values, "input_file")
    flag_checks.output_file(flag_values, "output_file")
    flag_checks.existing_file(flag_values, "vocab_file")
    flag_checks.at_least(flag_values, 5, "max_seq_length",
                         why="[CLS] A [SEP] B [SEP]")
    flag_checks.positive(flag_values, "max_predictions_per_seq",
                         "dupe_factor", "masked_lm_prob")
    flag_checks.in_range(flag_values, 0, 1, "masked_lm_prob",
                         "short_seq_prob")
    flag_checks.seed(flag_values, "random_seed")
    flag_checks.check(
        flag_values, ["max_seq_length", "max_predictions_per_seq",
                      "masked_lm_prob"], pretraining.config_problem)


def _example(features, row):
    def ints(name):
        return tf.train.Feature(int64_list=tf.train.Int64List(
            value=features[name][row].tolist()))

    return tf.train.Example(features=tf.train.Features(feature={
        "input_ids": ints("input_word_ids"),
        "input_mask": ints("input_mask"),
        "segment_ids": ints("input_type_ids"),
        "masked_lm_positions": ints("masked_lm_positions"),
        "masked_lm_ids": ints("masked_lm_ids"),
        "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(
            value=features["masked_lm_weights"][row].tolist())),
        "next_sentence_labels": tf.train.Feature(int64_list=tf.train.Int64List(
            value=[int(features["next_sentence_labels"][row])])),
    }))


def write_examples(files, tokenizer, config, output_files, dupe_factor):
    """Writes every example of `dupe_factor` passes; returns the count."""
    dataset = pretraining.pretraining_dataset(
        files, tokenizer, config, batch_size=256, num_epochs=dupe_factor)
    staging = [f"{path}.tmp-{os.getpid()}" for path in output_files]
    writers = [tf.io.TFRecordWriter(path) for path in staging]
    count = 0
    try:
        for batch in dataset.as_numpy_iterator():
            for row in range(len(batch["next_sentence_labels"])):
                writers[count % len(writers)].write(
                    _example(batch, row).SerializeToString())
                count += 1
        for writer in writers:
            writer.close()
        for path, final in zip(staging, output_files):
            os.replace(path, final)
    except BaseException:
        for writer, path in zip(writers, staging):
            writer.close()
            if os.path.exists(path):
                os.remove(path)
        raise
    return count


def main(argv):
    del argv
    try:
        config = pretraining.PretrainingDataConfig(
            max_seq_length=FLAGS.max_seq_length,
            max_predictions_per_seq=FLAGS.max_predictions_per_seq,
            masked_lm_prob=FLAGS.masked_lm_prob,
            short_seq_prob=FLAGS.short_seq_prob,
            whole_word_mask=FLAGS.do_whole_word_mask,
            seed=FLAGS.random_seed)
        files = data.expand_input_files(FLAGS.input_file)
        tokenizer = tokenization.BertTokenizer(FLAGS.vocab_file,
                                               FLAGS.do_lower_case)
        count = write_examples(files, tokenizer, config, FLAGS.output_file,
                               FLAGS.dupe_factor)
    except errors.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    logging.info("Wrote %d examples to %s", count,
                 ", ".join(FLAGS.output_file))
    print(f"wrote {count} examples")
    return 0


if __name__ == "__main__":
    from bert_tf.cli import flag_checks

    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
