"""Keeps TensorFlow's own log off the console of the command lines.

Every entry point imports this module before anything that loads
TensorFlow:

    from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

TensorFlow 2.21 writes C++ log lines to stderr while it loads (oneDNN, CUDA
driver probes, CPU features; twice, once per copy of its runtime), before
TF_CPP_MIN_LOG_LEVEL is read, and again when it first places an op
("failed call to cuInit" on a machine without a GPU). So, by default, this
module sets TF_CPP_MIN_LOG_LEVEL=3 unless it is set already (for the later
lines), imports TensorFlow with stderr set aside and passes on every line
that is not one of TensorFlow's log lines. TensorFlow's and Keras' Python
INFO lines are dropped too; their warnings and errors stay. The console
keeps the project's own output: its log, results and errors.

`BERT_TF_VERBOSE=1` (or `TF_CPP_MIN_LOG_LEVEL=0`) in the environment brings
TensorFlow's lines back, untouched.
"""

import importlib.util
import logging
import os
import re
import sys
import tempfile

from absl import logging as absl_logging

# A line of TensorFlow's C++ log (absl format: severity, date, time, thread,
# file:line), absl's note before its log is set up, and the second line of
# TensorFlow's CPU-feature notice.
TF_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.+-]+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) "
    r"|To enable the following instructions: )")


def _library_dirs():
    """The folders of TensorFlow's and Keras' packages (found, not imported)."""
    dirs = []
    for name in ("tensorflow", "tensorflow_text", "keras", "keras_hub"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += [os.path.join(os.path.realpath(d), "")
                     for d in spec.submodule_search_locations]
    return tuple(dirs)


def _drop_library_info(record):
    """False for an INFO (or DEBUG) record logged by TensorFlow or Keras."""
    return (record.levelno >= logging.WARNING
            or not os.path.realpath(record.pathname).startswith(
                _LIBRARY_DIRS))


def verbose(environ=os.environ):
    """Whether TensorFlow's own log lines stay on the console."""
    return (environ.get("BERT_TF_VERBOSE", "") not in ("", "0")
            or environ.get("TF_CPP_MIN_LOG_LEVEL") == "0")


def _import_tensorflow_quietly():
    """Imports TensorFlow with its start-up log lines dropped from stderr."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to set aside
        import tensorflow  # noqa: F401
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured
                    if not TF_LOG_LINE.match(line.decode("utf-8", "replace"))]
            if kept:
                os.write(2, b"".join(kept))


if not verbose():
    if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules:
        _import_tensorflow_quietly()
    # TensorFlow's and Keras' Python INFO lines ("Sharding callback
    # duration: ...") would show among the project's own once a command logs
    # at INFO: some go through TensorFlow's logger, most through absl's.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    _LIBRARY_DIRS = _library_dirs()
    absl_logging.get_absl_logger().addFilter(_drop_library_info)
