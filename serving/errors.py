"""Request errors of the dev server, with TF Serving's status codes.

A `ServingError` carries the gRPC status code TF Serving answers with and
its message; the gRPC services abort with both, and the REST API turns the
code into the HTTP status `tensorflow_model_server` uses (`http_status`)
and the message into the body `{"error": "..."}`.
"""

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


class ServingError(Exception):
    """A request (or a model load) that fails with a TF Serving status.

    Args:
        code: grpc.StatusCode. The status TF Serving answers with.
        message: str. What went wrong, and where.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
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
