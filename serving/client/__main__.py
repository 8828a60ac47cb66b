"""`python -m serving.client`; its usage is serving/client/__init__.py's."""

from bert_tf.cli import console  # noqa: F401  (first: TensorFlow loads quietly)

import serving.client
from serving.client import cli

__doc__ = serving.client.__doc__  # what --help prints

cli.run()
