"""TensorProto <-> numpy for the dev server, as TF Serving reads and writes.

Requests are parsed leniently where TensorFlow is (fewer values than the
shape holds repeat the last one) and strictly elsewhere: an unknown dtype,
a negative or unknown dimension, too many values or a `tensor_content` of
the wrong size is INVALID_ARGUMENT "tensor parsing error: NAME". Responses
use the typed value fields (`float_val`, `string_val`, ...), as
`tensorflow_model_server` does by default, not `tensor_content`.
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow.core.framework import types_pb2

from serving.dev_server import errors

# Guards for the dev server's memory, not TF Serving limits: a request
# declaring a larger tensor than this is refused before it is allocated
# (16M numbers are 64 MB as int32; a string costs ~100 bytes of numpy and
# Python object before the model even runs).
MAX_ELEMENTS = 1 << 24
MAX_STRING_ELEMENTS = 1 << 16

# dtype -> the TensorProto field holding its values.
_FIELDS = {
    tf.float32: "float_val",
    tf.float64: "double_val",
    tf.int32: "int_val",
    tf.int16: "int_val",
    tf.int8: "int_val",
    tf.uint8: "int_val",
    tf.uint16: "int_val",
    tf.int64: "int64_val",
    tf.uint32: "uint32_val",
    tf.uint64: "uint64_val",
    tf.bool: "bool_val",
    tf.string: "string_val",
}
_HALF = (tf.float16, tf.bfloat16)
_UNSUPPORTED = (types_pb2.DT_INVALID, types_pb2.DT_RESOURCE,
                types_pb2.DT_VARIANT)


def dtype_name(dtype_enum: int) -> str:
    """'string', 'int32', ... for a DataType enum (for messages)."""
    try:
        return tf.dtypes.as_dtype(dtype_enum).name
    except TypeError:
        return f"DataType({dtype_enum})"


def shape_string(shape: tensor_shape_pb2.TensorShapeProto) -> str:
    """'[-1,2]' (-1: any size) or '[?]' (unknown rank)."""
    if shape.unknown_rank:
        return "[?]"
    return "[" + ",".join(str(d.size) for d in shape.dim) + "]"


def to_ndarray(proto: tensor_pb2.TensorProto, name: str) -> np.ndarray:
    """The numpy value of a request tensor.

    Raises:
        errors.ServingError: INVALID_ARGUMENT 'tensor parsing error: NAME'.
    """
    def parsing_error(why):
        return errors.invalid_argument(f"tensor parsing error: {name} "
                                       f"({why})")

    if proto.dtype in _UNSUPPORTED or proto.dtype >= 100:
        raise parsing_error(f"dtype {dtype_name(proto.dtype)}")
    try:
        dtype = tf.dtypes.as_dtype(proto.dtype)
    except TypeError:
        raise parsing_error(f"unknown dtype {proto.dtype}") from None
    if proto.tensor_shape.unknown_rank:
        raise parsing_error("unknown rank")
    dims = [d.size for d in proto.tensor_shape.dim]
    if any(d < 0 for d in dims):
        raise parsing_error(f"shape {dims}")
    size = int(np.prod(dims, dtype=np.float64))
    limit = MAX_STRING_ELEMENTS if dtype == tf.string else MAX_ELEMENTS
    if size > limit:
        raise parsing_error(f"{size} elements; the dev server accepts at "
                            f"most {limit}")
    if proto.tensor_content:
        if dtype == tf.string or (
                len(proto.tensor_content) != size * dtype.size):
            raise parsing_error(f"tensor_content of {len(proto.tensor_content)}"
                                f" bytes for shape {dims} of {dtype.name}")
    else:
        count = _value_count(proto, dtype)
        if count > size:
            raise parsing_error(f"{count} values for shape {dims}")
    try:
        return tf.make_ndarray(proto)
    except Exception as e:  # noqa: BLE001 - any failure is the request's.
        raise parsing_error(str(e)) from None


def _value_count(proto, dtype):
    if dtype in _FIELDS:
        return len(getattr(proto, _FIELDS[dtype]))
    if dtype in _HALF:
        return len(proto.half_val)
    if dtype == tf.complex64:
        return len(proto.scomplex_val) // 2
    if dtype == tf.complex128:
        return len(proto.dcomplex_val) // 2
    return 0


def from_ndarray(value, dtype: tf.dtypes.DType | None = None
                 ) -> tensor_pb2.TensorProto:
    """A TensorProto with typed value fields (TF Serving's AsProtoField).

    Args:
        value: np.ndarray, tf.Tensor or anything np.asarray takes.
        dtype: tf.DType or None (from the value).
    """
    if isinstance(value, tf.Tensor):
        dtype = dtype or value.dtype
        value = value.numpy()
    array = np.asarray(value)
    if dtype is None:
        dtype = tf.string if array.dtype.kind in "OSU" else tf.as_dtype(
            array.dtype)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    flat = array.reshape(-1)
    if dtype == tf.string:
        proto.string_val.extend(
            v if isinstance(v, bytes) else str(v).encode("utf-8")
            for v in flat)
    elif dtype in _FIELDS:
        numpy_type = dtype.as_numpy_dtype
        getattr(proto, _FIELDS[dtype]).extend(
            flat.astype(numpy_type).tolist())
    elif dtype in _HALF:
        bits = flat.astype(dtype.as_numpy_dtype).view(np.uint16)
        proto.half_val.extend(bits.tolist())
    else:
        return tf.make_tensor_proto(array, dtype=dtype)
    return proto
