"""One loaded version of a model: TF Serving's request handling on it.

`Servable` loads a SavedModel (tags "serve") and answers PredictRequest,
ClassificationRequest and RegressionRequest protos with the checks, the
order of checks and the status codes of `tensorflow_model_server`
(servables/tensorflow/{predict_util,classifier,regressor}.cc):

- Predict: unknown signature -> FAILED_PRECONDITION; wrong number of
  inputs, unknown input alias, unparsable tensor, unknown output_filter
  alias -> INVALID_ARGUMENT. The dev server also checks each input's dtype
  and shape against the signature before running (TF would fail in the
  run, also with INVALID_ARGUMENT).
- Classify/Regress: unknown signature, a signature that is not shaped as
  one (`inputs` -> `classes`/`scores`, `inputs` -> `outputs`), or, with
  `method_check` (TF Serving's --enable_signature_method_name_check, off by
  default), a method_name other than tensorflow/serving/classify|regress
  -> INVALID_ARGUMENT.
"""

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401 - registers the ops of exported graphs.
from absl import logging
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import regression_pb2

from bert_tf.export import saved_model
from serving.dev_server import errors
from serving.dev_server import tensors

_PREDICT_METHODS = saved_model.METHOD_NAMES


class Servable:
    """A SavedModel version loaded for serving.

    Args:
        name: str. The model's name (for response model_spec).
        version: int. The version number.
        path: str. The version directory.
        tags: The MetaGraphDef tags to load.
        method_check: bool. TF Serving's --enable_signature_method_name_check.

    Attributes:
        signature_defs: {name: SignatureDef} of the loaded MetaGraphDef.
        saved_model: the object tf.saved_model.load returned.
    """

    def __init__(self, name, version, path, tags=saved_model.SERVE_TAGS,
                 method_check=False):
        self.name = name
        self.version = version
        self.path = path
        self.method_check = method_check
        self.signature_defs = saved_model.signature_defs(path, tags)
        self.saved_model = tf.saved_model.load(path, tags=list(tags))
        self._functions = dict(self.saved_model.signatures)

    # ------------------------------------------------------------ predict

    def input_infos(self, signature_name):
        """Input alias -> TensorInfo (REST reads JSON by these dtypes)."""
        name = signature_name or saved_model.DEFAULT_SIGNATURE
        if name not in self.signature_defs:
            raise errors.invalid_argument(
                f'Serving signature name: "{name}" not found in signature def')
        return self.signature_defs[name].inputs

    def predict(self, request: predict_pb2.PredictRequest
                ) -> predict_pb2.PredictResponse:
        name = (request.model_spec.signature_name
                or saved_model.DEFAULT_SIGNATURE)
        signature = self.signature_defs.get(name)
        if signature is None:
            raise errors.failed_precondition(
                f'Serving signature key "{name}" not found.')
        if self.method_check and signature.method_name not in _PREDICT_METHODS:
            raise errors.internal(
                f"Expected prediction signature method_name to be one of "
                f"{{{', '.join(_PREDICT_METHODS)}}}. Was: "
                f"{signature.method_name}")
        wanted, given = set(signature.inputs), set(request.inputs)
        if len(given) != len(wanted):
            raise errors.invalid_argument(
                f"input size does not match signature: {len(given)}!="
                f"{len(wanted)} len({{{','.join(sorted(given))}}}) != "
                f"len({{{','.join(sorted(wanted))}}}). Sent extra: "
                f"{{{','.join(sorted(given - wanted))}}}. Missing but "
                f"required: {{{','.join(sorted(wanted - given))}}}.")
        inputs = {}
        for alias, proto in request.inputs.items():
            if alias not in signature.inputs:
                raise errors.invalid_argument(
                    f"input tensor alias not found in signature: {alias}. "
                    f"Inputs expected to be in the set "
                    f"{{{','.join(sorted(wanted))}}}.")
            inputs[alias] = _checked_input(alias, proto,
                                           signature.inputs[alias])
        aliases = list(request.output_filter)
        for alias in aliases:
            if alias not in signature.outputs:
                raise errors.invalid_argument(
                    f"output tensor alias not found in signature: {alias} "
                    f"Outputs expected to be in the set "
                    f"{{{','.join(sorted(signature.outputs))}}}.")
        if len(set(aliases)) != len(aliases):
            raise errors.invalid_argument(
                f"duplicate output tensor alias in output_filter {aliases}")
        outputs = self._run(name, inputs, aliases or list(signature.outputs))
        response = predict_pb2.PredictResponse()
        self._fill_model_spec(response.model_spec, name)
        for alias, value in outputs.items():
            response.outputs[alias].CopyFrom(tensors.from_ndarray(*value))
        return response

    # ------------------------------------------------- classify / regress

    def classify(self, request: classification_pb2.ClassificationRequest
                 ) -> classification_pb2.ClassificationResponse:
        name, signature = self._example_signature(
            request.model_spec.signature_name, saved_model.CLASSIFY_METHOD_NAME,
            "classification")
        examples = _serialized_examples(request.input)
        keys = [k for k in ("classes", "scores") if k in signature.outputs]
        outputs = self._run(name, {"inputs": examples}, keys)
        batch = len(examples)
        classes = outputs.get("classes", (None,))[0]
        scores = outputs.get("scores", (None,))[0]
        for key, value, dtype in (("classes", classes, tf.string),
                                  ("scores", scores, tf.float32)):
            if value is None:
                continue
            if value.ndim != 2:
                raise errors.invalid_argument(
                    f"Expected Tensor shape: [batch_size num_classes] but "
                    f"got {list(value.shape)}")
            if outputs[key][1] != dtype:
                raise errors.invalid_argument(
                    f"Expected {key} Tensor of DT_{dtype.name.upper()}. "
                    f"Got: DT_{outputs[key][1].name.upper()}")
            if value.shape[0] != batch:
                raise errors.invalid_argument(
                    f"Expected {key} output batch size of {batch}. Got: "
                    f"{value.shape[0]}")
        if classes is not None and scores is not None and (
                classes.shape[1] != scores.shape[1]):
            raise errors.invalid_argument(
                f"Tensors class and score should match in dim_size(1). Got "
                f"{classes.shape[1]} vs. {scores.shape[1]}")
        num_classes = (classes if classes is not None else scores).shape[1]
        response = classification_pb2.ClassificationResponse()
        self._fill_model_spec(response.model_spec, name)
        for i in range(batch):
            classifications = response.result.classifications.add()
            for c in range(num_classes):
                cls = classifications.classes.add()
                if classes is not None:
                    cls.label = _as_text(classes[i, c])
                if scores is not None:
                    cls.score = float(scores[i, c])
        return response

    def regress(self, request: regression_pb2.RegressionRequest
                ) -> regression_pb2.RegressionResponse:
        name, _ = self._example_signature(
            request.model_spec.signature_name, saved_model.REGRESS_METHOD_NAME,
            "regression")
        examples = _serialized_examples(request.input)
        value, dtype = self._run(name, {"inputs": examples},
                                 ["outputs"])["outputs"]
        if not (value.ndim == 1 or (value.ndim == 2 and value.shape[1] == 1)):
            raise errors.invalid_argument(
                f"Expected output Tensor shape to be either [batch_size] or "
                f"[batch_size, 1] but got {list(value.shape)}")
        if value.shape[0] != len(examples):
            raise errors.invalid_argument(
                f"Input batch size did not match output batch size: "
                f"{len(examples)} vs. {value.shape[0]}")
        if dtype != tf.float32:
            raise errors.invalid_argument(
                f"Expected output Tensor of DT_FLOAT.  Got: "
                f"DT_{dtype.name.upper()}")
        response = regression_pb2.RegressionResponse()
        self._fill_model_spec(response.model_spec, name)
        for v in value.reshape(-1):
            response.result.regressions.add(value=float(v))
        return response

    def _example_signature(self, signature_name, method, kind):
        """The signature of a Classify/Regress request, checked as TF does."""
        name = signature_name or saved_model.DEFAULT_SIGNATURE
        signature = self.signature_defs.get(name)
        if signature is None:
            raise errors.invalid_argument(
                f"No signature was found with the name: {name}")
        if self.method_check and signature.method_name != method:
            raise errors.invalid_argument(
                f"Expected {kind} signature method_name to be {method}. "
                f"Was: {signature.method_name}")
        outputs = sorted(signature.outputs)
        if len(signature.inputs) != 1:
            raise errors.invalid_argument("Expected one input Tensor.")
        if kind == "classification" and len(outputs) not in (1, 2):
            raise errors.invalid_argument(
                f"Expected one or two output Tensors, found {len(outputs)}")
        if kind == "regression" and len(outputs) != 1:
            raise errors.invalid_argument("Expected one output Tensor.")
        if "inputs" not in signature.inputs:
            raise errors.invalid_argument(
                f"No {kind} inputs found in SignatureDef {name!r}: inputs "
                f"{sorted(signature.inputs)}")
        expected = ({"classes", "scores"} if kind == "classification"
                    else {"outputs"})
        if not expected & set(outputs):
            raise errors.invalid_argument(
                f"Expected {kind} signature outputs to contain "
                f"{' or '.join(repr(k) for k in sorted(expected))}. "
                f"Signature {name!r} has outputs {outputs}")
        return name, signature

    # ----------------------------------------------------------- metadata

    def metadata(self) -> get_model_metadata_pb2.SignatureDefMap:
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in self.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        return signature_map

    # ------------------------------------------------------------- warmup

    def warmup(self) -> int:
        """Replays assets.extra/tf_serving_warmup_requests; returns a count.

        Raises:
            errors.ServingError: a record that does not parse or fails, as
                TF Serving fails the load.
        """
        try:
            records = saved_model.read_warmup_records(self.path)
        except tf.errors.DataLossError as e:
            raise errors.ServingError(
                grpc.StatusCode.DATA_LOSS,
                f"{e.message}. Please verify your warmup data is in "
                f"TFRecord format.") from None
        path = f"{self.path}/{saved_model.WARMUP_FILE}"
        if len(records) > saved_model.MAX_WARMUP_RECORDS:
            raise errors.invalid_argument(
                f"Number of warmup records exceeds the maximum "
                f"({saved_model.MAX_WARMUP_RECORDS}) at {path}")
        for i, record in enumerate(records):
            try:
                log = prediction_log_pb2.PredictionLog.FromString(record)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError.
                raise errors.invalid_argument(
                    f"Failed to parse warmup record {i} from {path}") from None
            kind = log.WhichOneof("log_type")
            if kind == "predict_log":
                self.predict(log.predict_log.request)
            elif kind == "classify_log":
                self.classify(log.classify_log.request)
            elif kind == "regress_log":
                self.regress(log.regress_log.request)
            elif kind == "multi_inference_log":
                logging.warning("%s: warmup record %d is a MultiInference "
                                "request, which the dev server does not "
                                "implement; skipped", path, i)
            else:
                raise errors.invalid_argument(
                    f"Unsupported log_type for warmup: {kind} (record {i} "
                    f"of {path})")
        return len(records)

    # ------------------------------------------------------------ running

    def _fill_model_spec(self, model_spec, signature_name):
        model_spec.name = self.name
        model_spec.version.value = self.version
        model_spec.signature_name = signature_name

    def _run(self, signature_name, inputs, output_keys):
        """Runs a signature; returns {key: (np.ndarray, tf.DType)}."""
        function = self._functions.get(signature_name)
        if function is None:
            raise errors.failed_precondition(
                f"signature {signature_name!r} has no function to run")
        infos = self.signature_defs[signature_name].inputs
        try:
            feeds = {k: tf.constant(v, dtype=tf.as_dtype(infos[k].dtype))
                     for k, v in inputs.items()}
            results = function(**feeds)
        except tf.errors.OpError as e:
            raise errors.ServingError(errors.code_from_number(e.error_code),
                                      errors.op_error_message(e.message)
                                      ) from None
        except (TypeError, ValueError) as e:
            raise errors.invalid_argument(str(e)) from None
        return {k: (results[k].numpy(), results[k].dtype) for k in output_keys}


def _checked_input(alias, proto, info):
    """A request tensor as numpy, checked against its TensorInfo."""
    if proto.dtype != info.dtype:
        raise errors.invalid_argument(
            f"Expects arg '{alias}' to be {tensors.dtype_name(info.dtype)} "
            f"but {tensors.dtype_name(proto.dtype)} is provided")
    value = tensors.to_ndarray(proto, alias)
    shape = info.tensor_shape
    if not shape.unknown_rank:
        want = [d.size for d in shape.dim]
        if len(want) != value.ndim or any(
                w >= 0 and w != g for w, g in zip(want, value.shape)):
            raise errors.invalid_argument(
                f"input '{alias}' has shape {list(value.shape)}, but the "
                f"signature expects {tensors.shape_string(shape)} (-1: any "
                f"size)")
    return value


def _serialized_examples(request_input):
    """The request's tf.Examples, serialized, context merged in as TF does."""
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString()
                    for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        listed = request_input.example_list_with_context
        # Concatenated serializations merge: an example's own features
        # override the context's, as in TF Serving.
        context = listed.context.SerializeToString()
        examples = [context + e.SerializeToString() for e in listed.examples]
    else:
        examples = []
    if not examples:
        raise errors.invalid_argument("Input is empty.")
    return np.array(examples, dtype=object)


def _as_text(value):
    return value.decode("utf-8", "replace") if isinstance(
        value, bytes) else str(value)
