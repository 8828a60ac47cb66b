"""`python -m serving.export`; usage: serving/export/__init__.py."""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import serving.export
from serving.export import cli

__doc__ = serving.export.__doc__  # what --help prints

cli.run()
