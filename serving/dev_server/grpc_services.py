"""TF Serving's gRPC services over a ModelRegistry.

PredictionService: Predict, Classify, Regress, GetModelMetadata
(MultiInference answers UNIMPLEMENTED). ModelService: GetModelStatus,
HandleReloadConfigRequest. A failed request aborts with its ServingError's
code and message; anything unexpected is logged and answered INTERNAL, and
the server keeps serving either way. Predict, Classify and Regress wait
for one of the registry's run slots (--max_concurrent_runs) no longer than
their deadline, and are not run if their client has gone meanwhile.
"""

import grpc
from absl import logging
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving.dev_server import errors


def _answer(context, method, function, request, registry=None):
    """Runs `function(request)`; with `registry`, in one of its run slots,
    waited for no longer than the client's deadline."""
    try:
        if registry is None:
            return function(request)
        with registry.run_slot(context.time_remaining(), context.is_active):
            return function(request)
    except errors.ServingError as e:
        code, message = e.code, e.message
    except Exception as e:  # noqa: BLE001 - answer, keep serving.
        logging.exception("gRPC %s failed", method)
        code, message = grpc.StatusCode.INTERNAL, errors.clip(
            f"dev server error: {e}", errors.MAX_MESSAGE_CHARS)
    context.abort(code, message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """tensorflow.serving.PredictionService on a ModelRegistry."""

    def __init__(self, registry):
        self._registry = registry

    def Predict(self, request, context):
        return _answer(context, "Predict", self._registry.predict, request,
                       self._registry)

    def Classify(self, request, context):
        return _answer(context, "Classify", self._registry.classify, request,
                       self._registry)

    def Regress(self, request, context):
        return _answer(context, "Regress", self._registry.regress, request,
                       self._registry)

    def GetModelMetadata(self, request, context):
        return _answer(context, "GetModelMetadata", self._registry.metadata,
                       request)

    def MultiInference(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "MultiInference is not implemented by the dev server "
                      "(serving.dev_server); use tensorflow_model_server")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """tensorflow.serving.ModelService on a ModelRegistry."""

    def __init__(self, registry):
        self._registry = registry

    def GetModelStatus(self, request, context):
        return _answer(context, "GetModelStatus", self._registry.model_status,
                       request)

    def HandleReloadConfigRequest(self, request, context):
        def reload(request):
            try:
                self._registry.reload_config(request.config)
            except ValueError as e:
                raise errors.invalid_argument(str(e)) from None
            return model_management_pb2.ReloadConfigResponse()

        return _answer(context, "HandleReloadConfigRequest", reload, request)


def add_services(server: grpc.Server, registry) -> None:
    """Adds both services over `registry` to a grpc.Server."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(registry), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        ModelServicer(registry), server)
