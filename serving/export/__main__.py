"""`python -m serving.export`; its usage is serving/export/__init__.py's."""

from bert_tf.cli import console  # noqa: F401  (first: TensorFlow loads quietly)

import serving.export
from serving.export import cli

__doc__ = serving.export.__doc__  # what --help prints

cli.run()
