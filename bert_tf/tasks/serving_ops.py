"""Graph pieces every task family's serving module shares.

A serving module (`bert_tf/tasks/<family>/serving.py`) is a tf.Module with
raw text in and the task's outputs out, tokenization in the graph; the
export (`python -m serving.export`) saves it. Shape legend: B batch, L the
batch's longest packed sequence (inputs are padded to it, never to
max_seq_length).

- `checked_texts`: each raw text is at most the export's max_text_bytes
  (`serving.export --max_text_bytes`), or the request fails with
  INVALID_ARGUMENT naming the input, the row, its size and the limit: the
  cost of a request is then bounded, so a server can be sized for it.
- `call_in_chunks`: the model runs on slices of at most CHUNK_TOKENS
  tokens, so its activations (attention is [rows, heads, L, L]) stay the
  same size however many windows a long text is cut into.
- `tokenized_signature`: the `tokenized` signature of every family (int32
  model inputs in, for clients that tokenize).
- `substrings`: cutting answer and entity text out of the request.
- an empty batch gives empty outputs of the usual dtypes in every family.
"""

import tensorflow as tf

from bert_tf.layers import encoder as encoder_lib

STRING = tf.TensorSpec([None], tf.string)

# Longest raw text (bytes, per input and row) an export accepts by default;
# see docs/serving.md "Request limits" for what it costs.
DEFAULT_MAX_TEXT_BYTES = 1 << 20
# Tokens (rows x padded length) of one model call inside an export.
CHUNK_TOKENS = 4096



class ServingModule(tf.Module):
    """What every family's serving module holds: the fine-tuned model, the
    tokenizer (its vocab.txt saved as an asset of the export), the limit on
    each raw text (`limit`; saved as the variable `max_text_bytes` for
    whoever sizes the server) and the model's `max_seq_length`."""

    def __init__(self, model, tokenizer, description, max_text_bytes,
                 name):
        super().__init__(name=name)
        self.model = model
        self.tokenizer = tokenizer
        self.vocab = tf.saved_model.Asset(tokenizer.vocab_file)
        self.limit = int(max_text_bytes)
        self.max_text_bytes = tf.Variable(self.limit, dtype=tf.int64,
                                          trainable=False,
                                          name="max_text_bytes")
        self.max_seq_length = int(description.max_seq_length)

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


def named_concrete(function, names):
    """A concrete function of `function` whose inputs are named `names`."""
    return function.get_concrete_function(
        *[tf.TensorSpec([None], tf.string, name=n) for n in names])
