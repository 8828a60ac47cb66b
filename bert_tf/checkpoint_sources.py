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

Nothing a file declares is trusted: `checkpoint_checks` holds the checks the
readers run before they allocate or read.
"""

import glob
import os
import re

import numpy as np

from bert_tf import checkpoint_checks as checks
from bert_tf import configs
# The errors are defined with the checks; readers and callers import them
# from here too.
from bert_tf.checkpoint_checks import CheckpointConfigError
from bert_tf.checkpoint_checks import CheckpointError

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
    checks.check_unknown(prefix, unknown, skip_unknown)
    names = [n for n in names if n not in unknown]
    checks.check_google_sizes(prefix, shapes, dtypes, names)
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
    """{name: array} of a safetensors file, its header checked first.

    BF16 tensors (numpy has no bfloat16) are widened to float32 exactly, as
    `torch_pickle` does for bfloat16 storages; every other dtype is read as
    stored (F16 stays float16 until it is assigned to a float32 variable).
    """
    from safetensors import safe_open

    try:
        header, data_start = checks.check_safetensors_header(path)
        with safe_open(path, framework="numpy") as f:
            return {name: _read_bf16(path, data_start, header[name])
                    if header[name]["dtype"] == "BF16" else f.get_tensor(name)
                    for name in f.keys()}
    except CheckpointError:
        raise
    except Exception as e:  # SafetensorError, MemoryError, TypeError, ...
        raise CheckpointError(f"{path}: cannot read safetensors: {e}") from e


def _read_bf16(path, data_start, entry):
    # The entry's offsets were checked against the file's data section.
    begin, end = entry["data_offsets"]
    with open(path, "rb") as f:
        f.seek(data_start + begin)
        raw = f.read(end - begin)
    if len(raw) != end - begin:
        raise CheckpointError(f"{path}: cannot read safetensors: the file "
                              "is shorter than its header says")
    # bfloat16 is the top half of a float32: shift its bits back up.
    halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
    return (halves << 16).view(np.float32).reshape(entry["shape"])


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
    checks.check_unknown(path, unknown, skip_unknown)
    return weights


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
    checks.check_keras_hub_weights_size(directory, config)
    return config


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
