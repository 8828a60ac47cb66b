"""TF Hub-style BERT exports: a preprocessing SavedModel and an encoder.

Code written for TF Hub's BERT models works unchanged with the pair:

    preprocessor = tf.saved_model.load("exports/encoder_preprocess/1")
    encoder = tf.saved_model.load("exports/encoder/1")
    inputs = preprocessor(tf.constant(["hello world"]))   # seq_length 128
    # or: tokens = [preprocessor.tokenize(a), preprocessor.tokenize(b)]
    #     inputs = preprocessor.bert_pack_inputs(tokens, seq_length=64)
    outputs = encoder(inputs)      # pooled_output, sequence_output,
                                   # encoder_outputs (one per layer)

and from Keras 3: `keras.layers.TFSMLayer(encoder_dir, call_endpoint="serve",
call_training_endpoint="train", trainable=True)` (a dict of the three
inputs in; `pooled_output`, `sequence_output`, `encoder_outputs_0` ...
out), which fine-tunes like any layer; or from tf-keras,
`hub.KerasLayer(encoder_dir, trainable=True)`, which reads the Reusable
SavedModel attributes (`variables`, `trainable_variables`,
`regularization_losses`). TF Serving answers the `serving_default`
signature (the three inputs by name).

Shape legend: B batch, W words, P pieces, L seq_length, H hidden.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf import tokenization

_STRING = tf.TensorSpec([None], tf.string)
_IDS = tf.TensorSpec([None, None], tf.int32)
_INPUTS = {"input_word_ids": _IDS, "input_mask": _IDS, "input_type_ids": _IDS}
DEFAULT_SEQ_LENGTH = 128


class Preprocessor(tf.Module):
    """Strings -> the encoder's inputs, with `tokenize` and
    `bert_pack_inputs` for sentence pairs, as TF Hub's BERT preprocessors.

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        seq_length: int. Length the default call pads to.
    """

    def __init__(self, tokenizer, seq_length=DEFAULT_SEQ_LENGTH):
        super().__init__(name="bert_preprocessor")
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.seq_length = seq_length
        self.tokenize = tf.function(self._tokenize, input_signature=[_STRING])
        self.bert_pack_inputs = tf.function(self._pack)
        self.__call__ = tf.function(
            lambda text: self._pack([self._tokenize(text)], seq_length),
            input_signature=[_STRING])
        for segments in (1, 2):
            for ragged_rank in (1, 2):
                spec = tf.RaggedTensorSpec([None] + [None] * ragged_rank,
                                           tf.int32, ragged_rank=ragged_rank)
                self.bert_pack_inputs.get_concrete_function(
                    [spec] * segments, tf.TensorSpec([], tf.int32))

    def _tokenize(self, text):
        """[B] strings -> ragged [B, (W), (P)] word-piece ids per word."""
        words = tokenization.split_words(text, self.tokenizer.lower_case)
        pieces = self.tokenizer.tokenize(words.flat_values)  # [B*W, (P)]
        return words.with_flat_values(pieces)

    def _pack(self, segments, seq_length=DEFAULT_SEQ_LENGTH):
        """1 or 2 ragged [B, (W), (P)] or [B, (P)] -> int32 [B, L] inputs;
        over-long inputs trimmed as training trims them."""
        seq_length = tf.cast(seq_length, tf.int64)
        flat = [s.merge_dims(1, 2) if s.ragged_rank == 2 else s
                for s in segments]
        budget = seq_length - 1 - len(flat)
        trimmed = tokenization.trim_round_robin(
            [tf.cast(s, tf.int32) for s in flat], budget)
        ids, types = tf_text.combine_segments(
            trimmed, self.tokenizer.cls_id, self.tokenizer.sep_id)
        return self.tokenizer.model_inputs(ids, types, seq_length)

    def signatures(self):
        return {"serving_default": self.__call__.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        return {"serving_default": {"text": ["A warm-up sentence."]}}


class Encoder(tf.Module):
    """A `BertEncoder` as a TF Hub-style encoder SavedModel.

    `__call__(inputs, training=False)` returns pooled_output [B, H],
    sequence_output [B, L, H] and encoder_outputs (list of [B, L, H]);
    `serve(inputs)` (inference), `train(inputs)` (dropout on) and the
    `serving_default` signature return the same with encoder_outputs as
    `encoder_outputs_0` ....

    The loaded object is a Reusable SavedModel, as TF Hub defines it:
    `variables`, `trainable_variables` (the weights `hub.KerasLayer(...,
    trainable=True)` fine-tunes) and `regularization_losses` (none).
    """

    # TF Hub reads these as attributes of the loaded object. tf.Module's
    # properties of the same names are computed, not saved: plain attributes
    # set in __init__ replace them.
    variables = None
    trainable_variables = None

    def __init__(self, encoder):
        super().__init__(name="bert_encoder")
        self.encoder = encoder
        # Tracked so the `train` signature may use them: the dropout seed
        # generators' states.
        self.encoder_state = list(encoder.non_trainable_variables)
        self.variables = list(encoder.variables)
        self.trainable_variables = list(encoder.trainable_variables)
        # No weight regularizers in BERT (weight decay is the optimizer's).
        self.regularization_losses = []
        self.num_layers = encoder.config.num_hidden_layers
        self.__call__ = tf.function(self._call)
        for training in (False, True):
            self.__call__.get_concrete_function(_INPUTS, training)

    def _call(self, inputs, training=False):
        outputs = self.encoder(inputs, training=training)
        return {"pooled_output": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"],
                "encoder_outputs": list(outputs["encoder_outputs"]),
                "default": outputs["pooled_output"]}

    def _flat(self, inputs, training):
        outputs = self._call(inputs, training)
        flat = {"pooled_output": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"]}
        for i, layer in enumerate(outputs["encoder_outputs"]):
            flat[f"encoder_outputs_{i}"] = layer
        return flat

    def signatures(self):
        # Attributes (dict in, dict out) for TFSMLayer and direct calls...
        self.serve = tf.function(lambda inputs: self._flat(inputs, False),
                                 input_signature=[_INPUTS])
        self.train = tf.function(lambda inputs: self._flat(inputs, True),
                                 input_signature=[_INPUTS])

        # ...and a signature with named inputs for TF Serving.
        @tf.function(input_signature=[_IDS, _IDS, _IDS])
        def serving_default(input_word_ids, input_mask, input_type_ids):
            return self._flat({"input_word_ids": input_word_ids,
                               "input_mask": input_mask,
                               "input_type_ids": input_type_ids}, False)

        return {"serving_default": serving_default.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        vocab_size = self.encoder.config.vocab_size
        ids = [[1 % vocab_size, 2 % vocab_size, 3 % vocab_size, 0]]
        return {"serving_default": {
            "input_word_ids": tf.constant(ids, tf.int32),
            "input_mask": tf.constant([[1, 1, 1, 0]], tf.int32),
            "input_type_ids": tf.constant([[0, 0, 0, 0]], tf.int32)}}
