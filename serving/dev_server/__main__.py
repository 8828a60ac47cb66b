"""`python -m serving.dev_server`; usage: serving/dev_server/__init__.py."""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import serving.dev_server
from serving.dev_server import cli

__doc__ = serving.dev_server.__doc__  # what --help prints

cli.run()
