"""SQuAD model features: questions packed with windows of their context.

Shape legend: L a feature's packed length, Q question pieces, W a window's
context pieces.

Features, as google-research/bert's run_squad.py defines them: each question
is cut to `max_query_length` pieces; its context is split into windows of
at most `max_seq_length - Q - 3` pieces, each starting `doc_stride` pieces
after the previous one (or right after it ends), until one reaches the end;
each window is packed as `[CLS] question [SEP] window [SEP]`. A training
label is the answer's first and last piece in the packed sequence, or 0
([CLS]) in windows that do not hold all of it and for impossible questions.
Character <-> piece alignment comes from the tokenizer's offsets
(`BertTokenizer.tokenize_with_offsets`), so an answer is cut back out of the
original context text, accents, CJK and whitespace runs included.
"""

import dataclasses
import itertools
import unicodedata
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from bert_tf.tasks.question_answering import data as squad

# Strings per TensorFlow tokenizer call: one call per batch, not per text.
_QUESTION_BATCH = 4096
_CONTEXT_BATCH = 256


@dataclasses.dataclass(frozen=True, eq=False)
class SquadFeature:
    """One window of one example, packed: `[CLS] question [SEP] window
    [SEP]`.

    Args:
        example_index: int. Position of the example in the examples list.
        window_index: int. Position of the window in its example.
        input_word_ids: int32 [L].
        input_type_ids: int32 [L]: 0 for [CLS] question [SEP], 1 after.
        context_offset: int. Position of the window's first piece in the
            packed sequence (Q + 2).
        token_starts, token_ends: int64 [W]. Each window piece's character
            span in the context: `context[token_starts[i]:token_ends[i]]`.
        max_context: bool [W]. Whether this window is the one where the
            piece has the most context (see `max_context_windows`).
        start_position, end_position: int. The answer's first and last piece
            in the packed sequence; 0 ([CLS]) when the window does not hold
            it, the question is impossible or has no usable answer.
    """

    example_index: int
    window_index: int
    input_word_ids: np.ndarray
    input_type_ids: np.ndarray
    context_offset: int
    token_starts: np.ndarray
    token_ends: np.ndarray
    max_context: np.ndarray
    start_position: int = 0
    end_position: int = 0


def check_lengths(max_seq_length: int, max_query_length: int,
                  doc_stride: int) -> None:
    """Raises ValueError unless every window can hold a context piece."""
    if max_query_length < 1:
        raise ValueError(f"--max_query_length must be positive, got "
                         f"{max_query_length}")
    if doc_stride < 1:
        raise ValueError(f"--doc_stride must be positive, got {doc_stride}")
    room = max_seq_length - max_query_length - 3
    if room < 1:
        raise ValueError(
            f"--max_seq_length {max_seq_length} leaves no room for context "
            f"after --max_query_length {max_query_length} and 3 special "
            f"tokens; raise --max_seq_length above {max_query_length + 3} "
            f"or lower --max_query_length")


def window_spans(num_pieces: int, max_pieces: int,
                 doc_stride: int) -> list[tuple[int, int]]:
    """(start, length) of each window over a context of `num_pieces`.

    Windows hold up to `max_pieces`; each starts `doc_stride` pieces after
    the previous one (or where it ended, if it was shorter); the last one
    reaches the end. An empty context gets one empty window.
    """
    spans, start = [], 0
    while True:
        length = min(num_pieces - start, max_pieces)
        spans.append((start, length))
        if start + length >= num_pieces:
            return spans
        start += min(length, doc_stride)


def max_context_windows(spans: Sequence[tuple[int, int]],
                        num_pieces: int) -> np.ndarray:
    """For each context piece, the window where it has the most context.

    A piece's score in a window holding it is min(pieces left of it, pieces
    right of it) + 0.01 * window length; the best score wins, the earliest
    window on ties (the original's rule).

    Returns:
        int [num_pieces] window indices.
    """
    scores = np.full((len(spans), num_pieces), -np.inf)  # [windows, pieces]
    for w, (start, length) in enumerate(spans):
        left = np.arange(length)
        scores[w, start:start + length] = (
            np.minimum(left, length - 1 - left) + 0.01 * length)
    return np.argmax(scores, axis=0)


def answer_pieces(token_starts: np.ndarray, token_ends: np.ndarray,
                  char_start: int, char_end: int) -> tuple[int, int] | None:
    """(first, last) piece overlapping characters [char_start, char_end),
    or None if no piece does."""
    first = int(np.searchsorted(token_ends, char_start, side="right"))
    last = int(np.searchsorted(token_starts, char_end, side="left")) - 1
    return (first, last) if first <= last else None


def span_text(context: str, char_start: int, char_end: int) -> str:
    """`context[char_start:char_end]`, the end moved past any combining
    marks that follow it: lower-casing strips them (NFD, then Mn dropped),
    so no piece's offsets cover one that ends a word ("e" + U+0301)."""
    while char_end < len(context) and \
            unicodedata.category(context[char_end]) == "Mn":
        char_end += 1
    return context[char_start:char_end]


def _ragged_rows(ragged):
    values, splits = ragged.flat_values.numpy(), ragged.row_splits.numpy()
    return [values[a:b] for a, b in itertools.pairwise(splits)]


def tokenize_questions(tokenizer, questions):
    """Piece ids (int32 arrays) of each question, in batched TF calls."""
    rows = []
    for i in range(0, len(questions), _QUESTION_BATCH):
        batch = tf.constant(list(questions[i:i + _QUESTION_BATCH]),
                            tf.string)
        rows.extend(_ragged_rows(tokenizer.tokenize(batch)))
    return rows


def tokenize_contexts(tokenizer, contexts):
    """(ids, char starts, char ends) arrays of each context, batched."""
    rows = []
    for i in range(0, len(contexts), _CONTEXT_BATCH):
        batch = tf.constant(list(contexts[i:i + _CONTEXT_BATCH]), tf.string)
        ids, starts, ends = tokenizer.tokenize_with_offsets(batch)
        rows.extend(zip(_ragged_rows(ids), _ragged_rows(starts),
                        _ragged_rows(ends)))
    return rows


def create_features(tokenizer, examples: Sequence[squad.SquadExample],
                    max_seq_length: int, max_query_length: int = 64,
                    doc_stride: int = 128) -> list[SquadFeature]:
    """Packed windows of every example, in example order.

    Questions and the distinct contexts are tokenized in batches (one
    TensorFlow call per batch); windows and labels are then cut in numpy.

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        examples: squad.SquadExample sequence.
        max_seq_length: int. Longest packed sequence.
        max_query_length: int. Question pieces kept (the first ones).
        doc_stride: int. Pieces between the starts of two windows.

    Returns:
        list of SquadFeature; every example has at least one.

    Raises:
        ValueError: the lengths leave no room for context.
    """
    check_lengths(max_seq_length, max_query_length, doc_stride)
    questions = tokenize_questions(tokenizer, [e.question for e in examples])
    contexts = list(dict.fromkeys(e.context for e in examples))
    tokenized = dict(zip(contexts, tokenize_contexts(tokenizer, contexts)))
    features = []
    for index, example in enumerate(examples):
        features.extend(_example_features(
            tokenizer, index, example, questions[index][:max_query_length],
            tokenized[example.context], max_seq_length, doc_stride))
    return features


def _example_features(tokenizer, index, example, question, context,
                      max_seq_length, doc_stride):
    ids, starts, ends = context
    spans = window_spans(len(ids), max_seq_length - len(question) - 3,
                         doc_stride)
    best_window = max_context_windows(spans, len(ids))
    answer = None if example.is_impossible else example.training_answer()
    pieces = None  # the answer's first and last context piece
    if answer is not None:
        pieces = answer_pieces(starts, ends, answer.start,
                               answer.start + len(answer.text))
    offset = len(question) + 2
    head = np.concatenate([[tokenizer.cls_id], question,
                           [tokenizer.sep_id]]).astype(np.int32)
    features = []
    for w, (start, length) in enumerate(spans):
        stop = start + length
        word_ids = np.concatenate([head, ids[start:stop],
                                   [tokenizer.sep_id]]).astype(np.int32)
        type_ids = np.zeros(len(word_ids), np.int32)
        type_ids[offset:] = 1
        first = last = 0
        if pieces and start <= pieces[0] and pieces[1] < stop:
            first, last = (p - start + offset for p in pieces)
        features.append(SquadFeature(
            example_index=index, window_index=w, input_word_ids=word_ids,
            input_type_ids=type_ids, context_offset=offset,
            token_starts=starts[start:stop], token_ends=ends[start:stop],
            max_context=best_window[start:stop] == w,
            start_position=first, end_position=last))
    return features
