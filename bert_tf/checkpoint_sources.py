"""Readers that turn foreign BERT checkpoints into canonical weights.

The canonical form is google-research/bert's: a dict from its TF1 variable
names (`bert/encoder/layer_0/attention/self/query/kernel`) to numpy arrays,
dense kernels as [in, out]. Every source is read into it by an explicit
name table, then `bert_tf.checkpoints` assigns it to a model.

Sources:
  google    TF1 checkpoint (`bert_model.ckpt.index/.data-*`) + bert_config.json
  hf        HF directory: config.json + model.safetensors or pytorch_model.bin
  keras_hub keras-hub BertBackbone preset directory (config.json with
            "class_name": "BertBackbone", model.weights.h5)
"""

import glob
import json
import math
import os
import re

from absl import logging
import numpy as np

from bert_tf import configs

# A safetensors header lists names, dtypes, shapes and offsets: ~100 bytes a
# tensor, 20 KB for BERT-Base. The library itself accepts up to 100 MB.
MAX_SAFETENSORS_HEADER = 16 << 20
_SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8,
                         "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model."""


class CheckpointConfigError(CheckpointError, configs.ConfigError):
    """A checkpoint's config file is malformed or does not fit its weights.

    Both a `CheckpointError` and a `ConfigError`, so either handler sees it.
    """


# Names a source may hold that carry no model weights: optimizer slots,
# step counters, buffers.
_NON_WEIGHT = re.compile(
    r"(^|/)(global_step|adam_[mv]|.*_slot_.*|\.ATTRIBUTES.*)$|/adam_[mv]$"
    r"|^_CHECKPOINTABLE_OBJECT_GRAPH$|(^|\.)position_ids$")


def is_non_weight(name):
    return bool(_NON_WEIGHT.search(name))


# ------------------------------------------------------------------ google


def find_google_checkpoint(path):
    """The checkpoint prefix for a prefix, an .index file, or a directory."""
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if os.path.isfile(path + ".index"):
        return path
    if os.path.isdir(path):
        import tensorflow as tf  # deferred: only this source needs it

        try:
            latest = tf.train.latest_checkpoint(path)
        except Exception as e:  # a corrupt `checkpoint` state file
            raise CheckpointError(f"{path}: cannot read its TF 'checkpoint' "
                                  f"file: {e}") from e
        if latest:
            return latest
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if len(indexes) > 1:
            raise CheckpointError(
                f"{path}: several checkpoints ({', '.join(indexes)}); pass "
                "the prefix of the one to read")
    raise CheckpointError(f"{path}: no TF checkpoint (.index file) found")


# Canonical names of the encoder and of the pre-training heads.
BERT_NAME = re.compile(r"^(bert/|cls/predictions/|cls/seq_relationship/)")


def read_google(path, skip_unknown=False):
    """{name: array} from a google-research TF1 checkpoint."""
    import tensorflow as tf

    prefix = find_google_checkpoint(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as e:  # tf raises several types for corrupt files
        raise CheckpointError(f"{prefix}: cannot read checkpoint: {e}") from e
    names = [n for n in shapes if not is_non_weight(n)]
    unknown = [n for n in names if not BERT_NAME.match(n)]
    check_unknown(prefix, unknown, skip_unknown)
    names = [n for n in names if n not in unknown]
    # The index declares the shapes; TF allocates them before reading. A
    # bundle is uncompressed, so the tensors must fit in its data files.
    declared = sum(math.prod(shapes[n]) * max(dtypes[n].size, 1)
                   for n in names)
    stored = sum(os.path.getsize(f) for f in glob.glob(prefix + ".data-*"))
    if declared > stored:
        raise CheckpointError(
            f"{prefix}: the index declares {declared} bytes of weights but "
            f"the data files hold {stored}; the checkpoint is truncated or "
            "corrupt")
    try:
        return {n: reader.get_tensor(n) for n in names}
    except Exception as e:
        raise CheckpointError(f"{prefix}: cannot read checkpoint: {e}") from e


def write_google(prefix, weights):
    """Writes {name: array} as a TF1-style checkpoint readable by `read_google`
    and by google-research/bert's `init_from_checkpoint`."""
    import tensorflow as tf

    names = sorted(weights)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(weights[n]) for n in names],
    )


# ---------------------------------------------------------------------- hf

# HF parameter name (without the optional "bert." prefix) -> google name.
# "T" marks a torch Linear weight, stored [out, in]: transposed to [in, out].
_HF_RULES = [
    (r"embeddings\.word_embeddings\.weight", r"bert/embeddings/word_embeddings", ""),
    (r"embeddings\.position_embeddings\.weight", r"bert/embeddings/position_embeddings", ""),
    (r"embeddings\.token_type_embeddings\.weight", r"bert/embeddings/token_type_embeddings", ""),
    (r"embeddings\.LayerNorm\.(weight|gamma)", r"bert/embeddings/LayerNorm/gamma", ""),
    (r"embeddings\.LayerNorm\.(bias|beta)", r"bert/embeddings/LayerNorm/beta", ""),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.weight",
     r"bert/encoder/layer_\1/attention/self/\2/kernel", "T"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.bias",
     r"bert/encoder/layer_\1/attention/self/\2/bias", ""),
    (r"encoder\.layer\.(\d+)\.(attention\.output|intermediate|output)\.dense\.weight",
     r"bert/encoder/layer_\1/\2/dense/kernel", "T"),
    (r"encoder\.layer\.(\d+)\.(attention\.output|intermediate|output)\.dense\.bias",
     r"bert/encoder/layer_\1/\2/dense/bias", ""),
    (r"encoder\.layer\.(\d+)\.(attention\.output|output)\.LayerNorm\.(weight|gamma)",
     r"bert/encoder/layer_\1/\2/LayerNorm/gamma", ""),
    (r"encoder\.layer\.(\d+)\.(attention\.output|output)\.LayerNorm\.(bias|beta)",
     r"bert/encoder/layer_\1/\2/LayerNorm/beta", ""),
    (r"pooler\.dense\.weight", r"bert/pooler/dense/kernel", "T"),
    (r"pooler\.dense\.bias", r"bert/pooler/dense/bias", ""),
    (r"cls\.predictions\.transform\.dense\.weight", r"cls/predictions/transform/dense/kernel", "T"),
    (r"cls\.predictions\.transform\.dense\.bias", r"cls/predictions/transform/dense/bias", ""),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|gamma)", r"cls/predictions/transform/LayerNorm/gamma", ""),
    (r"cls\.predictions\.transform\.LayerNorm\.(bias|beta)", r"cls/predictions/transform/LayerNorm/beta", ""),
    (r"cls\.predictions\.bias", r"cls/predictions/output_bias", ""),
    # Both HF and google store the NSP weight as [2, H].
    (r"cls\.seq_relationship\.weight", r"cls/seq_relationship/output_weights", ""),
    (r"cls\.seq_relationship\.bias", r"cls/seq_relationship/output_bias", ""),
]
_HF_RULES = [(re.compile(p), r, t) for p, r, t in _HF_RULES]
# The MLM decoder is tied to the word embeddings (and its bias to
# cls.predictions.bias); these copies are checked, not loaded.
_HF_TIED = {
    "cls.predictions.decoder.weight": "bert/embeddings/word_embeddings",
    "cls.predictions.decoder.bias": "cls/predictions/output_bias",
}


def hf_weight_file(directory):
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise CheckpointError(
        f"{directory}: no model.safetensors or pytorch_model.bin found")


def read_safetensors(path):
    """{name: array} of a safetensors file, its header checked first."""
    from safetensors.numpy import load_file

    try:
        _check_safetensors_header(path)
        return load_file(path)
    except CheckpointError:
        raise
    except Exception as e:  # SafetensorError, MemoryError, TypeError, ...
        raise CheckpointError(f"{path}: cannot read safetensors: {e}") from e


def _check_safetensors_header(path):
    # Layout: u64 header length N, N bytes of JSON, then the tensor bytes.
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if size < 8 or length > min(size - 8, MAX_SAFETENSORS_HEADER):
            raise CheckpointError(
                f"{path}: cannot read safetensors: header of {length} bytes "
                f"declared in a file of {size}")
        header = json.loads(f.read(length))
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: cannot read safetensors: the header "
                              "is not a JSON object")
    data_size = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = entry["data_offsets"]
            shape = entry["shape"]
            valid = all(_is_count(n) for n in [begin, end, *shape]) and \
                0 <= begin <= end <= data_size and end - begin == \
                math.prod(shape) * _SAFETENSORS_ITEMSIZE[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise CheckpointError(
                f"{path}: cannot read safetensors: tensor '{name}' has an "
                f"invalid entry {json.dumps(entry)[:200]} (data section: "
                f"{data_size} bytes)")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) \
        and value >= 0


def _read_hf_tensors(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)
    from bert_tf import torch_pickle  # imports this module's CheckpointError

    return torch_pickle.load_state_dict(path)


def read_hf(directory, skip_unknown=False):
    """{google name: array} from an HF BERT directory."""
    path = hf_weight_file(directory)
    tensors = _read_hf_tensors(path)
    weights, tied, unknown = {}, {}, []
    for name, value in tensors.items():
        short = name[len("bert."):] if name.startswith("bert.") else name
        if is_non_weight(short):
            continue
        if short in _HF_TIED:
            tied[_HF_TIED[short]] = (name, value)
            continue
        for pattern, replacement, transform in _HF_RULES:
            if pattern.fullmatch(short):
                # google names hold no dots: "attention.output" -> "/".
                target = pattern.sub(replacement, short).replace(".", "/")
                weights[target] = value.T if transform == "T" else value
                break
        else:
            unknown.append(name)
    for target, (name, value) in tied.items():
        if target in weights and not np.array_equal(weights[target], value):
            raise CheckpointError(
                f"{path}: '{name}' differs from the weight it should be tied "
                f"to ({target}); untied MLM decoders are not supported")
        weights.setdefault(target, value)
    check_unknown(path, unknown, skip_unknown)
    return weights


def check_unknown(path, unknown, skip_unknown):
    if not unknown:
        return
    shown = ", ".join(sorted(unknown)[:8])
    more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
    if skip_unknown:
        logging.warning("%s: leaving out %d weight(s) that are not part of "
                        "a BERT encoder or its pre-training heads: %s%s",
                        path, len(unknown), shown, more)
    else:
        raise CheckpointError(
            f"{path}: {len(unknown)} weight(s) that are not part of a BERT "
            f"encoder or its pre-training heads: {shown}{more}. Pass "
            "skip_unknown=True (--skip_unknown_weights) to leave them out")


# --------------------------------------------------------------- keras_hub

# keras-hub BertBackbone variable path -> bert_tf variable path. The rest
# (embeddings, pooled_dense) are named alike.
_KERAS_HUB_RENAMES = [
    ("/self_attention_layer/", "/self_attention/"),
    ("/feedforward_intermediate_dense/", "/intermediate_dense/"),
    ("/feedforward_output_dense/", "/output_dense/"),
    ("/feedforward_layer_norm/", "/output_layer_norm/"),
]


def is_keras_hub_preset(directory):
    path = os.path.join(directory, "config.json")
    try:
        values = configs.read_json_file(path)
    except (OSError, configs.ConfigError):
        return False  # reading it as an HF config names the problem
    return isinstance(values, dict) and "class_name" in values


def read_keras_hub_config(directory, hidden_act="gelu"):
    """BertConfig of a keras-hub preset.

    keras-hub's BertBackbone computes the tanh GELU, but every BERT preset it
    ships was converted from checkpoints trained with the exact erf GELU, so
    `hidden_act` defaults to "gelu"; pass "gelu_new" to reproduce keras-hub's
    own outputs instead.
    """
    path = os.path.join(directory, "config.json")
    try:
        values = configs.read_json_file(path)
    except configs.ConfigError as e:
        raise CheckpointConfigError(str(e)) from e
    if not isinstance(values, dict) or \
            values.get("class_name") != "BertBackbone":
        class_name = values.get("class_name") \
            if isinstance(values, dict) else None
        raise CheckpointError(
            f"{path}: class_name is {class_name!r}; only "
            "keras-hub BertBackbone presets are supported")
    c = values.get("config", {})
    if not isinstance(c, dict):
        raise CheckpointError(f"{path}: 'config' is not a JSON object")
    try:
        config = configs.BertConfig.from_dict(
            dict(vocab_size=c["vocabulary_size"], hidden_size=c["hidden_dim"],
                 num_hidden_layers=c["num_layers"],
                 num_attention_heads=c["num_heads"],
                 intermediate_size=c["intermediate_dim"],
                 hidden_dropout_prob=c.get("dropout", 0.1),
                 attention_probs_dropout_prob=c.get("dropout", 0.1),
                 max_position_embeddings=c.get("max_sequence_length", 512),
                 type_vocab_size=c.get("num_segments", 2),
                 hidden_act=hidden_act),
            source=path)
    except KeyError as e:
        raise CheckpointError(f"{path}: missing field {e} in 'config'") from e
    except configs.ConfigError as e:
        raise CheckpointConfigError(str(e)) from e
    _check_keras_hub_weights_size(directory, config)
    return config


def _check_keras_hub_weights_size(directory, config):
    # keras-hub builds the model from config.json before it reads a weight:
    # a config far larger than its weights files is refused first.
    files = glob.glob(os.path.join(directory, "*.weights.h5"))
    if not files:
        raise CheckpointError(f"{directory}: no model.weights.h5")
    stored = sum(os.path.getsize(f) for f in files)
    if 2 * config.parameter_count() > stored:  # even at 16 bits a weight
        raise CheckpointError(
            f"{directory}/config.json: describes {config.parameter_count()} "
            f"parameters but {', '.join(sorted(files))} hold(s) only "
            f"{stored} bytes")


def read_keras_hub_variables(directory):
    """{bert_tf variable path: array} of a keras-hub BertBackbone preset."""
    import keras_hub

    try:
        backbone = keras_hub.models.BertBackbone.from_preset(directory)
    except Exception as e:
        raise CheckpointError(
            f"{directory}: cannot load keras-hub preset: {e}") from e
    variables = {}
    for variable in backbone.weights:
        path = variable.path
        for old, new in _KERAS_HUB_RENAMES:
            path = path.replace(old, new)
        variables[path] = np.asarray(variable)
    return variables


# ------------------------------------------------------------------ checks


def check_weights(config, weights, source):
    """Refuses weights that cannot be those of a `config` model.

    Runs before a model is built, so a config whose sizes its weights do
    not back (a billion positions, a million layers) allocates nothing.
    Every weight must hold finite floating-point numbers.

    Raises:
        CheckpointError: naming `source`, the weight and what is wrong.
    """
    for name, value in weights.items():
        if not np.issubdtype(value.dtype, np.floating):
            raise CheckpointError(
                f"{source}: '{name}' holds {value.dtype} values; weights must "
                "be floating point")
        bad = value.size - np.count_nonzero(np.isfinite(value))
        if bad:
            raise CheckpointError(
                f"{source}: '{name}' holds {bad} NaN or infinite value(s) "
                f"of {value.size}; the checkpoint is corrupt or its training "
                "diverged")
    h = ("hidden_size", config.hidden_size)
    expected = {
        "bert/embeddings/word_embeddings":
            (("vocab_size", config.vocab_size), h),
        "bert/embeddings/position_embeddings":
            (("max_position_embeddings", config.max_position_embeddings), h),
        "bert/embeddings/token_type_embeddings":
            (("type_vocab_size", config.type_vocab_size), h),
        "bert/encoder/layer_0/intermediate/dense/kernel":
            (h, ("intermediate_size", config.intermediate_size)),
    }
    for name, dims in expected.items():
        if name not in weights:
            raise CheckpointError(f"{source}: '{name}' is not in the "
                                  "checkpoint")
        shape = tuple(weights[name].shape)
        if shape != tuple(size for _, size in dims):
            described = ", ".join(f"{field} {size}" for field, size in dims)
            raise CheckpointError(
                f"{source}: '{name}' has shape {shape} but the config says "
                f"{described}")
    layers = {int(m.group(1)) for m in (
        re.match(r"bert/encoder/layer_(\d+)/", name) for name in weights)
        if m}
    if config.num_hidden_layers > len(layers):
        raise CheckpointError(
            f"{source}: the config says num_hidden_layers "
            f"{config.num_hidden_layers} but the checkpoint holds "
            f"{len(layers)} layer(s)")
