"""BERT's post-LayerNorm Transformer block, from Keras layers.

Shape legend: B batch, S sequence, H hidden, N heads, D head size (H / N),
I intermediate size.
"""

import keras

from bert_tf.layers import activations


@keras.saving.register_keras_serializable(package="bert_tf")
class TransformerBlock(keras.layers.Layer):
    """One Transformer encoder layer as BERT computes it.

    Self-attention, dropout, residual, LayerNorm; then a feed-forward network
    (dense to I with `hidden_act`, dense back to H), dropout, residual,
    LayerNorm (Vaswani et al., 2017; Devlin et al., 2018).

    keras-hub's `TransformerEncoder` computes the same function but takes one
    dropout rate for both places; BERT configs name two
    (`hidden_dropout_prob`, `attention_probs_dropout_prob`), so this block
    wires the same Keras layers itself and honours both.

    Args:
        num_heads: int. Number of attention heads; must divide the input width.
        intermediate_size: int. Width I of the feed-forward inner layer.
        hidden_act: str. Feed-forward activation name (see `activations`).
        hidden_dropout: float. Dropout on the two sub-layer outputs.
        attention_dropout: float. Dropout on the attention probabilities.
        layer_norm_eps: float. Epsilon of both LayerNorms.
        initializer_range: float. Stddev of the truncated-normal kernels.

    Example:
    >>> block = TransformerBlock(num_heads=2, intermediate_size=64)
    >>> block(keras.ops.ones((3, 5, 16))).shape
    TensorShape([3, 5, 16])
    """

    def __init__(self, num_heads, intermediate_size, hidden_act="gelu",
                 hidden_dropout=0.1, attention_dropout=0.1,
                 layer_norm_eps=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.supports_masking = True

    def _initializer(self):
        return keras.initializers.TruncatedNormal(stddev=self.initializer_range)

    def build(self, input_shape):
        hidden = input_shape[-1]
        if hidden % self.num_heads:
            raise ValueError(
                f"hidden size ({hidden}) is not a multiple of num_heads "
                f"({self.num_heads})")
        self.self_attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=hidden // self.num_heads,
            dropout=self.attention_dropout,
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(input_shape, input_shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.hidden_dropout, dtype=self.dtype_policy,
            name="self_attention_dropout")
        self.self_attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=self.dtype_policy,
            name="self_attention_layer_norm")
        self.self_attention_layer_norm.build(input_shape)
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_size,
            activation=activations.get(self.hidden_act),
            kernel_initializer=self._initializer(),
            dtype=self.dtype_policy,
            name="intermediate_dense",
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            hidden, kernel_initializer=self._initializer(),
            dtype=self.dtype_policy, name="output_dense")
        self.output_dense.build(
            tuple(input_shape[:-1]) + (self.intermediate_size,))
        self.output_dropout = keras.layers.Dropout(
            self.hidden_dropout, dtype=self.dtype_policy, name="output_dropout")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_eps, dtype=self.dtype_policy,
            name="output_layer_norm")
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, inputs, attention_mask=None, training=None):
        """Runs the block.

        Args:
            inputs: [B, S, H] float tensor.
            attention_mask: bool tensor broadcastable to [B, S, S]; False
                marks keys (padding) that no query may attend to. [B, 1, S]
                is enough for padding and costs S times less memory.
            training: bool. Whether dropout is active.
        """
        attended = self.self_attention(
            inputs, inputs, attention_mask=attention_mask, training=training)
        x = self.self_attention_layer_norm(
            inputs + self.self_attention_dropout(attended, training=training))
        hidden = self.output_dense(self.intermediate_dense(x))  # [B, S, H]
        return self.output_layer_norm(
            x + self.output_dropout(hidden, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            intermediate_size=self.intermediate_size,
            hidden_act=self.hidden_act,
            hidden_dropout=self.hidden_dropout,
            attention_dropout=self.attention_dropout,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
        )
        return config
