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
        self.assertAllClose(values, [0.0, 5e-5, 9e-5, 4.5e-5, 0.0, 0.0],
                            atol=1e-12)

    def test_schedule_rejects_warmup_longer_than_training(self):
        with self.assertRaisesRegex(ValueError, "warmup_steps \\(20\\) must "
                                    "be in \\[0, total_steps \\(10\\)\\]"):
            optimization.WarmupLinearDecay(1e-4, 10, 20)

    def test_adamw_has_bert_hyper_parameters(self):
        optimizer = optimization.create_optimizer("adamw", 1e-4, 100, 10)
        self.assertIsInstance(optimizer, keras.optimizers.AdamW)
        self.assertEqual((optimizer.beta_1, optimizer.beta_2,
                          optimizer.epsilon, optimizer.weight_decay),
                         (0.9, 0.999, 1e-6, 0.01))
        lamb = optimization.create_optimizer("lamb", 1e-4, 100, 10)
        self.assertIsInstance(lamb, keras.optimizers.Lamb)
        with self.assertRaisesRegex(ValueError, "unknown optimizer 'sgd'"):
            optimization.create_optimizer("sgd", 1e-4, 100, 10)

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
