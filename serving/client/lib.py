"""The client library behind serving.client: TF Serving over gRPC or REST.

Only public TF Serving APIs: the PredictionService / ModelService stubs of
tensorflow-serving-api, and the documented REST endpoints (urllib). Both
transports give the same Python results:
- predict: {output name: np.ndarray}; strings as bytes objects, dtypes as
  the signature declares (REST JSON is converted by the signature read
  from the metadata endpoint once per model version and signature).
- classify: per example, a list of (label, score); regress: floats.
- metadata: {signature name: SignatureDef}; status: [VersionStatus].
Failures raise ServingClientError with the gRPC code (for REST, the code
the HTTP status stands for) and the server's message.
"""

import base64
import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2

DEFAULT_SIGNATURE = "serving_default"
_HTTP_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT,
               401: grpc.StatusCode.UNAUTHENTICATED,
               403: grpc.StatusCode.PERMISSION_DENIED,
               404: grpc.StatusCode.NOT_FOUND,
               409: grpc.StatusCode.ABORTED,
               429: grpc.StatusCode.RESOURCE_EXHAUSTED,
               499: grpc.StatusCode.CANCELLED,
               500: grpc.StatusCode.INTERNAL,
               501: grpc.StatusCode.UNIMPLEMENTED,
               503: grpc.StatusCode.UNAVAILABLE,
               504: grpc.StatusCode.DEADLINE_EXCEEDED}
_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class ServingClientError(Exception):
    """A request the server refused or could not answer.

    Attributes:
        code: grpc.StatusCode (for REST: the code the HTTP status maps to;
            400 also stands for FAILED_PRECONDITION).
        http_status: int or None. The HTTP status (REST only).
        message: str. The server's error message.
    """

    def __init__(self, message, code=grpc.StatusCode.UNKNOWN,
                 http_status=None):
        where = f"HTTP {http_status}" if http_status else code.name
        super().__init__(f"{where}: {message}")
        self.message = message
        self.code = code
        self.http_status = http_status


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """One version in GetModelStatus: state 'AVAILABLE', 'END', ..."""

    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


class Client:
    """A connection to one TF Serving server.

    Args:
        server: str. 'HOST:PORT' of the gRPC API, or with `rest` of the REST
            API ('http://HOST:PORT' also works).
        rest: bool. Use the REST API.
        timeout: float. Seconds per request.
    """

    def __init__(self, server: str, *, rest: bool = False,
                 timeout: float = 60.0):
        self.rest = rest
        self.timeout = timeout
        self._signatures = {}
        if rest:
            self._url = (server if "://" in server
                         else f"http://{server}").rstrip("/")
            self._channel = None
        else:
            self._channel = grpc.insecure_channel(
                server, options=[("grpc.max_receive_message_length", -1),
                                 ("grpc.max_send_message_length", -1)])
            self._predictions = prediction_service_pb2_grpc.\
                PredictionServiceStub(self._channel)
            self._models = model_service_pb2_grpc.ModelServiceStub(
                self._channel)
        self.server = server

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -------------------------------------------------------------- calls

    def predict(self, model, inputs, *, signature_name=DEFAULT_SIGNATURE,
                version=None, version_label=None, output_filter=()):
        """{input: batch} -> {output: np.ndarray}.

        Args:
            inputs: dict of input name -> np.ndarray, list or TensorProto.
                gRPC sends each with its own dtype (np.asarray's), so give
                numpy arrays of the signature's dtype (e.g. np.int32).
            output_filter: output names to return (default: all).
        """
        if self.rest:
            return self._rest_predict(model, inputs, signature_name, version,
                                      version_label, output_filter)
        request = predict_pb2.PredictRequest(
            model_spec=_model_spec(model, version, version_label,
                                   signature_name),
            output_filter=list(output_filter))
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(
                value if isinstance(value, tensor_pb2.TensorProto)
                else tf.make_tensor_proto(value))
        response = self._grpc(self._predictions.Predict, request)
        return {name: tf.make_ndarray(proto)
                for name, proto in response.outputs.items()}

    def classify(self, model, examples, *, signature_name=DEFAULT_SIGNATURE,
                 version=None, version_label=None, context=None):
        """[{feature: value(s)}] -> per example [(label, score), ...]."""
        if self.rest:
            doc = self._rest_examples(examples, signature_name, context)
            results = self._rest_call(model, version, version_label,
                                      ":classify", doc)
            return [[(label, float(score)) for label, score in row]
                    for row in _results(results)]
        request = classification_pb2.ClassificationRequest(
            model_spec=_model_spec(model, version, version_label,
                                   signature_name))
        _fill_examples(request.input, examples, context)
        response = self._grpc(self._predictions.Classify, request)
        return [[(c.label, c.score) for c in row.classes]
                for row in response.result.classifications]

    def regress(self, model, examples, *, signature_name=DEFAULT_SIGNATURE,
                version=None, version_label=None, context=None):
        """[{feature: value(s)}] -> one float per example."""
        if self.rest:
            doc = self._rest_examples(examples, signature_name, context)
            results = self._rest_call(model, version, version_label,
                                      ":regress", doc)
            return [float(v) for v in _results(results)]
        request = regression_pb2.RegressionRequest(
            model_spec=_model_spec(model, version, version_label,
                                   signature_name))
        _fill_examples(request.input, examples, context)
        response = self._grpc(self._predictions.Regress, request)
        return [r.value for r in response.result.regressions]

    def metadata(self, model, *, version=None, version_label=None):
        """{signature name: SignatureDef} of the model version."""
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        if self.rest:
            doc = self._rest_call(model, version, version_label, "/metadata")
            json_format.ParseDict(doc["metadata"]["signature_def"],
                                  signature_map, ignore_unknown_fields=True)
        else:
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=_model_spec(model, version, version_label),
                metadata_field=["signature_def"])
            response = self._grpc(self._predictions.GetModelMetadata, request)
            response.metadata["signature_def"].Unpack(signature_map)
        return dict(signature_map.signature_def)

    def status(self, model, *, version=None, version_label=None):
        """[VersionStatus] of the model's versions, newest first."""
        if self.rest:
            doc = self._rest_call(model, version, version_label, "")
            return [VersionStatus(
                int(s["version"]), s["state"],
                s.get("status", {}).get("error_code", "OK"),
                s.get("status", {}).get("error_message", ""))
                for s in doc.get("model_version_status", [])]
        request = get_model_status_pb2.GetModelStatusRequest(
            model_spec=_model_spec(model, version, version_label))
        response = self._grpc(self._models.GetModelStatus, request)
        state_name = get_model_status_pb2.ModelVersionStatus.State.Name
        return [VersionStatus(s.version, state_name(s.state),
                              _CODE_NAMES.get(s.status.error_code, "UNKNOWN"),
                              s.status.error_message)
                for s in response.model_version_status]

    # --------------------------------------------------------------- gRPC

    def _grpc(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ServingClientError(e.details(), e.code()) from None

    # --------------------------------------------------------------- REST

    def _rest_predict(self, model, inputs, signature_name, version,
                      version_label, output_filter):
        signature = self._signature(model, version, version_label,
                                    signature_name)
        doc = {"signature_name": signature_name,
               "inputs": {name: _to_json(value)
                          for name, value in inputs.items()}}
        outputs = self._rest_call(model, version, version_label, ":predict",
                                  doc)["outputs"]
        if not (isinstance(outputs, dict) and set(outputs) - {"b64"}):
            # One output: TF Serving leaves out its name.
            outputs = {next(iter(signature.outputs)): outputs}
        wanted = list(output_filter) or list(outputs)
        return {name: _from_json(outputs[name], signature.outputs[name].dtype)
                for name in wanted}

    def _signature(self, model, version, version_label, signature_name):
        key = (model, version, version_label, signature_name)
        if key not in self._signatures:
            signature_defs = self.metadata(model, version=version,
                                           version_label=version_label)
            if signature_name not in signature_defs:
                raise ServingClientError(
                    f"model {model} has no signature {signature_name!r}; it "
                    f"has {', '.join(sorted(signature_defs))}",
                    grpc.StatusCode.INVALID_ARGUMENT)
            self._signatures[key] = signature_defs[signature_name]
        return self._signatures[key]

    def _rest_examples(self, examples, signature_name, context):
        doc = {"signature_name": signature_name,
               "examples": [{k: _to_json(v) for k, v in e.items()}
                            for e in examples]}
        if context:
            doc["context"] = {k: _to_json(v) for k, v in context.items()}
        return doc

    def _rest_call(self, model, version, version_label, suffix, doc=None):
        path = f"/v1/models/{urllib.parse.quote(model, safe='')}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif version_label is not None:
            path += f"/labels/{urllib.parse.quote(version_label, safe='')}"
        data = None if doc is None else json.dumps(doc).encode("utf-8")
        request = urllib.request.Request(
            self._url + path + suffix, data=data,
            headers={"Content-Type": "application/json"},
            method="GET" if doc is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                message = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                message = body.decode("utf-8", "replace") or e.reason
            raise ServingClientError(
                message, _HTTP_CODES.get(e.code, grpc.StatusCode.UNKNOWN),
                e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServingClientError(f"cannot reach {self._url}: {reason}",
                                     grpc.StatusCode.UNAVAILABLE) from None


def _model_spec(model, version, version_label, signature_name=None):
    spec = model_pb2.ModelSpec(name=model)
    if signature_name is not None:
        spec.signature_name = signature_name
    if version is not None:
        spec.version.value = int(version)
    elif version_label is not None:
        spec.version_label = version_label
    return spec


def _results(doc):
    # TF Serving writes "results" (its docs say "result").
    return doc["results"] if "results" in doc else doc["result"]


def _fill_examples(request_input, examples, context):
    if context:
        listed = request_input.example_list_with_context
        listed.context.CopyFrom(_example(context))
    else:
        listed = request_input.example_list
    for example in examples:
        listed.examples.add().CopyFrom(_example(example))


def _example(features):
    if isinstance(features, example_pb2.Example):
        return features
    example = example_pb2.Example()
    for name, value in features.items():
        values = (list(np.asarray(value).reshape(-1))
                  if isinstance(value, (list, tuple, np.ndarray)) else [value])
        feature = example.features.feature[name]
        for v in values:
            if isinstance(v, (str, bytes, np.str_, np.bytes_)):
                feature.bytes_list.value.append(
                    v.encode("utf-8") if isinstance(v, str) else bytes(v))
            elif isinstance(v, (bool, int, np.integer, np.bool_)):
                feature.int64_list.value.append(int(v))
            elif isinstance(v, (float, np.floating)):
                feature.float_list.value.append(float(v))
            else:
                raise TypeError(f"feature {name!r}: cannot put a "
                                f"{type(v).__name__} in a tf.Example")
    return example


def _to_json(value):
    """A Python/numpy value as TF Serving's JSON (bytes as b64 if binary)."""
    if isinstance(value, tensor_pb2.TensorProto):
        value = tf.make_ndarray(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from_json(value, dtype_enum):
    dtype = tf.as_dtype(dtype_enum)
    if dtype != tf.string:
        return np.asarray(value, dtype=dtype.as_numpy_dtype)

    def to_bytes(v):
        if isinstance(v, list):
            return [to_bytes(x) for x in v]
        if isinstance(v, dict):
            return base64.b64decode(v["b64"])
        return v.encode("utf-8")

    converted = to_bytes(value)
    array = np.empty(np.shape(converted) if isinstance(converted, list)
                     else (), dtype=object)
    array[...] = converted
    return array


def predict(server, model, inputs, *, signature_name=DEFAULT_SIGNATURE,
            rest=False, timeout=60.0, **kwargs):
    """One Predict call; see Client.predict."""
    with Client(server, rest=rest, timeout=timeout) as client:
        return client.predict(model, inputs, signature_name=signature_name,
                              **kwargs)


def classify(server, model, examples, *, signature_name=DEFAULT_SIGNATURE,
             rest=False, timeout=60.0, **kwargs):
    """One Classify call; see Client.classify."""
    with Client(server, rest=rest, timeout=timeout) as client:
        return client.classify(model, examples, signature_name=signature_name,
                               **kwargs)


def regress(server, model, examples, *, signature_name=DEFAULT_SIGNATURE,
            rest=False, timeout=60.0, **kwargs):
    """One Regress call; see Client.regress."""
    with Client(server, rest=rest, timeout=timeout) as client:
        return client.regress(model, examples, signature_name=signature_name,
                              **kwargs)


def get_model_metadata(server, model, *, rest=False, timeout=60.0, **kwargs):
    """{signature name: SignatureDef}; see Client.metadata."""
    with Client(server, rest=rest, timeout=timeout) as client:
        return client.metadata(model, **kwargs)


def get_model_status(server, model, *, rest=False, timeout=60.0, **kwargs):
    """[VersionStatus]; see Client.status."""
    with Client(server, rest=rest, timeout=timeout) as client:
        return client.status(model, **kwargs)
