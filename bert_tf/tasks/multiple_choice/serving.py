"""Serving module for multiple choice (SWAG): raw text in, the choice's
probabilities out, tokenization in the graph.

`MultipleChoiceServing.signatures()`:
- `serving_default`: `context` [B] and `ending0` .. `ending{C-1}` [B] ->
  `probabilities` [B, C] and `best_ending` [B]; each (context, ending) pair
  is trimmed to max_seq_length as training trimmed it.
- `tokenized`: the same outputs from int32 `input_word_ids`, `input_mask`,
  `input_type_ids` [B, C, L] for clients that tokenize.
"""

import tensorflow as tf

from bert_tf.tasks import serving_ops


class MultipleChoiceServing(serving_ops.ServingModule):
    """A fine-tuned `BertMultipleChoice` (SWAG) behind serving signatures.

    `serving_default`: `context` [B] and `ending0` .. `ending{C-1}` [B]
    (each the whole second sentence, its start included) ->
    `probabilities` [B, C] and `best_ending` [B]. Arguments as
    `ClassifierServing`'s.
    """

    def __init__(self, model, tokenizer, description,
                 max_text_bytes=serving_ops.DEFAULT_MAX_TEXT_BYTES):
        super().__init__(model, tokenizer, description, max_text_bytes,
                         name="multiple_choice_serving")
        self.num_choices = int(description.num_choices)

    def _outputs(self, inputs):
        logits = serving_ops.call_in_chunks(self.model, inputs, ["logits"])[
            "logits"]  # [B, C]
        return {"probabilities": tf.nn.softmax(logits, axis=-1),
                "best_ending": tf.argmax(logits, axis=-1,
                                         output_type=tf.int32)}

    def _from_text(self, context, *endings):
        choices = self.num_choices
        names = ["context"] + [f"ending{i}" for i in range(choices)]
        checked = serving_ops.checked_texts(
            dict(zip(names, (context, *endings))), self.limit)
        context = checked["context"]
        endings = [checked[name] for name in names[1:]]
        flat_endings = tf.reshape(tf.stack(endings, axis=1), [-1])  # [B*C]
        flat = self.tokenizer.encode(
            tf.repeat(context, choices), flat_endings, self.max_seq_length,
            pad_to_seq_length=False)
        inputs = {name: tf.reshape(value, [-1, choices, tf.shape(value)[-1]])
                  for name, value in flat.items()}  # [B, C, L]
        return self._outputs(inputs)

    def signatures(self):
        serve_text = tf.function(self._from_text)
        serve_ids = serving_ops.tokenized_signature(self._outputs,
                                                    (self.num_choices,))
        self.serve_text, self.serve_ids = serve_text, serve_ids
        names = ["context"] + [f"ending{i}" for i in range(self.num_choices)]
        return {"serving_default": serving_ops.named_concrete(serve_text,
                                                              names),
                "tokenized": serve_ids.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        inputs = {"context": ["A man walks to the door."]}
        for i in range(self.num_choices):
            inputs[f"ending{i}"] = [f"He opens it, choice {i}."]
        return {"serving_default": inputs}


# What `python -m serving.export` saves for a model of this family.
SERVING_MODULE = MultipleChoiceServing
