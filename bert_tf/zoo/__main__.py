"""python -m bert_tf.zoo (usage: bert_tf/zoo/cli.py)."""

from bert_tf.zoo import cli

__doc__ = cli.__doc__  # absl prints the main module's docstring as usage

cli.run()
