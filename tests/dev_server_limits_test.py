"""serving.dev_server's resource limits: request size, batch size,
deadlines, REST concurrency and timeouts, clipped error messages, REST JSON
edge cases, and the command line's flag validators.

One in-process dev server over tests/serving_testing.py's fake export, with
small limits so that each check is quick.
"""

import json
import os
import shutil
import socket
import tempfile
import threading
import time

import grpc
import numpy as np
import tensorflow as tf
from absl import flags
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving.client import lib as client
from serving.dev_server import cli as dev_server_cli
from serving.dev_server import errors
from serving.dev_server import limits
from serving.dev_server import server as dev_server
from tests import serving_testing as st

MAX_BATCH = 64
MAX_BYTES = 100_000
TIMEOUT_MS = 2000


def _text_request(size, model="fake", values=(b"some text",)):
    """A Predict request declaring `size` strings but holding `values`."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model))
    for name in ("text_a", "text_b"):
        tensor = request.inputs[name]
        tensor.dtype = tf.string.as_datatype_enum
        tensor.tensor_shape.dim.add(size=size)
        tensor.string_val.extend(values)
    return request


def _raw_http(port, data, read=True, timeout=10.0):
    """Sends raw bytes to the REST port; returns the answer's bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return answer
            answer += chunk


class DevServerLimitsTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="limits")
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        base = os.path.join(cls.root, "models")
        st.publish_version(st.source_model(), os.path.join(base, "fake"), 1)
        config = st.write_config(os.path.join(base, "models.config"),
                                 {"fake": os.path.join(base, "fake")})
        cls.server = dev_server.DevServer(
            config, file_system_poll_wait_seconds=0,
            request_limits=limits.RequestLimits(
                max_batch_size=MAX_BATCH, max_concurrent_runs=1),
            max_request_bytes=MAX_BYTES, grpc_max_threads=2,
            rest_api_num_threads=4,
            rest_api_timeout_in_ms=TIMEOUT_MS).start()
        cls.addClassCleanup(cls.server.stop)
        cls.channel = grpc.insecure_channel(cls.server.grpc_address)
        cls.addClassCleanup(cls.channel.close)
        cls.stub = prediction_service_pb2_grpc.PredictionServiceStub(
            cls.channel)
        cls.predict_url = cls.server.rest_url + "/v1/models/fake:predict"

    def assertRpcFails(self, code, messages, request, method="Predict",
                       timeout=10):
        with self.assertRaises(grpc.RpcError) as raised:
            getattr(self.stub, method)(request, timeout=timeout)
        self.assertEqual(raised.exception.code(), code,
                         raised.exception.details())
        for message in messages:
            self.assertIn(message, raised.exception.details())
        return raised.exception.details()

    # ---------------------------------------------------------- batch size

    def test_batch_size_is_capped_from_the_declared_shape(self):
        start = time.perf_counter()
        self.assertRpcFails(
            grpc.StatusCode.INVALID_ARGUMENT,
            ["input 'text_a'", "batch of 50000", f"at most {MAX_BATCH}",
             "--max_batch_size"], _text_request(50_000))
        self.assertLess(time.perf_counter() - start, 2.0)
        response = self.stub.Predict(_text_request(MAX_BATCH), timeout=10)
        self.assertEqual(
            response.outputs["class_ids"].tensor_shape.dim[0].size, MAX_BATCH)

    def test_batch_size_cap_covers_rest_and_classify(self):
        status, doc = st.http(self.predict_url, {"instances": [
            {"text_a": "x", "text_b": ""}] * (MAX_BATCH + 1)})
        self.assertEqual(status, 400, doc)
        self.assertIn(f"batch of {MAX_BATCH + 1}", doc["error"])
        status, doc = st.http(self.predict_url, {"inputs": {
            "text_a": ["x"] * (MAX_BATCH + 1), "text_b": ["y"]}})
        self.assertEqual(status, 400, doc)
        self.assertIn("input 'text_a'", doc["error"])
        request = classification_pb2.ClassificationRequest(
            model_spec=model_pb2.ModelSpec(name="fake",
                                           signature_name="classification"))
        for _ in range(MAX_BATCH + 1):
            request.input.example_list.examples.add()
        self.assertRpcFails(grpc.StatusCode.INVALID_ARGUMENT,
                            [f"{MAX_BATCH + 1} examples"], request,
                            method="Classify")

    # -------------------------------------------------------- request size

    def test_grpc_message_over_max_request_bytes_is_refused(self):
        self.assertRpcFails(grpc.StatusCode.RESOURCE_EXHAUSTED, [],
                            _text_request(1, values=[b"x" * MAX_BYTES]))

    def test_rest_body_over_the_limit_is_413_before_it_is_read(self):
        start = time.perf_counter()
        answer = _raw_http(self.server.rest_api_port,
                           b"POST /v1/models/fake:predict HTTP/1.1\r\n"
                           b"Host: x\r\nContent-Length: 1000000000\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer)
        self.assertIn(b"--max_request_bytes", answer)
        self.assertLess(time.perf_counter() - start, TIMEOUT_MS / 1000)

    def test_rest_post_without_content_length_is_411(self):
        answer = _raw_http(self.server.rest_api_port,
                           b"POST /v1/models/fake:predict HTTP/1.1\r\n"
                           b"Host: x\r\n\r\n{}")
        self.assertTrue(answer.startswith(b"HTTP/1.1 411"), answer)

    # ----------------------------------------------------------- deadlines

    def test_request_whose_client_left_while_waiting_is_not_run(self):
        registry = self.server.registry
        original, entered, release = registry.predict, threading.Event(), \
            threading.Event()
        ran = []

        def predict(request):
            ran.append(request.model_spec.signature_name)
            if request.model_spec.signature_name == "slow":
                entered.set()
                release.wait(10)
                raise RuntimeError("released")
            return original(request)

        registry.predict = predict
        self.addCleanup(setattr, registry, "predict", original)
        slow = _text_request(1)
        slow.model_spec.signature_name = "slow"
        thread = threading.Thread(target=self.assertRpcFails, args=(
            grpc.StatusCode.INTERNAL, ["released"], slow))
        thread.start()
        self.assertTrue(entered.wait(10))  # It holds the only run slot.
        abandoned = _text_request(1)
        abandoned.model_spec.signature_name = "abandoned"
        start = time.perf_counter()
        self.assertRpcFails(grpc.StatusCode.DEADLINE_EXCEEDED, [], abandoned,
                            timeout=0.3)
        self.assertLess(time.perf_counter() - start, 2.0)
        # A gRPC worker is free meanwhile: metadata needs no run slot.
        status = client.get_model_status(self.server.grpc_address, "fake",
                                         timeout=5)
        self.assertEqual(status[0].state, "AVAILABLE")
        release.set()
        thread.join()
        self.stub.Predict(_text_request(1), timeout=10)
        self.assertEqual(ran, ["slow", ""])

    # -------------------------------------------------- REST under load

    def test_rest_answers_200_concurrent_connections_without_resets(self):
        body = json.dumps({"inputs": {"text_a": ["hi"], "text_b": [""]}})
        request = (f"POST /v1/models/fake:predict HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n"
                   f"\r\n{body}").encode()
        answers, lock = [], threading.Lock()
        start_line = threading.Barrier(200)

        def one():
            start_line.wait()
            try:
                answer = _raw_http(self.server.rest_api_port, request,
                                   timeout=60)[:12]
            except OSError as e:
                answer = type(e).__name__
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=one) for _ in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(answers, [b"HTTP/1.1 200"] * 200)

    def test_rest_slow_clients_are_cut_off_and_others_served(self):
        slow = []
        for _ in range(6):  # More than the 4 REST workers.
            s = socket.create_connection(
                ("127.0.0.1", self.server.rest_api_port), timeout=10)
            s.sendall(b"POST /v1/models/fake:predict HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        self.addCleanup(lambda: [s.close() for s in slow])
        start = time.perf_counter()
        status, doc = st.http(self.predict_url, {"inputs": {
            "text_a": ["hi"], "text_b": [""]}})
        self.assertEqual(status, 200, doc)
        for s in slow:
            try:
                s.sendall(b"X-Slow: 1\r\n")
                self.assertEqual(s.recv(100), b"")  # Closed by the server.
            except ConnectionError:
                pass
        self.assertLess(time.perf_counter() - start, 10 * TIMEOUT_MS / 1000)

    # ------------------------------------------------------ error messages

    def test_errors_do_not_echo_huge_values(self):
        huge = "x" * 30_000
        details = self.assertRpcFails(grpc.StatusCode.NOT_FOUND, ["... ("],
                                      _text_request(1, model=huge))
        self.assertLess(len(details), 2000)
        for doc in ({"signature_name": huge, "instances": ["x"]},
                    {"instances": [{"text_a": 1.5, "text_b": huge}]},
                    {"instances": [huge]}):
            status, answer = st.http(self.predict_url, doc)
            self.assertEqual(status, 400, answer)
            self.assertLess(len(answer["error"]), 2000, answer["error"][:300])

    # --------------------------------------------------------- REST JSON

    def test_rest_lone_surrogate_and_deep_nesting_are_400(self):
        status, doc = st.http(
            self.predict_url,
            b'{"instances": [{"text_a": "\\ud800", "text_b": ""}]}')
        self.assertEqual(status, 400, doc)
        self.assertIn("surrogate", doc["error"])
        status, doc = st.http(self.predict_url, b'{"instances": [{"text_a": '
                              b'"\\ud83d\\ude00", "text_b": ""}]}')
        self.assertEqual(status, 200, doc)  # A valid pair: an emoji.
        for depth in (100, 40_000):
            nested = b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"
            status, doc = st.http(self.predict_url, nested)
            self.assertEqual(status, 400, doc)
            self.assertIn("nested deeper than", doc["error"])


class OpErrorMessageTest(tf.test.TestCase):

    def test_op_error_message_drops_the_graph_trace(self):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def limited(texts):
            message = tf.strings.format("text[{}] is too long",
                                        (tf.size(texts) - 1,))
            check = tf.debugging.Assert(tf.size(texts) < 2, [message],
                                        name="max_text_bytes")
            with tf.control_dependencies([check]):
                return tf.gather(texts, tf.size(texts) + 3)

        with self.assertRaises(tf.errors.InvalidArgumentError) as e:
            limited(tf.constant(["a", "b"]))
        self.assertIn("Graph execution error", e.exception.message)
        self.assertEqual(errors.op_error_message(e.exception.message),
                         "text[1] is too long")
        with self.assertRaises(tf.errors.InvalidArgumentError) as e:
            limited(tf.constant(["a"]))
        message = errors.op_error_message(e.exception.message)
        self.assertStartsWith(message, "indices = 4 is not in [0, 1)")
        self.assertNotIn("Detected at node", message)
        self.assertNotIn("{{node", message)
        self.assertEqual(errors.op_error_message("plain"), "plain")


class DevServerFlagsTest(tf.test.TestCase):

    def parse(self, *argv):
        values = flags.FlagValues()
        dev_server_cli.define_flags(values)
        values(["dev_server", *argv])
        return values

    def test_flags_reject_bad_values_with_one_line_errors(self):
        config = os.path.join(self.get_temp_dir(), "models.config")
        open(config, "w").close()
        self.parse(f"--model_config_file={config}")
        for argv, message in (
                (["--max_batch_size=-1"], "max_batch_size"),
                (["--max_request_bytes=0"], "max_request_bytes"),
                (["--rest_api_timeout_in_ms=0"], "rest_api_timeout_in_ms"),
                (["--grpc_max_threads=0"], "grpc_max_threads"),
                (["--port=70000"], "port"),
                (["--grpc_channel_arguments=nokey"], "key=value"),
                (["--rest_api_port=8500"], "must differ")):
            with self.assertRaisesRegex(flags.IllegalFlagValueError,
                                        message):
                self.parse(f"--model_config_file={config}", *argv)
        with self.assertRaisesRegex(flags.IllegalFlagValueError,
                                    "is not a file"):
            self.parse("--model_config_file=/no/such/models.config")
        with self.assertRaisesRegex(flags.IllegalFlagValueError,
                                    "either --model_config_file"):
            self.parse()

    def test_channel_arguments_parse_as_tf_serving_writes_them(self):
        self.assertEqual(
            dev_server_cli.parse_channel_arguments(
                "grpc.max_receive_message_length=1024, grpc.x=abc"),
            [("grpc.max_receive_message_length", 1024), ("grpc.x", "abc")])
        self.assertEqual(dev_server_cli.parse_channel_arguments(""), [])


if __name__ == "__main__":
    tf.test.main()
