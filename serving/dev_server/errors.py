"""Request errors of the dev server, with TF Serving's status codes.

A `ServingError` carries the gRPC status code TF Serving answers with and
its message; the gRPC services abort with both, and the REST API turns the
code into the HTTP status `tensorflow_model_server` uses (`http_status`)
and the message into the body `{"error": "..."}`.
"""

import re

import grpc

# tensorflow_model_server's mapping (model_servers/http_server.cc): note
# FAILED_PRECONDITION and OUT_OF_RANGE are 400 like INVALID_ARGUMENT.
_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# tf.errors codes and tensorflow.error.Code share gRPC's numbering.
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


# Longest error message sent back: a message echoing a huge request field
# (a 200 MB model name, signature name or JSON value) is cut to this.
MAX_MESSAGE_CHARS = 1024
# Longest request value an error message quotes (see `clip`).
MAX_ECHO_CHARS = 100


def clip(value, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as text for an error message: its first `limit` characters
    and '... (N bytes)' when longer, so errors never echo big fields."""
    if isinstance(value, bytes):
        size, value = len(value), value[:limit].decode("utf-8", "replace")
    else:
        value = str(value)
        if len(value) <= limit:
            return value
        size = len(value.encode("utf-8", "surrogatepass"))
    return value if size <= limit else f"{value[:limit]}... ({size} bytes)"


def op_error_message(message: str) -> str:
    """A TensorFlow OpError's message as TF Serving reports it: without the
    Python trace of the graph ("Graph execution error: Detected at node
    ... defined at ...") and the node/op suffixes; an in-graph assertion
    (the exports' request limits) reduces to its own text."""
    message = re.sub(r"\s*\[\[(\{\{[^}]*\}\})+\]\]", "", message)
    message = re.sub(r"\s*\[Op:[^\]]*\]\s*$", "", message)
    if message.startswith("Graph execution error:"):
        message = "\n".join(
            line for line in message.splitlines()[1:]
            if line.strip() and not line.startswith(
                ("Detected at node ", "<stack traces unavailable>", "  ")))
    asserted = re.fullmatch(r"assertion failed: \[(.*)\]", message.strip(),
                            re.S)
    return (asserted.group(1) if asserted else message).strip()


class ServingError(Exception):
    """A request (or a model load) that fails with a TF Serving status.

    Args:
        code: grpc.StatusCode. The status TF Serving answers with.
        message: str. What went wrong, and where; longer than
            MAX_MESSAGE_CHARS, it is clipped (see `clip`).
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        message = clip(message, MAX_MESSAGE_CHARS)
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return http_status(self.code)


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status `tensorflow_model_server` answers a gRPC code with."""
    return _HTTP_STATUS.get(code, 500)


def code_from_number(number: int) -> grpc.StatusCode:
    """The gRPC code of a tf.errors / tensorflow.error.Code number."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def internal(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INTERNAL, message)


def resource_exhausted(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)
