"""The command line of `python -m serving.export` (see serving/export/
__init__.py for what an export holds)."""

import re
import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf import errors
from bert_tf.export import exporter
from bert_tf.export import op_audit

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_string("task", None, "Task the model was fine-tuned for "
                        "(checked against the model directory), or "
                        "'encoder' for the TF Hub-style encoder + "
                        "preprocessor pair.", **fv)
    flags.DEFINE_string("model_dir", None, "Fine-tuned bert_tf model "
                        "directory (OUTPUT_DIR/model of tasks.finetune); "
                        "with --task=encoder any checkpoint bert_tf reads.",
                        **fv)
    flags.DEFINE_integer("seq_length", 128, "--task=encoder: the length the "
                         "preprocessor's default call pads to.", **fv)
    flags.DEFINE_string("export_dir", None, "BASE/NAME: versions go in "
                        "here, BASE/models.config lists every model under "
                        "BASE.", **fv)
    flags.DEFINE_string("serving_version", op_audit.DEFAULT_SERVING_VERSION,
                        "Oldest TF Serving release the export must load in "
                        "(2.0 or later, e.g. 2.12).", **fv)
    flags.DEFINE_integer("max_text_bytes", exporter.DEFAULT_MAX_TEXT_BYTES,
                         "Longest raw text (UTF-8 bytes) each input of a "
                         "request row may hold; longer ones are answered "
                         "INVALID_ARGUMENT. A request's memory grows "
                         "linearly with its text: see docs/serving.md for "
                         "the cost per byte.", **fv)
    flags.mark_flags_as_required(["model_dir", "export_dir"], **fv)
    flag_checks.non_empty(flag_values, "task")
    flag_checks.existing_checkpoint(flag_values, "model_dir")
    flag_checks.output_dir(flag_values, "export_dir")
    flag_checks.at_least(flag_values, 3, "seq_length",
                         why="[CLS], a piece and [SEP]")
    flags.register_validator(
        "serving_version",
        lambda v: re.fullmatch(r"[1-9]\d*\.\d+", v or "") is not None
        and tuple(map(int, v.split("."))) >= (2, 0),
        "expected a TF Serving release, 2.0 or later (e.g. 2.12)", **fv)
    flags.register_validator(
        "max_text_bytes", lambda value: value is not None and value >= 1,
        message="--max_text_bytes must be a positive number of bytes", **fv)


def main(argv):
    del argv  # the flags were checked as they were parsed
    try:
        if FLAGS.task == "encoder":
            paths = exporter.export_encoder(
                FLAGS.model_dir, FLAGS.export_dir, FLAGS.seq_length,
                serving_version=FLAGS.serving_version)
        else:
            paths = [exporter.export(FLAGS.model_dir, FLAGS.export_dir,
                                     FLAGS.task, FLAGS.serving_version,
                                     max_text_bytes=FLAGS.max_text_bytes)]
    except errors.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up: nothing was published
        print(f"error: export failed, no new version was published: {e}",
              file=sys.stderr)
        return 1
    for path in paths:
        print(f"exported: {path}")
    return 0


def run():
    """`python -m serving.export`."""
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
