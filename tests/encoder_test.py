"""BertEncoder: outputs, padding invariance, XLA, mixed precision, names."""

import math

import keras
import numpy as np
import tensorflow as tf

from bert_tf import configs
from bert_tf.layers import activations
from bert_tf.layers import encoder as encoder_lib
from bert_tf.layers import transformer_block
from tests import testing


class EncoderTest(testing.ModelTestCase):

    def test_encoder_outputs_have_documented_shapes(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        out = encoder(testing.encoder_inputs())
        self.assertEqual(out["sequence_output"].shape,
                         (testing.BATCH, testing.SEQ, 32))
        self.assertEqual(out["pooled_output"].shape, (testing.BATCH, 32))
        self.assertLen(out["encoder_outputs"], 2)
        self.assertAllEqual(out["encoder_outputs"][-1], out["sequence_output"])

    def test_encoder_trains_exports_and_round_trips(self):
        self.run_model_checks(
            lambda: encoder_lib.BertEncoder(testing.ODD_CONFIG),
            testing.encoder_inputs(),
            lambda out: tf.reduce_mean(tf.square(out["pooled_output"] - 0.5)))

    def test_padding_never_changes_real_positions(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        inputs = testing.encoder_inputs()
        mask = inputs["input_mask"]
        base = encoder(inputs)
        # Other ids and segment ids under the padding ...
        noisy = dict(inputs)
        noisy["input_word_ids"] = np.where(mask > 0, inputs["input_word_ids"],
                                           57).astype(np.int32)
        noisy["input_type_ids"] = np.where(mask > 0, inputs["input_type_ids"],
                                           1).astype(np.int32)
        # ... and five more padded positions.
        longer = {k: np.pad(v, ((0, 0), (0, 5))) for k, v in inputs.items()}
        for other in (encoder(noisy), encoder(longer)):
            for name in ("sequence_output",):
                got = other[name].numpy()[:, :testing.SEQ][mask > 0]
                want = base[name].numpy()[mask > 0]
                self.assertAllClose(got, want, atol=1e-5)
            self.assertAllClose(other["pooled_output"], base["pooled_output"],
                                atol=1e-5)

    def test_encoder_runs_under_xla(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        inputs = testing.to_tensors(testing.encoder_inputs())
        compiled = tf.function(encoder, jit_compile=True)
        self.assertAllClose(compiled(inputs)["sequence_output"],
                            encoder(inputs)["sequence_output"], atol=1e-5)

    def test_mixed_bfloat16_runs_close_to_float32(self):
        # With the default initializer_range (0.02) each layer is nearly the
        # identity: skipping one moved the pooled output by < 0.004. At 0.2
        # every layer counts (a skipped one: > 1).
        config = testing.ODD_CONFIG.replace(initializer_range=0.2)
        keras.utils.set_random_seed(0)
        inputs = testing.encoder_inputs()
        reference = encoder_lib.BertEncoder(config)
        want = reference(inputs)
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        encoder = encoder_lib.BertEncoder(config)
        encoder.set_weights(reference.get_weights())
        for variable in encoder.weights:
            self.assertEqual(variable.dtype, "float32")  # master weights
        out = encoder(inputs)
        # Every layer computes in bfloat16 (one left in float32 returns
        # float32).
        self.assertEqual(
            [t.dtype for t in [out["pooled_output"], out["sequence_output"],
                               *out["encoder_outputs"]]], [tf.bfloat16] * 4)
        # bfloat16 keeps 8 significant bits: a rounding is off by up to
        # 2**-9 of the value, and the values here are O(1) (LayerNorm
        # outputs up to ~3.7, tanh). The ~25 roundings through the
        # embeddings and two layers add up like a random walk: over 20
        # seeds of this config the RMS error was <= 0.008 (2 bfloat16
        # steps at 1) and the largest <= 0.043. The bounds leave ~2x; a
        # skipped layer or an ignored mask is off by > 0.25 RMS.
        real = inputs["input_mask"] > 0
        for name, got, expected in [
                ("sequence_output", out["sequence_output"].numpy()[real],
                 want["sequence_output"].numpy()[real]),
                ("pooled_output", out["pooled_output"].numpy(),
                 want["pooled_output"].numpy())]:
            error = got.astype(np.float32) - expected
            self.assertLessEqual(np.abs(error).max(), 2.0**-4, name)
            self.assertLessEqual(np.sqrt(np.mean(error**2)), 2.0**-6, name)

    def test_hidden_act_selects_exact_or_tanh_gelu(self):
        x = np.linspace(-4, 4, 81).astype(np.float32)
        erf = 0.5 * x * (1 + np.vectorize(__import__("math").erf)(
            x / np.sqrt(2)))
        self.assertAllClose(activations.get("gelu")(x), erf, atol=1e-6)
        # The tanh form differs from erf by up to ~4.7e-4 around |x| = 2.7.
        self.assertGreater(np.abs(activations.get("gelu_new")(x) - erf).max(),
                           1e-4)
        encoder = encoder_lib.BertEncoder(
            testing.ODD_CONFIG.replace(hidden_act="gelu_new"))
        block = encoder.get_layer("transformer_layer_0")
        self.assertIs(block.intermediate_dense.activation,
                      activations.gelu_tanh)

    def test_every_config_activation_computes_its_function(self):
        # Written out independently of configs.ACTIVATIONS and Keras: a
        # new name there needs its formula here.
        def gelu_tanh(x):
            return 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi)
                                            * (x + 0.044715 * x**3)))

        def silu(x):
            return x / (1 + math.exp(-x))

        expected = {
            "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
            "gelu_new": gelu_tanh,
            "gelu_pytorch_tanh": gelu_tanh,
            "relu": lambda x: max(x, 0.0),
            "tanh": math.tanh,
            "silu": silu,
            "swish": silu,
        }
        self.assertCountEqual(configs.ACTIVATIONS, expected)
        # The erf and tanh GELUs differ by up to 4.7e-4 (|x| ~ 2.7), 1.5e-4
        # at 1: far above float32 rounding at these points (< 1e-7).
        points = [-6.0, -3.0, -2.0, -1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0,
                  1.5, 2.0, 3.0, 6.0]
        x = np.array(points, np.float32)
        for name, formula in expected.items():
            got = np.asarray(activations.get(name)(x))
            self.assertAllClose(got, [formula(p) for p in points],
                                atol=2e-6, rtol=2e-6, msg=name)
        with self.assertRaisesRegex(ValueError, "unknown hidden_act 'mish'"):
            activations.get("mish")

    def test_sublayer_names_are_the_checkpoint_contract(self):
        # Renaming any of these breaks every saved checkpoint: change the
        # converters' table and bump the format version with it.
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG)
        self.assertEqual(
            sorted({v.path.split("/")[0] for v in encoder.weights}),
            ["embeddings_layer_norm", "pooled_dense", "position_embedding",
             "segment_embedding", "token_embedding", "transformer_layer_0",
             "transformer_layer_1"])
        self.assertEqual(
            sorted({"/".join(v.path.split("/")[1:-1]) for v in encoder.weights
                    if v.path.startswith("transformer_layer_0/")}),
            ["intermediate_dense", "output_dense", "output_layer_norm",
             "self_attention/attention_output", "self_attention/key",
             "self_attention/query", "self_attention/value",
             "self_attention_layer_norm"])

    def test_encoder_config_round_trips_through_json(self):
        encoder = encoder_lib.BertEncoder(testing.ODD_CONFIG, name="enc")
        clone = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(encoder))
        self.assertEqual(clone.config, testing.ODD_CONFIG)
        self.assertEqual(clone.name, "enc")

    def test_transformer_block_rejects_heads_not_dividing_width(self):
        block = transformer_block.TransformerBlock(num_heads=5,
                                                   intermediate_size=8)
        with self.assertRaisesRegex(ValueError,
                                    r"hidden size \(32\) is not a multiple "
                                    r"of num_heads \(5\)"):
            block(np.zeros((1, 3, 32), np.float32))

    def test_dropout_rates_come_from_the_config(self):
        config = testing.ODD_CONFIG.replace(hidden_dropout_prob=0.2,
                                            attention_probs_dropout_prob=0.3)
        encoder = encoder_lib.BertEncoder(config)
        block = encoder.get_layer("transformer_layer_1")
        self.assertEqual(block.self_attention.dropout, 0.3)
        self.assertEqual(block.output_dropout.rate, 0.2)
        self.assertEqual(encoder.get_layer("embeddings_dropout").rate, 0.2)
        inputs = testing.encoder_inputs()
        a = encoder(inputs, training=True)["pooled_output"]
        b = encoder(inputs, training=True)["pooled_output"]
        self.assertNotAllClose(a, b)
        self.assertAllClose(encoder(inputs)["pooled_output"],
                            encoder(inputs)["pooled_output"])


if __name__ == "__main__":
    tf.test.main()
