"""pytest glue: absl flags parsed (tf.test helpers read --test_tmpdir)."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def pytest_collection_modifyitems(config, items):
    # tf.test.TestCase inherits a `test_session` helper that pytest collects
    # and tf then skips as "Not a test."; drop it so skips mean something.
    items[:] = [item for item in items if item.name != "test_session"]


def pytest_runtest_teardown(item):
    # Runs set Keras' global dtype policy (--mixed_precision); one test's
    # policy must not leak into the next.
    import keras

    keras.mixed_precision.set_global_policy("float32")
