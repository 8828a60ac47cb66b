"""bert_tf: BERT in TensorFlow / Keras 3, from raw text to TF Serving.

Public names:
  BertConfig                 architecture, google-research / HF config files
  BertEncoder                the encoder (Keras functional model)
  BertPretrainer, BertClassifier, BertMultipleChoice, BertSpanLabeler,
  BertTokenTagger            task models: encoder + one small head
  load_encoder, load_pretrainer, load_model, save_model
                             checkpoints (google TF1, HF, keras-hub, bert_tf)
  BertTokenizer              the original word-piece tokenizer, in-graph
"""

import os
import sys

# Keras 3 picks its backend at import; bert_tf is TensorFlow throughout.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _started_as_own_command_line():
    """Whether this import is `python -m bert_tf.<command>` starting."""
    argv = getattr(sys, "orig_argv", [])
    return any(flag == "-m" and module.startswith("bert_tf.")
               for flag, module in zip(argv, argv[1:]))


# `python -m bert_tf.convert` (and bert_tf.vocab,
# bert_tf.data.create_pretraining_data) runs this file before the command's
# own first line: start TensorFlow as quietly as every other command line
# (tasks/console.py). Importing bert_tf as a library leaves stderr alone.
if _started_as_own_command_line():
    from tasks import console  # noqa: F401,E402

from bert_tf.checkpoint_sources import CheckpointError  # noqa: E402
from bert_tf.checkpoints import load_encoder  # noqa: E402
from bert_tf.checkpoints import load_model  # noqa: E402
from bert_tf.checkpoints import load_pretrainer  # noqa: E402
from bert_tf.checkpoints import save_model  # noqa: E402
from bert_tf.configs import BertConfig  # noqa: E402
from bert_tf.configs import ConfigError  # noqa: E402
from bert_tf.errors import Error  # noqa: E402
from bert_tf.layers.encoder import BertEncoder  # noqa: E402
from bert_tf.models import BertClassifier  # noqa: E402
from bert_tf.models import BertMultipleChoice  # noqa: E402
from bert_tf.models import BertPretrainer  # noqa: E402
from bert_tf.models import BertSpanLabeler  # noqa: E402
from bert_tf.models import BertTokenTagger  # noqa: E402
from bert_tf.tokenization import BertTokenizer  # noqa: E402

__all__ = [
    "BertClassifier", "BertConfig", "BertEncoder", "BertMultipleChoice",
    "BertPretrainer", "BertSpanLabeler", "BertTokenTagger", "BertTokenizer",
    "CheckpointError", "ConfigError", "Error", "load_encoder", "load_model",
    "load_pretrainer", "save_model",
]
__version__ = "0.1.0"
