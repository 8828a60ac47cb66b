"""The BERT encoder (Devlin et al., 2018) as a Keras functional model.

Shape legend: B batch, S sequence, H hidden, L layers.
"""

import keras
import keras_hub

from bert_tf import configs
from bert_tf.layers import transformer_block

# The input names of TF Hub's BERT encoders, kept so exported models are
# drop-in replacements.
INPUT_NAMES = ("input_word_ids", "input_mask", "input_type_ids")


def encoder_inputs(prefix_shape=()):
    """`keras.Input`s for the encoder, [B, *prefix_shape, S] int32 each."""
    return {
        name: keras.Input(shape=tuple(prefix_shape) + (None,), dtype="int32",
                          name=name)
        for name in INPUT_NAMES
    }


@keras.saving.register_keras_serializable(package="bert_tf")
class BertEncoder(keras.Model):
    """BERT: token + segment + learned position embeddings, L Transformer layers.

    Inputs are a dict of int32 [B, S] tensors named as TF Hub's BERT encoders:
    `input_word_ids`, `input_mask` (1 for real tokens, 0 for padding) and
    `input_type_ids` (segment ids). Outputs are a dict:
    `sequence_output` [B, S, H], `pooled_output` [B, H] (tanh dense on the
    first token, [CLS]) and `encoder_outputs` (a list of L [B, S, H] tensors,
    one per layer, as google-research's `extract_features.py` offered).

    Padding never changes the outputs at real positions: padded keys are
    masked out of every attention.

    The sub-layer names (`token_embedding`, `segment_embedding`,
    `position_embedding`, `embeddings_layer_norm`, `transformer_layer_{i}`,
    `pooled_dense`) are the contract that `bert_tf.checkpoints` converts
    weights by; renaming one breaks checkpoints.

    Args:
        config: `bert_tf.BertConfig` (or its dict). The architecture.
        dtype: Optional dtype policy, e.g. "mixed_bfloat16".

    Example:
    >>> import tensorflow as tf
    >>> config = bert_tf.BertConfig.preset("tiny", vocab_size=100)
    >>> encoder = bert_tf.BertEncoder(config)
    >>> ids = tf.constant([[2, 7, 3, 0]])
    >>> outputs = encoder({"input_word_ids": ids,
    ...                    "input_mask": tf.cast(ids > 0, tf.int32),
    ...                    "input_type_ids": tf.zeros_like(ids)})
    >>> outputs["sequence_output"].shape
    TensorShape([1, 4, 128])
    """

    def __init__(self, config, dtype=None, **kwargs):
        if isinstance(config, dict):
            config = configs.BertConfig.from_dict(config)
        kwargs.setdefault("name", "bert_encoder")

        def initializer():
            return keras.initializers.TruncatedNormal(
                stddev=config.initializer_range)

        # === Layers ===
        token_embedding = keras_hub.layers.ReversibleEmbedding(
            input_dim=config.vocab_size,
            output_dim=config.hidden_size,
            tie_weights=True,
            embeddings_initializer=initializer(),
            dtype=dtype,
            name="token_embedding",
        )
        position_embedding = keras_hub.layers.PositionEmbedding(
            sequence_length=config.max_position_embeddings,
            initializer=initializer(),
            dtype=dtype,
            name="position_embedding",
        )
        segment_embedding = keras.layers.Embedding(
            input_dim=config.type_vocab_size,
            output_dim=config.hidden_size,
            embeddings_initializer=initializer(),
            dtype=dtype,
            name="segment_embedding",
        )
        embeddings_add = keras.layers.Add(dtype=dtype, name="embeddings_add")
        embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_eps, dtype=dtype,
            name="embeddings_layer_norm")
        embeddings_dropout = keras.layers.Dropout(
            config.hidden_dropout_prob, dtype=dtype, name="embeddings_dropout")
        transformer_layers = [
            transformer_block.TransformerBlock(
                num_heads=config.num_attention_heads,
                intermediate_size=config.intermediate_size,
                hidden_act=config.hidden_act,
                hidden_dropout=config.hidden_dropout_prob,
                attention_dropout=config.attention_probs_dropout_prob,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(config.num_hidden_layers)
        ]
        pooled_dense = keras.layers.Dense(
            config.hidden_size,
            activation="tanh",
            kernel_initializer=initializer(),
            dtype=dtype,
            name="pooled_dense",
        )

        # === Functional model ===
        inputs = encoder_inputs()
        tokens = token_embedding(inputs["input_word_ids"])  # [B, S, H]
        x = embeddings_add([
            tokens,
            position_embedding(tokens),
            segment_embedding(inputs["input_type_ids"]),
        ])
        x = embeddings_dropout(embeddings_layer_norm(x))
        # [B, 1, S]: one row of key flags shared by all queries; padded keys
        # get a large negative logit inside the softmax.
        attention_mask = keras.ops.expand_dims(
            keras.ops.cast(inputs["input_mask"], "bool"), axis=1)
        encoder_outputs = []
        for layer in transformer_layers:
            x = layer(x, attention_mask=attention_mask)
            encoder_outputs.append(x)
        pooled = pooled_dense(x[:, 0, :])  # [B, H]
        super().__init__(
            inputs=inputs,
            outputs={
                "sequence_output": x,
                "pooled_output": pooled,
                "encoder_outputs": encoder_outputs,
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.config = config
        self.token_embedding = token_embedding
        self.transformer_layers = transformer_layers

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "dtype" in config and isinstance(config["dtype"], dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
