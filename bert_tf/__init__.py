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

import importlib
import os

# Keras 3 picks its backend at import; bert_tf is TensorFlow throughout.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Public name -> the module that defines it. They are imported on first use
# (PEP 562), so `import bert_tf` alone loads nothing heavy: a command line
# can still set up a quiet TensorFlow first (bert_tf/cli/console.py).
_PUBLIC = {
    "BertClassifier": "bert_tf.models",
    "BertConfig": "bert_tf.configs",
    "BertEncoder": "bert_tf.layers.encoder",
    "BertMultipleChoice": "bert_tf.models",
    "BertPretrainer": "bert_tf.models",
    "BertSpanLabeler": "bert_tf.models",
    "BertTokenTagger": "bert_tf.models",
    "BertTokenizer": "bert_tf.tokenization",
    "CheckpointError": "bert_tf.checkpoint_sources",
    "ConfigError": "bert_tf.configs",
    "Error": "bert_tf.errors",
    "load_encoder": "bert_tf.checkpoints",
    "load_model": "bert_tf.checkpoints",
    "load_pretrainer": "bert_tf.checkpoints",
    "save_model": "bert_tf.checkpoints",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:  # a submodule: `import bert_tf; bert_tf.checkpoints.load_model`
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute "
                                 f"{name!r}") from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
