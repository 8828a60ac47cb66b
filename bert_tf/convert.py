r"""Converts a BERT checkpoint into a bert_tf model directory (or back).

    python -m bert_tf.convert --from=hf --input=PATH/TO/HF_DIR --output=DIR
    python -m bert_tf.convert --from=google \
        --input=uncased_L-12_H-768_A-12/bert_model.ckpt --output=DIR
    python -m bert_tf.convert --from=keras_hub --input=PRESET_DIR \
        --vocab_file=vocab.txt --output=DIR
    python -m bert_tf.convert --input=DIR --to=google --output=GOOGLE_DIR

`--from=auto` (the default) recognises the format. The output directory must
not exist or be empty; it appears complete or not at all. Pre-training heads
(MLM, NSP) are carried over when the source has them.

Flags are checked before anything is read (exit status 1, absl's message);
a checkpoint or config that cannot be read or does not fit exits with status
2 and one line `error: PATH: what is wrong`, never a traceback.
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import os
import sys

from absl import app
from absl import flags

from bert_tf import checkpoints
from bert_tf import configs
from bert_tf import errors
from bert_tf import zoo

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines (and validates) the flags on `flag_values`."""
    fv = dict(flag_values=flag_values)
    flags.DEFINE_enum("from", "auto",
                      ["auto", "hf", "google", "keras_hub", "bert_tf"],
                      "Format of --input.", **fv)
    flags.DEFINE_enum("to", "bert_tf", ["bert_tf", "google"],
                      "Format of --output: a bert_tf model directory, or a "
                      "google-research TF1 checkpoint directory "
                      "(bert_model.ckpt.*, bert_config.json, vocab.txt).", **fv)
    flags.DEFINE_string("input", None, "Checkpoint to read: a directory, "
                        "a TF checkpoint prefix, or a catalog name "
                        "(python -m bert_tf.zoo list).", **fv)
    flags.DEFINE_string("output", None, "Directory to write; must not exist "
                        "or be empty.", **fv)
    flags.DEFINE_string("bert_config_file", None, "Config of a google "
                        "checkpoint, if not bert_config.json beside it.", **fv)
    flags.DEFINE_string("vocab_file", None, "vocab.txt, if the source has "
                        "none (keras-hub backbone presets).", **fv)
    flags.DEFINE_enum("hidden_act", None, list(configs.ACTIVATIONS),
                      "Override the config's activation, e.g. gelu_new to "
                      "reproduce keras-hub's tanh GELU. With --to=google, "
                      "gelu_new must be written as gelu (see "
                      "docs/checkpoints.md).", **fv)
    flags.DEFINE_bool("skip_unknown_weights", False, "Leave out source "
                      "weights that belong to no BERT layer (e.g. a "
                      "fine-tuned classifier) instead of failing.", **fv)
    flags.mark_flags_as_required(["input", "output"], **fv)
    flags.register_validator(
        "input", lambda path: path is None or _input_exists(path),
        "does not exist (a directory, a TF checkpoint prefix with an "
        ".index file, or a catalog name)", **fv)
    flags.register_validator(
        "output", lambda path: path is None or _output_parent_ok(path),
        "must be a directory path whose existing parent is a directory",
        **fv)
    for name in ("bert_config_file", "vocab_file"):
        flags.register_validator(
            name, lambda path: path is None or os.path.isfile(path),
            "is not a file", **fv)
    flags.register_multi_flags_validator(
        ["input", "output"],
        lambda values: values["input"] is None or values["output"] is None
        or os.path.abspath(values["input"]) !=
        os.path.abspath(values["output"]),
        "--output must differ from --input", **fv)


def _input_exists(path):
    return os.path.exists(path) or os.path.isfile(path + ".index") or \
        zoo.is_catalog_name(path)


def _output_parent_ok(path):
    if not path or (os.path.exists(path) and not os.path.isdir(path)):
        return False
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):  # created on writing
        parent = os.path.dirname(parent)
    return os.path.isdir(parent)


# The conversion itself, as a library call (the zoo converts with it too).
convert = checkpoints.convert


def main(argv):
    del argv
    try:
        convert(FLAGS.input, FLAGS.output, source_format=FLAGS["from"].value,
                target_format=FLAGS.to, bert_config_file=FLAGS.bert_config_file,
                vocab_file=FLAGS.vocab_file, hidden_act=FLAGS.hidden_act,
                skip_unknown_weights=FLAGS.skip_unknown_weights)
    except (errors.Error, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {FLAGS.output}")
    return 0


if __name__ == "__main__":
    from bert_tf.cli import flag_checks  # one-line flag errors

    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
