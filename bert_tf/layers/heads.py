"""The small task heads that sit on a `BertEncoder`.

Shape legend: B batch, S sequence, H hidden, C classes or choices, P masked
positions per sequence, V vocabulary, T tags.

Every head computes its logits in float32 (`dtype="float32"` on the output
layer), so that under a mixed-precision policy the softmax and the losses
stay exact while the encoder runs in bfloat16 or float16.
"""

import keras
import keras_hub

from bert_tf.layers import activations


def _initializer(initializer_range):
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


def masked_lm_head(encoder, name="mlm_head"):
    """keras-hub's `MaskedLMHead`, its decoder tied to the word embeddings.

    Dense transform with `hidden_act`, LayerNorm, then logits
    `x @ word_embeddings^T + output_bias`, as google-research's
    `get_masked_lm_output`. Called as `head(sequence_output, positions)`
    with positions [B, P]; returns float32 logits [B, P, V].
    """
    config = encoder.config
    return keras_hub.layers.MaskedLMHead(
        token_embedding=encoder.token_embedding,
        intermediate_activation=activations.get(config.hidden_act),
        layer_norm_epsilon=config.layer_norm_eps,
        kernel_initializer=_initializer(config.initializer_range),
        dtype="float32",
        name=name,
    )


def next_sentence_head(encoder, name="nsp_head"):
    """Two logits on the pooled output: 0 = B follows A, 1 = B is random."""
    return keras.layers.Dense(
        2,
        kernel_initializer=_initializer(encoder.config.initializer_range),
        dtype="float32",
        name=name,
    )


@keras.saving.register_keras_serializable(package="bert_tf")
class ClassificationHead(keras.layers.Layer):
    """Dropout then a dense layer to `num_outputs` float32 logits.

    Used on the pooled output for sentence (pair) classification (C classes),
    regression (1 output), and multiple choice (1 score per choice); on the
    sequence output for token tagging (T tags per token).

    Args:
        num_outputs: int. Number of logits per input vector.
        dropout: float. Dropout rate before the dense layer.
        initializer_range: float. Stddev of the truncated-normal kernel.
    """

    def __init__(self, num_outputs, dropout=0.1, initializer_range=0.02,
                 **kwargs):
        super().__init__(**kwargs)
        if num_outputs < 1:
            raise ValueError(f"num_outputs must be >= 1, got {num_outputs}")
        self.num_outputs = num_outputs
        self.dropout = dropout
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="dropout")
        self.logits = keras.layers.Dense(
            self.num_outputs,
            kernel_initializer=_initializer(self.initializer_range),
            dtype="float32",
            name="logits",
        )
        self.logits.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.logits(self.dropout_layer(inputs, training=training))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_outputs,)

    def get_config(self):
        config = super().get_config()
        config.update(num_outputs=self.num_outputs, dropout=self.dropout,
                      initializer_range=self.initializer_range)
        return config


@keras.saving.register_keras_serializable(package="bert_tf")
class SpanHead(keras.layers.Layer):
    """Start and end logits per token for extractive question answering.

    Padded positions get a large negative logit so that no answer can start
    or end in padding, whatever the batch was padded to.

    Args:
        initializer_range: float. Stddev of the truncated-normal kernel.
    """

    def __init__(self, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape, input_mask_shape=None):
        self.logits = keras.layers.Dense(
            2,
            kernel_initializer=_initializer(self.initializer_range),
            dtype="float32",
            name="logits",
        )
        self.logits.build(sequence_output_shape)
        self.built = True

    def call(self, sequence_output, input_mask):
        logits = self.logits(sequence_output)  # [B, S, 2]
        padding = 1.0 - keras.ops.cast(input_mask, "float32")  # [B, S]
        start, end = keras.ops.unstack(logits, num=2, axis=-1)
        return start - 1e9 * padding, end - 1e9 * padding

    def compute_output_shape(self, sequence_output_shape,
                             input_mask_shape=None):
        shape = tuple(sequence_output_shape[:-1])
        return shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(initializer_range=self.initializer_range)
        return config
