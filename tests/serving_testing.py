"""Small SavedModels shaped like serving.export's, for the serving tests.

`FakeTextClassifier` has the export's signatures without BERT:
- serving_default: text_a, text_b (string [B]) -> class_ids (int32 [B]),
  class_names (string [B]), probabilities (float [B, 2]); the positive
  probability grows with the total text length (a tf.text op included, so
  loading needs `import tensorflow_text` as real exports do).
- tokenized: input_word_ids, input_mask (int32 [B, S]) -> probabilities,
  class_ids; positive probability grows with the unmasked length.
- classification (method tensorflow/serving/classify): inputs (serialized
  tf.Example with a text_a feature) -> classes (string [B, 2]), scores.
- regression (method tensorflow/serving/regress): inputs (tf.Example with
  a float feature x) -> outputs (float [B]) = 2x + 1.
`calls` counts serving_default calls (warmup included).

`tiny_task_model` saves a tiny fine-tuned-model directory of any task
family (random weights, the MiniLM vocabulary) for serving.export.

`ServerTestCase` runs one in-process dev server per test class over
BASE/fake (version 1 of that model) and BASE/empty (no versions).
"""

import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from google.protobuf import text_format
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2
from tensorflow_serving.config import model_server_config_pb2

from bert_tf import checkpoints
from bert_tf.export import saved_model as signatures
from bert_tf.layers import encoder as encoder_lib
from serving.client import lib as client
from serving.dev_server import server as dev_server
from tests import testing

LABELS = ("negative", "positive")
TINY_CONFIG = testing.TINY_CONFIG


def tiny_task_model(directory, model_class, task, **arguments):
    """(model directory, model): a random tiny `model_class` saved as
    tasks.finetune saves OUTPUT_DIR/model, with the task description
    `task` (max_seq_length 24 and lower_case unless given)."""
    model = model_class(encoder_lib.BertEncoder(TINY_CONFIG), **arguments)
    path = os.path.join(directory, "model")
    checkpoints.save_model(
        path, model, os.path.join(testing.minilm_dir(), "vocab.txt"),
        task={"max_seq_length": 24, "lower_case": True, **task})
    return path, model


def positive_probability(total_length):
    """The fake model's positive probability for a text length (numpy)."""
    return 1.0 / (1.0 + np.exp(-(np.asarray(total_length, np.float32) - 10.0)
                               / 5.0))


class FakeTextClassifier(tf.Module):
    """A length-based 'classifier' with serving.export's signature shapes."""

    def __init__(self):
        super().__init__()
        self.labels = tf.constant(LABELS)
        self.calls = tf.Variable(0, dtype=tf.int64)

    def _classify_length(self, length):
        p = tf.sigmoid((tf.cast(length, tf.float32) - 10.0) / 5.0)
        probabilities = tf.stack([1.0 - p, p], axis=1)  # [B, 2]
        class_ids = tf.argmax(probabilities, axis=1, output_type=tf.int32)
        return probabilities, class_ids

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                  tf.TensorSpec([None], tf.string)])
    def serve_text(self, text_a, text_b):
        self.calls.assign_add(1)
        text_a = tf_text.normalize_utf8(text_a, "NFC")
        length = tf.strings.length(text_a) + tf.strings.length(text_b)
        probabilities, class_ids = self._classify_length(length)
        return {"class_ids": class_ids,
                "class_names": tf.gather(self.labels, class_ids),
                "probabilities": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32)])
    def serve_ids(self, input_word_ids, input_mask):
        del input_word_ids
        probabilities, class_ids = self._classify_length(
            tf.reduce_sum(input_mask, axis=1))
        return {"probabilities": probabilities, "class_ids": class_ids}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify(self, inputs):
        features = tf.io.parse_example(inputs, {
            "text_a": tf.io.FixedLenFeature([], tf.string, default_value="")})
        probabilities, _ = self._classify_length(
            tf.strings.length(features["text_a"]))
        batch = tf.shape(inputs)[0]
        return {"classes": tf.tile(self.labels[tf.newaxis], [batch, 1]),
                "scores": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def regress(self, inputs):
        features = tf.io.parse_example(inputs, {
            "x": tf.io.FixedLenFeature([], tf.float32, default_value=0.0)})
        return {"outputs": 2.0 * features["x"] + 1.0}

    def signatures(self):
        return {"serving_default": self.serve_text.get_concrete_function(),
                "tokenized": self.serve_ids.get_concrete_function(),
                "classification": self.classify.get_concrete_function(),
                "regression": self.regress.get_concrete_function()}


def text_inputs(texts_a, texts_b=None):
    texts_b = texts_b if texts_b is not None else [""] * len(texts_a)
    return {"text_a": np.array(texts_a, dtype=object),
            "text_b": np.array(texts_b, dtype=object)}


def warmup_requests(model_name="fake"):
    """One request per signature, as an export's warmup file holds."""
    spec = model_pb2.ModelSpec(name=model_name)
    predict = predict_pb2.PredictRequest(model_spec=spec)
    for name, value in text_inputs(["warm up"]).items():
        predict.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    ids = predict_pb2.PredictRequest(model_spec=spec)
    ids.model_spec.signature_name = "tokenized"
    for name in ("input_word_ids", "input_mask"):
        ids.inputs[name].CopyFrom(tf.make_tensor_proto(
            np.ones([1, 4], np.int32)))
    classify = classification_pb2.ClassificationRequest(model_spec=spec)
    classify.model_spec.signature_name = "classification"
    example = classify.input.example_list.examples.add()
    example.features.feature["text_a"].bytes_list.value.append(b"warm up")
    regress = regression_pb2.RegressionRequest(model_spec=spec)
    regress.model_spec.signature_name = "regression"
    example = regress.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.append(1.0)
    return [predict, ids, classify, regress]


def write_model(export_dir, warmup=True, extra_warmup=()):
    """Saves a FakeTextClassifier SavedModel (unpublished) to `export_dir`."""
    module = FakeTextClassifier()
    tf.saved_model.save(module, export_dir, signatures=module.signatures())
    signatures.set_signature_method(export_dir, "classification",
                                    signatures.CLASSIFY_METHOD_NAME)
    signatures.set_signature_method(export_dir, "regression",
                                    signatures.REGRESS_METHOD_NAME)
    if warmup:
        signatures.write_warmup_requests(
            export_dir, warmup_requests() + list(extra_warmup))
    return export_dir


def publish_version(source_dir, base_path, version):
    """Copies a SavedModel to BASE/<version> atomically, as export does."""
    os.makedirs(base_path, exist_ok=True)
    staging = os.path.join(base_path, f".staging-{version}")
    shutil.copytree(source_dir, staging)
    final = os.path.join(base_path, str(version))
    os.rename(staging, final)
    return final


def write_config(path, models):
    """models.config for {name: base_path}."""
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in models.items():
        config.model_config_list.config.add(
            name=name, base_path=os.path.abspath(base_path),
            model_platform="tensorflow")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(config))
    return path


def listening_addresses(port):
    """Local addresses with a TCP socket listening on `port` (Linux), or
    None when /proc/net/tcp is not there."""
    found, seen_any = set(), False
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        seen_any = True
        with open(table, encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:
                    found.add(_address(address, width))
    return found if seen_any else None


def _address(hex_address, width):
    raw = bytes.fromhex(hex_address)
    if width == 8:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc stores IPv6 as four little-endian 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    address = socket.inet_ntop(socket.AF_INET6, words)
    # An IPv4-mapped IPv6 socket (gRPC binds 127.0.0.1 so) is IPv4.
    return address[len("::ffff:"):] if address.startswith(
        "::ffff:") and "." in address else address


_SOURCE = {}


def source_model():
    """A FakeTextClassifier SavedModel written once per process."""
    if "path" not in _SOURCE:
        import atexit

        root = tempfile.mkdtemp(prefix="fake_model_")
        atexit.register(shutil.rmtree, root, True)
        _SOURCE["path"] = write_model(os.path.join(root, "model"))
    return _SOURCE["path"]


def http(url, body=None, method=None):
    """(status, JSON) of one REST call; dict bodies are sent as JSON."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (
        body)
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class ServerTestCase(tf.test.TestCase):
    """One dev server per class over BASE/fake (version 1) and BASE/empty."""

    poll_seconds = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Each resource is released by a class cleanup registered as soon
        # as it exists: these run even when a later step of setUpClass
        # fails (tearDownClass would not), so no server outlives its class.
        cls.root = tempfile.mkdtemp(prefix=cls.__name__)
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        cls.base = os.path.join(cls.root, "models")
        publish_version(source_model(), os.path.join(cls.base, "fake"), 1)
        os.makedirs(os.path.join(cls.base, "empty"))
        cls.config_file = write_config(
            os.path.join(cls.base, "models.config"),
            {"fake": os.path.join(cls.base, "fake"),
             "empty": os.path.join(cls.base, "empty")})
        cls.server = dev_server.DevServer(
            cls.config_file,
            file_system_poll_wait_seconds=cls.poll_seconds).start()
        cls.addClassCleanup(cls.server.stop)
        cls.grpc = client.Client(cls.server.grpc_address)
        cls.addClassCleanup(cls.grpc.close)
        cls.rest = client.Client(cls.server.rest_url, rest=True)
        cls.addClassCleanup(cls.rest.close)
        cls.channel = grpc.insecure_channel(cls.server.grpc_address)
        cls.addClassCleanup(cls.channel.close)
        cls.stub = prediction_service_pb2_grpc.PredictionServiceStub(
            cls.channel)

    def assertFails(self, code, message, function, *args, **kwargs):
        with self.assertRaises(client.ServingClientError) as raised:
            function(*args, **kwargs)
        self.assertEqual(raised.exception.code, code, raised.exception)
        self.assertIn(message, raised.exception.message)

    def assertHttpError(self, status, message, url, body=None, method=None):
        got, doc = http(url, body, method)
        self.assertEqual(got, status, doc)
        self.assertEqual(list(doc), ["error"])
        self.assertIn(message, doc["error"])
