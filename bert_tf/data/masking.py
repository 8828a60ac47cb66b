"""Masked-LM selection as google-research/bert's create_pretraining_data.py.

Per sequence of n pieces ([CLS] and [SEP] counted):
- the budget is `min(max_predictions_per_seq, max(1, round(n *
  masked_lm_prob)))`, `round` rounding halves to even as Python 3's does;
- the candidates are every piece but [CLS], [SEP] (and padding); with whole
  word masking a "##" piece joins the candidate before it (the original's
  rule, which joins a "##" piece that follows a [SEP] to the last word
  before that [SEP]), otherwise each piece is its own candidate;
- the candidates are visited in a random order; one is taken if its pieces
  still fit the budget, skipped if they would overshoot it (a word is never
  partly masked), until the budget is spent;
- each selected piece becomes [MASK] with probability 0.8, else stays with
  probability 0.5, else becomes a uniformly random vocabulary id.

tf-text's `RandomItemSelector` counts its budget in items (words), not
pieces, and truncates an overshooting word, so the selection is written
here. Every row of a batch draws its own order: rows never share a mask
pattern by construction. Draws are stateless, keyed by the batch's seed.
"""

import tensorflow as tf


def budget(lengths, masked_lm_prob, max_predictions_per_seq):
    """int64 [B] pieces to mask of rows of `lengths` pieces, as the
    original: min(P, max(1, round(n * prob))), rounding half to even."""
    wanted = tf.round(tf.cast(lengths, tf.float64) * masked_lm_prob)
    return tf.minimum(tf.cast(max_predictions_per_seq, tf.int64),
                      tf.maximum(tf.cast(wanted, tf.int64), 1))


def take_in_order(sizes, budgets):
    """The original's greedy choice, vectorized over rows.

    Visiting each row's candidates in order, a candidate is taken when its
    size fits what is left of the row's budget, else skipped; the loop ends
    when nothing left fits. A skipped candidate never fits later (what is
    left only shrinks), so each step takes, per row, the first candidate
    after the last one taken that fits: at most max(budget) steps.

    Args:
        sizes: int64 [B, G], candidate sizes in visiting order; padding
            entries must be larger than any budget.
        budgets: int64 [B].

    Returns:
        bool [B, G], the candidates taken.
    """
    columns = tf.range(tf.shape(sizes, out_type=tf.int64)[1])[None, :]

    def fitting(left, after):
        return (columns >= after[:, None]) & (sizes <= left[:, None])

    def step(left, after, taken):
        fits = fitting(left, after)
        found = tf.reduce_any(fits, axis=1)
        first = tf.argmax(tf.cast(fits, tf.int32), axis=1,
                          output_type=tf.int64)
        chosen = (columns == first[:, None]) & found[:, None]
        left = left - tf.reduce_sum(tf.where(chosen, sizes, 0), axis=1)
        return left, tf.where(found, first + 1, after), taken | chosen

    def not_done(left, after, taken):
        return tf.reduce_any(fitting(left, after))

    _, _, taken = tf.while_loop(
        not_done, step,
        (budgets, tf.zeros_like(budgets), tf.zeros_like(sizes, tf.bool)))
    return taken


def _seed(seed, stream):
    return tf.stack([seed[0], seed[1] * 16 + stream])


def mask_batch(ids, seed, special_ids, is_continuation, vocab_size, mask_id,
               masked_lm_prob, max_predictions_per_seq, whole_word_mask):
    """Masks a batch of packed sequences.

    Args:
        ids: int64 RaggedTensor [B, (n)], `[CLS] A [SEP] B [SEP]` pieces.
        seed: int64 [2], this batch's seed.
        special_ids: ids never selected ([CLS], [SEP], [PAD]).
        is_continuation: bool [vocab], which ids are "##" pieces.
        vocab_size: int. Random replacements are drawn from [0, vocab_size).
        mask_id: int. The [MASK] id.
        masked_lm_prob, max_predictions_per_seq, whole_word_mask: as
            `PretrainingDataConfig`.

    Returns:
        (masked ids [B, (n)], positions [B, (M)] ascending, original ids
        [B, (M)]), M <= the row's budget.
    """
    flat = ids.flat_values
    row = ids.value_rowids()
    candidate = tf.reduce_all(
        flat[:, None] != tf.constant(special_ids, tf.int64)[None, :], axis=1)
    # Candidates in sequence order, grouped: a group starts at a candidate
    # that is not a continuation, or is its row's first candidate.
    where = tf.where(candidate)[:, 0]
    candidate_row = tf.gather(row, where)
    starts = tf.ones_like(candidate_row, tf.bool)
    if whole_word_mask:
        first_of_row = tf.not_equal(
            candidate_row, tf.concat([[-1], candidate_row], 0)[:-1])
        starts = first_of_row | ~tf.gather(is_continuation,
                                           tf.gather(flat, where))
    group = tf.cumsum(tf.cast(starts, tf.int64)) - 1  # per candidate
    group_row = tf.boolean_mask(candidate_row, starts)
    num_groups = tf.shape(group_row, out_type=tf.int64)[0]
    group_size = tf.math.unsorted_segment_sum(tf.ones_like(group), group,
                                              num_groups)
    # A random visiting order per row: sort by (row, uniform key).
    keys = tf.random.stateless_uniform([num_groups], _seed(seed, 1),
                                       dtype=tf.float64)
    order = tf.argsort(tf.cast(group_row, tf.float64) + keys, stable=True)
    ordered = tf.RaggedTensor.from_value_rowids(
        tf.gather(group_size, order), tf.gather(group_row, order),
        nrows=ids.nrows())
    budgets = budget(ids.row_lengths(), masked_lm_prob,
                     max_predictions_per_seq)
    too_big = tf.cast(max_predictions_per_seq + 1, tf.int64)
    taken = take_in_order(ordered.to_tensor(too_big), budgets)
    taken_in_order = tf.gather_nd(
        taken, tf.where(tf.sequence_mask(ordered.row_lengths())))
    taken_groups = tf.gather(taken_in_order, tf.math.invert_permutation(order))
    chosen = tf.boolean_mask(where, tf.gather(taken_groups, group))
    # 80% [MASK], 10% unchanged, 10% a random id, drawn per selected piece.
    count = tf.shape(chosen)[:1]
    draw = tf.random.stateless_uniform(count, _seed(seed, 2))
    keep = tf.random.stateless_uniform(count, _seed(seed, 3))
    random_ids = tf.random.stateless_uniform(
        count, _seed(seed, 4), maxval=vocab_size, dtype=tf.int64)
    original = tf.gather(flat, chosen)
    values = tf.where(draw < 0.8, tf.cast(mask_id, tf.int64),
                      tf.where(keep < 0.5, original, random_ids))
    masked = tf.tensor_scatter_nd_update(flat, chosen[:, None], values)
    chosen_row = tf.gather(row, chosen)
    position = chosen - tf.gather(ids.row_starts(), chosen_row)
    nrows = ids.nrows()
    return (ids.with_flat_values(masked),
            tf.RaggedTensor.from_value_rowids(position, chosen_row, nrows),
            tf.RaggedTensor.from_value_rowids(original, chosen_row, nrows))
