"""Every task family's real export behind serving.dev_server, queried with
serving.client over loopback gRPC and REST.

One server for the class, over BASE/models.config as serving.export writes
it: sst2 (single sentence), mrpc (pair), stsb (regression), swag (multiple
choice), squad (span QA) and conll2003 (NER), tiny random models with the
MiniLM vocabulary. Answers are compared with the same SavedModel loaded in
this process.
"""

import io
import json
import os
import shutil
import tempfile
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf

from bert_tf.export import exporter as export
from bert_tf import models
from bert_tf.tasks.token_classification import data as conll_data
from serving.client import cli as client_cli
from serving.client import lib as client
from serving.dev_server import server as dev_server
from tests import serving_testing as st

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
# The exports' --max_text_bytes here (the requests below are shorter).
MAX_TEXT_BYTES = 4096

# name -> (model class, task description, model arguments)
TASKS = {
    "sst2": (models.BertClassifier,
             {"family": "text_classification",
              "is_pair": False, "labels": ["0", "1"]},
             {"num_classes": 2}),
    "mrpc": (models.BertClassifier,
             {"family": "text_classification",
              "is_pair": True, "labels": ["0", "1"]},
             {"num_classes": 2}),
    "stsb": (models.BertClassifier,
             {"family": "text_classification",
              "is_pair": True, "labels": None},
             {"num_classes": 1}),
    "swag": (models.BertMultipleChoice,
             {"family": "multiple_choice", "num_choices": 4},
             {"num_choices": 4}),
    "squad": (models.BertSpanLabeler,
              {"family": "question_answering",
               "max_query_length": 8, "doc_stride": 6,
               "max_answer_length": 6, "n_best_size": 10,
               "version_2_with_negative": False,
               "null_score_diff_threshold": 0.0}, {}),
    "conll2003": (models.BertTokenTagger,
                  {"family": "token_classification",
                   "labels": list(conll_data.TAGS)},
                  {"num_tags": len(conll_data.TAGS)}),
}

# name -> serving_default inputs (2 examples; empty strings included)
REQUESTS = {
    "sst2": {"text_a": ["a gripping, funny film", ""]},
    "mrpc": {"text_a": ["The cat sat.", ""], "text_b": ["A cat sat.", "x"]},
    "stsb": {"text_a": ["A man plays.", "Rain."],
             "text_b": ["Someone plays music.", ""]},
    "swag": {"context": ["He opens the door.", ""],
             **{f"ending{i}": [f"He walks in {i}.", ""] for i in range(4)}},
    "squad": {"question": ["Where does the river end?", ""],
              "context": ["The river rises in the hills and ends in the "
                          "northern sea, far from the old town. " * 4, ""]},
    "conll2003": {"text": ["Anna Berg flew from Oslo to Lima.", ""]},
}


def _strings(inputs):
    return {k: np.array(v, dtype=object) for k, v in inputs.items()}


@pytest.mark.large
class TaskServingTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = tempfile.mkdtemp(prefix="serving_tasks_")
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)
        cls.base = os.path.join(cls.root, "exports")
        cls.model_dirs = {}
        for name, (model_class, task, arguments) in TASKS.items():
            cls.model_dirs[name], _ = st.tiny_task_model(
                os.path.join(cls.root, name), model_class,
                {"name": name, **task}, **arguments)
            export.export(cls.model_dirs[name], os.path.join(cls.base, name),
                          max_text_bytes=MAX_TEXT_BYTES)
        cls.server = dev_server.DevServer(
            os.path.join(cls.base, "models.config"),
            file_system_poll_wait_seconds=0.1).start()
        cls.addClassCleanup(cls.server.stop)
        cls.grpc = client.Client(cls.server.grpc_address)
        cls.addClassCleanup(cls.grpc.close)
        cls.rest = client.Client(cls.server.rest_url, rest=True)
        cls.addClassCleanup(cls.rest.close)
        cls.loaded = {name: tf.saved_model.load(
            os.path.join(cls.base, name, "1")) for name in TASKS}

    def expected(self, name, signature="serving_default", inputs=None):
        inputs = REQUESTS[name] if inputs is None else inputs
        outputs = self.loaded[name].signatures[signature](
            **{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    def assertSameOutputs(self, got, expected):
        self.assertEqual(sorted(got), sorted(expected))
        for key, value in expected.items():
            if value.dtype == object:
                self.assertAllEqual(got[key], value, msg=key)
            else:
                self.assertAllClose(got[key], value, atol=1e-5, msg=key)

    def test_every_task_answers_predict_over_grpc_and_rest(self):
        for name, inputs in REQUESTS.items():
            with self.subTest(task=name):
                expected = self.expected(name)
                self.assertSameOutputs(
                    self.grpc.predict(name, _strings(inputs)), expected)
                self.assertSameOutputs(
                    self.rest.predict(name, inputs), expected)

    def test_answers_have_the_documented_meaning(self):
        squad = self.grpc.predict("squad", _strings(REQUESTS["squad"]))
        context = REQUESTS["squad"]["context"][0]
        start, end = squad["start"][0], squad["end"][0]
        answer = squad["answer"][0].decode()
        self.assertEqual(context[start:end], answer)
        self.assertEqual(squad["answer"][1], b"")  # empty context
        ner = self.rest.predict("conll2003", REQUESTS["conll2003"])
        self.assertAllEqual(ner["num_words"], [8, 0])
        self.assertAllEqual(ner["words"][0][:8], [
            b"Anna", b"Berg", b"flew", b"from", b"Oslo", b"to", b"Lima",
            b"."])
        swag = self.grpc.predict("swag", _strings(REQUESTS["swag"]))
        self.assertAllClose(swag["probabilities"].sum(axis=1), [1.0, 1.0],
                            atol=1e-5)

    def test_tokenized_signatures_answer_the_same_logits(self):
        # SST-2's [CLS] a gripping , funny film [SEP] from the vocabulary.
        ids = np.array([[101, 1037, 13940, 1010, 6057, 2143, 102]], np.int32)
        inputs = {"input_word_ids": ids, "input_mask": np.ones_like(ids),
                  "input_type_ids": np.zeros_like(ids)}
        for name in ("sst2", "squad", "conll2003"):
            with self.subTest(task=name):
                expected = self.expected(name, "tokenized", inputs)
                self.assertSameOutputs(self.grpc.predict(
                    name, inputs, signature_name="tokenized"), expected)
                self.assertSameOutputs(self.rest.predict(
                    name, {k: v.tolist() for k, v in inputs.items()},
                    signature_name="tokenized"), expected)
        sst2 = self.expected("sst2", inputs={"text_a": ["a gripping, "
                                                        "funny film"]})
        self.assertAllClose(self.expected("sst2", "tokenized", inputs)[
            "probabilities"], sst2["probabilities"], atol=1e-5)

    def test_classify_and_regress_rpcs_on_real_exports(self):
        for api in (self.grpc, self.rest):
            classified = api.classify(
                "mrpc", [{"text_a": a, "text_b": b} for a, b in zip(
                    *REQUESTS["mrpc"].values())],
                signature_name="classification")
            probabilities = self.expected("mrpc")["probabilities"]
            self.assertEqual([[label for label, _ in row]
                              for row in classified], [["0", "1"]] * 2)
            self.assertAllClose([[score for _, score in row]
                                 for row in classified], probabilities,
                                atol=1e-5)
            regressed = api.regress(
                "stsb", [{"text_a": a, "text_b": b} for a, b in zip(
                    *REQUESTS["stsb"].values())],
                signature_name="regression")
            self.assertAllClose(regressed, self.expected("stsb")["score"],
                                atol=1e-5)

    def test_client_command_prints_rows_without_padding(self):
        out = io.StringIO()
        client_cli.run_requests(self.grpc, client_cli.Options(
            model="conll2003", inputs=(
                "text=Anna Berg flew from Oslo to Lima.", "text=Hi"),
            output_format="json"), out)
        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual([len(r["words"]) for r in rows], [8, 1])
        self.assertEqual([len(r["tags"]) for r in rows], [8, 1])
        self.assertEqual([len(r["entities"]) for r in rows],
                         [r["num_entities"] for r in rows])

    def test_bad_requests_get_the_right_codes_and_the_server_stays_up(self):
        cases = [
            ("squad", {"question": ["q"]}, "context"),  # missing input
            ("conll2003", {"text": np.array([1, 2], np.int32)}, "string"),
            ("sst2", {"text_a": np.array([["a", "b"]], dtype=object)},
             "shape"),
        ]
        for name, inputs, message in cases:
            with self.subTest(task=name):
                with self.assertRaises(client.ServingClientError) as raised:
                    self.grpc.predict(name, {k: np.asarray(v) for k, v in
                                             inputs.items()})
                self.assertEqual(raised.exception.code, INVALID_ARGUMENT)
                self.assertIn(message, raised.exception.message)
        for call, code in (
                (lambda: self.grpc.predict("squad", _strings(
                    REQUESTS["squad"]), version=7), NOT_FOUND),
                (lambda: self.grpc.predict("nope", {}), NOT_FOUND),
                (lambda: self.grpc.predict("sst2", _strings(
                    REQUESTS["sst2"]), signature_name="nope"),
                 grpc.StatusCode.FAILED_PRECONDITION),  # as TF Serving
                (lambda: self.grpc.classify("squad", [{"question": "q"}]),
                 INVALID_ARGUMENT)):
            with self.assertRaises(client.ServingClientError) as raised:
                call()
            self.assertEqual(raised.exception.code, code)
        self.test_every_task_answers_predict_over_grpc_and_rest()

    def test_text_over_max_text_bytes_is_invalid_argument_naming_limit(self):
        # The second row's biggest field is one byte over the limit.
        fields = {"sst2": "text_a", "mrpc": "text_b", "stsb": "text_a",
                  "swag": "ending2", "squad": "context",
                  "conll2003": "text"}
        for name, field in fields.items():
            inputs = {k: list(v) for k, v in REQUESTS[name].items()}
            inputs[field][1] = "é" * (MAX_TEXT_BYTES // 2) + "x"
            for api, request in ((self.grpc, _strings(inputs)),
                                 (self.rest, inputs)):
                with self.subTest(task=name, rest=api is self.rest):
                    with self.assertRaises(client.ServingClientError) as e:
                        api.predict(name, request)
                    self.assertEqual(e.exception.code, INVALID_ARGUMENT)
                    self.assertIn(
                        f"{field}[1] is {MAX_TEXT_BYTES + 1} bytes; this "
                        f"export accepts at most {MAX_TEXT_BYTES} per text "
                        "(serving.export --max_text_bytes)",
                        e.exception.message)
                    # TF Serving's text, not the Python trace of the graph.
                    self.assertNotIn("Graph execution error",
                                     e.exception.message)
                    self.assertNotIn("{{node", e.exception.message)
        self.assertEqual(self.loaded["squad"].max_text_bytes.numpy(),
                         MAX_TEXT_BYTES)
        inputs = {k: v[:1] for k, v in REQUESTS["squad"].items()}
        inputs["context"][0] = "a " * (MAX_TEXT_BYTES // 2)  # at the limit
        self.assertSameOutputs(self.grpc.predict("squad", _strings(inputs)),
                               self.expected("squad", inputs=inputs))

    def test_batch_padded_over_max_text_bytes_is_invalid_argument(self):
        # Rows are padded to the longest: one text at the limit beside
        # shorter ones costs rows x the limit, and is refused as such.
        inputs = {k: list(v) for k, v in REQUESTS["squad"].items()}
        rows = len(inputs["context"])
        self.assertGreater(rows, 1)
        inputs["context"][0] = "a " * (MAX_TEXT_BYTES // 2)
        for api, request in ((self.grpc, _strings(inputs)),
                             (self.rest, inputs)):
            with self.subTest(rest=api is self.rest):
                with self.assertRaises(client.ServingClientError) as e:
                    api.predict("squad", request)
                self.assertEqual(e.exception.code, INVALID_ARGUMENT)
                self.assertIn(
                    f"context: {rows} texts padded to the longest "
                    f"({MAX_TEXT_BYTES} bytes) make {rows * MAX_TEXT_BYTES} "
                    f"bytes; this export accepts at most {MAX_TEXT_BYTES} "
                    "per request", e.exception.message)

    def test_empty_batch_gives_empty_outputs_in_every_family(self):
        for name, inputs in REQUESTS.items():
            with self.subTest(task=name):
                full = self.expected(name)
                empty = self.expected(name, inputs={
                    k: tf.constant([], tf.string) for k in inputs})
                self.assertEqual(sorted(empty), sorted(full))
                for key, value in full.items():
                    self.assertEqual(empty[key].dtype, value.dtype, key)
                    self.assertEqual(empty[key].shape[0], 0, key)
                    self.assertEqual(empty[key].ndim, value.ndim, key)
                    if name != "conll2003":  # padded to the longest row
                        self.assertEqual(empty[key].shape[1:],
                                         value.shape[1:], key)
                got = self.grpc.predict(name, {
                    k: tf.make_tensor_proto([], tf.string) for k in inputs})
                self.assertEqual(sorted(got), sorted(full))

    def test_tokenized_inputs_of_different_shapes_are_invalid_argument(self):
        ids = np.ones([2, 5], np.int32)
        for name, mask in (("sst2", np.ones([1, 5], np.int32)),
                           ("squad", np.ones([2, 1], np.int32)),
                           ("conll2003", np.ones([2, 6], np.int32)),
                           ("swag", None)):
            if name == "swag":
                ids, mask = (np.ones([2, 4, 5], np.int32),
                             np.ones([1, 4, 5], np.int32))
            inputs = {"input_word_ids": ids, "input_mask": mask,
                      "input_type_ids": np.zeros_like(ids)}
            with self.subTest(task=name):
                with self.assertRaises(client.ServingClientError) as e:
                    self.grpc.predict(name, inputs,
                                      signature_name="tokenized")
                self.assertEqual(e.exception.code, INVALID_ARGUMENT)
                shape = " ".join(str(d) for d in mask.shape)
                self.assertIn("the tokenized inputs must have equal shapes",
                              e.exception.message)
                self.assertIn(f"input_mask [{shape}]", e.exception.message)

    def test_new_version_of_a_real_export_swaps_in_without_failures(self):
        stop, failures, versions = threading.Event(), [], []
        lock = threading.Lock()

        def worker(rest):
            api = self.rest if rest else self.grpc
            inputs = REQUESTS["squad"] if rest else _strings(
                REQUESTS["squad"])
            while not stop.is_set():
                try:
                    api.predict("squad", inputs)
                    status = self.grpc.status("squad")
                    with lock:
                        versions.append(status[0].version)
                except client.ServingClientError as e:
                    with lock:
                        failures.append(str(e))

        threads = [threading.Thread(target=worker, args=(i % 2 == 1,))
                   for i in range(4)]
        for thread in threads:
            thread.start()
        try:
            export.export(self.model_dirs["squad"],
                          os.path.join(self.base, "squad"),
                          max_text_bytes=MAX_TEXT_BYTES)
            deadline = time.monotonic() + 60
            while self.grpc.status("squad")[0] != client.VersionStatus(
                    2, "AVAILABLE"):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            # Then until more requests are answered with version 2 the one
            # available (a condition: a loaded machine is only slower).
            with lock:
                answered = len(versions)
            while len(versions) < answered + 4:
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        self.assertEqual(failures, [])
        self.assertIn(2, versions)
        self.assertAllEqual(
            self.grpc.predict("squad", _strings(REQUESTS["squad"]),
                              version=2)["answer"],
            self.expected("squad")["answer"])


if __name__ == "__main__":
    tf.test.main()
