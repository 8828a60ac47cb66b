"""The TF Hub-style encoder pair as TF Hub users run it: `hub.KerasLayer`
over tf-keras (TF_USE_LEGACY_KERAS=1), in a fresh process that imports no
project code. Needs the test-only `tensorflow-hub` and `tf-keras`."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf.export import exporter as export
from bert_tf.layers import encoder as encoder_lib
from tests import serving_testing as st
from tests import testing

# Runs in a fresh interpreter with tf-keras as tf.keras: TF Hub's BERT
# fine-tuning recipe (preprocessor and encoder KerasLayers, trainable
# encoder), the Reusable SavedModel attributes and dropout in training.
_HUB_RECIPE = """
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401 (registers the tf.text ops)

encoder_dir, preprocess_dir = sys.argv[1:3]
results = {"keras": tf.keras.__name__}
encoder = hub.load(encoder_dir)
results["variables"] = len(encoder.variables)
results["trainable_variables"] = len(encoder.trainable_variables)
results["regularization_losses"] = len(encoder.regularization_losses)

preprocessor = hub.load(preprocess_dir)
inputs = preprocessor(tf.constant(["hello world", "a b c d"]))
def pooled(training):
    return encoder(inputs, training=training)["pooled_output"].numpy()
results["inference_repeats"] = bool(np.array_equal(pooled(False),
                                                   pooled(False)))
results["training_drops_out"] = not np.allclose(pooled(True), pooled(True))

text = tf.keras.layers.Input(shape=(), dtype=tf.string)
encoder_inputs = hub.KerasLayer(preprocess_dir)(text)
layer = hub.KerasLayer(encoder_dir, trainable=True)
logits = tf.keras.layers.Dense(2)(layer(encoder_inputs)["pooled_output"])
model = tf.keras.Model(text, logits)
results["layer_trainable_weights"] = len(layer.trainable_weights)
model.compile(optimizer=tf.keras.optimizers.Adam(1e-3),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(
                  from_logits=True))
texts = tf.constant(["a fine film", "a dull film", "fine", "dull"])
labels = np.array([1, 0, 1, 0])
before = [w.numpy().copy() for w in layer.trainable_weights]
model.fit(texts, labels, epochs=2, batch_size=2, verbose=0)
results["changed_weights"] = sum(
    not np.allclose(b, w.numpy())
    for b, w in zip(before, layer.trainable_weights))
dense = layer(inputs, training=False)["pooled_output"].numpy()
dropped = layer(inputs, training=True)["pooled_output"].numpy()
results["layer_training_drops_out"] = not np.allclose(dense, dropped)

# Sentence pairs: tokenize + bert_pack_inputs as KerasLayers.
segments = [tf.keras.layers.Input(shape=(), dtype=tf.string)
            for _ in range(2)]
tokenize = hub.KerasLayer(preprocessor.tokenize)
pack = hub.KerasLayer(preprocessor.bert_pack_inputs,
                      arguments=dict(seq_length=12))
packed = pack([tokenize(s) for s in segments])
pair_model = tf.keras.Model(segments, packed)
pair = pair_model([tf.constant(["hello world"]), tf.constant(["good bye"])])
direct = preprocessor.bert_pack_inputs(
    [preprocessor.tokenize(tf.constant(["hello world"])),
     preprocessor.tokenize(tf.constant(["good bye"]))], seq_length=12)
results["pair_ids"] = pair["input_word_ids"].numpy().tolist()
results["pair_matches_direct_call"] = all(
    np.array_equal(pair[k].numpy(), direct[k].numpy()) for k in direct)
results["modules"] = sorted(m for m in sys.modules
                            if m.split(".")[0] in ("bert_tf", "serving",
                                                   "tasks"))
print(json.dumps(results))
"""


def _have(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


@pytest.mark.large
class HubCompatTest(tf.test.TestCase):

    def test_encoder_export_fine_tunes_through_hub_keras_layer(self):
        if not _have("tensorflow_hub", "tf_keras"):
            self.skipTest("tensorflow-hub and tf-keras are not installed "
                          "(pip install -r requirements-test.txt)")
        base = self.create_tempdir().full_path
        bert = encoder_lib.BertEncoder(st.TINY_CONFIG)
        model_dir = os.path.join(base, "model")
        checkpoints.save_model(
            model_dir, bert, os.path.join(testing.minilm_dir(), "vocab.txt"))
        encoder_dir, preprocess_dir = export.export_encoder(
            model_dir, os.path.join(base, "bert"), seq_length=16)

        env = dict(os.environ, TF_USE_LEGACY_KERAS="1",
                   TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [sys.executable, "-c", _HUB_RECIPE, encoder_dir, preprocess_dir],
            capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        results = json.loads(result.stdout.strip().splitlines()[-1])

        self.assertEqual(results["keras"], "tf_keras.api._v2.keras")
        num_trainable = len(bert.trainable_variables)
        self.assertGreater(num_trainable, 0)
        self.assertEqual(results["trainable_variables"], num_trainable)
        self.assertEqual(results["variables"], len(bert.variables))
        self.assertEqual(results["regularization_losses"], 0)
        self.assertEqual(results["layer_trainable_weights"], num_trainable)
        # Fine-tuning through TF Hub trains the encoder, not only the head.
        self.assertGreater(results["changed_weights"], num_trainable // 2)
        self.assertTrue(results["inference_repeats"])
        self.assertTrue(results["training_drops_out"])
        self.assertTrue(results["layer_training_drops_out"])
        self.assertTrue(results["pair_matches_direct_call"])
        self.assertEqual(len(results["pair_ids"][0]), 12)
        self.assertEqual(results["modules"], [])


if __name__ == "__main__":
    tf.test.main()
