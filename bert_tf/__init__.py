"""bert_tf: BERT in TensorFlow / Keras 3, from raw text to TF Serving.

Public names:
  BertConfig                 architecture, google-research / HF config files
  BertEncoder                the encoder (Keras functional model)
  BertPretrainer, BertClassifier, BertMultipleChoice, BertSpanLabeler,
  BertTokenTagger            task models: encoder + one small head
  load_encoder, load_pretrainer, load_model, save_model
                             checkpoints (google TF1, HF, keras-hub, bert_tf)
  BertTokenizer              the original word-piece tokenizer, in-graph
  FinetuningRun, finetune    fine-tuning, evaluation, prediction files
  evaluate                   a fine-tuned model's scores on its task's data
  get_task, BatchingConfig   a task by name: its reader, batches and head
  PretrainingRun, pretrain   masked LM + next sentence pre-training
  export_model, export_encoder  SavedModels for TF Serving / TF Hub
  Error                      what every error a user can cause derives from

    >>> import bert_tf
    >>> config = bert_tf.BertConfig.preset("tiny", vocab_size=100)
    >>> (config.num_hidden_layers, config.hidden_size)
    (2, 128)
"""

import importlib
import os

# Keras 3 picks its backend at import; bert_tf is TensorFlow throughout.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Public name -> the module that defines it (":attribute" when named
# otherwise there). They are imported on first use
# (PEP 562), so `import bert_tf` alone loads nothing heavy: a command line
# can still set up a quiet TensorFlow first (bert_tf/cli/console.py).
_PUBLIC = {
    "BatchingConfig": "bert_tf.tasks.datasets",
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
    "FinetuningRun": "bert_tf.finetuning",
    "PretrainingRun": "bert_tf.pretraining",
    "evaluate": "bert_tf.finetuning",
    "export_encoder": "bert_tf.export.exporter",
    "export_model": "bert_tf.export.exporter:export",
    "finetune": "bert_tf.finetuning:run",
    "get_task": "bert_tf.tasks.registry",
    "load_encoder": "bert_tf.checkpoints",
    "load_model": "bert_tf.checkpoints",
    "load_pretrainer": "bert_tf.checkpoints",
    "pretrain": "bert_tf.pretraining:run",
    "save_model": "bert_tf.checkpoints",
}
__all__ = sorted(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _PUBLIC:  # "module" or "module:attribute"
        module, _, attribute = _PUBLIC[name].partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
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
