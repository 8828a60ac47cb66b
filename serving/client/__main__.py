"""`python -m serving.client`; usage: serving/client/__init__.py."""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import serving.client
from serving.client import cli

__doc__ = serving.client.__doc__  # what --help prints

cli.run()
