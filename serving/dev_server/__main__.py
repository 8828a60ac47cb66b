"""`python -m serving.dev_server`; its usage is serving/dev_server/__init__.py's."""

from bert_tf.cli import console  # noqa: F401  (first: TensorFlow loads quietly)

import serving.dev_server
from serving.dev_server import cli

__doc__ = serving.dev_server.__doc__  # what --help prints

cli.run()
