"""Request limits of the dev server, checked before a request is run.

TF Serving leans on its C++ request path and batching parameters for this;
the dev server, a Python stand-in, checks what a request declares before it
builds anything from it: the batch of a Predict input (its first declared
dimension) or the examples of a Classify/Regress request against
--max_batch_size, and a REST document's nesting and strings. Each failure
is INVALID_ARGUMENT naming the input, the size and the limit. `RunSlots`
bounds the model runs in progress (--max_concurrent_runs).
"""

import contextlib
import dataclasses
import os
import re
import threading

import grpc
from tensorflow.core.framework import tensor_pb2

from serving.dev_server import errors

# Requests larger than this are refused (gRPC RESOURCE_EXHAUSTED, REST 413)
# before they are read: tensorflow_model_server sets no limit, but the dev
# server keeps copies of a request in Python (--max_request_bytes).
MAX_REQUEST_BYTES = 64 << 20
# Deepest JSON nesting read: tensors of rank up to ~60 fit; deeper documents
# are refused before anything recurses over them.
MAX_JSON_DEPTH = 64
# JSON escapes of UTF-16 surrogates: only then can a string hold a lone one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """What one request may ask of the dev server (its own flags).

    Args:
        max_batch_size: int. --max_batch_size: the largest batch (first
            dimension of a Predict input, examples of a Classify or Regress
            request); 0: no cap.
        max_concurrent_runs: int. --max_concurrent_runs: Predict, Classify
            and Regress requests run at once (see `RunSlots`); 0: the
            number of CPUs.
    """

    max_batch_size: int = 1024
    max_concurrent_runs: int = 0


class RunSlots:
    """At most `count` model runs at once (0: the number of CPUs).

    A model run cannot be interrupted once started, so requests wait for a
    slot before they run, and one whose client leaves while waiting is
    dropped instead of run for nobody.
    """

    def __init__(self, count: int):
        self._slots = threading.Semaphore(count or os.cpu_count() or 1)

    @contextlib.contextmanager
    def hold(self, timeout=None, is_active=None):
        """Holds a slot for the `with` block: waits at most `timeout`
        seconds (None: no limit), then requires `is_active()` (if given).

        Raises:
            errors.ServingError: DEADLINE_EXCEEDED after `timeout`;
                CANCELLED when `is_active()` turned false.
        """
        if not self._slots.acquire(timeout=None if timeout is None
                                   else max(timeout, 0.0)):
            raise errors.ServingError(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"no model run slot was free within the request's deadline "
                f"({timeout:.3g} s; --max_concurrent_runs)")
        try:
            if is_active is not None and not is_active():
                raise errors.ServingError(grpc.StatusCode.CANCELLED,
                                          "the client went away")
            yield
        finally:
            self._slots.release()


def check_batch_size(inputs, max_batch_size: int) -> None:
    """Refuses tensors that declare a batch (first dimension) above
    `max_batch_size`, from the declared shapes only: nothing is
    materialized, so a 33-byte request declaring 50,000 strings costs
    nothing.

    Args:
        inputs: mapping of input alias -> TensorProto (PredictRequest.inputs).
        max_batch_size: int. The cap; 0: no cap.

    Raises:
        errors.ServingError: INVALID_ARGUMENT naming the input, its declared
            batch and the cap.
    """
    if not max_batch_size:
        return
    for name in sorted(inputs):  # The first by name, whatever the order.
        dims = inputs[name].tensor_shape.dim
        if dims and dims[0].size > max_batch_size:
            shape = ",".join(str(d.size) for d in dims)
            raise errors.invalid_argument(
                f"input '{errors.clip(name)}' declares a batch of "
                f"{dims[0].size} (shape [{shape}]); the dev server accepts "
                f"at most {max_batch_size} (--max_batch_size)")


def check_example_count(count: int, max_batch_size: int) -> None:
    """Refuses a Classify/Regress request of more than `max_batch_size`
    examples (INVALID_ARGUMENT); 0: no cap."""
    if max_batch_size and count > max_batch_size:
        raise errors.invalid_argument(
            f"input 'examples' holds {count} examples; the dev server "
            f"accepts at most {max_batch_size} (--max_batch_size)")


def check_json_batch(doc: dict, max_batch_size: int) -> None:
    """Refuses a REST document whose "instances", "examples" or "inputs"
    lists are longer than `max_batch_size` (0: no cap), before any of it is
    converted to tensors."""
    if not max_batch_size:
        return
    if isinstance(doc.get("examples"), list):
        check_example_count(len(doc["examples"]), max_batch_size)
    columns = {}
    if isinstance(doc.get("instances"), list):
        columns["instances"] = doc["instances"]
    inputs = doc.get("inputs")
    if isinstance(inputs, dict):
        columns.update(inputs)
    elif inputs is not None:
        columns["inputs"] = inputs
    check_batch_size({name: _declared(value) for name, value in
                      columns.items() if isinstance(value, list)},
                     max_batch_size)


def _declared(values):
    """A TensorProto declaring only the shape [len(values)]."""
    proto = tensor_pb2.TensorProto()
    proto.tensor_shape.dim.add(size=len(values))
    return proto


def check_json_document(doc, body: bytes) -> None:
    """Refuses JSON nested deeper than MAX_JSON_DEPTH and, when `body` has
    surrogate escapes, strings that are not valid Unicode (a lone
    "\\ud800"). Iterative, so a deep document cannot exhaust the stack.

    Raises:
        errors.ServingError: INVALID_ARGUMENT "JSON Parse error: ...".
    """
    check_strings = _SURROGATE_ESCAPE.search(body) is not None
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise errors.invalid_argument(
                f"JSON Parse error: nested deeper than {MAX_JSON_DEPTH} "
                f"levels")
        if isinstance(value, dict):
            items = list(value.values()) + (list(value) if check_strings
                                            else [])
        else:
            items = value if isinstance(value, list) else ()
        for item in items:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            elif check_strings and isinstance(item, str):
                _check_string(item)


def _check_string(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        start = text[:40].encode("utf-8", "replace").decode("utf-8")
        raise errors.invalid_argument(
            f"JSON Parse error: lone UTF-16 surrogate "
            f"\\u{ord(text[e.start]):04x} at character {e.start} of a string "
            f"starting {start!r}") from None
