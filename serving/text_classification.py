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

The pieces every task family's module shares are here too:
- `checked_texts`: each raw text is at most the export's max_text_bytes
  (`serving.export --max_text_bytes`), or the request fails with
  INVALID_ARGUMENT naming the input, the row, its size and the limit: the
  cost of a request is then bounded, so a server can be sized for it.
- `call_in_chunks`: the model runs on slices of at most CHUNK_TOKENS
  tokens, so its activations (attention is [rows, heads, L, L]) stay the
  same size however many windows a long text is cut into.
- an empty batch gives empty outputs of the usual dtypes in every family.
"""

import tensorflow as tf

from bert_tf.layers import encoder as encoder_lib
from serving import signatures

_STRING = tf.TensorSpec([None], tf.string)

# Longest raw text (bytes, per input and row) an export accepts by default;
# see docs/serving.md "Request limits" for what it costs.
DEFAULT_MAX_TEXT_BYTES = 1 << 20
# Tokens (rows x padded length) of one model call inside an export.
CHUNK_TOKENS = 4096


def tokenized_signature(outputs_fn, prefix_shape=()):
    """A tf.function of the three int32 model inputs, by their names; they
    must have equal shapes (INVALID_ARGUMENT naming them otherwise)."""
    spec = tf.TensorSpec([None, *prefix_shape, None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def serve_ids(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids,
                  "input_mask": input_mask,
                  "input_type_ids": input_type_ids}
        return outputs_fn(_equal_shapes(inputs))

    return serve_ids


def _equal_shapes(inputs):
    """`inputs` after a check that their shapes are equal: the model would
    broadcast some mismatches silently and fail deep inside on others."""
    names = encoder_lib.INPUT_NAMES
    shapes = [tf.shape(inputs[name]) for name in names]  # one rank
    same = tf.reduce_all([tf.reduce_all(tf.equal(shape, shapes[0]))
                          for shape in shapes[1:]])
    message = tf.strings.format(
        "the tokenized inputs must have equal shapes; got "
        + ", ".join(f"{name} {{}}" for name in names), shapes)
    check = tf.debugging.Assert(same, [message], name="equal_input_shapes")
    with tf.control_dependencies([check]):
        return {name: tf.identity(value) for name, value in inputs.items()}


def checked_texts(texts, max_text_bytes):
    """`texts` ({input name: [B] strings}) after a check that each input's
    batch, padded to its longest string, is at most `max_text_bytes` bytes.

    The exports pad every row to the batch's longest text (word and piece
    tables, padded outputs), so B x the longest text, not the sum of the
    texts, is what a request costs: one 1 MB text among 1,000 empty ones
    would cost as much as 1,000 texts of 1 MB. Bounding the padded size
    bounds every request by what one text of `max_text_bytes` costs.

    A longer one fails the request with INVALID_ARGUMENT: "context[3] is
    5242880 bytes; this export accepts at most 1048576 per text
    (serving.export --max_text_bytes)", or for a batch: "text_a: 1024 texts
    padded to the longest (2000 bytes) make 2048000 bytes; ...".
    """
    checks = []
    for name, value in texts.items():
        size = tf.strings.length(value)  # bytes, [B]
        too_long = tf.cast(size > max_text_bytes, tf.int32)
        # Padded so that an empty batch still has a row to name.
        row = tf.argmax(tf.concat([too_long, [0]], axis=0),
                        output_type=tf.int32)
        message = tf.strings.format(
            f"{name}[{{}}] is {{}} bytes; this export accepts at most "
            f"{max_text_bytes} per text (serving.export --max_text_bytes)",
            (row, tf.gather(tf.concat([size, [0]], axis=0), row)))
        checks.append(tf.debugging.Assert(
            tf.equal(tf.reduce_max(tf.concat([too_long, [0]], axis=0)), 0),
            [message], name="max_text_bytes"))
        rows = tf.cast(tf.size(size), tf.int64)
        longest = tf.cast(tf.reduce_max(tf.concat([size, [0]], axis=0)),
                          tf.int64)
        padded = rows * longest
        message = tf.strings.format(
            f"{name}: {{}} texts padded to the longest ({{}} bytes) make "
            f"{{}} bytes; this export accepts at most {max_text_bytes} per "
            "request (serving.export --max_text_bytes): send fewer or "
            "shorter texts per request", (rows, longest, padded))
        with tf.control_dependencies(checks[-1:]):  # the per-text one first
            checks.append(tf.debugging.Assert(
                padded <= max_text_bytes, [message],
                name="max_padded_text_bytes"))
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in texts.items()}


def call_in_chunks(model, inputs, output_names, chunk_tokens=CHUNK_TOKENS):
    """`model(inputs)[name]` for `output_names`, as float32, computed on
    slices of rows of at most `chunk_tokens` tokens (at least one row).

    Args:
        model: a Keras model of the three int32 inputs.
        inputs: dict of int32 [R, ..., L] tensors (`encoder_lib.INPUT_NAMES`).
        output_names: the outputs to return, each [R, ...].
        chunk_tokens: int. Tokens per call: bounds the activations.

    Returns:
        {name: float32 [R, ...]}, rows in the order of `inputs`.
    """
    shape = tf.shape(inputs["input_word_ids"])
    rows = shape[0]
    per_row = tf.maximum(tf.reduce_prod(shape[1:]), 1)
    chunk = tf.maximum(chunk_tokens // per_row, 1)
    # One call even for no rows: its outputs give the empty result's shape.
    count = tf.maximum((rows + chunk - 1) // chunk, 1)

    static_shapes = {}  # of one row, recorded when `body` is traced

    def body(i, arrays):
        part = {name: value[i * chunk:(i + 1) * chunk]
                for name, value in inputs.items()}
        outputs = model(part, training=False)
        static_shapes.update(
            {name: outputs[name].shape[1:] for name in output_names})
        return i + 1, [array.write(i, tf.cast(outputs[name], tf.float32))
                       for array, name in zip(arrays, output_names)]

    arrays = [tf.TensorArray(tf.float32, size=count, infer_shape=False)
              for _ in output_names]
    # One slice at a time: parallel iterations would hold several slices'
    # activations at once.
    _, arrays = tf.while_loop(lambda i, _: i < count, body,
                              (tf.constant(0), arrays),
                              parallel_iterations=1)
    results = {}
    for name, array in zip(output_names, arrays):
        results[name] = array.concat()
        results[name].set_shape(
            tf.TensorShape([None]).concatenate(static_shapes[name]))
    return results


def substrings(text, rows, starts, ends):
    """`text[rows[i]][starts[i]:ends[i]]` for every i, with offsets in code
    points (as Python slices a str), without a copy of a text per span.

    Cutting `tf.gather(text, rows)` would copy a whole text once per span:
    words x bytes, 2.5 GB for the words of a 100 KB text. Here the batch is
    joined once and every span is one byte range of the join.

    Args:
        text: [B] strings, valid UTF-8.
        rows, starts, ends: int64 [N]; 0 <= starts <= ends <= the row's
            length in code points.

    Returns:
        [N] strings.
    """
    _, offsets = tf.strings.unicode_decode_with_offsets(text, "UTF-8")
    # Byte position in the join of every character, then of the end: the
    # character after a row's last is the next row's first, whose position
    # is where the row ends.
    row_base = tf.cumsum(tf.cast(tf.strings.length(text), tf.int64),
                         exclusive=True)
    positions = tf.concat([
        offsets.flat_values + tf.gather(row_base, offsets.value_rowids()),
        [tf.reduce_sum(tf.cast(tf.strings.length(text), tf.int64))]], axis=0)
    first_char = tf.gather(offsets.row_splits, rows)
    byte_start = tf.gather(positions, first_char + starts)
    byte_end = tf.gather(positions, first_char + ends)
    return tf.strings.substr(tf.strings.reduce_join(text), byte_start,
                             byte_end - byte_start)


def pack(tokenizer, segments, max_seq_length):
    """Tokenizes and packs [B] strings (1 or 2 segments) into model inputs
    padded to the batch's longest sequence (at least 1, so that an empty
    batch is [0, 1]: the model reads position 0 of every row)."""
    ids, types = tokenizer.combine(
        [tokenizer.tokenize(texts) for texts in segments], max_seq_length)
    return {"input_word_ids": at_least_one_column(
                ids.to_tensor(tokenizer.pad_id)),
            "input_mask": at_least_one_column(
                tf.ones_like(ids).to_tensor(0)),
            "input_type_ids": at_least_one_column(types.to_tensor(0))}


def at_least_one_column(dense):
    missing = tf.maximum(1 - tf.shape(dense)[1], 0)
    return tf.pad(dense, [[0, 0], [0, missing]])


class ClassifierServing(tf.Module):
    """A fine-tuned `BertClassifier` (GLUE task) behind serving signatures.

    Args:
        model: the fine-tuned BertClassifier.
        tokenizer: `bert_tf.BertTokenizer` of its vocabulary.
        task: the task description kept with the model (labels, is_pair,
            max_seq_length).
        max_text_bytes: int. Longest raw text accepted (see
            `checked_texts`).
    """

    def __init__(self, model, tokenizer, task,
                 max_text_bytes=DEFAULT_MAX_TEXT_BYTES):
        super().__init__(name="classifier_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.limit = int(max_text_bytes)
        # Saved with the export, for whoever sizes the server.
        self.max_text_bytes = tf.Variable(self.limit, dtype=tf.int64,
                                          trainable=False,
                                          name="max_text_bytes")
        self.is_pair = bool(task["is_pair"])
        self.max_seq_length = int(task["max_seq_length"])
        self.is_regression = task["labels"] is None
        labels = task["labels"] or []
        self.labels = tf.constant(labels, tf.string)
        self.input_names = ["text_a", "text_b"] if self.is_pair \
            else ["text_a"]

    def _outputs(self, inputs):
        logits = call_in_chunks(self.model, inputs, ["logits"])[
            "logits"]  # [B, C]
        if self.is_regression:
            return {"score": logits[:, 0]}
        class_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"class_ids": class_ids,
                "class_names": tf.gather(self.labels, class_ids),
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def _from_text(self, texts):
        checked = checked_texts(dict(zip(self.input_names, texts)),
                                self.limit)
        return self._outputs(pack(
            self.tokenizer, [checked[n] for n in self.input_names],
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
            return {"regression": signatures.REGRESS_METHOD_NAME}
        return {"classification": signatures.CLASSIFY_METHOD_NAME}

    def warmup_inputs(self):
        """One example request per raw-text signature (for warmup)."""
        texts = {"text_a": ["A short warm-up sentence."],
                 "text_b": ["And a second one for the pair."]}
        return {"serving_default": {n: texts[n] for n in self.input_names}}


class MultipleChoiceServing(tf.Module):
    """A fine-tuned `BertMultipleChoice` (SWAG) behind serving signatures.

    `serving_default`: `context` [B] and `ending0` .. `ending{C-1}` [B]
    (each the whole second sentence, its start included) ->
    `probabilities` [B, C] and `best_ending` [B]. Arguments as
    `ClassifierServing`'s.
    """

    def __init__(self, model, tokenizer, task,
                 max_text_bytes=DEFAULT_MAX_TEXT_BYTES):
        super().__init__(name="multiple_choice_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.limit = int(max_text_bytes)
        self.max_text_bytes = tf.Variable(self.limit, dtype=tf.int64,
                                          trainable=False,
                                          name="max_text_bytes")
        self.num_choices = int(task["num_choices"])
        self.max_seq_length = int(task["max_seq_length"])

    def _outputs(self, inputs):
        logits = call_in_chunks(self.model, inputs, ["logits"])[
            "logits"]  # [B, C]
        return {"probabilities": tf.nn.softmax(logits, axis=-1),
                "best_ending": tf.argmax(logits, axis=-1,
                                         output_type=tf.int32)}

    def _from_text(self, context, *endings):
        choices = self.num_choices
        names = ["context"] + [f"ending{i}" for i in range(choices)]
        checked = checked_texts(dict(zip(names, (context, *endings))),
                                self.limit)
        context = checked["context"]
        endings = [checked[name] for name in names[1:]]
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
