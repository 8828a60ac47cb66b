"""SavedModel signature and warmup helpers shared by export and dev server.

TF2's `tf.saved_model.save` marks every signature as a predict signature.
TF Serving's Classify and Regress APIs key on a signature's `method_name`
when `--enable_signature_method_name_check` is on, so an export that offers
them fixes the method after saving:

    tf.saved_model.save(module, export_dir, signatures={...})
    saved_model.set_signature_method(export_dir, "classification",
                                     saved_model.CLASSIFY_METHOD_NAME)
    saved_model.write_warmup_requests(export_dir, [predict_request, ...])

`write_warmup_requests` writes TF Serving's warmup file
(assets.extra/tf_serving_warmup_requests: a TFRecord file of
`PredictionLog`s) from Predict, Classification and Regression requests.
"""

import os
from collections.abc import Iterable, Sequence

import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import regression_pb2

from bert_tf import file_io

# TensorFlow's names for TF Serving's three signature methods.
PREDICT_METHOD_NAME = tf.saved_model.PREDICT_METHOD_NAME
CLASSIFY_METHOD_NAME = tf.saved_model.CLASSIFY_METHOD_NAME
REGRESS_METHOD_NAME = tf.saved_model.REGRESS_METHOD_NAME
METHOD_NAMES = (PREDICT_METHOD_NAME, CLASSIFY_METHOD_NAME,
                REGRESS_METHOD_NAME)
DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
SERVE_TAGS = (tf.saved_model.SERVING,)
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
# TF Serving refuses a warmup file with more records than this.
MAX_WARMUP_RECORDS = 1000

_PB = "saved_model.pb"
_PBTXT = "saved_model.pbtxt"


def read_saved_model(export_dir: str) -> saved_model_pb2.SavedModel:
    """The SavedModel proto of `export_dir` (saved_model.pb or .pbtxt)."""
    path = os.path.join(export_dir, _PB)
    if os.path.exists(path):
        with open(path, "rb") as f:
            return saved_model_pb2.SavedModel.FromString(f.read())
    path = os.path.join(export_dir, _PBTXT)
    if os.path.exists(path):
        from google.protobuf import text_format

        with open(path, encoding="utf-8") as f:
            return text_format.Parse(f.read(), saved_model_pb2.SavedModel())
    raise FileNotFoundError(f"{export_dir}: no {_PB} or {_PBTXT}; not a "
                            f"SavedModel directory")


def meta_graph(saved_model: saved_model_pb2.SavedModel, export_dir: str,
               tags: Sequence[str] = SERVE_TAGS) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef whose tag set is exactly `tags`, as TF loads it."""
    for graph in saved_model.meta_graphs:
        if set(graph.meta_info_def.tags) == set(tags):
            return graph
    found = [",".join(g.meta_info_def.tags) for g in saved_model.meta_graphs]
    raise ValueError(f"{export_dir}: no MetaGraphDef with tags "
                     f"'{','.join(tags)}'; tag sets: {found}")


def signature_defs(export_dir: str, tags: Sequence[str] = SERVE_TAGS
                   ) -> dict[str, meta_graph_pb2.SignatureDef]:
    """Signature name -> SignatureDef of the SavedModel's `tags` graph."""
    graph = meta_graph(read_saved_model(export_dir), export_dir, tags)
    return dict(graph.signature_def)


def set_signature_method(export_dir: str, signature: str, method: str,
                         tags: Sequence[str] = SERVE_TAGS) -> None:
    """Sets one signature's `method_name` in `export_dir`/saved_model.pb.

    Args:
        export_dir: str. A SavedModel directory (before it is published:
            the file is rewritten in place, atomically).
        signature: str. Signature key, e.g. "classification".
        method: str. One of `METHOD_NAMES`, e.g. `CLASSIFY_METHOD_NAME`.
        tags: The MetaGraphDef's tag set.

    Raises:
        ValueError: unknown method, or no such signature.
    """
    if method not in METHOD_NAMES:
        raise ValueError(f"method {method!r} is not a TF Serving method; "
                         f"expected one of {', '.join(METHOD_NAMES)}")
    saved_model = read_saved_model(export_dir)
    graph = meta_graph(saved_model, export_dir, tags)
    if signature not in graph.signature_def:
        names = ", ".join(sorted(graph.signature_def))
        raise ValueError(f"{os.path.join(export_dir, _PB)}: no signature "
                         f"{signature!r}; signatures: {names}")
    graph.signature_def[signature].method_name = method
    # With the umask's mode, as TF wrote every other file of the export.
    file_io.atomic_write(os.path.join(export_dir, _PB),
                         saved_model.SerializeToString())
    stale = os.path.join(export_dir, _PBTXT)
    if os.path.exists(stale):
        os.remove(stale)


def prediction_log(request) -> prediction_log_pb2.PredictionLog:
    """Wraps a Predict/Classification/Regression request as a PredictionLog."""
    log = prediction_log_pb2.PredictionLog()
    if isinstance(request, prediction_log_pb2.PredictionLog):
        log.CopyFrom(request)
    elif isinstance(request, predict_pb2.PredictRequest):
        log.predict_log.request.CopyFrom(request)
    elif isinstance(request, classification_pb2.ClassificationRequest):
        log.classify_log.request.CopyFrom(request)
    elif isinstance(request, regression_pb2.RegressionRequest):
        log.regress_log.request.CopyFrom(request)
    else:
        raise TypeError(f"cannot write a {type(request).__name__} as a "
                        f"warmup request; expected a PredictRequest, "
                        f"ClassificationRequest, RegressionRequest or "
                        f"PredictionLog")
    return log


def write_warmup_requests(export_dir: str, requests: Iterable) -> str:
    """Writes TF Serving's warmup file into a SavedModel directory.

    Args:
        export_dir: str. The SavedModel directory (before it is published).
        requests: PredictRequest, ClassificationRequest, RegressionRequest or
            PredictionLog protos; at most `MAX_WARMUP_RECORDS`.

    Returns:
        The path of the file written.
    """
    logs = [prediction_log(request) for request in requests]
    if len(logs) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(logs)} warmup requests; TF Serving accepts at "
                         f"most {MAX_WARMUP_RECORDS}")
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup_records(export_dir: str) -> list[bytes]:
    """The serialized records of `export_dir`'s warmup file ([] if none).

    Raises:
        tf.errors.DataLossError: the file is not a TFRecord file.
    """
    path = os.path.join(export_dir, WARMUP_FILE)
    if not os.path.exists(path):
        return []
    return [record.numpy() for record in tf.data.TFRecordDataset(path)]
