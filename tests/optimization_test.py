"""Learning-rate schedule and optimizer settings of BERT training."""

import keras
import numpy as np
import tensorflow as tf

from bert_tf import models
from bert_tf import optimization
from bert_tf.layers import encoder as encoder_lib
from tests import testing


class OptimizationTest(tf.test.TestCase):

    def test_warmup_then_linear_decay_to_zero(self):
        schedule = optimization.WarmupLinearDecay(1e-4, total_steps=100,
                                                  warmup_steps=10)
        values = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 120)]
        # The peak at the end of warmup, then linear to 0 at the last step
        # (the Model Garden / HF schedule: 1e-4 * (100 - s) / 90 after 10).
        self.assertAllClose(values, [0.0, 5e-5, 1e-4, 5e-5, 0.0, 0.0],
                            atol=1e-12)
        no_warmup = optimization.WarmupLinearDecay(1e-4, total_steps=100)
        self.assertAllClose([float(no_warmup(s)) for s in (0, 50, 100)],
                            [1e-4, 5e-5, 0.0], atol=1e-12)

    def test_schedule_rejects_warmup_longer_than_training(self):
        with self.assertRaisesRegex(ValueError, "warmup_steps \\(20\\) must "
                                    "be in \\[0, total_steps \\(10\\)\\]"):
            optimization.WarmupLinearDecay(1e-4, 10, 20)

    def test_adamw_has_bert_hyper_parameters(self):
        optimizer = optimization.create_optimizer("adamw", 1e-4, 100, 10)
        self.assertIsInstance(optimizer, optimization.AdamW)
        self.assertEqual((optimizer.beta_1, optimizer.beta_2,
                          optimizer.epsilon, optimizer.weight_decay),
                         (0.9, 0.999, 1e-6, 0.01))
        lamb = optimization.create_optimizer("lamb", 1e-4, 100, 10)
        self.assertIsInstance(lamb, keras.optimizers.Lamb)
        with self.assertRaisesRegex(ValueError, "unknown optimizer 'sgd'"):
            optimization.create_optimizer("sgd", 1e-4, 100, 10)

    def test_adamw_steps_equal_torch_adamw(self):
        # torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.999), eps=1e-6,
        # weight_decay=0.01), three steps of these gradients from these
        # weights (torch 2.13.0); small gradients show where epsilon sits.
        variable = keras.Variable(np.array([0.5, -0.25, 1e-3, 2.0],
                                           np.float32))
        gradients = [[1e-3, -2e-6, 5e-7, 0.3], [2e-3, 1e-6, -5e-7, 0.1],
                     [-1e-3, 3e-6, 1e-7, -0.2]]
        torch_result = [0.49760162830352783, -0.2494288980960846,
                        0.0006698158686049283, 1.9978415966033936]
        optimizer = optimization.AdamW(learning_rate=1e-3, weight_decay=0.01,
                                       epsilon=1e-6)
        for gradient in gradients:
            optimizer.apply_gradients([(tf.constant(gradient, tf.float32),
                                        variable)])
        self.assertAllClose(variable.numpy(), torch_result, rtol=1e-6)
        # Keras' own AdamW adds epsilon before the bias correction: the
        # two tiny-gradient weights move far less.
        keras_variable = keras.Variable(np.array([0.5, -0.25, 1e-3, 2.0],
                                                 np.float32))
        keras_adamw = keras.optimizers.AdamW(learning_rate=1e-3,
                                             weight_decay=0.01, epsilon=1e-6)
        for gradient in gradients:
            keras_adamw.apply_gradients([(tf.constant(gradient, tf.float32),
                                          keras_variable)])
        moved = np.abs(variable.numpy() - [0.5, -0.25, 1e-3, 2.0])
        keras_moved = np.abs(keras_variable.numpy() - [0.5, -0.25, 1e-3, 2.0])
        self.assertAllGreater(moved[1:3] / keras_moved[1:3], 3.0)

    def test_no_weight_decay_on_layer_norm_and_biases(self):
        model = models.BertPretrainer(
            encoder_lib.BertEncoder(testing.ODD_CONFIG))
        optimizer = optimization.create_optimizer("adamw", 1e-3, 10, 0,
                                                  weight_decay=0.5)
        optimizer.build(model.trainable_variables)
        before = {v.path: v.numpy().copy() for v in model.trainable_variables}
        # Zero gradients: Adam moves nothing, so only weight decay acts.
        optimizer.apply_gradients(
            [(tf.zeros_like(v), v) for v in model.trainable_variables])
        for v in model.trainable_variables:
            changed = not np.array_equal(before[v.path], v.numpy())
            exempt = v.name in ("gamma", "beta", "bias", "output_bias")
            if exempt or not before[v.path].any():
                self.assertFalse(changed, v.path)
            else:
                self.assertTrue(changed, v.path)


if __name__ == "__main__":
    tf.test.main()
