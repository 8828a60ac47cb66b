"""pytest glue: absl flags parsed (tf.test helpers read --test_tmpdir)."""

import os
import zlib

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402
import hypothesis  # noqa: E402

if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


# Property tests: the default profile ("gate", what CI runs) draws the
# same examples every run and has no deadline (a loaded machine is not a
# failure); HYPOTHESIS_PROFILE=explore draws new ones each run and keeps
# the failures it finds in .hypothesis/ to replay: for looking for bugs,
# not for deciding whether a commit lands.
hypothesis.settings.register_profile(
    "gate", derandomize=True, database=None, deadline=None, print_blob=True)
hypothesis.settings.register_profile("explore", deadline=None,
                                     print_blob=True)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))


def pytest_collection_modifyitems(config, items):
    # tf.test.TestCase inherits a `test_session` helper that pytest collects
    # and tf then skips as "Not a test."; drop it so skips mean something.
    items[:] = [item for item in items if item.name != "test_session"]


def pytest_runtest_teardown(item):
    # Runs set Keras' global dtype policy (--mixed_precision); one test's
    # policy must not leak into the next.
    import keras

    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True)
def _seeded_per_test(request):
    """Every test starts from its own fixed random state (Python, NumPy,
    TensorFlow and Keras' global seed generator, seeded from the test's
    id), whatever ran before it in its worker and whatever `-k` selected:
    a tiny model built before a run seeds itself, or a threshold on what it
    learns, then depends on the test alone."""
    import keras

    keras.utils.set_random_seed(
        zlib.crc32(request.node.nodeid.encode()) % 2 ** 31)
