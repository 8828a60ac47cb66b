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

    def test_optimizers_have_bert_hyper_parameters(self):
        classes = {"adamw": optimization.AdamW,
                   "adam_weight_decay": optimization.AdamWeightDecay,
                   "lamb": optimization.Lamb}
        self.assertEqual(set(classes), set(optimization.OPTIMIZERS))
        for name, cls in classes.items():
            optimizer = optimization.create_optimizer(name, 1e-4, 100, 10)
            self.assertIsInstance(optimizer, cls)
            self.assertEqual((optimizer.beta_1, optimizer.beta_2,
                              optimizer.epsilon, optimizer.weight_decay,
                              optimizer.no_decay),
                             (0.9, 0.999, 1e-6, 0.01, optimization.NO_DECAY))
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
        for name in optimization.OPTIMIZERS:
            with self.subTest(optimizer=name):
                self._check_decayed_variables(name)

    def _check_decayed_variables(self, name):
        model = models.BertPretrainer(
            encoder_lib.BertEncoder(testing.ODD_CONFIG))
        optimizer = optimization.create_optimizer(name, 1e-3, 10, 0,
                                                  weight_decay=0.5)
        optimizer.build(model.trainable_variables)
        # Biases and beta start at zero, where decay changes nothing: give
        # every variable non-zero values first.
        rng = np.random.default_rng(0)
        for v in model.trainable_variables:
            v.assign(rng.normal(0.5, 0.1, v.shape).astype(np.float32))
        before = {v.path: v.numpy().copy() for v in model.trainable_variables}
        # Zero gradients: Adam moves nothing, so only weight decay acts.
        optimizer.apply_gradients(
            [(tf.zeros_like(v), v) for v in model.trainable_variables])
        for v in model.trainable_variables:
            changed = not np.array_equal(before[v.path], v.numpy())
            exempt = v.name in ("gamma", "beta", "bias", "output_bias")
            self.assertEqual(changed, not exempt, v.path)

    def test_lamb_adapts_every_model_variable_but_layer_norm_and_biases(self):
        # Every variable of the pre-training model: kernels and embeddings
        # get the decay and the trust ratio, LayerNorm's gamma and beta and
        # every bias (the MLM head's output_bias too) an Adam step.
        model = models.BertPretrainer(
            encoder_lib.BertEncoder(testing.ODD_CONFIG))
        variables = model.trainable_variables
        initial = [v.numpy().copy() for v in variables]
        rng = np.random.default_rng(2)
        gradients = [[rng.normal(0, 0.1, v.shape).astype(np.float32)
                      for v in variables] for _ in range(2)]
        optimizer = _new("lamb")
        for step in gradients:
            optimizer.apply_gradients(zip(step, variables))
        adapted = 0
        for i, variable in enumerate(variables):
            decayed = variable.name not in ("gamma", "beta", "bias",
                                            "output_bias")
            grads = [step[i] for step in gradients]
            self.assertAllClose(
                variable.numpy(),
                _lamb_reference(initial[i], grads, decayed=decayed),
                rtol=1e-5, atol=1e-7, msg=variable.path)
            # The trust ratio is far from 1 here (||w|| is small at
            # initialisation): without it the step lands elsewhere.
            if decayed:
                self.assertNotAllClose(
                    variable.numpy(), _lamb_reference(
                        initial[i], grads, decayed=True, adapted=False),
                    rtol=1e-3, atol=1e-5, msg=variable.path)
                adapted += 1
        self.assertGreater(adapted, 10)

    def test_adam_weight_decay_steps_equal_the_original_equations(self):
        variables, gradients = _variables_and_gradients()
        optimizer = _new("adam_weight_decay")
        for step in gradients:
            optimizer.apply_gradients(zip(step, variables.values()))
        self._assert_reference("adam_weight_decay", variables, gradients)

    def test_lamb_steps_equal_the_papers_equations(self):
        variables, gradients = _variables_and_gradients()
        optimizer = _new("lamb")
        for step in gradients:
            optimizer.apply_gradients(zip(step, variables.values()))
        self._assert_reference("lamb", variables, gradients)

    def test_mirrored_strategy_and_loss_scaling(self):
        for name in REFERENCES:
            with self.subTest(optimizer=name):
                self._check_mirrored_and_loss_scaled(name)

    def _check_mirrored_and_loss_scaled(self, name):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        with strategy.scope():
            variables, gradients = _variables_and_gradients()
            optimizer = keras.optimizers.LossScaleOptimizer(
                _new(name), initial_scale=1024.0)
            optimizer.build(list(variables.values()))

        @tf.function
        def apply(step):
            # The loss scale multiplies the gradients; the optimizer divides.
            scaled = [g * optimizer.dynamic_scale for g in step]
            strategy.run(lambda: optimizer.apply_gradients(
                zip(scaled, variables.values())))

        for step in gradients:
            apply([tf.constant(g) for g in step])
        self._assert_reference(name, variables, gradients)

    def _assert_reference(self, name, variables, gradients):
        for i, (variable_name, variable) in enumerate(variables.items()):
            expected = REFERENCES[name](
                INITIAL[variable_name], [step[i] for step in gradients],
                decayed=variable_name.startswith("kernel"))
            self.assertAllClose(variable.numpy(), expected, rtol=1e-5,
                                atol=1e-7, msg=variable_name)

    def test_config_round_trip(self):
        for name in optimization.OPTIMIZERS:
            with self.subTest(optimizer=name):
                optimizer = optimization.create_optimizer(
                    name, LR, 10, 2, weight_decay=DECAY)
                restored = keras.optimizers.deserialize(
                    keras.optimizers.serialize(optimizer))
                self.assertIs(type(restored), type(optimizer))
                self.assertEqual(restored.get_config(),
                                 optimizer.get_config())
                # The same steps, exclusions included.
                results = []
                for each in (optimizer, restored):
                    variables, gradients = _variables_and_gradients()
                    for step in gradients:
                        each.apply_gradients(zip(step, variables.values()))
                    results.append([v.numpy() for v in variables.values()])
                for ours, theirs in zip(*results):
                    self.assertAllEqual(ours, theirs)


# A decayed matrix, one that starts at zero (its trust ratio is 1 until it
# moves), and a bias and a LayerNorm scale (no decay, no trust ratio).
INITIAL = {
    "kernel": np.random.default_rng(0).normal(
        0, 0.5, (3, 4)).astype(np.float32),
    "kernel_at_zero": np.zeros((2, 3), np.float32),
    "bias": np.array([0.3, -0.2, 0.1], np.float32),
    "gamma": np.array([1.0, 0.9, 1.1, 1.2], np.float32),
}
LR, DECAY, STEPS = 1e-2, 0.1, 5


def _variables_and_gradients():
    """Keras variables of INITIAL (named) and STEPS steps of gradients of
    different scales per variable."""
    variables = {name: keras.Variable(value, name=name)
                 for name, value in INITIAL.items()}
    rng = np.random.default_rng(1)
    gradients = [[rng.normal(0, scale, value.shape).astype(np.float32)
                  for scale, value in zip((1e-2, 1.0, 3e-4, 0.2),
                                          INITIAL.values())]
                 for _ in range(STEPS)]
    return variables, gradients


def _adam_moments(gradients, beta_1=0.9, beta_2=0.999):
    """Adam's m and v after each of `gradients` (float64)."""
    m = v = 0.0
    for g in gradients:
        m = beta_1 * m + (1 - beta_1) * np.float64(g)
        v = beta_2 * v + (1 - beta_2) * np.float64(g) ** 2
        yield m, v


def _adam_weight_decay_reference(w, gradients, decayed, eps=1e-6):
    """google-research/bert's AdamWeightDecayOptimizer: no bias
    correction, `w -= lr * (m / (sqrt(v) + eps) + decay * w)`."""
    w = np.float64(w)
    for m, v in _adam_moments(gradients):
        update = m / (np.sqrt(v) + eps)
        if decayed:
            update += DECAY * w
        w = w - LR * update
    return w


def _lamb_reference(w, gradients, decayed, eps=1e-6, adapted=True):
    """You et al. 2019, Algorithm 2 (phi the identity): `r = m_hat /
    (sqrt(v_hat) + eps) + decay * w`, `w -= lr * ||w|| / ||r|| * r`; a
    variable without decay has no trust ratio either: `w -= lr * r`.
    `adapted=False`: a decayed variable without the trust ratio."""
    w = np.float64(w)
    for t, (m, v) in enumerate(_adam_moments(gradients), start=1):
        r = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + eps)
        ratio = 1.0
        if decayed:
            r = r + DECAY * w
        if decayed and adapted:
            w_norm, r_norm = np.linalg.norm(w), np.linalg.norm(r)
            if w_norm > 0 and r_norm > 0:
                ratio = w_norm / r_norm
        w = w - LR * ratio * r
    return w


REFERENCES = {"adam_weight_decay": _adam_weight_decay_reference,
              "lamb": _lamb_reference}


def _new(name):
    """The optimizer `name` at a constant rate, with BERT's exclusions."""
    cls = {"adam_weight_decay": optimization.AdamWeightDecay,
           "lamb": optimization.Lamb}[name]
    return cls(learning_rate=LR, weight_decay=DECAY,
               no_decay=optimization.NO_DECAY)
