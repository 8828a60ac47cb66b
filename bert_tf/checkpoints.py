"""Weights in and out of bert_tf models.

One name table maps every bert_tf variable to google-research/bert's TF1
name (the canonical name), with the reshape each needs: Keras' attention
keeps per-head kernels ([H, N, D] and [N, D, H]) where the original keeps
2-D [H, H] matrices. All sources are read into canonical names first
(`checkpoint_sources`), and bert_tf's own model directories store them too,
so one table serves import, export and save/load.

A bert_tf model directory holds:
  bert_config.json      the architecture (google-research keys)
  vocab.txt             the word-piece vocabulary
  weights.safetensors   {canonical name: array}
  bert_tf_model.json    which model class and head arguments it was saved from

Loading is all-or-nothing: every model variable must be found with the right
shape before any is assigned, so nothing is left at random initialisation
(the checks on files and weights are in `checkpoint_checks`).
"""

import contextlib
import json
import os
import re
import shutil
import tempfile

import numpy as np
from absl import logging

from bert_tf import checkpoint_checks as checks
from bert_tf import checkpoint_sources as sources
from bert_tf import configs
from bert_tf import models
from bert_tf.checkpoint_checks import CheckpointError
from bert_tf.layers import encoder as encoder_lib
from bert_tf import zoo

WEIGHTS_FILE = "weights.safetensors"
MODEL_FILE = "bert_tf_model.json"
FORMAT_VERSION = 1

# How a variable's shape relates to its canonical shape.
SAME, MERGE_HEADS_OUT, MERGE_HEADS_IN, TRANSPOSE = range(4)

# bert_tf variable path -> canonical name, reshape rule.
_L = r"transformer_layer_(\d+)/"
_NAME_TABLE = [
    (r"token_embedding/embeddings", r"bert/embeddings/word_embeddings", SAME),
    (r"position_embedding/embeddings", r"bert/embeddings/position_embeddings", SAME),
    (r"segment_embedding/embeddings", r"bert/embeddings/token_type_embeddings", SAME),
    (r"embeddings_layer_norm/(gamma|beta)", r"bert/embeddings/LayerNorm/\1", SAME),
    # [H, N, D] / [N, D] <-> [H, H] / [H]: the heads are the output columns.
    (_L + r"self_attention/(query|key|value)/(kernel|bias)",
     r"bert/encoder/layer_\1/attention/self/\2/\3", MERGE_HEADS_OUT),
    # [N, D, H] <-> [H, H]: the heads are the input rows.
    (_L + r"self_attention/attention_output/kernel",
     r"bert/encoder/layer_\1/attention/output/dense/kernel", MERGE_HEADS_IN),
    (_L + r"self_attention/attention_output/bias",
     r"bert/encoder/layer_\1/attention/output/dense/bias", SAME),
    (_L + r"self_attention_layer_norm/(gamma|beta)",
     r"bert/encoder/layer_\1/attention/output/LayerNorm/\2", SAME),
    (_L + r"intermediate_dense/(kernel|bias)",
     r"bert/encoder/layer_\1/intermediate/dense/\2", SAME),
    (_L + r"output_dense/(kernel|bias)",
     r"bert/encoder/layer_\1/output/dense/\2", SAME),
    (_L + r"output_layer_norm/(gamma|beta)",
     r"bert/encoder/layer_\1/output/LayerNorm/\2", SAME),
    (r"pooled_dense/(kernel|bias)", r"bert/pooler/dense/\1", SAME),
    (r"mlm_head/intermediate_dense/(kernel|bias)",
     r"cls/predictions/transform/dense/\1", SAME),
    (r"mlm_head/intermediate_layer_norm/(gamma|beta)",
     r"cls/predictions/transform/LayerNorm/\1", SAME),
    (r"mlm_head/output_bias", r"cls/predictions/output_bias", SAME),
    # google stores the NSP weight as [2, H], a Dense kernel is [H, 2].
    (r"nsp_head/kernel", r"cls/seq_relationship/output_weights", TRANSPOSE),
    (r"nsp_head/bias", r"cls/seq_relationship/output_bias", SAME),
]
_NAME_TABLE = [(re.compile(r"(?:.*/)?" + p), r, k) for p, r, k in _NAME_TABLE]
# Task heads have no google-research name; they keep their own under this.
TASK_PREFIX = "task/"


def canonical_name(variable_path):
    """(canonical name, rule) of a bert_tf variable path."""
    for pattern, replacement, rule in _NAME_TABLE:
        match = pattern.fullmatch(variable_path)
        if match:
            return match.expand(replacement), rule
    return TASK_PREFIX + variable_path, SAME


def to_canonical(value, rule):
    if rule == MERGE_HEADS_OUT:
        return value.reshape(value.shape[:-2] + (-1,)) if value.ndim > 1 \
            else value
    if rule == MERGE_HEADS_IN:
        return value.reshape((-1,) + value.shape[2:])
    if rule == TRANSPOSE:
        return value.T
    return value


def _canonical_shape(shape, rule):
    return to_canonical(np.empty(shape, dtype=np.uint8), rule).shape


def weight_table(model):
    """[(canonical name, variable, rule)] for every variable of `model`."""
    table, seen = [], {}
    for variable in model.weights:
        name, rule = canonical_name(variable.path)
        if name in seen:
            raise CheckpointError(
                f"variables {seen[name]} and {variable.path} both map to "
                f"'{name}'; sub-layer names must be unique")
        seen[name] = variable.path
        table.append((name, variable, rule))
    return table


def model_weights(model):
    """{canonical name: numpy array} of `model`, float32 or as stored."""
    return {name: to_canonical(variable.numpy(), rule)
            for name, variable, rule in weight_table(model)}


def assign_weights(model, weights, source):
    """Sets every variable of `model` from canonical `weights`.

    Raises `CheckpointError` naming `source`, the variable and both shapes
    on any missing name or shape mismatch, before assigning anything.
    Returns the names in `weights` the model did not use.
    """
    table = weight_table(model)
    checks.check_fits_model(
        weights, {name: (_canonical_shape(tuple(variable.shape), rule),
                         variable.path) for name, variable, rule in table},
        model.name, source)
    for name, variable, rule in table:
        value = np.asarray(weights[name])
        if rule == TRANSPOSE:
            value = value.T
        variable.assign(value.reshape(tuple(variable.shape))
                        .astype(variable.dtype))
    used = {name for name, _, _ in table}
    return sorted(set(weights) - used)


# ------------------------------------------------------------ directories


def detect_format(path):
    """"bert_tf", "hf", "keras_hub" or "google" for a checkpoint path (or
    a catalog name, fetched on first use)."""
    path = zoo.resolve_path(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, MODEL_FILE)):
            return "bert_tf"
        if sources.is_keras_hub_preset(path):
            return "keras_hub"
        if os.path.isfile(os.path.join(path, "config.json")):
            return "hf"
    try:
        sources.find_google_checkpoint(path)
        return "google"
    except CheckpointError:
        pass
    raise CheckpointError(
        f"{path}: not a recognised checkpoint. Expected a bert_tf model "
        f"directory ({MODEL_FILE}), an HF directory (config.json + "
        "model.safetensors or pytorch_model.bin), a keras-hub BertBackbone "
        "preset (config.json with class_name), or a google-research TF "
        "checkpoint (*.index + bert_config.json)")


def read_checkpoint(path, fmt=None, config_file=None, skip_unknown=False,
                    hidden_act=None):
    """Reads any supported checkpoint, or a catalog checkpoint by name
    (`bert_tf.zoo`: downloaded and converted on first use).

    The config's sizes are checked against the weights' shapes (and the
    weights for finite floating-point values) before anything is built.

    Returns (BertConfig, {canonical name: array}, vocab path or None, format).

    Raises:
        CheckpointError: on every failure, naming the file and the problem
            (`CheckpointConfigError`, also a `ConfigError`, for the config).
    """
    path = zoo.resolve_path(path)
    try:
        config, weights, vocab, fmt = _read_checkpoint(
            path, fmt, config_file, skip_unknown, hidden_act)
    except configs.ConfigError as e:
        if isinstance(e, CheckpointError):
            raise
        raise checks.CheckpointConfigError(str(e)) from e
    except OSError as e:  # unreadable file, permissions
        raise CheckpointError(f"{path}: cannot read: {e}") from e
    checks.check_weights(config, weights, path)
    return config, weights, vocab, fmt


def _read_checkpoint(path, fmt, config_file, skip_unknown, hidden_act):
    fmt = fmt or detect_format(path)
    if not os.path.exists(path) and fmt != "google":
        raise CheckpointError(f"{path}: no such file or directory")
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    if fmt == "bert_tf":
        weights_path = os.path.join(path, WEIGHTS_FILE)
        if not os.path.isfile(weights_path):
            raise CheckpointError(f"{weights_path}: weights file missing")
        description = read_model_description(path) if os.path.isfile(
            os.path.join(path, MODEL_FILE)) else {}
        checks.check_weights_digest(
            weights_path, description.get("weights_sha256"), MODEL_FILE)
        weights = sources.read_safetensors(weights_path)
        config_file = config_file or os.path.join(path, "bert_config.json")
    elif fmt == "hf":
        weights = sources.read_hf(path, skip_unknown=skip_unknown)
        config_file = config_file or os.path.join(path, "config.json")
    elif fmt == "google":
        weights = sources.read_google(path, skip_unknown=skip_unknown)
        if config_file is None:
            config_file = configs.find_config_file(directory)
            if config_file is None:
                raise CheckpointError(
                    f"{path}: no bert_config.json beside the checkpoint; "
                    "pass --bert_config_file")
    elif fmt == "keras_hub":
        config = sources.read_keras_hub_config(path, hidden_act or "gelu")
        variables = sources.read_keras_hub_variables(path)
        weights = {}
        for variable_path, value in variables.items():
            name, rule = canonical_name(variable_path)
            weights[name] = to_canonical(value, rule)
        vocab = os.path.join(path, "assets", "tokenizer", "vocabulary.txt")
        return config, weights, vocab if os.path.isfile(vocab) else None, fmt
    else:
        raise CheckpointError(f"unknown checkpoint format {fmt!r}; expected "
                              "bert_tf, hf, google or keras_hub")
    config = configs.BertConfig.from_json_file(config_file)
    if hidden_act:
        config = config.replace(hidden_act=hidden_act)
    vocab = os.path.join(directory, "vocab.txt")
    return config, weights, vocab if os.path.isfile(vocab) else None, fmt


def has_pretraining_heads(weights):
    return ("cls/predictions/output_bias" in weights
            and "cls/seq_relationship/output_weights" in weights)


def load_encoder(path, **read_options):
    """A `BertEncoder` with the weights of any supported checkpoint."""
    config, weights, _, _ = read_checkpoint(path, **read_options)
    encoder = encoder_lib.BertEncoder(config)
    assign_weights(encoder, weights, path)
    return encoder


def load_pretrainer(path, **read_options):
    """A `BertPretrainer` (encoder + MLM + NSP heads) from a checkpoint.

    Raises `CheckpointError` if the checkpoint carries no pre-training heads.
    """
    config, weights, _, _ = read_checkpoint(path, **read_options)
    if not has_pretraining_heads(weights):
        raise CheckpointError(
            f"{path}: the checkpoint has no MLM/NSP heads "
            "(cls/predictions/*, cls/seq_relationship/*); load it with "
            "load_encoder and train the heads from scratch")
    pretrainer = models.BertPretrainer(encoder_lib.BertEncoder(config))
    assign_weights(pretrainer, weights, path)
    return pretrainer


_MODEL_CLASSES = {cls.__name__: cls for cls in (
    encoder_lib.BertEncoder, models.BertPretrainer, models.BertClassifier,
    models.BertMultipleChoice, models.BertSpanLabeler, models.BertTokenTagger)}


def read_model_description(directory):
    """bert_tf_model.json of a model directory: model class, arguments,
    source and (fine-tuned models) task."""
    path = os.path.join(directory, MODEL_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"{directory}: not a bert_tf model directory "
                              f"({MODEL_FILE} missing)")
    return checks.read_json_object(path)


def load_model(directory):
    """The model a bert_tf model directory was saved from, weights loaded."""
    path = os.path.join(directory, MODEL_FILE)
    description = read_model_description(directory)
    class_name = description.get("model")
    if class_name not in _MODEL_CLASSES:
        raise CheckpointError(f"{path}: unknown model class {class_name!r}")
    config, weights, _, _ = read_checkpoint(directory, fmt="bert_tf")
    encoder = encoder_lib.BertEncoder(config)
    model_class = _MODEL_CLASSES[class_name]
    model = encoder if model_class is encoder_lib.BertEncoder else \
        model_class(encoder, **description.get("arguments", {}))
    assign_weights(model, weights, directory)
    return model


def _model_arguments(model):
    if isinstance(model, encoder_lib.BertEncoder):
        return {}
    arguments = dict(model.get_config())
    for key in ("name", "trainable", "encoder"):
        arguments.pop(key, None)
    return arguments


@contextlib.contextmanager
def atomic_output_dir(directory):
    """Yields a staging directory that becomes `directory` on success.

    `directory` must not exist or be empty. The staging directory is a
    sibling (same file system), renamed into place only after the body
    finished, and removed if it raised: a reader never sees a half-written
    output.
    """
    checks.check_output_dir(directory)
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(
        prefix=f".{os.path.basename(os.path.abspath(directory))}.tmp-",
        dir=parent)
    try:
        yield staging
        _apply_umask(staging)
        if os.path.isdir(directory):
            os.rmdir(directory)  # empty, checked above
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _apply_umask(staging):
    # mkdtemp (and some writers) create owner-only files; a model directory
    # should be readable like any other output (e.g. by a serving process).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    for root, dirs, files in os.walk(staging):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)


def _encoder_of(model):
    return model if isinstance(model, encoder_lib.BertEncoder) \
        else model.encoder


def save_model(directory, model, vocab_file, source=None, task=None):
    """Writes `model` as a bert_tf model directory, atomically.

    `task` (a JSON-able dict: task name, labels, max_seq_length, ...) is
    kept in bert_tf_model.json for exports and evaluation runs.
    """
    from safetensors.numpy import save_file

    checks.check_vocab_file(vocab_file)
    weights = model_weights(model)
    with atomic_output_dir(directory) as staging:
        _encoder_of(model).config.to_json_file(
            os.path.join(staging, "bert_config.json"))
        shutil.copyfile(vocab_file, os.path.join(staging, "vocab.txt"))
        weights_path = os.path.join(staging, WEIGHTS_FILE)
        save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
                  weights_path)
        with open(os.path.join(staging, MODEL_FILE), "w",
                  encoding="utf-8") as f:
            json.dump({"format_version": FORMAT_VERSION,
                       "model": type(model).__name__,
                       "arguments": _model_arguments(model),
                       "source": source,
                       "task": task,
                       "weights_sha256": checks.sha256(weights_path)}, f,
                      indent=2)
            f.write("\n")
    logging.info("Saved %s (%d weights) to %s", type(model).__name__,
                 len(weights), directory)


def save_google_checkpoint(directory, model, vocab_file):
    """Writes `bert_model.ckpt.*`, `bert_config.json` and `vocab.txt` that
    google-research/bert's scripts can initialise from."""
    checks.check_vocab_file(vocab_file)
    checks.check_google_activation(directory, _encoder_of(model).config)
    with atomic_output_dir(directory) as staging:
        sources.write_google(os.path.join(staging, "bert_model.ckpt"),
                             model_weights(model))
        _encoder_of(model).config.to_json_file(
            os.path.join(staging, "bert_config.json"))
        shutil.copyfile(vocab_file, os.path.join(staging, "vocab.txt"))


def convert(input_path, output, source_format="auto", target_format="bert_tf",
            bert_config_file=None, vocab_file=None, hidden_act=None,
            skip_unknown_weights=False):
    """Converts a checkpoint (any supported format, or a catalog name) into
    a bert_tf model directory or a google-research TF1 checkpoint
    (`target_format` "google"); returns the model. What `python -m
    bert_tf.convert` does after its flags.

    The weights are checked against the model before anything is written;
    the output appears whole or not at all.
    """
    from bert_tf import tokenization

    config, weights, source_vocab, fmt = read_checkpoint(
        input_path, fmt=None if source_format == "auto" else source_format,
        config_file=bert_config_file, skip_unknown=skip_unknown_weights,
        hidden_act=hidden_act)
    vocab_file = vocab_file or source_vocab
    if vocab_file is None:
        raise CheckpointError(
            f"{input_path}: no vocab.txt in the source; pass --vocab_file")
    vocab = tokenization.load_vocab(vocab_file)
    if len(vocab) != config.vocab_size:
        raise configs.ConfigError(
            f"{vocab_file}: {len(vocab)} tokens but the config says "
            f"vocab_size {config.vocab_size}")
    encoder = encoder_lib.BertEncoder(config)
    model = encoder
    if has_pretraining_heads(weights):
        model = models.BertPretrainer(encoder)
    unused = assign_weights(model, weights, input_path)
    if unused:
        logging.warning("Not carried over from %s: %s", input_path,
                        ", ".join(unused))
    if target_format == "bert_tf":
        save_model(output, model, vocab_file,
                   source=f"{fmt}:{os.path.abspath(input_path)}")
    else:
        save_google_checkpoint(output, model, vocab_file)
    logging.info("Converted %s (%s) -> %s (%s)", input_path, fmt, output,
                 target_format)
    return model
