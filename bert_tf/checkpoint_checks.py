"""What a checkpoint must satisfy before bert_tf reads or builds from it.

Checkpoints come from anywhere, so nothing in one is trusted. The readers
(`checkpoint_sources`, `torch_pickle`) and the directory code
(`checkpoints`) call these checks at the point where a wrong value would
otherwise allocate memory, read past a file, build a model of the wrong size
or load silently corrupted weights:

  files       a safetensors header against its file, a TF1 index against its
              data files, a keras-hub config against its weights file, a
              model directory's weights against their recorded SHA-256 and
              its bert_tf_model.json
  weight set  names that are no part of BERT, non-float or non-finite
              values, a config whose sizes the weights do not back, a model
              variable missing from the weights or shaped differently
  outputs     an empty output directory, a vocab file to copy, an activation
              google-research can name

Every check raises `CheckpointError` naming the file (or source), the weight
or field, and what is wrong; `CheckpointConfigError` when a config file is
at fault.
"""

import glob
import hashlib
import json
import math
import os
import re

from absl import logging
import numpy as np

from bert_tf import errors

# A safetensors header lists names, dtypes, shapes and offsets: ~100 bytes a
# tensor, 20 KB for BERT-Base. The library itself accepts up to 100 MB.
MAX_SAFETENSORS_HEADER = 16 << 20
SAFETENSORS_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8,
                        "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


CheckpointError = errors.CheckpointError
CheckpointConfigError = errors.CheckpointConfigError


# ------------------------------------------------------------------ files


def check_safetensors_header(path):
    """The header of a safetensors file, every entry inside the file.

    Layout: u64 header length N, N bytes of JSON, then the tensor bytes.

    Returns:
        ({tensor name: entry}, offset of the data section in the file).
        Every entry's `data_offsets` lie in the data section and span
        exactly its shape times its dtype's size.
    """
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
    header.pop("__metadata__", None)
    data_size = size - 8 - length
    for name, entry in header.items():
        try:
            begin, end = entry["data_offsets"]
            shape = entry["shape"]
            valid = all(_is_count(n) for n in [begin, end, *shape]) and \
                0 <= begin <= end <= data_size and end - begin == \
                math.prod(shape) * SAFETENSORS_ITEMSIZE[entry["dtype"]]
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            raise CheckpointError(
                f"{path}: cannot read safetensors: tensor '{name}' has an "
                f"invalid entry {json.dumps(entry)[:200]} (data section: "
                f"{data_size} bytes)")
    return header, 8 + length


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) \
        and value >= 0


def check_google_sizes(prefix, shapes, dtypes, names):
    """The tensors a TF1 index declares must fit in its data files.

    TF allocates the declared shapes before reading; a bundle is
    uncompressed, so more declared bytes than stored means truncation.
    """
    declared = sum(math.prod(shapes[n]) * max(dtypes[n].size, 1)
                   for n in names)
    stored = sum(os.path.getsize(f) for f in glob.glob(prefix + ".data-*"))
    if declared > stored:
        raise CheckpointError(
            f"{prefix}: the index declares {declared} bytes of weights but "
            f"the data files hold {stored}; the checkpoint is truncated or "
            "corrupt")


def check_keras_hub_weights_size(directory, config):
    """keras-hub builds the model from config.json before it reads a
    weight: a config far larger than its weights files is refused first."""
    files = glob.glob(os.path.join(directory, "*.weights.h5"))
    if not files:
        raise CheckpointError(f"{directory}: no model.weights.h5")
    stored = sum(os.path.getsize(f) for f in files)
    if 2 * config.parameter_count() > stored:  # even at 16 bits a weight
        raise CheckpointError(
            f"{directory}/config.json: describes {config.parameter_count()} "
            f"parameters but {', '.join(sorted(files))} hold(s) only "
            f"{stored} bytes")


def read_json_object(path):
    """The JSON object in `path` (bert_tf_model.json), or CheckpointError."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return value


def sha256(path):
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weights_digest(weights_path, expected, recorded_in):
    """safetensors has no checksum: a flipped byte in a tensor would load
    silently. A model directory records its weights' SHA-256 (`expected`;
    None for directories written before it did, which are not checked)."""
    if expected and sha256(weights_path) != expected:
        raise CheckpointError(
            f"{weights_path}: corrupted (its SHA-256 differs from the one "
            f"recorded in {recorded_in} when it was written); use another "
            "copy or an earlier checkpoint")


# ------------------------------------------------------------- weight set


def check_unknown(path, unknown, skip_unknown):
    """Refuses (or, with `skip_unknown`, logs) weights that are no part of
    a BERT encoder or its pre-training heads."""
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


def check_fits_model(weights, expected, model_name, source):
    """Every model variable must be in `weights` with its shape.

    Args:
        weights: {canonical name: array}.
        expected: {canonical name: (canonical shape, variable path)} of
            every variable of the model.
        model_name: str. Named in the error.
        source: str. The checkpoint, named in the error.

    Raises:
        CheckpointError: listing the missing names, or naming the variable
            and both shapes; before anything is assigned.
    """
    missing = [name for name in expected if name not in weights]
    if missing:
        shown = ", ".join(missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise CheckpointError(
            f"{source}: {len(missing)} weight(s) of {model_name} not in the "
            f"checkpoint: {shown}{more}")
    for name, (shape, variable_path) in expected.items():
        found = tuple(weights[name].shape)
        if found != tuple(shape):
            raise CheckpointError(
                f"{source}: '{name}' has shape {found} in the checkpoint but "
                f"{tuple(shape)} in the model (variable {variable_path})")


# ---------------------------------------------------------------- outputs


def check_output_dir(directory):
    """An output directory must not exist or be empty: nothing is
    overwritten."""
    if os.path.exists(directory) and (
            not os.path.isdir(directory) or os.listdir(directory)):
        raise CheckpointError(
            f"{directory}: output exists and is not empty; choose a new "
            "output directory (nothing was written)")


def check_vocab_file(vocab_file):
    """A model directory needs its vocab.txt: it must exist to be copied."""
    if vocab_file is None or not os.path.isfile(vocab_file):
        raise CheckpointError(f"vocab file {vocab_file!r} not found; a model "
                              "directory needs its vocab.txt")


# What google-research's modeling.py (`get_activation`) accepts of ours. Its
# "gelu" is the tanh approximation since 2019 (the exact erf form in the 2018
# release); in HF's and bert_tf's reading it is the exact form.
GOOGLE_ACTIVATIONS = ("gelu", "relu", "tanh")


def check_google_activation(directory, config):
    """`config.hidden_act` must mean the same in a google bert_config.json."""
    act = config.hidden_act
    if act in GOOGLE_ACTIVATIONS:
        return
    hint = ("its 'gelu' is itself the tanh approximation (since 2019), but "
            "bert_tf and HF read 'gelu' as the exact erf form, so writing it "
            "would change the function for one of them. Convert with "
            "--hidden_act=gelu (load with hidden_act='gelu' in Python) to "
            "write 'gelu' deliberately, or keep the bert_tf format"
            if act in ("gelu_new", "gelu_pytorch_tanh") else
            "no name there computes it; keep the bert_tf format")
    raise CheckpointError(
        f"{directory}: hidden_act {act!r} cannot be written to a "
        "google-research bert_config.json: its modeling.py accepts only "
        f"linear, relu, gelu and tanh; {hint} (nothing was written)")
