"""Task models: shapes, float32 logits, losses that train, round trips."""

import keras
import numpy as np
import tensorflow as tf

from bert_tf import models
from bert_tf.layers import encoder as encoder_lib
from tests import testing


def _encoder(**overrides):
    return encoder_lib.BertEncoder(testing.ODD_CONFIG.replace(**overrides))


def _xent(labels):
    def loss(outputs):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=outputs["logits"]))
    return loss


class ModelsTest(testing.ModelTestCase):

    def test_classifier_trains_and_round_trips(self):
        inputs = testing.encoder_inputs()
        labels = np.arange(testing.BATCH) % 3
        model = self.run_model_checks(
            lambda: models.BertClassifier(_encoder(), num_classes=3),
            inputs, _xent(labels))
        self.assertEqual(model(inputs)["logits"].shape, (testing.BATCH, 3))

    def test_regression_head_has_one_output(self):
        inputs = testing.encoder_inputs()
        targets = np.linspace(0, 5, testing.BATCH).astype(np.float32)
        model = self.run_model_checks(
            lambda: models.BertClassifier(_encoder(), num_classes=1),
            inputs,
            lambda out: tf.reduce_mean(
                tf.square(tf.squeeze(out["logits"], -1) - targets)))
        self.assertEqual(model(inputs)["logits"].shape, (testing.BATCH, 1))

    def test_multiple_choice_scores_each_choice_alone(self):
        inputs = testing.encoder_inputs(batch=5, prefix_shape=(4,))
        labels = np.arange(5) % 4
        model = self.run_model_checks(
            lambda: models.BertMultipleChoice(_encoder(), num_choices=4),
            inputs, _xent(labels))
        logits = model(inputs)["logits"].numpy()
        self.assertEqual(logits.shape, (5, 4))
        # Choice 2 of example 1, scored on its own, gives the same score.
        single = {k: v[1:2, 2:3].repeat(4, axis=1) for k, v in inputs.items()}
        self.assertAllClose(model(single)["logits"][0, 0], logits[1, 2],
                            atol=1e-5)

    def test_span_labeler_never_points_into_padding(self):
        inputs = testing.encoder_inputs()
        starts = np.zeros(testing.BATCH, np.int32)

        def loss(out):
            return tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=starts, logits=out["start_logits"])
                + tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=starts, logits=out["end_logits"]))

        model = self.run_model_checks(
            lambda: models.BertSpanLabeler(_encoder()), inputs, loss,
            unused=("pooled_dense",))
        out = model(inputs)
        padding = inputs["input_mask"] == 0
        self.assertTrue(np.all(out["start_logits"].numpy()[padding] < -1e8))
        self.assertTrue(np.all(out["end_logits"].numpy()[padding] < -1e8))

    def test_token_tagger_gives_logits_per_token(self):
        inputs = testing.encoder_inputs()
        tags = (inputs["input_word_ids"] % 5).astype(np.int32)
        model = self.run_model_checks(
            lambda: models.BertTokenTagger(_encoder(), num_tags=5),
            inputs, _xent(tags), unused=("pooled_dense",))
        self.assertEqual(model(inputs)["logits"].shape,
                         (testing.BATCH, testing.SEQ, 5))

    def test_pretrainer_decoder_is_tied_to_word_embeddings(self):
        inputs = testing.encoder_inputs()
        inputs["masked_lm_positions"] = np.tile(
            np.array([[1, 0, 0]], np.int32), (testing.BATCH, 1))
        labels = inputs["input_word_ids"][:, :3]

        def loss(out):
            mlm = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=out["mlm_logits"])
            nsp = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=np.zeros(testing.BATCH, np.int32),
                logits=out["nsp_logits"])
            return tf.reduce_mean(mlm) + tf.reduce_mean(nsp)

        model = self.run_model_checks(
            lambda: models.BertPretrainer(_encoder()), inputs, loss)
        out = model(inputs)
        self.assertEqual(out["mlm_logits"].shape, (testing.BATCH, 3, 99))
        self.assertEqual(out["nsp_logits"].shape, (testing.BATCH, 2))
        # The head owns no [H, V] matrix: its logits are x @ embeddings^T.
        head_shapes = [tuple(v.shape) for v in model.mlm_head.weights
                       if v.path.startswith("mlm_head/")]
        self.assertNotIn((32, 99), head_shapes)
        embeddings = model.encoder.get_layer("token_embedding").embeddings
        self.assertIs(model.mlm_head.token_embedding.embeddings, embeddings)

    def test_heads_give_float32_logits_under_mixed_bfloat16(self):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        inputs = testing.encoder_inputs()
        encoder = _encoder()
        for model in (models.BertClassifier(encoder, 3),
                      models.BertSpanLabeler(encoder),
                      models.BertTokenTagger(encoder, 4)):
            for name, tensor in model(inputs).items():
                self.assertEqual(tensor.dtype, tf.float32, (model.name, name))
        pretrainer = models.BertPretrainer(encoder)
        out = pretrainer({**inputs, "masked_lm_positions":
                          np.zeros((testing.BATCH, 2), np.int32)})
        self.assertEqual(out["mlm_logits"].dtype, tf.float32)
        self.assertEqual(out["nsp_logits"].dtype, tf.float32)

    def test_models_save_and_load_in_keras_format(self):
        model = models.BertClassifier(_encoder(), num_classes=2, dropout=0.2)
        inputs = testing.encoder_inputs()
        path = self.create_tempdir().full_path + "/model.keras"
        model.save(path)
        reloaded = keras.models.load_model(path)
        self.assertAllClose(reloaded(inputs)["logits"],
                            model(inputs)["logits"], atol=1e-6)
        self.assertEqual(reloaded.get_config()["dropout"], 0.2)


if __name__ == "__main__":
    tf.test.main()
