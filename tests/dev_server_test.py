"""serving.dev_server: TF Serving's gRPC and REST APIs over fake exports.

The SavedModels come from tests/serving_testing.py (export-shaped
signatures, no BERT). Status codes and messages are TF Serving's.
"""

import base64
import io
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import file_system_storage_path_source_pb2

from bert_tf.export import saved_model as signatures
from serving.client import lib as client
from serving.dev_server import model_registry
from serving.dev_server import servable as servable_lib
from serving.dev_server import server as dev_server
from tests import serving_testing as st
from tests import testing

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def predict_request(inputs, model="fake", signature_name="", version=None):
    request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(
        name=model, signature_name=signature_name))
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(
            value if isinstance(value, tensor_pb2.TensorProto)
            else tf.make_tensor_proto(value))
    return request


class DevServerTest(st.ServerTestCase):

    def url(self, path):
        return self.server.rest_url + path

    # ------------------------------------------------------------ answers

    def test_predict_returns_the_models_outputs_over_grpc(self):
        texts_a, texts_b = ["hi", "a longer text here"], ["", "b"]
        outputs = self.grpc.predict("fake", st.text_inputs(texts_a, texts_b))
        lengths = [len(a) + len(b) for a, b in zip(texts_a, texts_b)]
        p = st.positive_probability(lengths)
        self.assertAllClose(outputs["probabilities"],
                            np.stack([1 - p, p], axis=1), atol=1e-6)
        self.assertEqual(outputs["class_ids"].dtype, np.int32)
        self.assertAllEqual(outputs["class_ids"], [0, 1])
        self.assertAllEqual(outputs["class_names"],
                            [b"negative", b"positive"])
        response = self.stub.Predict(predict_request(
            st.text_inputs(texts_a, texts_b)))
        self.assertEqual(response.model_spec.name, "fake")
        self.assertEqual(response.model_spec.version.value, 1)
        self.assertEqual(response.model_spec.signature_name,
                         "serving_default")
        # Typed value fields, as tensorflow_model_server writes them.
        self.assertLen(response.outputs["probabilities"].float_val, 4)

    def test_predict_pretokenized_signature_and_output_filter(self):
        mask = np.array([[1, 1, 0], [1, 1, 1]], np.int32)
        outputs = self.grpc.predict(
            "fake", {"input_word_ids": np.ones_like(mask), "input_mask": mask},
            signature_name="tokenized", output_filter=["probabilities"])
        self.assertEqual(list(outputs), ["probabilities"])
        self.assertAllClose(outputs["probabilities"][:, 1],
                            st.positive_probability([2, 3]), atol=1e-6)
        self.assertFails(INVALID, "output tensor alias not found in "
                         "signature: nope", self.grpc.predict, "fake",
                         {"input_word_ids": mask, "input_mask": mask},
                         signature_name="tokenized", output_filter=["nope"])

    def test_classify_returns_labels_and_scores_over_grpc_and_rest(self):
        examples = [{"text_a": "short"}, {"text_a": "a much longer text"}]
        p = st.positive_probability([5, 18])
        for api in (self.grpc, self.rest):
            results = api.classify("fake", examples,
                                   signature_name="classification")
            self.assertEqual([[label for label, _ in r] for r in results],
                             [list(st.LABELS)] * 2)
            self.assertAllClose([[s for _, s in r] for r in results],
                                np.stack([1 - p, p], axis=1), atol=1e-6)
        # A context feature applies to every example.
        results = self.grpc.classify("fake", [{}, {}], context={
            "text_a": "short"}, signature_name="classification")
        self.assertAllClose([r[1][1] for r in results], [p[0]] * 2,
                            atol=1e-6)

    def test_regress_returns_one_value_per_example_over_grpc_and_rest(self):
        examples = [{"x": 1.5}, {"x": -2.0}]
        for api in (self.grpc, self.rest):
            self.assertAllClose(
                api.regress("fake", examples, signature_name="regression"),
                [4.0, -3.0])

    def test_metadata_lists_signatures_and_method_names(self):
        for api in (self.grpc, self.rest):
            signature_defs = api.metadata("fake")
            self.assertEqual(signature_defs["classification"].method_name,
                             signatures.CLASSIFY_METHOD_NAME)
            self.assertEqual(signature_defs["regression"].method_name,
                             signatures.REGRESS_METHOD_NAME)
            self.assertEqual(
                signature_defs["serving_default"].inputs["text_a"].dtype,
                tf.string.as_datatype_enum)
        status, doc = st.http(self.url("/v1/models/fake/versions/1/metadata"))
        self.assertEqual(status, 200)
        self.assertEqual(doc["model_spec"], {"name": "fake", "version": "1",
                                             "signature_name": ""})
        default = doc["metadata"]["signature_def"]["signature_def"][
            "serving_default"]
        self.assertEqual(default["method_name"],
                         signatures.PREDICT_METHOD_NAME)
        self.assertEqual(default["outputs"]["probabilities"]["dtype"],
                         "DT_FLOAT")

    def test_model_status_reports_the_available_version(self):
        for api in (self.grpc, self.rest):
            self.assertEqual(api.status("fake"),
                             [client.VersionStatus(1, "AVAILABLE")])
        expected = {"model_version_status": [{
            "version": "1", "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}
        self.assertEqual(st.http(self.url("/v1/models/fake")), (200, expected))
        self.assertEqual(st.http(self.url("/v1/models/fake/versions/1")),
                         (200, expected))
        self.assertHttpError(404, "Could not find version 7 of model fake",
                             self.url("/v1/models/fake/versions/7"))

    def test_rest_predict_row_format_answers_predictions(self):
        status, doc = st.http(self.url("/v1/models/fake:predict"), {
            "instances": [{"text_a": "hi", "text_b": ""},
                          {"text_a": "a longer text", "text_b": "b"}]})
        self.assertEqual(status, 200, doc)
        p = st.positive_probability([2, 14])
        self.assertEqual(doc, {"predictions": [
            {"class_ids": 0, "class_names": "negative",
             "probabilities": [float(str(np.float32(1 - p[0]))),
                               float(str(np.float32(p[0])))]},
            {"class_ids": 1, "class_names": "positive",
             "probabilities": [float(str(np.float32(1 - p[1]))),
                               float(str(np.float32(p[1])))]}]})

    def test_rest_predict_columnar_format_answers_outputs(self):
        status, doc = st.http(self.url("/v1/models/fake/versions/1:predict"), {
            "signature_name": "tokenized",
            "inputs": {"input_word_ids": [[7, 8, 9]],
                       "input_mask": [[1, 1, 0]]}})
        self.assertEqual(status, 200, doc)
        self.assertEqual(sorted(doc["outputs"]), ["class_ids",
                                                  "probabilities"])
        self.assertEqual(doc["outputs"]["class_ids"], [0])
        self.assertAllClose(doc["outputs"]["probabilities"][0][1],
                            st.positive_probability(2), atol=1e-6)

    def test_rest_predict_reads_b64_strings(self):
        example = tf.train.Example()
        example.features.feature["text_a"].bytes_list.value.append(b"short")
        encoded = base64.b64encode(example.SerializeToString()).decode()
        # One input: "instances" is a plain list of values.
        status, doc = st.http(self.url("/v1/models/fake:predict"), {
            "signature_name": "classification",
            "instances": [{"b64": encoded}]})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["predictions"][0]["classes"], list(st.LABELS))
        status, doc = st.http(self.url("/v1/models/fake:predict"), {
            "inputs": {"text_a": [{"b64": base64.b64encode(b"hi").decode()}],
                       "text_b": [""]}})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["outputs"]["class_names"], ["negative"])

    def test_rest_classify_and_regress_answer_results(self):
        status, doc = st.http(self.url("/v1/models/fake:classify"), {
            "signature_name": "classification",
            "examples": [{"text_a": "short"}]})
        self.assertEqual(status, 200, doc)
        self.assertEqual([label for label, _ in doc["results"][0]],
                         list(st.LABELS))
        self.assertEqual(st.http(self.url("/v1/models/fake:regress"), {
            "signature_name": "regression", "examples": [{"x": 3.0}]}),
            (200, {"results": [7.0]}))

    # ------------------------------------------------------------- errors

    def test_unknown_model_or_version_is_not_found(self):
        inputs = st.text_inputs(["hi"])
        for api in (self.grpc, self.rest):
            self.assertFails(NOT_FOUND, "Servable not found for request: "
                             "Latest(nope)", api.predict, "nope", inputs)
            self.assertFails(NOT_FOUND, "Specific(fake, 9)", api.predict,
                             "fake", inputs, version=9)
            self.assertFails(NOT_FOUND, "Latest(empty)", api.metadata,
                             "empty")
            self.assertFails(NOT_FOUND, "Could not find any versions of "
                             "model nope", api.status, "nope")
        self.assertFails(NOT_FOUND, "Latest(nope)", self.grpc.classify,
                         "nope", [{"text_a": "x"}])
        self.assertHttpError(404, "Latest(nope)",
                             self.url("/v1/models/nope:predict"),
                             {"instances": ["x"]})
        self.assertHttpError(404, "Specific(fake, 9)",
                             self.url("/v1/models/fake/versions/9/metadata"))

    def test_unknown_signature_fails_as_in_tf_serving(self):
        inputs = st.text_inputs(["hi"])
        # gRPC Predict: FAILED_PRECONDITION; REST reads the signature
        # first: INVALID_ARGUMENT (400); Classify: INVALID_ARGUMENT.
        self.assertFails(grpc.StatusCode.FAILED_PRECONDITION,
                         'Serving signature key "nope" not found.',
                         self.grpc.predict, "fake", inputs,
                         signature_name="nope")
        self.assertHttpError(400, 'Serving signature name: "nope" not found',
                             self.url("/v1/models/fake:predict"),
                             {"signature_name": "nope", "instances": ["x"]})
        self.assertFails(INVALID, "No signature was found with the name: "
                         "nope", self.grpc.classify, "fake",
                         [{"text_a": "x"}], signature_name="nope")

    def test_missing_input_is_invalid_argument(self):
        self.assertFails(INVALID, "Missing but required: {text_b}",
                         self.grpc.predict, "fake", {"text_a": ["x"]})
        self.assertHttpError(400, "keys must be equal to: text_a,text_b",
                             self.url("/v1/models/fake:predict"),
                             {"instances": [{"text_a": "x"}]})
        self.assertHttpError(400, "Missing named input: text_b",
                             self.url("/v1/models/fake:predict"),
                             {"inputs": {"text_a": ["x"]}})

    def test_wrong_dtype_or_shape_is_invalid_argument(self):
        self.assertFails(INVALID, "Expects arg 'text_a' to be string but "
                         "int32 is provided", self.grpc.predict, "fake",
                         {"text_a": np.array([1], np.int32),
                          "text_b": ["x"]})
        self.assertFails(INVALID, "input 'text_a' has shape [1, 1]",
                         self.grpc.predict, "fake",
                         {"text_a": [["x"]], "text_b": ["x"]})
        self.assertHttpError(400, "is not of expected type: string",
                             self.url("/v1/models/fake:predict"),
                             {"inputs": {"text_a": [1], "text_b": ["x"]}})
        self.assertHttpError(400, "is not of expected type: int32",
                             self.url("/v1/models/fake:predict"),
                             {"signature_name": "tokenized", "inputs": {
                                 "input_word_ids": [[1.5]],
                                 "input_mask": [[1]]}})

    def test_malformed_tensors_are_invalid_argument(self):
        good = tf.make_tensor_proto(np.ones([1, 2], np.int32))
        short_content = tf.make_tensor_proto(np.ones([1, 2], np.int32))
        short_content.tensor_content = b"\x00" * 3
        negative = tf.make_tensor_proto(np.ones([1, 2], np.int32))
        negative.tensor_shape.dim[0].size = -3
        too_many = tf.make_tensor_proto(["a", "b", "c"])
        too_many.tensor_shape.dim[0].size = 2
        for bad in (short_content, negative):
            self.assertFails(INVALID, "tensor parsing error: input_mask",
                             self.grpc.predict, "fake",
                             {"input_word_ids": good, "input_mask": bad},
                             signature_name="tokenized")
        self.assertFails(INVALID, "tensor parsing error: text_a",
                         self.grpc.predict, "fake",
                         {"text_a": too_many, "text_b": ["a", "b"]})

    def test_classify_or_regress_on_other_signatures_is_invalid_argument(
            self):
        self.assertFails(INVALID, "Expected one input Tensor.",
                         self.grpc.classify, "fake", [{"text_a": "x"}])
        self.assertFails(INVALID, "Expected one output Tensor.",
                         self.grpc.regress, "fake", [{"x": 1.0}],
                         signature_name="classification")
        self.assertFails(INVALID, "Input is empty.", self.grpc.classify,
                         "fake", [], signature_name="classification")

    def test_method_name_check_requires_the_classify_method(self):
        # TF Serving's --enable_signature_method_name_check.
        checked = servable_lib.Servable(
            "fake", 1, os.path.join(self.base, "fake", "1"),
            method_check=True)
        request = self.grpc_classification_request("regression")
        with self.assertRaisesRegex(
                Exception, "Expected classification signature method_name "
                "to be tensorflow/serving/classify. Was: "
                "tensorflow/serving/regress"):
            checked.classify(request)
        request.model_spec.signature_name = "classification"
        self.assertLen(checked.classify(request).result.classifications, 1)

    @staticmethod
    def grpc_classification_request(signature_name):
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "fake"
        request.model_spec.signature_name = signature_name
        example = request.input.example_list.examples.add()
        example.features.feature["text_a"].bytes_list.value.append(b"x")
        return request

    def test_requests_without_model_spec_or_field_are_invalid(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.Predict(predict_pb2.PredictRequest())
        self.assertEqual(raised.exception.code(), INVALID)
        self.assertEqual(raised.exception.details(), "Missing ModelSpec")
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.GetModelMetadata(
                get_model_metadata_pb2.GetModelMetadataRequest(
                    model_spec=model_pb2.ModelSpec(name="fake")))
        self.assertEqual(raised.exception.code(), INVALID)

    def test_rest_bad_requests_answer_json_errors(self):
        predict = self.url("/v1/models/fake:predict")
        self.assertHttpError(400, "JSON Parse error", predict, b"{nope")
        self.assertHttpError(400, "The document is empty", predict, b"",
                             method="POST")
        self.assertHttpError(400, "Is not object", predict, b"[1]")
        self.assertHttpError(400, "expecting only one of 'inputs' or "
                             "'instances'", predict,
                             {"instances": ["x"], "inputs": ["x"]})
        self.assertHttpError(400, "No values in 'instances'", predict,
                             {"instances": []})
        self.assertHttpError(400, "Missing 'inputs' or 'instances' key",
                             predict, {})
        self.assertHttpError(400, "Missing model name in request.",
                             self.url("/v1/models"))
        self.assertHttpError(400, "Malformed request: POST",
                             self.url("/v1/models/fake:explode"), {})
        self.assertHttpError(400, "Malformed request: GET", predict)
        self.assertHttpError(404, "Not found", self.url("/v2/models/fake"))

    def test_server_keeps_serving_after_a_burst_of_bad_requests(self):
        good = predict_request(st.text_inputs(["hi"]))
        bad = [predict_request({"text_a": ["x"]}),  # Missing input.
               predict_request({"text_a": np.array([1], np.int32),
                                "text_b": ["x"]}),  # Wrong dtype.
               predict_request(st.text_inputs(["x"]), signature_name="no"),
               predict_request(st.text_inputs(["x"]), model="nope")]
        bad_tensor = predict_request(st.text_inputs(["x"]))
        bad_tensor.inputs["text_a"].tensor_shape.dim[0].size = -1
        bad.append(bad_tensor)
        codes = {}
        for i in range(10_000):
            with self.assertRaises(grpc.RpcError) as raised:
                self.stub.Predict(bad[i % len(bad)], timeout=10)
            codes[raised.exception.code()] = codes.get(
                raised.exception.code(), 0) + 1
        self.assertEqual(codes, {INVALID: 6000, NOT_FOUND: 2000,
                                 grpc.StatusCode.FAILED_PRECONDITION: 2000})
        for i in range(200):
            status, _ = st.http(self.url("/v1/models/fake:predict"),
                             b"{" if i % 2 else {"instances": [{"a": 1}]})
            self.assertEqual(status, 400)
        self.assertEqual(self.stub.Predict(good).model_spec.version.value, 1)
        _, doc = st.http(self.url("/v1/models/fake:predict"),
                         {"instances": [{"text_a": "x", "text_b": ""}]})
        self.assertIn("predictions", doc)

    def test_concurrent_requests_all_get_their_own_answers(self):
        failures, lock = [], threading.Lock()

        def worker(seed):
            texts = ["x" * (1 + (seed * 7 + i) % 30) for i in range(20)]
            try:
                for text in texts:
                    api = self.rest if seed % 2 else self.grpc
                    got = api.predict("fake", st.text_inputs([text]))
                    want = st.positive_probability(len(text))
                    if abs(got["probabilities"][0, 1] - want) > 1e-5:
                        raise AssertionError(f"{text}: {got} != {want}")
            except Exception as e:  # noqa: BLE001 - reported below.
                with lock:
                    failures.append(repr(e))

        threads = [threading.Thread(target=worker, args=(s,))
                   for s in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])

    def test_server_binds_localhost_only(self):
        for port in (self.server.port, self.server.rest_api_port):
            addresses = st.listening_addresses(port)
            if addresses is None:
                self.skipTest("no /proc/net/tcp on this system")
            self.assertEqual(addresses, {"127.0.0.1"})

    def test_docstring_says_it_is_a_stand_in_for_tf_serving(self):
        package = importlib.import_module("serving.dev_server")
        self.assertIn("stand-in for tensorflow_model_server",
                      package.__doc__)
        self.assertIn("NOT TF Serving", package.__doc__)


class ModelRegistryTest(tf.test.TestCase):
    """Config, version policy, warmup and failed loads, without a server."""

    def publish(self, versions, base=None, source=None):
        base = base or os.path.join(self.get_temp_dir(), "fake")
        for version in versions:
            st.publish_version(source or st.source_model(), base, version)
        return base

    def registry(self, base, options=model_registry.LoadOptions(), **fields):
        config = model_registry.single_model_config("fake", base)
        entry = config.model_config_list.config[0]
        for name, value in fields.items():
            if name == "version_labels":
                entry.version_labels.update(value)
            else:
                getattr(entry.model_version_policy, name).CopyFrom(value)
        registry = model_registry.ModelRegistry(config, options)
        registry.poll()
        self.addCleanup(registry.stop)
        return registry

    def states(self, registry):
        return [(s.version, model_registry.State.Name(s.state))
                for s in registry.status(
                    model_pb2.ModelSpec(name="fake")).model_version_status]

    def test_config_errors_name_the_file_or_model(self):
        path = os.path.join(self.get_temp_dir(), "models.config")
        with open(path, "w") as f:
            f.write("model_config_list { config { name: 'a' base_pat: 1 } }")
        with self.assertRaisesRegex(ValueError, f"^{path}:1:"):
            model_registry.read_config_file(path)
        with self.assertRaisesRegex(ValueError, "cannot read"):
            model_registry.read_config_file(path + ".missing")
        config = model_registry.single_model_config("a", "/x")
        config.model_config_list.config.add(name="a", base_path="/y")
        with self.assertRaisesRegex(ValueError, "model a multiple times"):
            model_registry.check_config(config)
        config = model_registry.single_model_config("a", "/x")
        config.model_config_list.config[0].model_platform = "pytorch"
        with self.assertRaisesRegex(ValueError, "'pytorch' is not supported"):
            model_registry.check_config(config)

    def test_latest_policy_serves_the_highest_version_and_ignores_others(
            self):
        base = self.publish([1, 3])
        os.makedirs(os.path.join(base, ".staging-7"))  # Half-written export.
        os.makedirs(os.path.join(base, "notes"))
        registry = self.registry(base)
        self.assertEqual(self.states(registry), [(3, "AVAILABLE")])
        self.assertEqual(registry.servable(
            model_pb2.ModelSpec(name="fake")).version, 3)

    def test_version_policies_and_labels(self):
        policy = (file_system_storage_path_source_pb2
                  .FileSystemStoragePathSourceConfig.ServableVersionPolicy)
        base = self.publish([1, 2, 3])
        registry = self.registry(base, latest=policy.Latest(num_versions=2))
        self.assertEqual(self.states(registry),
                         [(3, "AVAILABLE"), (2, "AVAILABLE")])
        registry = self.registry(base, specific=policy.Specific(versions=[1]),
                                 version_labels={"stable": 1})
        self.assertEqual(self.states(registry), [(1, "AVAILABLE")])
        self.assertEqual(registry.servable(model_pb2.ModelSpec(
            name="fake", version_label="stable")).version, 1)
        with self.assertRaisesRegex(Exception, "Unrecognized servable "
                                    "version label: canary"):
            registry.servable(model_pb2.ModelSpec(name="fake",
                                                  version_label="canary"))

    def test_warmup_records_run_on_load(self):
        spec = model_pb2.ModelSpec(name="fake")
        registry = self.registry(self.publish([1]))
        # The warmup file holds one serving_default request.
        self.assertEqual(registry.servable(spec).saved_model.calls.numpy(), 1)
        registry = self.registry(self.publish([1], base=os.path.join(
            self.get_temp_dir(), "cold")), model_registry.LoadOptions(
                enable_model_warmup=False))
        self.assertEqual(registry.servable(spec).saved_model.calls.numpy(), 0)

    def test_failed_warmup_fails_the_version_and_keeps_the_previous(self):
        bad_warmup = predict_pb2.PredictRequest()
        bad_warmup.inputs["text_a"].CopyFrom(tf.make_tensor_proto(["x"]))
        broken = st.write_model(os.path.join(self.get_temp_dir(), "broken"),
                                extra_warmup=[bad_warmup])
        base = self.publish([1])
        registry = self.registry(base, model_registry.LoadOptions(
            max_num_load_retries=0))
        self.publish([2], base=base, source=broken)
        registry.poll()
        status = registry.status(
            model_pb2.ModelSpec(name="fake")).model_version_status
        self.assertEqual([(s.version, s.state) for s in status],
                         [(2, model_registry.State.END),
                          (1, model_registry.State.AVAILABLE)])
        self.assertEqual(status[0].status.error_code, INVALID.value[0])
        self.assertIn("Missing but required: {text_b}",
                      status[0].status.error_message)
        self.assertEqual(registry.servable(
            model_pb2.ModelSpec(name="fake")).version, 1)

    def test_start_fails_when_a_version_cannot_load(self):
        base = os.path.join(self.get_temp_dir(), "garbage")
        os.makedirs(os.path.join(base, "1"))
        with open(os.path.join(base, "1", "saved_model.pb"), "wb") as f:
            f.write(b"not a SavedModel")
        server = dev_server.DevServer(
            model_registry.single_model_config("garbage", base))
        with self.assertRaisesRegex(RuntimeError, "garbage version 1"):
            server.start()


    def test_config_file_changes_are_picked_up(self):
        base = self.publish([1])
        path = st.write_config(os.path.join(self.get_temp_dir(), "m.config"),
                               {"fake": base})
        server = dev_server.DevServer(
            path, rest_api_port=None, model_config_file_poll_wait_seconds=0.1)
        server.start()
        self.addCleanup(server.stop)
        st.write_config(path, {"fake": base, "again": base})
        deadline = time.monotonic() + 30
        while True:
            try:
                status = client.get_model_status(server.grpc_address, "again")
            except client.ServingClientError:
                status = []
            if status == [client.VersionStatus(1, "AVAILABLE")]:
                break
            self.assertLess(time.monotonic(), deadline, status)
            time.sleep(0.05)

@pytest.mark.large
class VersionSwapTest(st.ServerTestCase):
    """A new version published while requests run (polling every 0.1 s)."""

    poll_seconds = 0.1

    def test_new_version_takes_over_without_failing_requests(self):
        stop, failures, seen = threading.Event(), [], []
        lock = threading.Lock()
        # The latest version each gRPC worker was answered by: the new one
        # is published once every worker has been answered by version 1,
        # and the load stops once every worker has been answered by 2
        # (conditions, not sleeps: a loaded machine only makes it slower).
        latest = [None] * 4

        def grpc_worker(i):
            versions = []
            request = predict_request(st.text_inputs(["x" * (i + 1)]))
            while not stop.is_set():
                try:
                    response = self.stub.Predict(request, timeout=30)
                    versions.append(response.model_spec.version.value)
                    latest[i] = versions[-1]
                except grpc.RpcError as e:
                    with lock:
                        failures.append(f"{e.code()}: {e.details()}")
            with lock:
                seen.append(versions)

        def rest_worker():
            url = self.server.rest_url + "/v1/models/fake:predict"
            while not stop.is_set():
                status, doc = st.http(url, {"instances": [{"text_a": "x",
                                                        "text_b": "y"}]})
                if status != 200:
                    with lock:
                        failures.append(f"HTTP {status}: {doc}")

        def wait_until(condition, what):
            deadline = time.monotonic() + 60
            while not condition():
                self.assertLess(time.monotonic(), deadline, what)
                time.sleep(0.02)

        threads = [threading.Thread(target=grpc_worker, args=(i,))
                   for i in range(4)] + [threading.Thread(target=rest_worker)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: latest == [1] * 4, latest)
            st.publish_version(st.source_model(),
                               os.path.join(self.base, "fake"), 2)
            wait_until(lambda: self.grpc.status("fake") == [
                client.VersionStatus(2, "AVAILABLE"),
                client.VersionStatus(1, "END")], "version 2 not available")
            wait_until(lambda: latest == [2] * 4, latest)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        self.assertEqual(failures, [])
        for versions in seen:
            self.assertEqual(versions[0], 1)
            self.assertEqual(versions[-1], 2)
            self.assertEqual(versions, sorted(versions))  # Never back to 1.

    def test_reload_config_adds_and_removes_models(self):
        models = model_service_pb2_grpc.ModelServiceStub(self.channel)
        config = model_registry.read_config_file(self.config_file)
        config.model_config_list.config.add(
            name="second", base_path=os.path.join(self.base, "fake"),
            model_platform="tensorflow")
        models.HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(config=config))
        self.assertIn("class_ids", self.grpc.predict(
            "second", st.text_inputs(["x"])))
        models.HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(
                config=model_registry.read_config_file(self.config_file)))
        self.assertFails(NOT_FOUND, "Latest(second)", self.grpc.predict,
                         "second", st.text_inputs(["x"]))


@pytest.mark.large
class DevServerCommandLineTest(tf.test.TestCase):

    def test_command_line_serves_and_stops_on_sigterm(self):
        base = os.path.join(self.get_temp_dir(), "models")
        st.publish_version(st.source_model(), os.path.join(base, "fake"), 1)
        config = st.write_config(os.path.join(base, "models.config"),
                                 {"fake": os.path.join(base, "fake")})
        log = io.StringIO()
        # --port=0: the address is read back from the server's log.
        process, grpc_address, rest_address = dev_server.start_subprocess(
            config, ["fake"], log=log, timeout=120)
        self.addCleanup(process.kill)
        self.assertIn(f"Running gRPC ModelServer at {grpc_address} ...",
                      log.getvalue())
        outputs = client.predict(grpc_address, "fake",
                                 st.text_inputs(["hello"]))
        self.assertAllEqual(outputs["class_names"], [b"negative"])
        status = client.get_model_status(rest_address, "fake", rest=True)
        self.assertEqual(status, [client.VersionStatus(1, "AVAILABLE")])
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(timeout=30), 0)
        self.assertRegex(log.getvalue(), "Received signal 15, shutting down")

    def test_rest_port_taken_is_a_clear_error(self):
        base = os.path.join(self.get_temp_dir(), "models")
        st.publish_version(st.source_model(), os.path.join(base, "fake"), 1)
        config = st.write_config(os.path.join(base, "models.config"),
                                 {"fake": os.path.join(base, "fake")})
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = subprocess.run(
                [sys.executable, "-m", "serving.dev_server",
                 f"--model_config_file={config}", "--port=0",
                 f"--rest_api_port={port}"],
                cwd=testing.REPO_ROOT, capture_output=True, text=True,
                timeout=120)
        self.assertEqual(result.returncode, 1, result.stderr[-2000:])
        self.assertIn(f"error: cannot bind REST to 127.0.0.1:{port}: "
                      "Address already in use", result.stderr)


if __name__ == "__main__":
    tf.test.main()
