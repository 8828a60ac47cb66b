"""The training loop's promises (bert_tf/training.py): global-norm clipping
after the cross-replica sum, float16 loss scaling, TensorBoard summaries of
the logged history."""

import glob
import json
import os
import subprocess
import sys
from unittest import mock

import keras
import numpy as np
import tensorflow as tf

from bert_tf import optimization
from bert_tf import training
from tests import testing

DIM = 4


def _linear_model():
    """{"x": [B, DIM]} -> {"y": [B, 1]}: one bias-free Dense from zeros, so
    the loss below has the same gradient at every weight."""
    inputs = {"x": keras.Input(shape=(DIM,), name="x")}
    y = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                           name="dense")(inputs["x"])
    return keras.Model(inputs, {"y": y})


def _linear_loss(features, outputs):
    """mean(c * y): d/dkernel = mean(c * x), whatever the kernel."""
    y = tf.cast(outputs["y"][:, 0], tf.float32)
    loss = tf.reduce_mean(features["c"] * y)
    count = tf.cast(tf.size(y), tf.float32)
    return loss, {"loss": (loss * count, count)}


def _batches(c_per_step, batch=2):
    """One batch per step: x all ones, every example's c the step's."""
    steps = len(c_per_step)

    def dataset_fn(context, batch_size):
        del context
        assert batch_size == batch, batch_size
        return tf.data.Dataset.from_tensor_slices({
            "x": np.ones((steps, batch, DIM), np.float32),
            "c": np.repeat(np.asarray(c_per_step, np.float32)[:, None],
                           batch, axis=1)})

    return dataset_fn


def _train(output_dir, dataset_fn, steps, optimizer=None, strategy=None,
           **config):
    return training.train(
        strategy or tf.distribute.get_strategy(), _linear_model,
        optimizer or (lambda: keras.optimizers.SGD(learning_rate=1.0)),
        _linear_loss, dataset_fn,
        training.TrainingConfig(output_dir=output_dir, num_train_steps=steps,
                                global_batch_size=2, **config))


def _regression_model():
    inputs = {"x": keras.Input(shape=(DIM,), name="x")}
    y = keras.layers.Dense(
        1, name="dense", kernel_initializer=keras.initializers.RandomNormal(
            stddev=0.5, seed=1))(inputs["x"])
    return keras.Model(inputs, {"y": y})


def _squared_error(features, outputs):
    errors = tf.math.squared_difference(outputs["y"][:, 0],
                                        features["target"])
    count = tf.cast(tf.size(errors), tf.float32)
    return tf.reduce_mean(errors), {"loss": (tf.reduce_sum(errors), count)}


def _regression_batches(context, batch_size):
    """64 examples of target = x . (1, -2, 0.5, 3) + 0.7, repeated."""
    del context
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, DIM)).astype(np.float32)
    target = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.7
    return tf.data.Dataset.from_tensor_slices(
        {"x": x, "target": target}).repeat().batch(batch_size)


def _kernel(model):
    return model.get_layer("dense").kernel.numpy()[:, 0]


def _checkpoint_values(output_dir, step):
    reader = tf.train.load_checkpoint(
        os.path.join(output_dir, "checkpoints", f"ckpt-{step}"))
    return {name.split("/.ATTRIBUTES")[0]: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            if "/.ATTRIBUTES/VARIABLE_VALUE" in name}


def _restored_kernel(output_dir, step):
    model = _linear_model()
    tf.train.Checkpoint(model=model).restore(os.path.join(
        output_dir, "checkpoints", f"ckpt-{step}")).expect_partial()
    return _kernel(model)


def _events(output_dir):
    """{(step, tag): value} of the scalar summaries under output_dir/train."""
    values = {}
    for path in glob.glob(os.path.join(output_dir, "train", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                values[event.step, value.tag] = float(
                    tf.make_ndarray(value.tensor))
    return values


# Run in a process of its own: two logical CPUs must be set up before
# TensorFlow starts.
TWO_REPLICAS = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests import training_test
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
model, _ = training_test._train(sys.argv[1], training_test._batches(
    [500.0, 0.1]), 2, strategy=strategy)
print(json.dumps([strategy.num_replicas_in_sync,
                  training_test._kernel(model).tolist()]))
"""


class TrainingLoopTest(tf.test.TestCase):

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def test_gradients_are_clipped_to_global_norm_one(self):
        # Step 1: gradient 500 per weight, global norm 1000, clipped to
        # norm 1 (0.5 per weight); step 2: norm 0.2, under the threshold,
        # applied as it is. SGD at rate 1 moves the weights by the
        # gradient it is handed.
        model, _ = _train(self.create_tempdir().full_path,
                          _batches([500.0, 0.1]), 2)
        self.assertAllClose(_kernel(model), [-0.6] * DIM, rtol=1e-6)

    def test_two_replicas_clip_the_summed_gradient(self):
        # Each replica's half of step 1 has norm 500: clipping each before
        # the sum would apply norm 2, not 1.
        result = subprocess.run(
            [sys.executable, "-c", TWO_REPLICAS,
             self.create_tempdir().full_path],
            cwd=testing.REPO_ROOT, capture_output=True, text=True,
            timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        replicas, kernel = json.loads(result.stdout.splitlines()[-1])
        self.assertEqual(replicas, 2)
        self.assertAllClose(kernel, [-0.6] * DIM, rtol=1e-6)

    def test_float16_overflow_halves_the_loss_scale_and_skips_the_step(self):
        keras.mixed_precision.set_global_policy("mixed_float16")
        output_dir = self.create_tempdir().full_path
        # Step 1's gradient (c * 2^15 / batch) overflows float16; had it
        # been applied, it would move the weights up by 0.5. Steps 2 and
        # 3: gradient 1 per weight (norm 2), clipped to norm 1 in the
        # scaled units (threshold times the scale), applied as -0.5.
        model, history = _train(output_dir, _batches([-1e4, 1.0, 1.0]), 2,
                                log_steps=1, save_checkpoints_steps=1)
        self.assertEqual(model.get_layer("dense").compute_dtype, "float16")
        # Two optimizer steps from three batches: the skipped one is not
        # counted, and the loop read on until two steps were applied.
        self.assertAllClose(_kernel(model), [-1.0] * DIM, rtol=1e-3)
        first = _checkpoint_values(output_dir, 1)
        self.assertEqual(first["optimizer/dynamic_scale"], 2.0 ** 14)
        self.assertEqual(first["optimizer/inner_optimizer/_iterations"], 1)
        self.assertAllClose(_restored_kernel(output_dir, 1), [-0.5] * DIM,
                            rtol=1e-3)
        # No growth before 2000 finite steps.
        self.assertEqual(_checkpoint_values(output_dir, 2)[
            "optimizer/dynamic_scale"], 2.0 ** 14)
        # The skipped step is neither logged nor checkpointed as a step.
        self.assertEqual([step for step, _ in history], [1, 2])
        self.assertFalse(glob.glob(os.path.join(output_dir, "checkpoints",
                                                "ckpt-0.*")))

    def test_lamb_lowers_the_loss(self):
        _, history = training.train(
            tf.distribute.get_strategy(), _regression_model,
            lambda: optimization.create_optimizer("lamb", 0.2, 100, 10),
            _squared_error, _regression_batches,
            training.TrainingConfig(
                output_dir=self.create_tempdir().full_path,
                num_train_steps=100, global_batch_size=16, log_steps=25))
        # From 9.5 to 0.03 (the trust ratio moves the kernel by at most 20%
        # of its norm per step).
        losses = [values["loss"] for _, values in history]
        self.assertEqual(losses, sorted(losses, reverse=True))
        self.assertLess(losses[-1], losses[0] / 100)

    def test_summaries_are_the_logged_history(self):
        output_dir = self.create_tempdir().full_path
        # What a TensorBoard watching the run reads right after each log.
        seen_when_logged = []
        log = training._log

        def log_and_read(step, *args):
            values = log(step, *args)
            seen_when_logged.append((step, set(_events(output_dir))))
            return values

        with mock.patch.object(training, "_log", log_and_read):
            _, history = _train(output_dir, _batches([0.1, 0.2, 0.3, 0.4]),
                                4, log_steps=2)
        self.assertEqual([step for step, _ in history], [2, 4])
        logged = {(step, name): value
                  for step, values in history for name, value in
                  values.items()}
        self.assertEqual(set(logged), {
            (step, name) for step in (2, 4)
            for name in ("loss", "steps_per_second")})
        # Loss at steps 3 and 4, from kernels -0.1 and -0.3 per weight.
        self.assertAllClose(logged[4, "loss"],
                            (0.3 * 4 * -0.3 + 0.4 * 4 * -0.6) / 2)
        events = _events(output_dir)
        self.assertEqual(set(events), set(logged))
        for key, value in logged.items():
            self.assertAllClose(events[key], value, rtol=1e-6, msg=key)
        for step, seen in seen_when_logged:
            self.assertIn((step, "loss"), seen)
            self.assertIn((step, "steps_per_second"), seen)


if __name__ == "__main__":
    tf.test.main()
