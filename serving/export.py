r"""Exports a fine-tuned model as a SavedModel for TF Serving.

    python -m serving.export --task=mrpc --model_dir=runs/mrpc/model \
        --export_dir=exports/mrpc

(or `--task=encoder --model_dir=ANY_CHECKPOINT --export_dir=exports/bert`
for a TF Hub-style pair: exports/bert/<N> and exports/bert_preprocess/<N>)
writes the next numbered version, exports/mrpc/<N>/, atomically: it is
built in a hidden staging directory beside the versions (TF Serving ignores
names that are not numbers), audited, then renamed into place, so a server
polling exports/mrpc never sees a half-written version. Inside: the graph
with the tokenizer (assets/vocab.txt), the signatures of the task (see
serving/text_classification.py, question_answering.py and
token_classification.py) and assets.extra/tf_serving_warmup_requests.
exports/models.config then lists every model under exports/ for
`tensorflow_model_server --model_config_file=exports/models.config`.

--serving_version (default: the TF Serving release matching this
TensorFlow) is the oldest server the export must load in: an op that
release does not link fails the export, naming the op and the first release
that has it.
"""

from tasks import console  # noqa: F401  (first: TensorFlow loads quietly)

import os
import re
import shutil
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2

from bert_tf import checkpoints
from bert_tf import errors
from bert_tf import tokenization
from bert_tf.layers import encoder as encoder_lib
from serving import encoder as encoder_export
from serving import model_config
from serving import op_audit
from serving import question_answering
from serving import signatures as signature_defs
from serving import text_classification
from serving import token_classification
from tasks import flag_checks

# Longest raw text (bytes) each input row may hold; see docs/serving.md.
DEFAULT_MAX_TEXT_BYTES = text_classification.DEFAULT_MAX_TEXT_BYTES

# Task family (kept with the fine-tuned model) -> its serving module.
SERVING_MODULES = {
    "glue": text_classification.ClassifierServing,
    "multiple_choice": text_classification.MultipleChoiceServing,
    "span": question_answering.QuestionAnsweringServing,
    "token_classification": token_classification.TokenClassificationServing,
}


class ExportError(errors.Error):
    """A model or export directory that cannot give a servable export."""


def _versions(export_dir):
    if not os.path.isdir(export_dir):
        return []
    return sorted(int(name) for name in os.listdir(export_dir)
                  if name.isdigit())


def _remove_abandoned_staging(export_dir):
    """Deletes staging directories of exports whose process is gone (killed
    mid-way: nothing removed them). TF Serving ignores them anyway (not a
    version number); this only frees the space."""
    for entry in os.listdir(export_dir):
        match = re.fullmatch(r"\.staging-\d+-(\d+)", entry)
        if match and not _process_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(export_dir, entry), ignore_errors=True)
            logging.info("Removed %s, left by an interrupted export", entry)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _predict_request(model_name, signature_name, inputs):
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name,
                                       signature_name=signature_name))
    for input_name, value in inputs.items():
        request.inputs[input_name].CopyFrom(tf.make_tensor_proto(value))
    return request


def serving_module(model_dir, task_name=None,
                   max_text_bytes=DEFAULT_MAX_TEXT_BYTES):
    """The serving tf.Module of a fine-tuned bert_tf model directory; its
    raw-text signatures refuse texts over `max_text_bytes` bytes."""
    task = checkpoints.read_model_description(model_dir).get("task")
    if not task:
        raise ExportError(f"{model_dir}: not a fine-tuned model (no task in "
                          f"{checkpoints.MODEL_FILE}); export the "
                          "OUTPUT_DIR/model of a tasks.finetune run")
    if task_name and task_name != task["name"]:
        raise ExportError(f"{model_dir}: fine-tuned for {task['name']}, not "
                          f"{task_name}")
    module_class = SERVING_MODULES.get(task.get("family"))
    if module_class is None:
        raise ExportError(f"{model_dir}: no serving module for task family "
                          f"{task.get('family')!r}")
    tokenizer = tokenization.BertTokenizer(
        os.path.join(model_dir, "vocab.txt"), task["lower_case"])
    return module_class(checkpoints.load_model(model_dir), tokenizer, task,
                        max_text_bytes=max_text_bytes)


def _publish(module, export_dir, serving_version):
    """Saves `module` as the next version under `export_dir`, atomically;
    returns the version directory."""
    name = os.path.basename(os.path.normpath(export_dir))
    versions = _versions(export_dir)
    version = versions[-1] + 1 if versions else 1
    os.makedirs(export_dir, exist_ok=True)
    _remove_abandoned_staging(export_dir)
    staging = os.path.join(export_dir, f".staging-{version}-{os.getpid()}")
    try:
        tf.saved_model.save(module, staging, signatures=module.signatures())
        for signature, method in module.method_names().items():
            signature_defs.set_signature_method(staging, signature, method)
        signature_defs.write_warmup_requests(staging, [
            _predict_request(name, signature, inputs)
            for signature, inputs in module.warmup_inputs().items()])
        ops, oldest = op_audit.audit(staging, serving_version)
        final = os.path.join(export_dir, str(version))
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("Exported %s version %d (%d op types; loads in TF Serving "
                 ">= %s)", name, version, len(ops), oldest)
    model_config.write(os.path.dirname(os.path.abspath(export_dir)))
    return final


def export(model_dir, export_dir, task_name=None,
           serving_version=op_audit.DEFAULT_SERVING_VERSION,
           max_text_bytes=DEFAULT_MAX_TEXT_BYTES):
    """Writes the next version of a fine-tuned model's export under
    `export_dir`; returns the version directory. Its raw-text signatures
    answer INVALID_ARGUMENT for a text of more than `max_text_bytes`."""
    _check_max_text_bytes(max_text_bytes)
    module = serving_module(model_dir, task_name, max_text_bytes)
    logging.info("Texts of up to %d bytes per input and row "
                 "(--max_text_bytes)", max_text_bytes)
    return _publish(module, export_dir, serving_version)


def _check_max_text_bytes(value):
    if not isinstance(value, int) or value < 1:
        raise ExportError(f"max_text_bytes must be a positive number of "
                          f"bytes, not {value!r}")


def export_encoder(checkpoint, export_dir, seq_length=128, lower_case=None,
                   serving_version=op_audit.DEFAULT_SERVING_VERSION):
    """The TF Hub-style pair of any checkpoint bert_tf reads: the encoder
    at `export_dir` and its preprocessor at `export_dir`_preprocess.

    Returns:
        (encoder version directory, preprocessor version directory).
    """
    config, weights, vocab_file, _ = checkpoints.read_checkpoint(checkpoint)
    if vocab_file is None:
        raise ExportError(f"{checkpoint}: no vocab.txt beside the "
                          "checkpoint; the preprocessor needs one")
    if lower_case is None:
        lower_case = not tokenization.vocab_is_cased(
            tokenization.load_vocab(vocab_file))
    config.check_max_seq_length(seq_length)
    bert = encoder_lib.BertEncoder(config)
    checkpoints.assign_weights(bert, weights, checkpoint)
    tokenizer = tokenization.BertTokenizer(vocab_file, lower_case)
    export_dir = os.path.normpath(export_dir)
    encoder_dir = _publish(encoder_export.Encoder(bert), export_dir,
                           serving_version)
    preprocess_dir = _publish(
        encoder_export.Preprocessor(tokenizer, seq_length),
        f"{export_dir}_preprocess", serving_version)
    return encoder_dir, preprocess_dir


FLAGS = flags.FLAGS
flags.DEFINE_string("task", None, "Task the model was fine-tuned for "
                    "(checked against the model directory), or 'encoder' "
                    "for the TF Hub-style encoder + preprocessor pair.")
flags.DEFINE_string("model_dir", None, "Fine-tuned bert_tf model directory "
                    "(OUTPUT_DIR/model of tasks.finetune); with "
                    "--task=encoder any checkpoint bert_tf reads.")
flags.DEFINE_integer("seq_length", 128, "--task=encoder: the length the "
                     "preprocessor's default call pads to.")
flags.DEFINE_string("export_dir", None, "BASE/NAME: versions go in here, "
                    "BASE/models.config lists every model under BASE.")
flags.DEFINE_string("serving_version", op_audit.DEFAULT_SERVING_VERSION,
                    "Oldest TF Serving release the export must load in "
                    "(2.0 or later, e.g. 2.12).")
flag_checks.non_empty(FLAGS, "task")
flag_checks.existing_checkpoint(FLAGS, "model_dir")
flag_checks.output_dir(FLAGS, "export_dir")
flag_checks.at_least(FLAGS, 3, "seq_length", why="[CLS], a piece and [SEP]")
flags.register_validator(
    "serving_version",
    lambda v: re.fullmatch(r"[1-9]\d*\.\d+", v or "") is not None
    and tuple(map(int, v.split("."))) >= (2, 0),
    "expected a TF Serving release, 2.0 or later (e.g. 2.12)")
flags.DEFINE_integer("max_text_bytes", DEFAULT_MAX_TEXT_BYTES,
                     "Longest raw text (UTF-8 bytes) each input of a "
                     "request row may hold; longer ones are answered "
                     "INVALID_ARGUMENT. A request's memory grows linearly "
                     "with its text: see docs/serving.md for the cost per "
                     "byte.")
flags.register_validator(
    "max_text_bytes", lambda value: value is not None and value >= 1,
    message="--max_text_bytes must be a positive number of bytes")


def main(argv):
    del argv  # the flags were checked as they were parsed
    try:
        if FLAGS.task == "encoder":
            paths = export_encoder(FLAGS.model_dir, FLAGS.export_dir,
                                   FLAGS.seq_length,
                                   serving_version=FLAGS.serving_version)
        else:
            paths = [export(FLAGS.model_dir, FLAGS.export_dir, FLAGS.task,
                            FLAGS.serving_version,
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


if __name__ == "__main__":
    # Required here only: test modules import this one and parse FLAGS.
    flags.mark_flags_as_required(["model_dir", "export_dir"])
    app.run(main, flags_parser=flag_checks.parse_flags)
