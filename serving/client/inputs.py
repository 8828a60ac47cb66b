"""Examples in, readable lines out: the file and flag side of serving.client.

Examples are rows {input name: value}. From flags, `KEY=VALUE` is a string
and `KEY:=JSON` a typed value; repeating a key adds examples. From files:
FILE.tsv (tab-separated, the header row names the inputs, every value a
string; quote characters are text) or FILE.jsonl (one JSON object per
line). For Predict, values are cast to the signature's dtypes: a string
given for a numeric input is read as JSON ("3", "[101, 2023, 102]").
Errors are `InputError`s whose message starts with 'FILE:LINE: ' where
there is one.
"""

import csv
import json

import numpy as np
import tensorflow as tf


# Padded outputs of the token classification export (NER) -> the output
# holding each row's real length; predictions are printed without padding.
PADDED_OUTPUTS = {
    "words": "num_words", "word_starts": "num_words",
    "word_ends": "num_words", "tags": "num_words",
    "tag_probabilities": "num_words", "entities": "num_entities",
    "entity_types": "num_entities", "entity_starts": "num_entities",
    "entity_ends": "num_entities"}


class InputError(ValueError):
    """Examples that cannot be turned into a request."""


# ---------------------------------------------------------------- input

def parse_flag_inputs(values: list[str]) -> list[dict]:
    """Rows from --input KEY=VALUE / KEY:=JSON flags."""
    columns = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--input {item!r}: expected KEY=VALUE or "
                             f"KEY:=JSON")
        if key.endswith(":"):
            key = key[:-1]
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise InputError(f"--input {item!r}: not JSON: {e}") from None
        columns.setdefault(key, []).append(value)
    sizes = {key: len(v) for key, v in columns.items()}
    if len(set(sizes.values())) > 1:
        raise InputError(f"--input: every key needs as many values (one per "
                         f"example); got {sizes}")
    count = next(iter(sizes.values()), 0)
    return [{key: v[i] for key, v in columns.items()} for i in range(count)]


def read_input_file(path: str) -> list[dict]:
    """Rows of a .tsv (header = input names) or .jsonl file."""
    if path.endswith(".tsv"):
        return _read_tsv(path)
    if path.endswith((".jsonl", ".json")):
        return _read_jsonl(path)
    raise InputError(f"{path}: unknown input file type; expected .tsv or "
                     f".jsonl")


def _read_tsv(path):
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 ({e.reason})") from None
    numbered = [(n, row) for n, row in enumerate(lines, 1) if row]
    if not numbered:
        raise InputError(f"{path}: empty; expected a header row of input "
                         f"names")
    _, header = numbered[0]
    if len(set(header)) != len(header) or not all(header):
        raise InputError(f"{path}:1: header {header} must name each column "
                         f"once")
    rows = []
    for n, row in numbered[1:]:
        if len(row) != len(header):
            raise InputError(f"{path}:{n}: {len(row)} columns; the header "
                             f"has {len(header)} ({', '.join(header)})")
        rows.append(dict(zip(header, row)))
    return rows


def _read_jsonl(path):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{n}: not JSON: {e}") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{n}: expected an object "
                                     f"{{input: value}}, got {line.strip()}")
                rows.append(row)
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None
    return rows


def batches(rows, size):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def find_signature(signature_defs, name):
    if name not in signature_defs:
        raise InputError(f"the model has no signature {name!r}; signatures: "
                         f"{', '.join(sorted(signature_defs))}")
    return signature_defs[name]


def signature_inputs(rows, signature, start=0) -> dict[str, np.ndarray]:
    """Rows -> {input: batch array} in the signature's dtypes."""
    names = set(signature.inputs)
    columns = {name: [] for name in names}
    for i, row in enumerate(rows, start):
        if set(row) != names:
            raise InputError(
                f"example {i}: inputs {sorted(row)}; the signature takes "
                f"{sorted(names)}")
        for name in names:
            columns[name].append(row[name])
    arrays = {}
    for name, values in columns.items():
        dtype = tf.as_dtype(signature.inputs[name].dtype)
        if dtype == tf.string:
            array = np.empty(len(values), dtype=object)
            array[:] = [v if isinstance(v, bytes) else str(v).encode("utf-8")
                        for v in values]
        else:
            values = [json.loads(v) if isinstance(v, str) else v
                      for v in values]
            try:
                array = np.asarray(values, dtype=dtype.as_numpy_dtype)
            except (ValueError, TypeError) as e:
                raise InputError(
                    f"input {name!r} ({dtype.name}): {e}; values of one "
                    f"batch must have the same shape (pad them)") from None
        arrays[name] = array
    return arrays


# --------------------------------------------------------------- output

def format_predictions(outputs, count, start, fmt) -> list[str]:
    """One line per example (or one for the batch when not batched)."""
    names = sorted(outputs)
    batched = all(np.ndim(outputs[n]) > 0 and len(outputs[n]) == count
                  for n in names)
    if not batched:
        values = {n: _plain(outputs[n]) for n in names}
        return [json.dumps(values) if fmt == "json"
                else "batch\t" + _text(values)]
    lines = []
    for i in range(count):
        values = {n: _plain(_unpadded(outputs, n, i)) for n in names}
        lines.append(json.dumps(values) if fmt == "json"
                     else f"{start + i}\t" + _text(values))
    return lines


def _unpadded(outputs, name, row):
    value = outputs[name][row]
    count = PADDED_OUTPUTS.get(name)
    if count in outputs and np.ndim(value) > 0:
        return value[:int(outputs[count][row])]
    return value


def format_classifications(results, start, fmt) -> list[str]:
    lines = []
    for i, classes in enumerate(results, start):
        if fmt == "json":
            lines.append(json.dumps({"classes": [[label, _round(score)]
                                                 for label, score in classes]}))
        else:
            lines.append(f"{i}\t" + "  ".join(
                f"{label or '?'}={_round(score)}" for label, score in classes))
    return lines


def format_regressions(values, start, fmt) -> list[str]:
    return [json.dumps({"value": _round(v)}) if fmt == "json"
            else f"{i}\t{_round(v)}" for i, v in enumerate(values, start)]


def format_metadata(signature_defs, fmt) -> list[str]:
    if fmt == "json":
        from google.protobuf import json_format

        return [json.dumps({name: json_format.MessageToDict(
            signature, preserving_proto_field_name=True)
            for name, signature in sorted(signature_defs.items())}, indent=2)]
    lines = []
    for name, signature in sorted(signature_defs.items()):
        lines.append(f"{name} ({signature.method_name or 'no method'})")
        for kind, infos in (("in ", signature.inputs),
                            ("out", signature.outputs)):
            for key, info in sorted(infos.items()):
                lines.append(f"  {kind} {key}: {_dtype_name(info.dtype)} "
                             f"{_shape(info.tensor_shape)}")
    return lines


def format_status(statuses, fmt) -> list[str]:
    if fmt == "json":
        return [json.dumps([s.__dict__ for s in statuses])]
    return [f"version {s.version}: {s.state}" + (
        f" ({s.error_code}: {s.error_message})" if s.error_code != "OK"
        else "") for s in statuses]


def _dtype_name(dtype_enum):
    try:
        return tf.as_dtype(dtype_enum).name
    except TypeError:
        return "?"  # E.g. __saved_model_init_op's output: an op, no tensor.


def _shape(shape):
    if shape.unknown_rank:
        return "[?]"
    return "[" + ", ".join("None" if d.size < 0 else str(d.size)
                           for d in shape.dim) + "]"


def _plain(value):
    """numpy -> JSON-able Python: bytes decoded, floats to 6 digits."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value] if value.ndim else _plain(
            value.item())
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        return _round(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _round(value):
    return float(f"{float(value):.6g}")


def _text(values):
    return "  ".join(f"{name}={json.dumps(v, ensure_ascii=False)}"
                     if not isinstance(v, str) else f"{name}={v}"
                     for name, v in values.items())
