"""The dev server's REST API: TF Serving's /v1/models endpoints.

    GET  /v1/models/NAME[/versions/N|/labels/L]            model status
    GET  /v1/models/NAME[/versions/N|/labels/L]/metadata   signatures
    POST /v1/models/NAME[/versions/N|/labels/L]:predict    (also :classify,
                                                            :regress)

Errors answer with TF Serving's HTTP status for the gRPC code (400 for
INVALID_ARGUMENT and FAILED_PRECONDITION, 404 NOT_FOUND, ...) and the body
{"error": "..."}. `handle` is the whole API as a function of (method, path,
body); `RestServer` serves it over HTTP/1.1 on a bounded worker pool
(serving/dev_server/http_server.py: backlog, timeouts, body size limit).
"""

import re
import threading
import urllib.parse

from absl import logging
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import regression_pb2

from serving.dev_server import errors
from serving.dev_server import http_server
from serving.dev_server import json_api
from serving.dev_server import limits

# tensorflow_model_server's path patterns (model_servers/http_rest_api_util).
_VERSION = r"(?:/versions/(\d+)|/labels/([^/:]+))?"
_POST_PATH = re.compile(
    rf"/v1/models/([^/:]+){_VERSION}:(classify|regress|predict)", re.I)
_GET_PATH = re.compile(rf"/v1/models(?:/([^/:]+))?{_VERSION}(?:/(metadata))?",
                       re.I)


def handle(registry, method: str, path: str, body: bytes, is_active=None
           ) -> tuple[int, dict]:
    """Answers one REST request: (HTTP status, JSON object). A POST waits
    for a model run slot, and is dropped if `is_active()` (the client
    still connected) is false by then."""
    path = urllib.parse.urlsplit(path).path
    if not path.lower().startswith("/v1/"):
        return 404, {"error": f"Not found: {method} {errors.clip(path)}"}
    try:
        match = _POST_PATH.fullmatch(path) if method == "POST" else (
            _GET_PATH.fullmatch(path) if method == "GET" else None)
        if match is None:
            raise errors.invalid_argument(
                f"Malformed request: {method} {path}")
        name, version, label, verb = match.groups()
        if not name:
            raise errors.invalid_argument("Missing model name in request.")
        spec = _model_spec(name, version, label)
        if method == "POST":
            with registry.run_slot(None, is_active):
                return 200, _post(registry, verb.lower(), spec, body)
        if verb:  # GET .../metadata
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=spec, metadata_field=["signature_def"])
            return 200, json_api.metadata_json(registry.metadata(request))
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        return 200, json_api.status_json(registry.model_status(request))
    except errors.ServingError as e:
        return e.http_status, {"error": e.message}
    except Exception as e:  # noqa: BLE001 - answer, keep serving.
        logging.exception("REST %s %s failed", method, path)
        return 500, {"error": f"dev server internal error: "
                              f"{errors.clip(e, errors.MAX_MESSAGE_CHARS)}"}


def _model_spec(name, version, label):
    spec = model_pb2.ModelSpec(name=urllib.parse.unquote(name))
    if version is not None:
        if int(version) >= 1 << 63:
            raise errors.invalid_argument(
                f"Failed to convert version: {version} to numeric.")
        spec.version.value = int(version)
    elif label is not None:
        spec.version_label = urllib.parse.unquote(label)
    return spec


def _post(registry, verb, spec, body):
    doc = json_api.parse_body(body)
    limits.check_json_batch(doc, registry.limits.max_batch_size)
    signature = json_api.signature_name(doc)
    if verb == "predict":
        request = predict_pb2.PredictRequest(model_spec=spec)
        request.model_spec.signature_name = signature
        # The request is read by the signature of the version that runs it.
        servable = registry.servable(spec)
        form = json_api.fill_predict_request(
            doc, servable.input_infos(signature), request)
        return json_api.predict_json(servable.predict(request), form)
    if verb == "classify":
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        request.model_spec.signature_name = signature
        json_api.fill_example_request(doc, request, verb)
        return json_api.classification_json(registry.classify(request).result)
    request = regression_pb2.RegressionRequest(model_spec=spec)
    request.model_spec.signature_name = signature
    json_api.fill_example_request(doc, request, verb)
    return json_api.regression_json(registry.regress(request).result)


class _Handler(http_server.Handler):
    server_version = "serving.dev_server"

    def _respond(self):
        try:
            body = self.read_body()
        except http_server.BodyError as e:
            status, payload = e.status, {"error": e.message}
        else:
            status, payload = handle(self.server.registry, self.command,
                                     self.path, body, self.client_connected)
        self.send_json(status, json_api.dumps(payload))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _respond


class RestServer:
    """TF Serving's REST API over a ModelRegistry, on HOST:PORT.

    Args:
        registry: model_registry.ModelRegistry.
        host: str. Address to bind.
        port: int. Port (0: any free one; see `port` after `start`).
        num_threads: int. --rest_api_num_threads: requests served at once.
        timeout_seconds: float. --rest_api_timeout_in_ms / 1000: the time
            a client has to send a request (and each socket operation).
        max_body_bytes: int. --max_request_bytes: largest request body.
        backlog: int. Listen backlog, and connections that may wait for a
            worker.
    """

    def __init__(self, registry, host, port, *, num_threads=16,
                 timeout_seconds=30.0, max_body_bytes=64 << 20,
                 backlog=1024):
        self._registry = registry
        self._address = (host, port)
        self._options = dict(num_threads=num_threads,
                             timeout_seconds=timeout_seconds,
                             max_body_bytes=max_body_bytes, backlog=backlog)
        self._server = None
        self._thread = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> "RestServer":
        self._server = http_server.PooledHttpServer(
            self._address, _Handler, **self._options)
        self._server.registry = self._registry
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="rest-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None
