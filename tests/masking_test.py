"""Masked-LM selection against the original algorithm's definition."""

import numpy as np
import tensorflow as tf

from bert_tf.data import masking

CLS, SEP, PAD, MASK = 1, 2, 0, 3
VOCAB = 40
# Ids 30-39 are "##" pieces.
IS_CONTINUATION = tf.constant([i >= 30 for i in range(VOCAB)])


def original_groups(row, whole_word_mask):
    """The original's candidate index sets of one sequence, written from
    its definition: [CLS]/[SEP] skipped; with whole-word masking a "##"
    piece joins the last candidate set, wherever that set is."""
    groups = []
    for i, piece in enumerate(row):
        if piece in (CLS, SEP):
            continue
        if whole_word_mask and groups and piece >= 30:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def original_greedy(sizes, budget):
    """The original's loop over shuffled candidate sets."""
    taken, count = [], 0
    for size in sizes:
        if count >= budget:
            break
        if count + size > budget:
            taken.append(False)
            continue
        taken.append(True)
        count += size
    return taken + [False] * (len(sizes) - len(taken))


def mask(rows, seed=0, prob=0.15, predictions=20, whole_word_mask=True):
    return masking.mask_batch(
        tf.ragged.constant(rows, tf.int64), tf.constant([seed, 5], tf.int64),
        [CLS, SEP, PAD], IS_CONTINUATION, VOCAB, MASK, prob, predictions,
        whole_word_mask)


def random_rows(rng, count, longest=60):
    """Packed sequences: [CLS] A [SEP] B [SEP] of ordinary (4-29) and "##"
    (30-39) pieces; a segment may start with a "##" piece, as the front
    trimming of a pair can leave it."""
    rows = []
    for _ in range(count):
        a, b = rng.integers(1, longest // 2, 2)
        pieces = rng.choice(np.r_[4:30, 30:40], a + b,
                            p=np.r_[[0.7 / 26] * 26, [0.3 / 10] * 10])
        rows.append([CLS, *pieces[:a], SEP, *pieces[a:], SEP])
    return rows


class MaskingTest(tf.test.TestCase):

    def test_budget_is_the_originals_formula_with_python3_round(self):
        lengths = np.arange(1, 600)
        for prob, predictions in ((0.15, 20), (0.15, 80), (0.1, 1000),
                                  (0.5, 7)):
            expected = [min(predictions, max(1, round(n * prob)))
                        for n in lengths]
            self.assertAllEqual(
                masking.budget(tf.constant(lengths), prob, predictions),
                expected)
        # Halves round to even, as Python 3 (and the original) do.
        self.assertAllEqual(masking.budget(tf.constant([10, 30]), 0.25, 20),
                            [2, 8])

    def test_greedy_choice_matches_the_originals_loop(self):
        rng = np.random.default_rng(0)
        for _ in range(300):
            rows, columns = rng.integers(1, 6), rng.integers(1, 25)
            sizes = rng.integers(1, 5, (rows, columns))
            budgets = rng.integers(1, 15, rows)
            got = masking.take_in_order(tf.constant(sizes, tf.int64),
                                        tf.constant(budgets, tf.int64))
            for r in range(rows):
                self.assertAllEqual(got[r],
                                    original_greedy(sizes[r], budgets[r]))

    def test_whole_words_are_never_partly_masked_and_budget_is_kept(self):
        rows = random_rows(np.random.default_rng(1), 400)
        for seed in range(3):
            _, positions, labels = mask(rows, seed=seed, predictions=10)
            for row, chosen in zip(rows, positions.to_list()):
                chosen = set(chosen)
                groups = original_groups(row, whole_word_mask=True)
                budget = min(10, max(1, round(len(row) * 0.15)))
                for group in groups:
                    self.assertIn(len(chosen & set(group)),
                                  (0, len(group)), (row, chosen))
                self.assertLessEqual(len(chosen), budget)
                # Greedy: nothing left out would still have fitted.
                left = budget - len(chosen)
                for group in groups:
                    if not chosen & set(group):
                        self.assertGreater(len(group), left, (row, chosen))

    def test_a_piece_after_sep_joins_the_word_before_it_as_the_original(
            self):
        row = [CLS, 4, 31, SEP, 32, 5, SEP]  # "##" piece 32 opens B
        seen = set()
        for seed in range(40):
            chosen = mask([row], seed=seed, prob=0.43)[1].to_list()[0]
            seen.add(tuple(chosen))
        # Candidate sets {1, 2, 4} and {5}, budget round(3.01) = 3: the
        # first visited is taken, the other no longer fits.
        self.assertEqual(seen, {(1, 2, 4), (5,)})

    def test_without_whole_words_every_row_masks_exactly_its_budget(self):
        rows = random_rows(np.random.default_rng(2), 300)
        _, positions, labels = mask(rows, whole_word_mask=False,
                                    predictions=8)
        for row, chosen, original in zip(rows, positions.to_list(),
                                         labels.to_list()):
            candidates = len(original_groups(row, False))
            budget = min(8, max(1, round(len(row) * 0.15)))
            self.assertLen(chosen, min(budget, candidates))
            self.assertEqual(chosen, sorted(chosen))
            self.assertEqual(original, [row[p] for p in chosen])

    def test_rows_of_one_batch_draw_their_own_masks(self):
        # Identical rows (same length, same words): each must still get its
        # own selection; the old selector keyed its draw by the row's word
        # count and gave such rows the same masked word indices.
        row = [CLS] + list(range(4, 24)) + [SEP] + list(range(4, 24)) + [SEP]
        _, positions, _ = mask([row] * 64)
        patterns = {tuple(p) for p in positions.to_list()}
        self.assertGreater(len(patterns), 60)

    def test_masked_values_split_80_10_10_and_stay_in_vocab(self):
        rows = random_rows(np.random.default_rng(3), 2000, longest=120)
        masked, positions, labels = mask(rows, whole_word_mask=False)
        now = np.concatenate([np.asarray(m)[p] for m, p in zip(
            masked.to_list(), positions.to_list()) if p])
        original = labels.flat_values.numpy()
        self.assertBetween(np.mean(now == MASK), 0.78, 0.82)
        self.assertBetween(np.mean(now == original), 0.085, 0.115)
        self.assertTrue(np.all((now >= 0) & (now < VOCAB)))
        # Unselected pieces are untouched.
        for m, p, row in zip(masked.to_list(), positions.to_list(), rows):
            keep = np.ones(len(row), bool)
            keep[p] = False
            self.assertAllEqual(np.asarray(m)[keep], np.asarray(row)[keep])

    def test_rows_without_candidates_mask_nothing(self):
        _, positions, _ = mask([[CLS, SEP, SEP], [CLS, 4, SEP, 5, SEP]])
        self.assertEqual(positions.to_list()[0], [])
        self.assertLen(positions.to_list()[1], 1)


if __name__ == "__main__":
    tf.test.main()
