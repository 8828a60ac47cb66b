"""TF Serving's REST JSON <-> the gRPC API's protos (util/json_tensor.cc).

Predict requests carry tensors in row ("instances": one item per batch
element, an object per item when the signature has several inputs) or
columnar ("inputs") form; JSON values are read by the signature's input
dtypes, strings may be {"b64": ...}. The response mirrors the form:
"predictions" (a list; objects when several outputs) or "outputs" (the
value, or an object of outputs). String outputs are JSON strings, and
{"b64": ...} for outputs named *_bytes (and, in the dev server only, for
bytes that are not UTF-8, which TF Serving would write unescaped).
Classify/Regress requests carry {"examples": [{feature: value|list}],
"context": {...}}; responses are {"results": ...} as TF Serving writes them.
"""

import base64
import binascii
import json

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.example import example_pb2
from tensorflow.core.example import feature_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.dev_server import errors
from serving.dev_server import limits
from serving.dev_server import tensors

_INT_RANGES = {
    tf.int32: (-(1 << 31), (1 << 31) - 1),
    tf.int16: (-(1 << 15), (1 << 15) - 1),
    tf.int8: (-(1 << 7), (1 << 7) - 1),
    tf.uint8: (0, (1 << 8) - 1),
    tf.int64: (-(1 << 63), (1 << 63) - 1),
    tf.uint32: (0, (1 << 32) - 1),
    tf.uint64: (0, (1 << 64) - 1),
}
_FLOAT_MAX_INT = {tf.float32: (1 << 24) - 1, tf.float64: (1 << 53) - 1}
_FLOAT_MAX = {tf.float32: float(np.finfo(np.float32).max),
              tf.float64: float(np.finfo(np.float64).max)}


# ------------------------------------------------------------- requests

def parse_body(body: bytes) -> dict:
    """The request's JSON object (NaN and Infinity allowed, as in TF).

    Raises:
        errors.ServingError: INVALID_ARGUMENT for anything but a JSON
            object of valid UTF-8 text (lone surrogates such as "\\ud800"
            included) nested at most MAX_JSON_DEPTH deep.
    """
    if not body:
        raise errors.invalid_argument("JSON Parse error: The document is empty")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise errors.invalid_argument(f"JSON Parse error: {e}") from None
    except RecursionError:
        raise errors.invalid_argument(
            f"JSON Parse error: nested deeper than {limits.MAX_JSON_DEPTH} "
            f"levels") from None
    if not isinstance(doc, dict):
        raise errors.invalid_argument(f"JSON Value: {_short(doc)} Is not "
                                      f"object")
    limits.check_json_document(doc, body)
    return doc


def signature_name(doc: dict) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise errors.invalid_argument(
            f"JSON Value: {_short(doc)} not formatted correctly. "
            f"'signature_name' key must be a string value.")
    return name


def fill_predict_request(doc, input_infos, request) -> str:
    """Fills request.inputs from "instances" or "inputs"; returns the form."""
    if not input_infos:
        raise errors.invalid_argument("Failed to get input map for signature")
    if "instances" in doc and "inputs" in doc:
        raise errors.invalid_argument(
            "Not formatted correctly expecting only one of 'inputs' or "
            "'instances' keys to exist")
    dtypes = {k: tf.as_dtype(v.dtype) for k, v in input_infos.items()}
    if "instances" in doc:
        arrays = _rows_to_arrays(doc["instances"], dtypes)
        form = "row"
    elif "inputs" in doc:
        arrays = _columns_to_arrays(doc["inputs"], dtypes)
        form = "columnar"
    else:
        raise errors.invalid_argument("Missing 'inputs' or 'instances' key")
    for name, array in arrays.items():
        request.inputs[name].CopyFrom(tensors.from_ndarray(array,
                                                           dtypes[name]))
    return form


def _rows_to_arrays(instances, dtypes):
    if not isinstance(instances, list):
        raise errors.invalid_argument("Excepting 'instances' to be an "
                                      "list/array")
    if not instances:
        raise errors.invalid_argument("No values in 'instances' array")
    named = _is_named(instances[0])
    if not named and len(dtypes) > 1:
        raise errors.invalid_argument(
            "instances is a plain list, but expecting list of objects as "
            "multiple input tensors required as per tensorinfo_map")
    items = {name: [] for name in dtypes}
    for i, element in enumerate(instances):
        if named != _is_named(element):
            want = "object" if named else "value/list"
            raise errors.invalid_argument(
                f"Expecting {want} but got {_json_type(element)} at item {i} "
                f"of input list")
        values = element if named else {next(iter(dtypes)): element}
        for key, value in values.items():
            where = f" key: {key}" if named else ""
            if key not in dtypes:
                raise errors.invalid_argument(
                    f"Failed to process element: {i}{where} of 'instances' "
                    f"list. Error: JSON object: does not have named input: "
                    f"{key}")
            try:
                array = _to_array(value, dtypes[key])
            except errors.ServingError as e:
                raise errors.invalid_argument(
                    f"Failed to process element: {i}{where} of 'instances' "
                    f"list. Error: {e.message}") from None
            if items[key] and items[key][0].shape != array.shape:
                raise errors.invalid_argument(
                    f"Failed to process element: {i}{where} of 'instances' "
                    f"list. Error: Expecting shape "
                    f"{list(items[key][0].shape)} but got: "
                    f"{list(array.shape)}")
            items[key].append(array)
        if named and set(element) != set(dtypes):
            raise errors.invalid_argument(
                f"Failed to process element: {i} of 'instances' list. JSON "
                f"object: {_short(element)} keys must be equal to: "
                f"{','.join(sorted(dtypes))}")
    return {name: np.stack(rows) for name, rows in items.items()}


def _columns_to_arrays(inputs, dtypes):
    if not _is_named(inputs):
        if len(dtypes) > 1:
            raise errors.invalid_argument(
                "inputs is a plain value/list, but expecting an object as "
                "multiple input tensors required as per tensorinfo_map")
        name = next(iter(dtypes))
        return {name: _to_array(inputs, dtypes[name])}
    arrays = {}
    for name, dtype in dtypes.items():
        if name not in inputs:
            raise errors.invalid_argument(f"Missing named input: {name} in "
                                          f"'inputs' object.")
        arrays[name] = _to_array(inputs[name], dtype)
    return arrays


def _to_array(value, dtype):
    """A JSON value (scalar or nested lists) as an array of `dtype`."""
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    flat = []
    _flatten(value, 0, shape, dtype, flat)
    if dtype == tf.string:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
    else:
        array = np.array(flat, dtype=dtype.as_numpy_dtype)
    return array.reshape(shape)


def _flatten(value, level, shape, dtype, out):
    if not isinstance(value, list):
        if level != len(shape):
            raise errors.invalid_argument(
                f"JSON Value: {_short(value)} found at incorrect level: "
                f"{level + 1} in the JSON DOM. Expected at level: "
                f"{len(shape)}")
        out.append(_scalar(value, dtype))
        return
    if level >= len(shape):
        raise errors.invalid_argument(f"Encountered list at unexpected "
                                      f"level: {level} expected < {len(shape)}")
    if len(value) != shape[level]:
        raise errors.invalid_argument(
            f"Encountered list at unexpected size: {len(value)} at level: "
            f"{level} expected size: {shape[level]}")
    for item in value:
        _flatten(item, level + 1, shape, dtype, out)


def _scalar(value, dtype):
    def type_error():
        return errors.invalid_argument(
            f"JSON Value: {_short(value)} Type: {_json_type(value)} is not "
            f"of expected type: {dtype.name}")

    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            return _b64_decode(value)
        raise type_error()
    if isinstance(value, dict):
        raise type_error()
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype in _FLOAT_MAX:
        if not is_number:
            raise type_error()
        lossy = (abs(value) > _FLOAT_MAX_INT[dtype] if isinstance(value, int)
                 else np.isfinite(value) and abs(value) > _FLOAT_MAX[dtype])
        if lossy:
            raise errors.invalid_argument(
                f"Cannot convert JSON value: {value} to {dtype.name} without "
                f"loss of precision.")
        return value
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if not (is_number and isinstance(value, int) and low <= value <= high):
            raise type_error()
        return value
    if dtype == tf.bool:
        if not isinstance(value, bool):
            raise type_error()
        return value
    raise errors.ServingError(
        grpc.StatusCode.UNIMPLEMENTED,
        f"Conversion of JSON Value: {_short(value)} to type: {dtype.name}")


def _is_b64(value):
    return (isinstance(value, dict) and len(value) == 1
            and isinstance(value.get("b64"), str))


def _is_named(value):
    return isinstance(value, dict) and not _is_b64(value)


def _b64_decode(value):
    if not _is_b64(value):
        raise errors.invalid_argument(f"JSON Value: {_short(value)} not "
                                      f"formatted correctly for base64 data")
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid_argument("Unable to base64 decode") from None


def fill_example_request(doc, request, method) -> None:
    """Fills a Classification/RegressionRequest's input from JSON."""
    examples = doc.get("examples")
    if examples is None:
        raise errors.invalid_argument(
            f"JSON Value: {_short(doc)} When method is {method}, key "
            f"'examples' is expected and was not found")
    if not isinstance(examples, list):
        raise errors.invalid_argument("Expecting 'examples' value to be an "
                                      "list/array")
    if not examples:
        raise errors.invalid_argument("'examples' value is an empty array")
    if "context" in doc:
        listed = request.input.example_list_with_context
        listed.context.CopyFrom(_example(doc["context"]))
    else:
        listed = request.input.example_list
    for example in examples:
        listed.examples.add().CopyFrom(_example(example))


def _example(value):
    if not isinstance(value, dict):
        raise errors.invalid_argument(f"Example must be JSON object but got "
                                      f"JSON {_json_type(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        feature = feature_pb2.Feature()
        for item in content if isinstance(content, list) else [content]:
            _add_feature_value(item, name, feature)
        example.features.feature[name].CopyFrom(feature)
    return example


def _add_feature_value(value, name, feature):
    if isinstance(value, bool) or (
            isinstance(value, int) and -(1 << 63) <= value < (1 << 63)):
        kind, item = "int64_list", int(value)
    elif isinstance(value, int):
        raise errors.invalid_argument(f"Feature: {name} has uint64 element. "
                                      f"Only int64 is supported.")
    elif isinstance(value, float):
        kind, item = "float_list", _scalar(value, tf.float32)
    elif isinstance(value, str):
        kind, item = "bytes_list", value.encode("utf-8")
    elif _is_b64(value):
        kind, item = "bytes_list", _b64_decode(value)
    else:
        raise errors.invalid_argument(
            f"Feature: {name} has element with unexpected JSON type: "
            f"{_json_type(value)}")
    current = feature.WhichOneof("kind")
    if current not in (None, kind):
        raise errors.invalid_argument(
            f"Unexpected element type in feature: {name} expecting type: "
            f"{current.split('_')[0]}")
    getattr(feature, kind).value.append(item)


# ------------------------------------------------------------ responses

def predict_json(response, form) -> dict:
    """PredictResponse -> {"predictions": ...} or {"outputs": ...}."""
    outputs = {name: tf.make_ndarray(proto)
               for name, proto in sorted(response.outputs.items())}
    if not outputs:
        raise errors.invalid_argument("Cannot convert empty tensor map to "
                                      "JSON")
    if form == "columnar":
        values = {name: _to_json(name, array)
                  for name, array in outputs.items()}
        return {"outputs": values if len(values) > 1
                else next(iter(values.values()))}
    batch = None
    for name, array in outputs.items():
        if array.ndim == 0:
            raise errors.invalid_argument(f"Tensor name: {name} has no shape "
                                          f"information ")
        if batch is not None and array.shape[0] != batch:
            raise errors.invalid_argument(
                f"Tensor name: {name} has inconsistent batch size: "
                f"{array.shape[0]} expecting: {batch}")
        batch = array.shape[0]
    columns = {name: _to_json(name, array) for name, array in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    return {"predictions": [{name: column[i] for name, column in
                             columns.items()} for i in range(batch)]}


def _to_json(name, array):
    flat = array.reshape(-1)
    if array.dtype == np.float32:
        items = [float(str(v)) for v in flat]  # Shortest float32 digits.
    elif array.dtype.kind == "O":
        items = [_string_json(name, v) for v in flat]
    else:
        items = flat.tolist()
    return _nest(items, array.shape)


def _string_json(name, value):
    if not name.endswith("_bytes"):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(value).decode("ascii")}


def _nest(items, shape):
    if not shape:
        return items[0]
    if len(shape) == 1:
        return items
    step = len(items) // shape[0] if shape[0] else 0
    return [_nest(items[i * step:(i + 1) * step], shape[1:])
            for i in range(shape[0])]


def classification_json(result) -> dict:
    return {"results": [[[c.label, _float32(c.score)] for c in row.classes]
                        for row in result.classifications]}


def regression_json(result) -> dict:
    return {"results": [_float32(r.value) for r in result.regressions]}


def status_json(response) -> dict:
    return json_format.MessageToDict(
        response, preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True)


def metadata_json(response) -> dict:
    """{"model_spec": ..., "metadata": {"signature_def": ...}}, as TF does."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    return {"model_spec": status_json(response.model_spec),
            "metadata": {"signature_def": status_json(signature_map)}}


def dumps(value) -> bytes:
    # "replace": an error quoting a lone surrogate still encodes.
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode(
        "utf-8", "replace")


def _float32(value):
    return float(str(np.float32(value)))


def _json_type(value):
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    return {dict: "Object", list: "Array", str: "String"}.get(
        type(value), "Number")


def _short(value, limit=errors.MAX_ECHO_CHARS):
    return errors.clip(json.dumps(value, allow_nan=True, ensure_ascii=False),
                       limit)
