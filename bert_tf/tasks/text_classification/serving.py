"""Serving module for sentence (pair) classification and regression (GLUE):
raw text in, task outputs out, tokenization in the graph.

Shape legend: B batch, C classes, L the batch's longest packed sequence.

`ClassifierServing.signatures()`:
- `serving_default`: raw strings `text_a` [B] (and `text_b` [B] for pair
  tasks) -> class ids, class names and probabilities (STS-B: `score`).
  Over-long inputs are trimmed to the model's max_seq_length the way
  training trimmed them: the longer segment loses its last pieces first.
- `tokenized`: the same outputs from int32 `input_word_ids`, `input_mask`,
  `input_type_ids` [B, L] for clients that tokenize.
- `classification` (or `regression` for STS-B) on serialized tf.Example
  with string features `text_a` (and `text_b`), in the form TF Serving's
  Classify (Regress) RPC requires: input `inputs`, outputs `classes` +
  `scores` (`outputs`). Their SignatureDef method names are set after
  saving (`method_names`).

The pieces every family's module shares are in `bert_tf.tasks.serving_ops`.
"""

import tensorflow as tf

from bert_tf.tasks import serving_ops


class ClassifierServing(serving_ops.ServingModule):
    """A fine-tuned `BertClassifier` (GLUE task) behind serving signatures.

    Args:
        model: the fine-tuned BertClassifier.
        tokenizer: `bert_tf.BertTokenizer` of its vocabulary.
        description: `task.Description` kept with the model (labels,
            is_pair, max_seq_length).
        max_text_bytes: int. Longest raw text accepted (see
            `checked_texts`).
    """

    def __init__(self, model, tokenizer, description,
                 max_text_bytes=serving_ops.DEFAULT_MAX_TEXT_BYTES):
        super().__init__(model, tokenizer, description, max_text_bytes,
                         name="classifier_serving")
        self.is_pair = bool(description.is_pair)
        self.is_regression = description.labels is None
        labels = description.labels or []
        self.labels = tf.constant(labels, tf.string)
        self.input_names = ["text_a", "text_b"] if self.is_pair \
            else ["text_a"]

    def _outputs(self, inputs):
        logits = serving_ops.call_in_chunks(self.model, inputs, ["logits"])[
            "logits"]  # [B, C]
        if self.is_regression:
            return {"score": logits[:, 0]}
        class_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"class_ids": class_ids,
                "class_names": tf.gather(self.labels, class_ids),
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def _from_text(self, texts):
        checked = serving_ops.checked_texts(
            dict(zip(self.input_names, texts)), self.limit)
        texts = [checked[name] for name in self.input_names]
        return self._outputs(self.tokenizer.encode(
            texts[0], texts[1] if self.is_pair else None,
            seq_length=self.max_seq_length, pad_to_seq_length=False))

    def signatures(self):
        if self.is_pair:
            serve_text = tf.function(
                lambda text_a, text_b: self._from_text([text_a, text_b]),
                input_signature=[serving_ops.STRING, serving_ops.STRING])
        else:
            serve_text = tf.function(
                lambda text_a: self._from_text([text_a]),
                input_signature=[serving_ops.STRING])
        serve_ids = serving_ops.tokenized_signature(self._outputs)
        serve_examples = tf.function(self._from_examples,
                                     input_signature=[serving_ops.STRING])
        # Kept as attributes so they are saved with the module.
        self.serve_text, self.serve_ids = serve_text, serve_ids
        self.serve_examples = serve_examples
        extra = "regression" if self.is_regression else "classification"
        return {"serving_default": serve_text.get_concrete_function(),
                "tokenized": serve_ids.get_concrete_function(),
                extra: serve_examples.get_concrete_function()}

    def _from_examples(self, inputs):
        features = tf.io.parse_example(inputs, {
            name: tf.io.FixedLenFeature([], tf.string)
            for name in self.input_names})
        outputs = self._from_text([features[n] for n in self.input_names])
        if self.is_regression:
            return {"outputs": outputs["score"]}
        batch = tf.shape(inputs)[0]
        return {"classes": tf.tile(self.labels[tf.newaxis], [batch, 1]),
                "scores": outputs["probabilities"]}

    def method_names(self):
        """Signature -> TF Serving method name to set after saving."""
        if self.is_regression:
            return {"regression": tf.saved_model.REGRESS_METHOD_NAME}
        return {"classification": tf.saved_model.CLASSIFY_METHOD_NAME}

    def warmup_inputs(self):
        """One example request per raw-text signature (for warmup)."""
        texts = {"text_a": ["A short warm-up sentence."],
                 "text_b": ["And a second one for the pair."]}
        return {"serving_default": {n: texts[n] for n in self.input_names}}


# What `python -m serving.export` saves for a model of this family.
SERVING_MODULE = ClassifierServing
