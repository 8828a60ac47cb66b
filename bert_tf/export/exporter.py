"""The export as library calls: `export` (a fine-tuned model directory ->
the next version under an export directory; `bert_tf.export_model`),
`export_encoder` (the TF Hub-style pair), `serving_module` (the tf.Module
before saving). What an export holds: serving/export/__init__.py.
"""

import os
import re
import shutil

from absl import logging
import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2

from bert_tf import checkpoints
from bert_tf import errors
from bert_tf.export import hub_encoder as encoder_export
from bert_tf.export import model_config
from bert_tf.export import op_audit
from bert_tf.export import saved_model
from bert_tf.layers import encoder as encoder_lib
from bert_tf.tasks import registry
from bert_tf.tasks import serving_ops
from bert_tf import tokenization

# Longest raw text (bytes) each input row may hold; see docs/serving.md.
DEFAULT_MAX_TEXT_BYTES = serving_ops.DEFAULT_MAX_TEXT_BYTES



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
    where = os.path.join(model_dir, checkpoints.MODEL_FILE)
    try:
        description = registry.description_from_json(task, where)
        module_class = registry.serving_module_class(description.family)
    except errors.Error as e:
        raise ExportError(f"{model_dir}: no serving module: {e}") from None
    if task_name and task_name != description.name:
        raise ExportError(f"{model_dir}: fine-tuned for {description.name}, "
                          f"not {task_name}")
    tokenizer = tokenization.BertTokenizer(
        os.path.join(model_dir, "vocab.txt"), description.lower_case)
    return module_class(checkpoints.load_model(model_dir), tokenizer,
                        description, max_text_bytes=max_text_bytes)


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
            saved_model.set_signature_method(staging, signature, method)
        saved_model.write_warmup_requests(staging, [
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
