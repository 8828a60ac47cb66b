"""Exports: atomic versions, signatures, warmup, models.config, op audit;
loaded in a fresh process with only tensorflow and tensorflow_text."""

import json
import os
import re
import subprocess
import sys
from unittest import mock

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.export import exporter as export
from bert_tf.export import model_config
from bert_tf.export import op_audit
from bert_tf.export import saved_model as signatures
from bert_tf import models
from bert_tf.tasks.question_answering import data as squad_data
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks.question_answering import postprocessing as squad_postprocessing
from bert_tf.tasks.token_classification import data as conll_data
from bert_tf import tokenization
from serving.export import cli as export_cli
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tests import serving_testing as st
from tests import testing

# Runs in a fresh interpreter: nothing of bert_tf, keras or this test.
_LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tf.text ops the graph uses
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

export_dir, requests = sys.argv[1], json.loads(sys.argv[2])
loaded = tf.saved_model.load(export_dir)
results = {}
for signature, inputs in requests.items():
    outputs = loaded.signatures[signature](
        **{k: tf.constant(v) for k, v in inputs.items()})
    results[signature] = {k: v.numpy().tolist() for k, v in outputs.items()}
path = export_dir + "/assets.extra/tf_serving_warmup_requests"
for record in tf.data.TFRecordDataset(path):
    request = prediction_log_pb2.PredictionLog.FromString(
        record.numpy()).predict_log.request
    loaded.signatures[request.model_spec.signature_name](
        **{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
proto = saved_model_pb2.SavedModel()
proto.ParseFromString(open(export_dir + "/saved_model.pb", "rb").read())
results["methods"] = {k: v.method_name for k, v in
                      proto.meta_graphs[0].signature_def.items()}
# (keras is imported by tensorflow itself in 2.21; project code must not be.)
results["modules"] = sorted(m for m in sys.modules
                            if m.split(".")[0] in ("bert_tf", "serving",
                                                   "tasks"))
print(json.dumps(results, default=lambda b: b.decode()))
"""


# What each family's export holds outside core TensorFlow (uncased
# models), and the oldest TF Serving release that links all of it; written
# out, not derived from op_audit's table, so a wrong entry there fails.
FAMILY_OPS = {
    "text_classification": (["FastBertNormalize",
                             "FastWordpieceTokenizeWithOffsets",
                             "NormalizeUTF8"], "2.12"),
    "multiple_choice": (["FastBertNormalize",
                         "FastWordpieceTokenizeWithOffsets",
                         "NormalizeUTF8"], "2.12"),
    "question_answering": (["FastBertNormalize",
                            "FastWordpieceTokenizeWithOffsets",
                            "NormalizeUTF8", "RegexSplitWithOffsets"],
                           "2.12"),
    "token_classification": (["FastWordpieceTokenizeWithOffsets",
                              "NormalizeUTF8", "RegexSplitWithOffsets"],
                             "2.10"),
}
SERVING_DOC = os.path.join(testing.REPO_ROOT, "docs", "serving.md")


def _vocab():
    return os.path.join(testing.minilm_dir(), "vocab.txt")


def _model_dir(test, model_class, task, **arguments):
    return st.tiny_task_model(test.create_tempdir().full_path, model_class,
                              task, **arguments)


def _run_fresh(export_dir, requests):
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_RUN, export_dir,
         json.dumps(requests)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.large
class ExportTest(tf.test.TestCase):

    def test_pair_classifier_export_serves_what_the_model_computes(self):
        model_dir, model = _model_dir(
            self, models.BertClassifier,
            {"name": "mnli", "family": "text_classification", "is_pair": True,
             "labels": ["contradiction", "entailment", "neutral"]},
            num_classes=3)
        base = self.create_tempdir().full_path
        version_dir = export.export(model_dir, os.path.join(base, "mnli"))
        self.assertEqual(version_dir, os.path.join(base, "mnli", "1"))
        self.assertEqual(os.listdir(os.path.join(base, "mnli")), ["1"])
        self.assertTrue(os.path.isfile(
            os.path.join(version_dir, "assets", "vocab.txt")))

        texts_a = ["A man plays the guitar on stage.", "", "Ünïcödé 東京"]
        texts_b = ["Someone performs music." * 10, "empty first", "x"]
        served = _run_fresh(version_dir, {"serving_default": {
            "text_a": texts_a, "text_b": texts_b}})
        # The same inputs through the in-process model; over-long pairs
        # trimmed to the model's max_seq_length (24).
        tokenizer = tokenization.BertTokenizer(_vocab())
        inputs = tokenizer.encode(tf.constant(texts_a), tf.constant(texts_b),
                                  24)
        logits = model(inputs, training=False)["logits"].numpy()
        outputs = served["serving_default"]
        self.assertAllClose(outputs["probabilities"],
                            tf.nn.softmax(logits).numpy(), atol=1e-5)
        self.assertEqual(outputs["class_ids"], logits.argmax(-1).tolist())
        self.assertEqual(outputs["class_names"],
                         [["contradiction", "entailment", "neutral"][i]
                          for i in logits.argmax(-1)])
        self.assertEqual(served["methods"]["classification"],
                         "tensorflow/serving/classify")
        self.assertEqual(served["methods"]["serving_default"],
                         "tensorflow/serving/predict")
        self.assertEqual(served["modules"], [])

        # Tokenized signature: the same numbers from the client's ids.
        served_ids = _run_fresh(version_dir, {"tokenized": {
            k: v.numpy().tolist() for k, v in inputs.items()}})
        self.assertAllClose(served_ids["tokenized"]["probabilities"],
                            outputs["probabilities"], atol=1e-5)

        # A second export is version 2; models.config lists the model.
        export.export(model_dir, os.path.join(base, "mnli"))
        self.assertCountEqual(os.listdir(os.path.join(base, "mnli")),
                              ["1", "2"])
        with open(os.path.join(base, model_config.CONFIG_FILE)) as f:
            config = f.read()
        self.assertIn('name: "mnli"', config)
        self.assertIn(f'base_path: "{os.path.join(base, "mnli")}"', config)
        # The example batching parameters: written once, then left alone.
        batching = os.path.join(base, model_config.BATCHING_FILE)
        with open(batching) as f:
            self.assertIn("pad_variable_length_inputs: true", f.read())
        with open(batching, "w") as f:
            f.write("max_batch_size { value: 8 }\n")
        export.export(model_dir, os.path.join(base, "mnli"))
        with open(batching) as f:
            self.assertEqual(f.read(), "max_batch_size { value: 8 }\n")
        self.assertEqual(sorted(model_config.models_under(base)), ["mnli"])

    def test_regression_and_classify_signatures_on_tf_examples(self):
        model_dir, model = _model_dir(
            self, models.BertClassifier,
            {"name": "stsb", "family": "text_classification", "is_pair": True,
             "labels": None}, num_classes=1)
        version_dir = export.export(
            model_dir, os.path.join(self.create_tempdir().full_path, "stsb"))
        example = tf.train.Example(features=tf.train.Features(feature={
            name: tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[text.encode()]))
            for name, text in (("text_a", "a cat sits"),
                               ("text_b", "a cat is sitting"))}))
        served = _run_fresh(version_dir, {
            "serving_default": {"text_a": ["a cat sits"],
                                "text_b": ["a cat is sitting"]}})
        self.assertEqual(served["methods"]["regression"],
                         "tensorflow/serving/regress")
        tokenizer = tokenization.BertTokenizer(_vocab())
        logits = model(tokenizer.encode(tf.constant(["a cat sits"]),
                                        tf.constant(["a cat is sitting"]),
                                        24))["logits"].numpy()
        self.assertAllClose(served["serving_default"]["score"],
                            logits[:, 0], atol=1e-5)
        loaded = tf.saved_model.load(version_dir)
        regressed = loaded.signatures["regression"](
            inputs=tf.constant([example.SerializeToString()]))
        self.assertAllClose(regressed["outputs"], logits[:, 0], atol=1e-5)

    def test_multiple_choice_export(self):
        model_dir, model = _model_dir(
            self, models.BertMultipleChoice,
            {"name": "swag", "family": "multiple_choice", "num_choices": 4},
            num_choices=4)
        version_dir = export.export(
            model_dir, os.path.join(self.create_tempdir().full_path, "swag"))
        request = {"context": ["He walks to the door.", "She sings."]}
        for i in range(4):
            request[f"ending{i}"] = [f"He opens it {i}.", f"Loudly {i}."]
        served = _run_fresh(version_dir, {"serving_default": request})
        tokenizer = tokenization.BertTokenizer(_vocab())
        flat = tokenizer.encode(
            tf.constant(np.repeat(request["context"], 4)),
            tf.constant([request[f"ending{i}"][row] for row in range(2)
                         for i in range(4)]), 24)
        logits = model({k: tf.reshape(v, [2, 4, 24])
                        for k, v in flat.items()})["logits"].numpy()
        self.assertAllClose(served["serving_default"]["probabilities"],
                            tf.nn.softmax(logits).numpy(), atol=1e-5)
        self.assertEqual(served["serving_default"]["best_ending"],
                         logits.argmax(-1).tolist())


    def test_question_answering_export_answers_as_predictions_json(self):
        model_dir, model = _model_dir(
            self, models.BertSpanLabeler,
            {"name": "squad_v2", "family": "question_answering",
             "max_query_length": 6,
             "doc_stride": 5, "max_answer_length": 4, "n_best_size": 5,
             "version_2_with_negative": True,
             "null_score_diff_threshold": 0.5})
        version_dir = export.export(
            model_dir, os.path.join(self.create_tempdir().full_path, "qa"))
        # Long contexts (several windows), accents, combining marks, CJK,
        # an empty context and an over-long question.
        rng = np.random.default_rng(0)
        vocabulary = ("the river rises in café naïve e\u0301te\u0301 東京 "
                      "hills , ends at sea far from old town .").split()
        contexts = [" ".join(rng.choice(vocabulary, n))
                    for n in (60, 3, 0, 25, 40)]
        questions = [" ".join(rng.choice(vocabulary, n))
                     for n in (4, 2, 3, 12, 0)]
        served = _run_fresh(version_dir, {"serving_default": {
            "question": questions, "context": contexts}})["serving_default"]
        # The answers tasks.finetune writes to predictions.json.
        examples = [squad_data.SquadExample(
            qas_id=str(i), question=q, context=c, answers=(),
            is_impossible=False, where=str(i))
            for i, (q, c) in enumerate(zip(questions, contexts))]
        tokenizer = tokenization.BertTokenizer(_vocab())
        features = squad_features.create_features(tokenizer, examples, 24,
                                                   6, 5)
        self.assertGreater(len(features), 12)
        batch = testing.pad_features(
            [f.input_word_ids for f in features],
            [f.input_type_ids for f in features], tokenizer.pad_id)
        outputs = model(batch, training=False)
        predictions = squad_postprocessing.predict_answers(
            examples, features, outputs["start_logits"].numpy(),
            outputs["end_logits"].numpy(), 5, 4, True, 0.5)
        self.assertEqual(served["answer"],
                         [predictions.answers[e.qas_id] for e in examples])
        self.assertAllClose(served["null_odds"],
                            [predictions.null_odds[e.qas_id]
                             for e in examples], rtol=1e-4)
        for i, answer in enumerate(served["answer"]):
            start, end = served["start"][i], served["end"][i]
            if answer:
                self.assertEqual(contexts[i][start:end], answer)
            else:
                self.assertEqual((start, end), (-1, -1))
        self.assertEqual(served["answer"][2], "")  # the empty context
        # A caller that fixes the batch size (Keras predict, tf.data with
        # drop_remainder) traces the signature with static shapes.
        loaded = tf.saved_model.load(version_dir)
        answer = loaded.signatures["serving_default"]
        fixed = tf.function(
            lambda q, c: answer(question=q, context=c)["answer"],
            input_signature=[tf.TensorSpec([5], tf.string)] * 2)
        self.assertEqual([a.decode() for a in fixed(
            tf.constant(questions), tf.constant(contexts)).numpy()],
            served["answer"])

    def test_token_classification_export_tags_words_and_entities(self):
        model_dir, model = _model_dir(
            self, models.BertTokenTagger,
            {"name": "conll2003", "family": "token_classification",
             "labels": list(conll_data.TAGS), "max_seq_length": 8},
            num_tags=len(conll_data.TAGS))
        version_dir = export.export(
            model_dir, os.path.join(self.create_tempdir().full_path, "ner"))
        texts = ["Anna Berg flew from Oslo to Lima, unbelievably.",
                 "", "naïve café in 東京 " * 3]
        served = _run_fresh(version_dir, {"serving_default": {
            "text": texts}})["serving_default"]
        sentences, counts = [], served["num_words"]
        for i, text in enumerate(texts):
            words = served["words"][i][:counts[i]]
            spans = zip(served["word_starts"][i], served["word_ends"][i])
            self.assertEqual([text[a:b] for a, b in spans][:counts[i]],
                             words)
            if words:
                sentences.append(conll_data.Sentence(
                    guid=str(i), words=tuple(words),
                    tags=("O",) * len(words)))
        self.assertEqual(counts, [10, 0, 15])
        # The tags tasks.finetune predicts for the same words (windows of
        # 8 - 2 pieces, cut between words).
        tokenizer = tokenization.BertTokenizer(_vocab())
        features = conll_data.features(tokenizer, sentences, 8)
        batch = testing.pad_features(
            [f.input_word_ids for f in features],
            [f.input_type_ids for f in features], tokenizer.pad_id)
        expected = conll_data.predicted_tags(
            sentences, features, model(batch)["logits"].numpy())
        self.assertEqual([served["tags"][0][:10], served["tags"][2][:15]],
                         expected)
        # Entities are the runs the tags form, cut out of the text.
        for i, text in enumerate(texts):
            tags = served["tags"][i][:counts[i]]
            entities = [(text[a:b], kind) for a, b, kind in zip(
                served["entity_starts"][i], served["entity_ends"][i],
                served["entity_types"][i])][:served["num_entities"][i]]
            self.assertEqual(entities, _entities(
                served["words"][i], served["word_starts"][i],
                served["word_ends"][i], tags, text))
            self.assertEqual(served["entities"][i][:len(entities)],
                             [e for e, _ in entities])


def _entities(words, starts, ends, tags, text):
    """(text, type) of each entity in IOB2 `tags`, by hand."""
    found = []
    for word, start, end, tag in zip(words, starts, ends, tags):
        del word
        if tag.startswith("B-"):
            found.append([start, end, tag[2:]])
        elif tag.startswith("I-"):
            found[-1][1] = end
    return [(text[a:b], kind) for a, b, kind in found]


@pytest.mark.large
class EncoderExportTest(tf.test.TestCase):

    def test_hub_style_pair_serves_and_fine_tunes_through_tfsm_layer(self):
        import keras

        model_dir, classifier = _model_dir(
            self, models.BertClassifier,
            {"name": "sst2", "family": "text_classification", "is_pair": False,
             "labels": ["0", "1"]}, num_classes=2)
        base = self.create_tempdir().full_path
        encoder_dir, preprocess_dir = export.export_encoder(
            model_dir, os.path.join(base, "bert"), seq_length=16)
        self.assertEqual(preprocess_dir,
                         os.path.join(base, "bert_preprocess", "1"))
        preprocessor = tf.saved_model.load(preprocess_dir)
        encoder = tf.saved_model.load(encoder_dir)
        # As TF Hub's BERT models are used: default call, or tokenize +
        # bert_pack_inputs for pairs.
        inputs = preprocessor(tf.constant(["hello world", "a b c"]))
        self.assertEqual(inputs["input_word_ids"].shape, (2, 16))
        tokens = [preprocessor.tokenize(tf.constant(["hello world"])),
                  preprocessor.tokenize(tf.constant(["good bye"]))]
        self.assertEqual(tokens[0].ragged_rank, 2)
        pair = preprocessor.bert_pack_inputs(tokens, seq_length=8)
        tokenizer = tokenization.BertTokenizer(_vocab())
        expected = tokenizer.encode(tf.constant(["hello world"]),
                                    tf.constant(["good bye"]), 8)
        for name in expected:
            self.assertAllEqual(pair[name], expected[name])
        outputs = encoder(inputs)
        reference = classifier.encoder(inputs, training=False)
        self.assertAllClose(outputs["pooled_output"],
                            reference["pooled_output"], atol=1e-5)
        self.assertLen(outputs["encoder_outputs"], 2)

        # Keras 3: a classifier on TFSMLayer fine-tunes the encoder.
        layer = keras.layers.TFSMLayer(
            encoder_dir, call_endpoint="serve",
            call_training_endpoint="train", trainable=True)
        model_inputs = {name: keras.Input((None,), dtype="int32", name=name)
                        for name in expected}
        pooled = layer(model_inputs)["pooled_output"]
        model = keras.Model(model_inputs, keras.layers.Dense(2)(pooled))
        # SGD: Keras 3.15 optimizers with slots (Adam) fail on TFSMLayer's
        # restored variables ("...:0_momentum is not a valid scope name").
        model.compile(optimizer=keras.optimizers.SGD(0.02),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True))
        batch = {k: v.numpy() for k, v in inputs.items()}
        labels = np.array([1, 1])
        before = [w.numpy().copy() for w in layer.trainable_weights]
        initial_loss = model.evaluate(batch, labels, verbose=0)
        model.fit(batch, labels, epochs=20, verbose=0)
        self.assertLess(model.evaluate(batch, labels, verbose=0),
                        initial_loss)
        self.assertTrue(any(not np.allclose(b, w.numpy()) for b, w in
                            zip(before, layer.trainable_weights)))
        self.assertEqual(model.predict(batch, verbose=0).shape, (2, 2))


class ExportErrorsTest(tf.test.TestCase):

    def test_audit_names_the_op_and_the_release_that_has_it(self):
        model_dir, _ = _model_dir(
            self, models.BertClassifier,
            {"name": "sst2", "family": "text_classification", "is_pair": False,
             "labels": ["0", "1"]}, num_classes=2)
        base = self.create_tempdir().full_path
        with self.assertRaisesRegex(
                op_audit.UnservableOpError,
                r"TF Serving 2.11 cannot load this export: "
                r"FastBertNormalize \(TF Serving links it from 2.12\)"):
            export.export(model_dir, os.path.join(base, "sst2"),
                          serving_version="2.11")
        # Nothing a server would load is left behind.
        self.assertEqual(os.listdir(os.path.join(base, "sst2")), [])
        ops, oldest = op_audit.audit(export.export(
            model_dir, os.path.join(base, "sst2")))
        self.assertEqual(oldest, "2.12")
        self.assertNotIn("RoundRobinTrim", ops)
        records = signatures.read_warmup_records(
            os.path.join(base, "sst2", "1"))
        request = prediction_log_pb2.PredictionLog.FromString(
            records[0]).predict_log.request
        self.assertEqual(request.model_spec.name, "sst2")
        self.assertEqual(request.inputs["text_a"].dtype, tf.string)

    def test_model_without_task_or_wrong_task_is_refused(self):
        model_dir, _ = _model_dir(
            self, models.BertClassifier,
            {"name": "sst2", "family": "text_classification", "is_pair": False,
             "labels": ["0", "1"]}, num_classes=2)
        with self.assertRaisesRegex(export.ExportError,
                                    "fine-tuned for sst2, not mrpc"):
            export.export(model_dir, self.create_tempdir().full_path,
                          task_name="mrpc")
        encoder_dir = os.path.join(self.create_tempdir().full_path, "enc")
        checkpoints.save_model(encoder_dir, checkpoints.load_model(
            model_dir).encoder, _vocab())
        with self.assertRaisesRegex(export.ExportError,
                                    "not a fine-tuned model"):
            export.export(encoder_dir, self.create_tempdir().full_path)

    def test_max_text_bytes_must_be_a_positive_number_of_bytes(self):
        flag_values = flags.FlagValues()
        export_cli.define_flags(flag_values)
        model_dir = self.create_tempdir().full_path
        flag_values(["export", f"--model_dir={model_dir}",
                     f"--export_dir={model_dir}/export"])
        with self.assertRaisesRegex(flags.IllegalFlagValueError,
                                    "--max_text_bytes must be a positive"):
            flag_values.max_text_bytes = 0
        self.assertEqual(flag_values.max_text_bytes,
                         export.DEFAULT_MAX_TEXT_BYTES)
        for value in (0, -5, 1.5):
            with self.assertRaisesRegex(export.ExportError,
                                        "max_text_bytes must be a positive"):
                export.export("no_model_here", "no_export_here",
                              max_text_bytes=value)


def _python_function_model(directory):
    """A SavedModel whose one signature runs three kinds of Python code."""
    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def serve(x):
        eager = tf.py_function(lambda v: v * 2.0, [x], tf.float32)
        stateful = tf.numpy_function(lambda v: v + 1.0, [x], tf.float32)
        stateless = tf.numpy_function(lambda v: v - 1.0, [x], tf.float32,
                                      stateful=False)
        return {"y": eager + stateful + stateless}

    module.serve = serve
    tf.saved_model.save(module, directory,
                        signatures={"serving_default": serve})
    return directory


def _model_with_op(directory, op_type):
    """A SavedModel (y = x + 1) whose function body also holds a node of
    `op_type`, an op name TensorFlow has never registered."""
    module = tf.Module()
    module.serve = tf.function(
        lambda x: {"y": x + 1.0},
        input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, directory,
                        signatures={"serving_default": module.serve})
    path = os.path.join(directory, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    library = proto.meta_graphs[0].graph_def.library
    node = library.function[0].node_def.add()
    node.name = "made_up"
    node.op = op_type
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return directory


class OpAuditTest(tf.test.TestCase):

    def test_python_function_ops_are_refused_naming_each_op(self):
        export_dir = _python_function_model(
            os.path.join(self.create_tempdir().full_path, "py"))
        with self.assertRaisesRegex(
                op_audit.UnservableOpError,
                f"^{re.escape(export_dir)}: TF Serving 2\\.21 cannot load "
                r"this export: EagerPyFunc \(a Python function: no TF "
                r"Serving release runs it\); PyFunc \(a Python function: "
                r"[^;]*\); PyFuncStateless \(a Python function: [^;]*\)$"):
            op_audit.audit(export_dir)

    def test_op_outside_core_and_tf_text_table_is_refused(self):
        export_dir = _model_with_op(
            os.path.join(self.create_tempdir().full_path, "odd"),
            "BertTfMadeUpOp")
        self.assertIn("BertTfMadeUpOp", op_audit.graph_ops(export_dir))
        # Refused even by the newest release (the default).
        with self.assertRaisesRegex(
                op_audit.UnservableOpError,
                f"^{re.escape(export_dir)}: TF Serving 2\\.21 cannot load "
                r"this export: BertTfMadeUpOp \(neither core TensorFlow "
                r"nor a tf\.text op TF Serving links\)$"):
            op_audit.audit(export_dir)


@pytest.mark.large
class OpAuditFamiliesTest(tf.test.TestCase):

    def test_each_family_needs_the_documented_serving_release(self):
        families = {
            "text_classification": (
                models.BertClassifier,
                {"name": "sst2", "is_pair": False, "labels": ["0", "1"]},
                {"num_classes": 2}),
            "multiple_choice": (models.BertMultipleChoice,
                                {"name": "swag", "num_choices": 4},
                                {"num_choices": 4}),
            "question_answering": (
                models.BertSpanLabeler,
                {"name": "squad", "max_query_length": 8, "doc_stride": 6,
                 "max_answer_length": 6, "n_best_size": 10,
                 "version_2_with_negative": False,
                 "null_score_diff_threshold": 0.0}, {}),
            "token_classification": (
                models.BertTokenTagger,
                {"name": "conll2003", "labels": list(conll_data.TAGS)},
                {"num_tags": len(conll_data.TAGS)}),
        }
        audited = []
        real_audit = op_audit.audit

        def recording_audit(export_dir, serving_version):
            audited.append(real_audit(export_dir, serving_version))
            return audited[-1]

        base = self.create_tempdir().full_path
        measured = {}
        with mock.patch.object(op_audit, "audit", recording_audit):
            for family, (model_class, task, arguments) in families.items():
                model_dir, _ = _model_dir(self, model_class,
                                          {"family": family, **task},
                                          **arguments)
                export.export(model_dir, os.path.join(base, family))
                measured[family] = audited[-1]
        outside_core = op_audit.non_core_ops(
            set().union(*(ops for ops, _ in measured.values())))
        measured = {family: (sorted(outside_core & set(ops)), oldest)
                    for family, (ops, oldest) in measured.items()}
        self.assertEqual(measured, FAMILY_OPS)
        # docs/serving.md's table says the same.
        with open(SERVING_DOC, encoding="utf-8") as f:
            rows = {cells[0]: cells[1:] for cells in (
                [c.strip() for c in line.strip().strip("|").split("|")]
                for line in f if line.startswith("| "))}
        for family, (ops, oldest) in FAMILY_OPS.items():
            self.assertEqual(rows.get(family), [", ".join(ops), oldest],
                             family)


if __name__ == "__main__":
    tf.test.main()
