"""serving.client: the library over gRPC and REST, and the command line.

Runs against serving.dev_server with the fake export of
tests/serving_testing.py; the client itself only uses TF Serving's public
APIs.
"""

import io
import json
import os
import socket
import subprocess
import sys

import grpc
import numpy as np
import pytest
import tensorflow as tf

from bert_tf.export import saved_model as signatures
from serving.client import cli as client_cli
from serving.client import inputs as client_io
from serving.client import lib as client
from tests import serving_testing as st
from tests import testing


class ClientLibraryTest(st.ServerTestCase):

    def test_predict_gives_the_same_arrays_over_grpc_and_rest(self):
        inputs = st.text_inputs(["hi", "a longer text"], ["x", ""])
        by_grpc = client.predict(self.server.grpc_address, "fake", inputs)
        by_rest = client.predict(self.server.rest_url, "fake", inputs,
                                 rest=True)
        self.assertEqual(sorted(by_grpc), sorted(by_rest))
        for name, value in by_grpc.items():
            self.assertEqual(by_rest[name].dtype, value.dtype, name)
        self.assertAllClose(by_rest["probabilities"],
                            by_grpc["probabilities"], atol=1e-6)
        self.assertAllEqual(by_rest["class_ids"], by_grpc["class_ids"])
        self.assertAllEqual(by_rest["class_names"],
                            [b"negative", b"positive"])

    def test_rest_names_a_single_output_and_sends_binary_as_b64(self):
        example = tf.train.Example()
        example.features.feature["x"].float_list.value.append(2.0)
        serialized = example.SerializeToString()  # Not UTF-8.
        outputs = self.rest.predict(
            "fake", {"inputs": np.array([serialized], dtype=object)},
            signature_name="regression")
        self.assertEqual(list(outputs), ["outputs"])
        self.assertAllClose(outputs["outputs"], [5.0])
        self.assertEqual(outputs["outputs"].dtype, np.float32)

    def test_classify_regress_metadata_and_status_agree_between_apis(self):
        examples = [{"text_a": "short"}, {"text_a": ["a much longer text"]}]
        for api in (self.grpc, self.rest):
            results = api.classify("fake", examples,
                                   signature_name="classification")
            self.assertEqual([[label for label, _ in r] for r in results],
                             [list(st.LABELS)] * 2)
            self.assertAllClose([r[1][1] for r in results],
                                st.positive_probability([5, 18]), atol=1e-6)
            self.assertAllClose(api.regress(
                "fake", [{"x": 0.5}, {"x": np.float32(1)}],
                signature_name="regression"), [2.0, 3.0])
            self.assertEqual(
                api.metadata("fake", version=1)["regression"].method_name,
                signatures.REGRESS_METHOD_NAME)
            self.assertEqual(api.status("fake"),
                             [client.VersionStatus(1, "AVAILABLE")])

    def test_errors_carry_the_status_code_and_message(self):
        for api, http_status in ((self.grpc, None), (self.rest, 404)):
            with self.assertRaises(client.ServingClientError) as raised:
                api.predict("nope", st.text_inputs(["x"]))
            self.assertEqual(raised.exception.code, grpc.StatusCode.NOT_FOUND)
            self.assertEqual(raised.exception.http_status, http_status)
            self.assertEqual(raised.exception.message,
                             "Servable not found for request: Latest(nope)")
        # What `python -m serving.client` prints after "error: ".
        self.assertEqual(str(raised.exception), "HTTP 404: Servable not "
                         "found for request: Latest(nope)")
        with self.assertRaises(client.ServingClientError) as raised:
            self.rest.classify("fake", [{"text_a": "x"}])
        self.assertEqual(raised.exception.http_status, 400)
        self.assertIn("Expected one input Tensor.", str(raised.exception))

    def test_unreachable_server_is_unavailable(self):
        # A port bound but not listening refuses connections, and no other
        # process can listen on it while the socket holds it.
        with socket.socket() as bound:
            bound.bind(("127.0.0.1", 0))
            port = bound.getsockname()[1]
            for rest in (False, True):
                with self.assertRaises(client.ServingClientError) as raised:
                    client.get_model_status(f"127.0.0.1:{port}", "fake",
                                            rest=rest, timeout=5)
                self.assertEqual(raised.exception.code,
                                 grpc.StatusCode.UNAVAILABLE)


class ClientCommandTest(st.ServerTestCase):
    """`client_cli.run_requests`: what `python -m serving.client` does
    after its flags."""

    def run_client(self, rest=False, **options):
        out = io.StringIO()
        address = self.server.rest_url if rest else self.server.grpc_address
        with client.Client(address, rest=rest) as api:
            client_cli.run_requests(
                api, client_cli.Options(model="fake", **options), out)
        return out.getvalue().splitlines()

    def write(self, name, text):
        path = os.path.join(self.get_temp_dir(), name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_flag_inputs_give_one_line_per_example(self):
        inputs = ("text_a=hi", "text_a=a longer text", "text_b=", "text_b=x")
        for rest in (False, True):
            lines = self.run_client(rest=rest, inputs=inputs)
            self.assertLen(lines, 2)
            self.assertTrue(lines[0].startswith("0\t"), lines)
            self.assertIn("class_names=negative", lines[0])
            self.assertIn("class_names=positive", lines[1])

    def test_tsv_file_is_sent_in_batches_and_written_as_json(self):
        texts = ["a", "bb", "a fairly long text", "ccc", "another long text"]
        path = self.write("in.tsv", "text_a\ttext_b\n" + "".join(
            f"{t}\t\n" for t in texts))
        lines = self.run_client(input_file=path, batch_size=2,
                                output_format="json")
        rows = [json.loads(line) for line in lines]
        self.assertLen(rows, 5)
        self.assertAllClose([r["probabilities"][1] for r in rows],
                            st.positive_probability([len(t) for t in texts]),
                            atol=1e-5)
        self.assertEqual(rows[2]["class_names"], "positive")

    def test_jsonl_and_typed_flag_inputs_feed_int_signatures(self):
        path = self.write("in.jsonl", json.dumps(
            {"input_word_ids": [5, 6, 7], "input_mask": [1, 1, 0]}) + "\n\n")
        lines = self.run_client(
            signature_name="tokenized", input_file=path,
            inputs=("input_word_ids:=[1, 2, 3]", "input_mask=[1, 1, 1]"),
            output_format="json")
        self.assertAllClose([json.loads(line)["probabilities"][1]
                             for line in lines],
                            st.positive_probability([3, 2]), atol=1e-5)

    def test_classify_regress_metadata_and_status_methods(self):
        lines = self.run_client(method="classify",
                                signature_name="classification",
                                inputs=("text_a=short",))
        self.assertRegex(lines[0], r"^0\tnegative=0\.73\d*  positive=0\.26")
        path = self.write("x.jsonl", '{"x": 1.5}\n{"x": -1.0}\n')
        self.assertEqual(self.run_client(
            method="regress", signature_name="regression", input_file=path),
            ["0\t4.0", "1\t-1.0"])
        lines = self.run_client(method="metadata")
        self.assertIn("classification (tensorflow/serving/classify)", lines)
        self.assertIn("  in  text_a: string [None]", lines)
        self.assertIn("  out probabilities: float32 [None, 2]", lines)
        self.assertEqual(self.run_client(rest=True, method="status"),
                         ["version 1: AVAILABLE"])

    def test_input_errors_name_the_file_and_line(self):
        path = self.write("bad.tsv", "text_a\ttext_b\nok\tok\nonly one\n")
        with self.assertRaisesRegex(client_io.InputError,
                                    f"^{path}:3: 1 columns"):
            client_io.read_input_file(path)
        path = self.write("bad.jsonl", '{"text_a": "x"}\n["x"]\n')
        with self.assertRaisesRegex(client_io.InputError,
                                    f"^{path}:2: expected an object"):
            client_io.read_input_file(path)
        with self.assertRaisesRegex(client_io.InputError, "as many values"):
            client_io.parse_flag_inputs(["text_a=x", "text_a=y", "text_b=z"])
        with self.assertRaisesRegex(client_io.InputError, "KEY=VALUE"):
            client_io.parse_flag_inputs(["text_a"])
        with self.assertRaisesRegex(client_io.InputError, "signature takes"):
            self.run_client(inputs=("text_a=x",))
        with self.assertRaisesRegex(client_io.InputError, "pad them"):
            self.run_client(signature_name="tokenized", inputs=(
                "input_word_ids:=[1, 2]", "input_word_ids:=[1]",
                "input_mask:=[1, 1]", "input_mask:=[1]"))

    @pytest.mark.large
    def test_command_line_prints_predictions(self):
        done = subprocess.run(
            [sys.executable, "-m", "serving.client",
             f"--server={self.server.grpc_address}", "--model=fake",
             "--input=text_a=hello there", "--input=text_b="],
            capture_output=True, text=True, cwd=testing.REPO_ROOT,
            timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertRegex(done.stdout, r"^0\tclass_ids=1  class_names=positive"
                         r"  probabilities=\[0\.\d+, 0\.\d+\]\n$")


if __name__ == "__main__":
    tf.test.main()
