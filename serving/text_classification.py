"""Serving modules for sentence (pair) classification, regression and
multiple choice: raw text in, task outputs out, tokenization in the graph.

Shape legend: B batch, C classes or choices, L the batch's longest packed
sequence (inputs are padded to it, never to max_seq_length).

Every module exposes, as `signatures()`:
- `serving_default`: raw strings (`text_a` [B], `text_b` [B] for pair
  tasks; SWAG: `context`, `ending0..3`) -> class ids, class names and
  probabilities (STS-B: `score`; SWAG: `probabilities`, `best_ending`).
  Over-long inputs are trimmed to the model's max_seq_length the way
  training trimmed them: the longer segment loses its last pieces first.
- `tokenized`: the same outputs from int32 `input_word_ids`, `input_mask`,
  `input_type_ids` ([B, L], SWAG [B, C, L]) for clients that tokenize.
- classification / regression tasks: `classification` (or `regression`) on
  serialized tf.Example with string features `text_a` (and `text_b`), in
  the form TF Serving's Classify (Regress) RPC requires: input `inputs`,
  outputs `classes` + `scores` (`outputs`). Their SignatureDef method names
  are fixed after saving (`serving.signatures`).
"""

import tensorflow as tf

_STRING = tf.TensorSpec([None], tf.string)


def tokenized_signature(outputs_fn, prefix_shape=()):
    """A tf.function of the three int32 model inputs, by their names."""
    spec = tf.TensorSpec([None, *prefix_shape, None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def serve_ids(input_word_ids, input_mask, input_type_ids):
        return outputs_fn({"input_word_ids": input_word_ids,
                           "input_mask": input_mask,
                           "input_type_ids": input_type_ids})

    return serve_ids


def pack(tokenizer, segments, max_seq_length):
    """Tokenizes and packs [B] strings (1 or 2 segments) into model inputs
    padded to the batch's longest sequence."""
    ids, types = tokenizer.combine(
        [tokenizer.tokenize(texts) for texts in segments], max_seq_length)
    return {"input_word_ids": ids.to_tensor(tokenizer.pad_id),
            "input_mask": tf.ones_like(ids).to_tensor(0),
            "input_type_ids": types.to_tensor(0)}


class ClassifierServing(tf.Module):
    """A fine-tuned `BertClassifier` (GLUE task) behind serving signatures.

    Args:
        model: the fine-tuned BertClassifier.
        tokenizer: `bert_tf.BertTokenizer` of its vocabulary.
        task: the task description kept with the model (labels, is_pair,
            max_seq_length).
    """

    def __init__(self, model, tokenizer, task):
        super().__init__(name="classifier_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.is_pair = bool(task["is_pair"])
        self.max_seq_length = int(task["max_seq_length"])
        self.is_regression = task["labels"] is None
        labels = task["labels"] or []
        self.labels = tf.constant(labels, tf.string)
        self.input_names = ["text_a", "text_b"] if self.is_pair \
            else ["text_a"]

    def _outputs(self, inputs):
        logits = tf.cast(self.model(inputs, training=False)["logits"],
                         tf.float32)  # [B, C]
        if self.is_regression:
            return {"score": logits[:, 0]}
        class_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"class_ids": class_ids,
                "class_names": tf.gather(self.labels, class_ids),
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def _from_text(self, texts):
        return self._outputs(pack(self.tokenizer, texts,
                                  self.max_seq_length))

    def signatures(self):
        if self.is_pair:
            serve_text = tf.function(
                lambda text_a, text_b: self._from_text([text_a, text_b]),
                input_signature=[_STRING, _STRING])
        else:
            serve_text = tf.function(
                lambda text_a: self._from_text([text_a]),
                input_signature=[_STRING])
        serve_ids = tokenized_signature(self._outputs)
        serve_examples = tf.function(self._from_examples,
                                     input_signature=[_STRING])
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
            return {"regression": "tensorflow/serving/regress"}
        return {"classification": "tensorflow/serving/classify"}

    def warmup_inputs(self):
        """One example request per raw-text signature (for warmup)."""
        texts = {"text_a": ["A short warm-up sentence."],
                 "text_b": ["And a second one for the pair."]}
        return {"serving_default": {n: texts[n] for n in self.input_names}}


class MultipleChoiceServing(tf.Module):
    """A fine-tuned `BertMultipleChoice` (SWAG) behind serving signatures.

    `serving_default`: `context` [B] and `ending0` .. `ending{C-1}` [B]
    (each the whole second sentence, its start included) ->
    `probabilities` [B, C] and `best_ending` [B].
    """

    def __init__(self, model, tokenizer, task):
        super().__init__(name="multiple_choice_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.num_choices = int(task["num_choices"])
        self.max_seq_length = int(task["max_seq_length"])

    def _outputs(self, inputs):
        logits = tf.cast(self.model(inputs, training=False)["logits"],
                         tf.float32)  # [B, C]
        return {"probabilities": tf.nn.softmax(logits, axis=-1),
                "best_ending": tf.argmax(logits, axis=-1,
                                         output_type=tf.int32)}

    def _from_text(self, context, *endings):
        choices = self.num_choices
        flat_endings = tf.reshape(tf.stack(endings, axis=1), [-1])  # [B*C]
        flat = pack(self.tokenizer,
                    [tf.repeat(context, choices), flat_endings],
                    self.max_seq_length)
        inputs = {name: tf.reshape(value, [-1, choices, tf.shape(value)[-1]])
                  for name, value in flat.items()}  # [B, C, L]
        return self._outputs(inputs)

    def signatures(self):
        serve_text = tf.function(self._from_text)
        serve_ids = tokenized_signature(self._outputs, (self.num_choices,))
        self.serve_text, self.serve_ids = serve_text, serve_ids
        names = ["context"] + [f"ending{i}" for i in range(self.num_choices)]
        return {"serving_default": _named_concrete(serve_text, names),
                "tokenized": serve_ids.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        inputs = {"context": ["A man walks to the door."]}
        for i in range(self.num_choices):
            inputs[f"ending{i}"] = [f"He opens it, choice {i}."]
        return {"serving_default": inputs}


def _named_concrete(function, names):
    """A concrete function of `function` whose inputs are named `names`."""
    return function.get_concrete_function(
        *[tf.TensorSpec([None], tf.string, name=n) for n in names])
