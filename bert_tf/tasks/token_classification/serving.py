"""Serving module for token classification (CoNLL-2003 NER): text in,
words, their tags and the entities they form out, all in the graph.

Shape legend: B batch, N the batch's most words, E its most entities,
L the longest packed window, T tags.

`serving_default`: `text` [B] strings ->
- `words` [B, N] string, `word_starts`, `word_ends` [B, N] int64: the
  words, as BERT splits text (on whitespace, and around each punctuation
  mark and CJK character), and their Unicode code point offsets
  (`text[start:end] == word` in Python);
- `tags` [B, N] string (IOB2, e.g. "B-PER") and `tag_probabilities`
  [B, N] float: each word's tag is the argmax of the model's tag logits
  at its first word piece (as in training), repaired to valid IOB2 as
  tasks.finetune repairs it (an I-X after O or another type becomes B-X);
- `entities` [B, E] string, `entity_types` [B, E] string ("PER", ...),
  `entity_starts`, `entity_ends` [B, E] int64: the entities the tags
  form, cut out of the text;
- `num_words`, `num_entities` [B] int32: the real length of each row of
  the padded outputs above (padding: "", -1, 0.0; serving.client prints
  the rows without it, see serving/client/inputs.py's PADDED_OUTPUTS).

Long texts are never truncated: words are packed greedily into windows of
the model's max_seq_length ([CLS] and [SEP] included), splitting only
between words, as training split long sentences (data.py);
a single word of more word pieces than a window keeps its first ones.
Offsets count code points of the text once bytes that are not UTF-8 are
dropped (for valid UTF-8 input, the text itself). A text of more than the
export's max_text_bytes is answered INVALID_ARGUMENT; below it, memory
grows linearly with the text (words are cut as byte ranges, the model runs
on slices of windows: see bert_tf/tasks/serving_ops.py).

Two implementations: this one runs inside TF Serving, where there is no
Python; evaluation keeps data.py's `features` and `predicted_tags` (whose
`to_iob2` also converts IOB1 training files). They are held equal by
serving_test.py beside them (and, on the real CoNLL-2003 files, by
tests/served_matches_evaluated_test.py).

`tokenized`: `input_word_ids`, `input_mask`, `input_type_ids` int32 [B, L]
-> `tag_ids` [B, L] int32 and `probabilities` [B, L, T] per word piece,
for clients that tokenize themselves.
"""

import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf.tasks import serving_ops
from bert_tf import tokenization



class TokenClassificationServing(serving_ops.ServingModule):
    """A fine-tuned `BertTokenTagger` (CoNLL-2003) behind serving
    signatures.

    Args:
        model: the fine-tuned BertTokenTagger.
        tokenizer: `bert_tf.BertTokenizer` of its vocabulary.
        description: `task.Description` kept with the model (labels: the
            IOB2 tags in the model's output order; max_seq_length).
        max_text_bytes: int. Longest text accepted
            (`serving_ops.checked_texts`).
    """

    def __init__(self, model, tokenizer, description,
                 max_text_bytes=serving_ops.DEFAULT_MAX_TEXT_BYTES):
        super().__init__(model, tokenizer, description, max_text_bytes,
                         name="token_classification_serving")
        self.capacity = self.max_seq_length - 2
        labels = list(description.labels)
        types = list(dict.fromkeys(t[2:] for t in labels if t != "O"))
        if "O" not in labels or any(
                t != "O" and (t[:2] not in ("B-", "I-") or
                              f"B-{t[2:]}" not in labels or
                              f"I-{t[2:]}" not in labels) for t in labels):
            raise ValueError(f"tags {labels} are not IOB2 tags with both "
                             "B- and I- for every type")
        self.labels = tf.constant(labels)
        # Per tag id: its entity type (1-based; 0 for O), whether it is B-.
        self.tag_type = tf.constant(
            [0 if t == "O" else types.index(t[2:]) + 1 for t in labels],
            tf.int64)
        self.tag_begins = tf.constant([t.startswith("B-") for t in labels])
        self.types = tf.constant([""] + types)
        # Per entity type (1-based): the ids of its B- and I- tags.
        self.begin_tag = tf.constant(
            [labels.index("O")] + [labels.index(f"B-{t}") for t in types],
            tf.int64)
        self.inside_tag = tf.constant(
            [labels.index("O")] + [labels.index(f"I-{t}") for t in types],
            tf.int64)
        self.is_continuation = tf.constant(
            [token.startswith("##") for token in tokenizer.vocab])

    def _windows(self, word_start, word_limit, word_end_piece):
        """Greedy word windows, as data.py cuts them.

        Args:
            word_start, word_limit: int64 [B]: each row's first word and
                the word after its last (flat word indices).
            word_end_piece: int64 [words]: running total of the words'
                (capped) piece counts, i.e. where each word's pieces end.

        Returns:
            (first word, word after the last) int64 [W] of every window,
            row by row; a row without words has one empty window.
        """
        piece_start = tf.concat([[0], word_end_piece], axis=0)  # [words+1]

        rows = tf.range(tf.size(word_start, tf.int64))

        def body(step, start, found):
            active = (start < word_limit) | (step == 0)
            fits = tf.searchsorted(word_end_piece,
                                   tf.gather(piece_start, start)
                                   + self.capacity,
                                   side="right", out_type=tf.int64)
            end = tf.minimum(tf.maximum(fits, start + 1), word_limit)
            found = [array.write(step, tf.boolean_mask(value, active))
                     for array, value in zip(found, (rows, start, end))]
            return step + 1, tf.where(active, end, start), found

        found = [tf.TensorArray(tf.int64, size=0, dynamic_size=True,
                                infer_shape=False) for _ in range(3)]
        _, _, found = tf.while_loop(
            lambda step, start, _: (step == 0) | tf.reduce_any(
                start < word_limit),
            body, (tf.constant(0), word_start, found))
        window_rows, firsts, limits = (array.concat() for array in found)
        # Row order, word order within a row (an empty row's window comes
        # before the next row's first one, which starts at the same word).
        order = tf.argsort(window_rows * (tf.size(word_end_piece, tf.int64)
                                          + 1) + firsts)
        return tf.gather(firsts, order), tf.gather(limits, order)

    def _tag_words(self, text):
        tokenizer = self.tokenizer
        ids, piece_starts, piece_ends = tokenizer.tokenize_with_offsets(text)
        batch = ids.nrows()
        pieces = ids.flat_values
        begins_word = ~tf.gather(self.is_continuation, pieces)
        word_of_piece = tf.cumsum(tf.cast(begins_word, tf.int64)) - 1
        first_piece = tf.where(begins_word)[:, 0]  # [words]
        num_words = tf.size(first_piece, tf.int64)
        word_row = tf.gather(ids.value_rowids(), first_piece)
        words_per_row = tf.math.unsorted_segment_sum(
            tf.ones_like(word_row), word_row, batch)
        word_start = tf.cumsum(words_per_row, exclusive=True)
        word_limit = word_start + words_per_row
        # A word's pieces beyond a window's capacity are dropped.
        in_word = (tf.range(tf.size(pieces, tf.int64))
                   - tf.gather(first_piece, word_of_piece))
        kept = in_word < self.capacity
        kept_pieces = tf.boolean_mask(pieces, kept)
        kept_per_word = tf.math.unsorted_segment_sum(
            tf.cast(kept, tf.int64), word_of_piece, num_words)
        word_end_piece = tf.cumsum(kept_per_word)
        piece_start = tf.concat([[0], word_end_piece], axis=0)
        firsts, limits = self._windows(word_start, word_limit,
                                       word_end_piece)
        packed, _ = tf_text.combine_segments(
            [tf.gather(kept_pieces, tf.ragged.range(
                tf.gather(piece_start, firsts),
                tf.gather(piece_start, limits)))],
            tokenizer.cls_id, tokenizer.sep_id)
        logits = serving_ops.call_in_chunks(
            self.model, tokenizer.model_inputs(packed),
            ["logits"])["logits"]  # [W, L, T]
        word = tf.range(num_words)
        window = tf.searchsorted(limits, word, side="right",
                                 out_type=tf.int64)
        position = 1 + tf.gather(piece_start, word) - tf.gather(
            piece_start, tf.gather(firsts, window))
        probabilities = tf.nn.softmax(tf.gather_nd(
            logits, tf.stack([window, position], axis=1)))
        return {
            "tag_ids": tf.argmax(probabilities, axis=-1),
            "tag_probabilities": tf.reduce_max(probabilities, axis=-1),
            "word_row": word_row, "words_per_row": words_per_row,
            "word_start": word_start,
            "char_starts": tf.gather(piece_starts.flat_values, first_piece),
            "char_ends": tf.math.unsorted_segment_max(
                piece_ends.flat_values, word_of_piece, num_words),
        }

    def _from_text(self, text):
        text = serving_ops.checked_texts(
            {"text": text}, self.limit)["text"]
        text = tokenization.clean_utf8(text)
        words = self._tag_words(text)
        batch = tf.size(text, tf.int64)
        word_row = words["word_row"]
        char_starts, char_ends = words["char_starts"], words["char_ends"]
        # IOB2 repair: an entity starts at B-X, or at an I-X that does not
        # continue an X (first word of its row, or after O / another type).
        types = tf.gather(self.tag_type, words["tag_ids"])
        after = tf.concat([[0], types[:-1]], axis=0)
        row_first = tf.equal(tf.range(tf.size(types, tf.int64)),
                             tf.gather(words["word_start"], word_row))
        after = tf.where(row_first, tf.zeros_like(after), after)
        starts_entity = (types > 0) & (
            tf.gather(self.tag_begins, words["tag_ids"]) | (after != types))
        tags = tf.where(starts_entity, tf.gather(self.begin_tag, types),
                        tf.gather(self.inside_tag, types))
        # Entities: the run of words from each start.
        entity_word = tf.where(starts_entity)[:, 0]
        num_entities = tf.size(entity_word, tf.int64)
        entity_of_word = tf.where(
            types > 0, tf.cumsum(tf.cast(starts_entity, tf.int64)) - 1, -1)
        entity_row = tf.gather(word_row, entity_word)
        entity_starts = tf.math.unsorted_segment_min(
            char_starts, entity_of_word, num_entities)
        entity_ends = tf.math.unsorted_segment_max(
            char_ends, entity_of_word, num_entities)
        entities_per_row = tf.math.unsorted_segment_sum(
            tf.ones_like(entity_row), entity_row, batch)

        def per_row(values, lengths, padding):
            return tf.RaggedTensor.from_row_lengths(values, lengths).to_tensor(
                padding)

        def cut(rows, starts, ends):
            return serving_ops.substrings(text, rows, starts, ends)

        per_word = words["words_per_row"]
        return {
            "words": per_row(cut(word_row, char_starts, char_ends), per_word,
                             ""),
            "word_starts": per_row(char_starts, per_word, -1),
            "word_ends": per_row(char_ends, per_word, -1),
            "tags": per_row(tf.gather(self.labels, tags), per_word, ""),
            "tag_probabilities": per_row(words["tag_probabilities"],
                                         per_word, 0.0),
            "entities": per_row(cut(entity_row, entity_starts, entity_ends),
                                entities_per_row, ""),
            "entity_types": per_row(tf.gather(
                self.types, tf.gather(types, entity_word)), entities_per_row,
                ""),
            "entity_starts": per_row(entity_starts, entities_per_row, -1),
            "entity_ends": per_row(entity_ends, entities_per_row, -1),
            "num_words": tf.cast(per_word, tf.int32),
            "num_entities": tf.cast(entities_per_row, tf.int32),
        }

    def _tags(self, inputs):
        logits = serving_ops.call_in_chunks(
            self.model, inputs, ["logits"])["logits"]
        return {"tag_ids": tf.argmax(logits, axis=-1, output_type=tf.int32),
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def signatures(self):
        self.serve_text = tf.function(self._from_text,
                                      input_signature=[serving_ops.STRING])
        self.serve_ids = serving_ops.tokenized_signature(self._tags)
        return {"serving_default": self.serve_text.get_concrete_function(),
                "tokenized": self.serve_ids.get_concrete_function()}

    def method_names(self):
        return {}

    def warmup_inputs(self):
        return {"serving_default": {"text": [
            "Anna Berg flew from Oslo to Lima for the Andes Trust."]}}


# What `python -m serving.export` saves for a model of this family.
SERVING_MODULE = TokenClassificationServing
