"""Serving module for extractive question answering (SQuAD v1.1 / v2.0):
a question and its context in, the answer's text and character offsets out,
everything computed in the graph.

Shape legend: B batch, W windows of the whole batch, L the longest packed
window, K = min(n_best_size, L).

`serving_default`: `question` [B], `context` [B] strings ->
- `answer` [B] string: the answer cut out of the context ("" for none);
- `start`, `end` [B] int64: its Unicode code point offsets in the context,
  `context[start:end] == answer` in Python (-1, -1 for "");
- `score` [B] float: the answer's start logit + end logit (v2.0's "": the
  null score; no candidate at all: 0);
- v2.0 only, `null_odds` [B] float: null score minus the best span's (what
  null_odds.json holds; the answer is "" when it exceeds the model's
  --null_score_diff_threshold).

The answer is the one tasks.finetune writes to predictions.json for the
same question (postprocessing.py's rule): the question keeps
its first max_query_length pieces; a context of any length is cut into
windows of the model's max_seq_length, doc_stride pieces apart, as in
training (features.py); in each window the top
n_best_size start and end logits form the candidate spans (inside the
context, start <= end, at most max_answer_length pieces, the start piece in
the window where it has the most context); the best start + end logit sum
over all windows wins, ties going to the earlier window. Offsets count
code points of the context once bytes that are not UTF-8 are dropped (for
valid UTF-8 input, the context itself). A question or context of more than
the export's max_text_bytes is answered INVALID_ARGUMENT; below it, memory
grows linearly with the context (the model runs on slices of windows: see
bert_tf/tasks/serving_ops.py).

Two implementations: this one runs inside TF Serving, where there is no
Python; evaluation keeps features.py + postprocessing.py, which also write
nbest_predictions.json and null_odds.json in the official formats. They are
held equal by serving_test.py beside them (and, on the real SQuAD files, by
tests/served_matches_evaluated_test.py).

`tokenized`: `input_word_ids`, `input_mask`, `input_type_ids` int32 [B, L]
(one packed window each) -> `start_logits`, `end_logits` float [B, L], for
clients that tokenize and decode themselves.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.tasks.question_answering import features
from bert_tf.tasks.question_answering import postprocessing
from bert_tf.tasks import serving_ops
from bert_tf import tokenization



def _flat_gather(values, indices, valid):
    """values[indices] where `valid`, 0 elsewhere; safe for empty values."""
    padded = tf.concat([values, tf.zeros([1], values.dtype)], axis=0)
    size = tf.shape(values, out_type=indices.dtype)[0]
    return tf.gather(padded, tf.where(valid, indices, size))


class QuestionAnsweringServing(serving_ops.ServingModule):
    """A fine-tuned `BertSpanLabeler` (SQuAD) behind serving signatures.

    Args:
        model: the fine-tuned BertSpanLabeler.
        tokenizer: `bert_tf.BertTokenizer` of its vocabulary.
        description: `task.Description` kept with the model: its
            max_seq_length, version and `Options` (windows, decoding).
        max_text_bytes: int. Longest question or context accepted
            (`serving_ops.checked_texts`).
    """

    def __init__(self, model, tokenizer, description,
                 max_text_bytes=serving_ops.DEFAULT_MAX_TEXT_BYTES):
        super().__init__(model, tokenizer, description, max_text_bytes,
                         name="question_answering_serving")
        self.max_query_length = int(description.options.max_query_length)
        self.doc_stride = int(description.options.doc_stride)
        self.max_answer_length = int(
            description.options.max_answer_length)
        self.n_best_size = int(description.options.n_best_size)
        self.version_2 = bool(description.version_2_with_negative)
        self.null_threshold = float(
            description.options.null_score_diff_threshold)
        features.check_lengths(self.max_seq_length, self.max_query_length,
                               self.doc_stride)

    def _windows(self, question, context):
        """Packed windows of every question; see features."""
        tokenizer = self.tokenizer
        query = tokenizer.tokenize(question)[:, :self.max_query_length]
        ids, starts, ends = tokenizer.tokenize_with_offsets(context)
        pieces = ids.row_lengths()  # [B]
        room = self.max_seq_length - 3 - query.row_lengths()  # [B]
        stride = tf.minimum(room, self.doc_stride)
        extra = tf.maximum(pieces - room, 0)
        count = (extra + stride - 1) // stride + 1  # windows per question
        example = tf.repeat(tf.range(tf.size(count, tf.int64)), count)  # [W]
        window_start = (tf.ragged.range(count).flat_values
                        * tf.gather(stride, example))
        length = tf.minimum(tf.gather(pieces, example) - window_start,
                            tf.gather(room, example))  # [W]
        first = tf.gather(ids.row_splits[:-1], example) + window_start
        positions = tf.ragged.range(first, first + length)  # [W, (P)] flat
        packed, types = tf_text.combine_segments(
            [tf.gather(query, example),
             tf.gather(ids.flat_values, positions)],
            tokenizer.cls_id, tokenizer.sep_id)
        return {
            "inputs": tokenizer.model_inputs(packed, types),
            "example": example, "positions": positions,
            "first_piece": first,
            "context_offset": tf.gather(query.row_lengths(), example) + 2,
            "starts": starts.flat_values, "ends": ends.flat_values,
            "num_questions": tf.size(count),
        }

    @staticmethod
    def _max_context(positions, total):
        """bool [W, P + 1]: whether each window piece has its most context
        in this window (features.max_context_windows)."""
        lengths = positions.row_lengths()
        local = tf.ragged.range(lengths)  # [W, (P)]
        right = tf.expand_dims(lengths, 1) - 1 - local
        score = (tf.cast(tf.minimum(local, right), tf.float64)
                 + 0.01 * tf.cast(tf.expand_dims(lengths, 1), tf.float64))
        piece = positions.flat_values
        window = positions.value_rowids()
        best = tf.math.unsorted_segment_max(score.flat_values, piece, total)
        is_best = tf.equal(score.flat_values, tf.gather(best, piece))
        first_best = tf.math.unsorted_segment_min(
            tf.where(is_best, window, tf.int64.max), piece, total)
        is_max = positions.with_flat_values(
            tf.equal(window, tf.gather(first_best, piece)))
        # One padding column so an empty window can still be indexed.
        return tf.pad(is_max.to_tensor(False), [[0, 0], [0, 1]])

    def _window_best(self, windows, start_logits, end_logits):
        """(score [W] float64, -inf without a span; start, end [W] int64
        packed positions) of each window's best candidate span."""
        positions = windows["positions"]
        lengths = tf.shape(start_logits)[1]
        real = tf.sequence_mask(
            tf.reduce_sum(windows["inputs"]["input_mask"], axis=1), lengths)
        k = tf.minimum(self.n_best_size, lengths)
        top_starts = tf.math.top_k(
            tf.where(real, start_logits, -float("inf")), k).indices
        top_ends = tf.math.top_k(
            tf.where(real, end_logits, -float("inf")), k).indices
        starts = tf.cast(top_starts, tf.int64)[:, :, None]  # [W, K, 1]
        ends = tf.cast(top_ends, tf.int64)[:, None, :]  # [W, 1, K]
        first = windows["context_offset"][:, None, None]
        stop = first + positions.row_lengths()[:, None, None]
        max_context = self._max_context(
            positions, tf.size(windows["starts"], tf.int64))
        inside = tf.clip_by_value(
            starts - first, 0,
            tf.cast(tf.shape(max_context)[1], tf.int64) - 1)
        valid = ((starts >= first) & (starts < stop) & (ends >= first)
                 & (ends < stop) & (ends >= starts)
                 & (ends - starts + 1 <= self.max_answer_length)
                 & tf.gather(max_context, inside[:, :, 0], batch_dims=1)[
                     :, :, None])
        scores = (tf.gather(start_logits, top_starts, batch_dims=1)[:, :, None]
                  + tf.gather(end_logits, top_ends, batch_dims=1)[:, None, :])
        flat = tf.reshape(tf.where(valid, scores, -float("inf")),
                          [tf.shape(scores)[0], -1])  # start rank major
        best = tf.argmax(flat, axis=1)
        k = tf.cast(k, tf.int64)
        return (tf.reduce_max(flat, axis=1),
                tf.gather(starts[:, :, 0], best // k, batch_dims=1),
                tf.gather(ends[:, 0, :], best % k, batch_dims=1))

    def _answers(self, context, windows, outputs):
        start_logits = tf.cast(outputs["start_logits"], tf.float64)
        end_logits = tf.cast(outputs["end_logits"], tf.float64)
        example = windows["example"]
        batch = windows["num_questions"]
        score, start, end = self._window_best(windows, start_logits,
                                              end_logits)
        best = tf.math.unsorted_segment_max(score, example, batch)  # [B]
        is_top = (score == tf.gather(best, example)) & (score > -float("inf"))
        num_windows = tf.size(example, tf.int64)
        window = tf.math.unsorted_segment_min(
            tf.where(is_top, tf.range(num_windows), num_windows), example,
            batch)  # [B]; num_windows where no span
        has_span = window < num_windows
        window = tf.minimum(window, tf.maximum(num_windows - 1, 0))
        # Packed positions -> context pieces (flat) -> characters.
        piece_base = tf.gather(windows["first_piece"] - windows[
            "context_offset"], window)
        char_start = _flat_gather(windows["starts"],
                                  piece_base + tf.gather(start, window),
                                  has_span)
        char_end = _flat_gather(windows["ends"],
                                piece_base + tf.gather(end, window), has_span)
        text = tokenization.clean_utf8(context)
        char_end = self._past_combining_marks(text, char_end)
        # One static shape for substr (a caller may fix the batch size).
        char_start = tf.reshape(char_start, tf.shape(text))
        char_end = tf.reshape(char_end, tf.shape(text))
        if self.version_2:
            null_score = tf.math.unsorted_segment_min(
                start_logits[:, 0] + end_logits[:, 0], example, batch)
            null_odds = tf.where(has_span, null_score - best,
                                 postprocessing.NO_SPAN_ODDS)
            answered = null_odds <= self.null_threshold
            answer_score = tf.where(answered, best, null_score)
        else:
            answered = has_span
            answer_score = tf.where(has_span, best, 0.0)
        start_out = tf.where(answered, char_start, -1)
        end_out = tf.where(answered, char_end, -1)
        answer = tf.where(answered, tf.strings.substr(
            text, char_start, tf.maximum(char_end - char_start, 0),
            unit="UTF8_CHAR"), "")
        result = {"answer": answer, "start": start_out, "end": end_out,
                  "score": tf.cast(answer_score, tf.float32)}
        if self.version_2:
            result["null_odds"] = tf.cast(null_odds, tf.float32)
        return result

    @staticmethod
    def _past_combining_marks(text, char_end):
        """`char_end` moved past the combining marks (Mn) right after it,
        as features.span_text does."""
        chars = tf.strings.unicode_split(text, "UTF-8")  # [B, (C)]
        is_mark = tf.strings.regex_full_match(chars.flat_values, r"\p{Mn}")
        stops = tf.where(~is_mark)[:, 0]  # flat positions that are not marks
        row_start, row_limit = chars.row_starts(), chars.row_limits()
        flat_end = row_start + tf.maximum(char_end, 0)
        next_stop = tf.gather(
            tf.concat([stops, [tf.int64.max]], axis=0),
            tf.searchsorted(stops, flat_end, side="left", out_type=tf.int64))
        return tf.minimum(next_stop, row_limit) - row_start

    def _from_text(self, question, context):
        checked = serving_ops.checked_texts(
            {"question": question, "context": context}, self.limit)
        question, context = checked["question"], checked["context"]
        windows = self._windows(question, context)
        return self._answers(context, windows, self._logits(
            windows["inputs"]))

    def _logits(self, inputs):
        return serving_ops.call_in_chunks(
            self.model, inputs, ["start_logits", "end_logits"])

    def signatures(self):
        self.serve_text = tf.function(self._from_text,
                                      input_signature=[serving_ops.STRING,
                                                       serving_ops.STRING])
        self.serve_ids = serving_ops.tokenized_signature(
            self._logits)
        return {"serving_default": self.serve_text.get_concrete_function(),
                "tokenized": self.serve_ids.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        return {"serving_default": {
            "question": ["Where does the river end?"],
            "context": ["The river rises in the hills and ends in the "
                        "northern sea, far from the old town. " * 8]}}


# What `python -m serving.export` saves for a model of this family.
SERVING_MODULE = QuestionAnsweringServing
