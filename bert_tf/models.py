"""Task models: a `BertEncoder` plus one small head each.

Shape legend: B batch, S sequence, H hidden, C classes or choices, P masked
positions per sequence, V vocabulary, T tags.

Each model is a Keras functional model whose inputs are the encoder's dict
(`input_word_ids`, `input_mask`, `input_type_ids`, plus `masked_lm_positions`
for pre-training) and whose outputs are a dict of float32 logits. Losses and
metrics live with the training code, not here.
"""

import keras

from bert_tf.layers import encoder as encoder_lib
from bert_tf.layers import heads


class _TaskModel(keras.Model):
    """Shared config plumbing: the encoder plus the constructor arguments."""

    def _set_config(self, encoder, **arguments):
        self.encoder = encoder
        self._arguments = arguments

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.layers.serialize(self.encoder),
            **self._arguments,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.layers.deserialize(config["encoder"])
        return cls(**config)


def _head_dropout(encoder, dropout):
    return encoder.config.hidden_dropout_prob if dropout is None else dropout


@keras.saving.register_keras_serializable(package="bert_tf")
class BertPretrainer(_TaskModel):
    """Encoder + masked-LM head (tied decoder) + next-sentence head.

    Extra input: `masked_lm_positions` [B, P] int32. Outputs: `mlm_logits`
    [B, P, V] and `nsp_logits` [B, 2], both float32.
    """

    def __init__(self, encoder, **kwargs):
        kwargs.setdefault("name", "bert_pretrainer")
        mlm_head = heads.masked_lm_head(encoder)
        nsp_head = heads.next_sentence_head(encoder)
        inputs = encoder_lib.encoder_inputs()
        inputs["masked_lm_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="masked_lm_positions")
        outputs = encoder({k: inputs[k] for k in encoder_lib.INPUT_NAMES})
        super().__init__(
            inputs=inputs,
            outputs={
                "mlm_logits": mlm_head(outputs["sequence_output"],
                                       inputs["masked_lm_positions"]),
                "nsp_logits": nsp_head(outputs["pooled_output"]),
            },
            **kwargs,
        )
        self._set_config(encoder)
        self.mlm_head = mlm_head
        self.nsp_head = nsp_head


@keras.saving.register_keras_serializable(package="bert_tf")
class BertClassifier(_TaskModel):
    """Sentence (pair) classification, or regression with `num_classes=1`.

    Output: `logits` [B, C] float32 from the pooled [CLS] vector.

    Args:
        encoder: `BertEncoder`.
        num_classes: int. Number of classes; 1 for regression (STS-B).
        dropout: float or None. Head dropout; None = the encoder's
            `hidden_dropout_prob`.
    """

    def __init__(self, encoder, num_classes, dropout=None, **kwargs):
        kwargs.setdefault("name", "bert_classifier")
        head = heads.ClassificationHead(
            num_classes, dropout=_head_dropout(encoder, dropout),
            initializer_range=encoder.config.initializer_range,
            name="classifier_head")
        inputs = encoder_lib.encoder_inputs()
        pooled = encoder(inputs)["pooled_output"]
        super().__init__(inputs=inputs, outputs={"logits": head(pooled)},
                         **kwargs)
        self._set_config(encoder, num_classes=num_classes, dropout=dropout)
        self.head = head


@keras.saving.register_keras_serializable(package="bert_tf")
class FoldChoices(keras.layers.Layer):
    """[B, C, S] -> [B * C, S], so the encoder scores each choice alone."""

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, keras.ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[-1])


@keras.saving.register_keras_serializable(package="bert_tf")
class BertMultipleChoice(_TaskModel):
    """One score per choice, softmax across choices (SWAG).

    Inputs are [B, C, S] (each choice packed as `[CLS] context [SEP] ending
    [SEP]`); output `logits` [B, C] float32.

    Args:
        encoder: `BertEncoder`.
        num_choices: int. Number of choices C per example.
        dropout: float or None. Head dropout; None = the encoder's.
    """

    def __init__(self, encoder, num_choices, dropout=None, **kwargs):
        kwargs.setdefault("name", "bert_multiple_choice")
        head = heads.ClassificationHead(
            1, dropout=_head_dropout(encoder, dropout),
            initializer_range=encoder.config.initializer_range,
            name="choice_head")
        inputs = encoder_lib.encoder_inputs(prefix_shape=(num_choices,))
        # The encoder sees B * C independent sequences; reshape back after.
        fold = FoldChoices(name="fold_choices")
        flat = {name: fold(tensor) for name, tensor in inputs.items()}
        scores = head(encoder(flat)["pooled_output"])  # [B * C, 1]
        logits = keras.ops.reshape(scores, (-1, num_choices))  # [B, C]
        super().__init__(inputs=inputs, outputs={"logits": logits}, **kwargs)
        self._set_config(encoder, num_choices=num_choices, dropout=dropout)
        self.head = head


@keras.saving.register_keras_serializable(package="bert_tf")
class BertSpanLabeler(_TaskModel):
    """Extractive QA: `start_logits` and `end_logits` [B, S] float32.

    Padded positions are pushed to -1e9 so they can never be chosen.
    """

    def __init__(self, encoder, **kwargs):
        kwargs.setdefault("name", "bert_span_labeler")
        head = heads.SpanHead(
            initializer_range=encoder.config.initializer_range,
            name="span_head")
        inputs = encoder_lib.encoder_inputs()
        sequence = encoder(inputs)["sequence_output"]
        start, end = head(sequence, inputs["input_mask"])
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start, "end_logits": end},
            **kwargs,
        )
        self._set_config(encoder)
        self.head = head


@keras.saving.register_keras_serializable(package="bert_tf")
class BertTokenTagger(_TaskModel):
    """Token classification (NER): `logits` [B, S, T] float32.

    Args:
        encoder: `BertEncoder`.
        num_tags: int. Number of tags T.
        dropout: float or None. Head dropout; None = the encoder's.
    """

    def __init__(self, encoder, num_tags, dropout=None, **kwargs):
        kwargs.setdefault("name", "bert_token_tagger")
        head = heads.ClassificationHead(
            num_tags, dropout=_head_dropout(encoder, dropout),
            initializer_range=encoder.config.initializer_range,
            name="tagger_head")
        inputs = encoder_lib.encoder_inputs()
        sequence = encoder(inputs)["sequence_output"]
        super().__init__(inputs=inputs, outputs={"logits": head(sequence)},
                         **kwargs)
        self._set_config(encoder, num_tags=num_tags, dropout=dropout)
        self.head = head
