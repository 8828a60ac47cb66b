r"""Learns a BERT word-piece vocabulary from a corpus.

    python -m bert_tf.vocab --input='corpus/*.txt' --vocab_size=30522 \
        --output=vocab.txt [--do_lower_case=false]

Words are counted after the same normalisation and splitting that
`BertTokenizer` applies (so the vocabulary fits how text is tokenized), and
tensorflow-text's WordPiece learner picks the pieces. The special tokens sit
where BERT's releases put them: [PAD] = 0, [unused0..] up to `num_unused`,
then [UNK] [CLS] [SEP] [MASK] (ids 100-103 with the default 99 unused), then
the learned pieces. Input lines that are not UTF-8 lose their invalid bytes,
as in tokenization.
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import collections
import os
import sys

from absl import app
from absl import flags
from absl import logging

from bert_tf import data
from bert_tf import file_io
from bert_tf import tokenization

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    from bert_tf.cli import flag_checks  # the command lines' shared checks

    fv = {"flag_values": flag_values}
    flags.DEFINE_list("input", None, "Text files or globs, one sentence or "
                      "paragraph per line.", **fv)
    flags.DEFINE_string("output", None, "vocab.txt to write.", **fv)
    flags.DEFINE_integer("vocab_size", 30522, "Target size, special tokens "
                         "included (the learner lands within a few "
                         "percent).", **fv)
    flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents "
                      "(for uncased models).", **fv)
    flags.DEFINE_integer("num_unused", 99, "[unusedN] placeholders between "
                         "[PAD] and [UNK]; 99 puts [UNK] at 100 as BERT's "
                         "releases do.", **fv)
    flags.DEFINE_integer("min_count", 2, "Words seen fewer times are left "
                         "out of the counts.", **fv)
    flags.DEFINE_integer("max_lines", None, "Read at most this many lines.",
                         **fv)
    flags.DEFINE_bool("overwrite", False, "Replace an existing --output.",
                      **fv)
    flags.mark_flags_as_required(["input", "output"], **fv)
    flag_checks.input_files(flag_values, "input")
    flag_checks.output_file(flag_values, "output")
    flag_checks.positive(flag_values, "vocab_size", "min_count", "max_lines")
    flag_checks.non_negative(flag_values, "num_unused")
    flag_checks.check(flag_values, ["vocab_size", "num_unused"], lambda v: (
        f"--vocab_size={v['vocab_size']} leaves no room after "
        f"{v['num_unused'] + 5} reserved tokens (--num_unused="
        f"{v['num_unused']})" if v["vocab_size"] <= v["num_unused"] + 5
        else None))


def reserved_tokens(num_unused=99):
    """[PAD], [unused0..num_unused-1], [UNK], [CLS], [SEP], [MASK]."""
    return (["[PAD]"] + [f"[unused{i}]" for i in range(num_unused)]
            + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"])


def count_words(files, lower_case, max_lines=None, batch_size=1024):
    """Counter of the words `BertTokenizer` would see in `files`."""
    import tensorflow as tf

    dataset = tf.data.TextLineDataset(files)
    if max_lines:
        dataset = dataset.take(max_lines)
    dataset = dataset.batch(batch_size).map(
        lambda lines: tokenization.split_words(lines, lower_case).flat_values)
    counts = collections.Counter()
    for words in dataset.as_numpy_iterator():
        counts.update(w.decode("utf-8") for w in words)
    return counts


def learn_vocab(word_counts, vocab_size, num_unused=99, min_count=2):
    """Token list: reserved tokens first, then the learned pieces."""
    from tensorflow_text.tools.wordpiece_vocab import (
        wordpiece_tokenizer_learner_lib as learner)

    reserved = reserved_tokens(num_unused)
    if vocab_size <= len(reserved):
        raise ValueError(f"vocab_size {vocab_size} leaves no room after "
                         f"{len(reserved)} reserved tokens")
    words = [(w, c) for w, c in word_counts.items() if c >= min_count]
    if not words:
        raise ValueError(f"no word occurs {min_count} or more times")
    return learner.learn(words, vocab_size, reserved, lower_thresh=min_count,
                         include_joiner_token=True, joiner="##")


def write_vocab(tokens, path, overwrite=False):
    """Writes one token per line, atomically (temporary file + rename)."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    file_io.atomic_write(path, "\n".join(tokens) + "\n")


def main(argv):
    del argv
    try:
        files = data.expand_input_files(FLAGS.input)
        counts = count_words(files, FLAGS.do_lower_case, FLAGS.max_lines)
        logging.info("%d distinct words in %d file(s)", len(counts),
                     len(files))
        tokens = learn_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused,
                             FLAGS.min_count)
        write_vocab(tokens, FLAGS.output, FLAGS.overwrite)
    except (FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {FLAGS.output}: {len(tokens)} tokens "
          f"([UNK] = {tokens.index('[UNK]')})")
    return 0


if __name__ == "__main__":
    from bert_tf.cli import flag_checks

    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
