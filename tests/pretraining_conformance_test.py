"""Pre-training examples against google-research/bert's algorithm, at the
scale where document order and negatives show: 3,000 tagged documents.

Every word of document d is `d<d>`, followed by up to two "##x" pieces, so
any word-start piece of an example says which document it came from. The
original's instance loop is written here from its definition and run on the
same tokenized documents, so the shares it predicts are compared with ours.
"""

import functools
import os
import random

import numpy as np
import tensorflow as tf

from bert_tf import tokenization
from bert_tf.data import pretraining

NUM_DOCS = 3000
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_corpus(directory, seed=0):
    """(corpus path, vocab path): NUM_DOCS documents of 1-12 sentences."""
    rng = np.random.default_rng(seed)
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w") as f:
        f.write("\n".join(SPECIAL + [f"d{d}" for d in range(NUM_DOCS)]
                          + ["##x"]) + "\n")
    corpus = os.path.join(directory, "corpus.txt")
    with open(corpus, "w") as f:
        for d in range(NUM_DOCS):
            for _ in range(rng.integers(1, 13)):
                words = [f"d{d}" + "x" * rng.choice([0, 0, 1, 2])
                         for _ in range(rng.integers(2, 11))]
                f.write(" ".join(words) + "\n")
            f.write("\n")
    return corpus, vocab


def original_instances(documents, index, max_seq_length, short_seq_prob,
                       rng):
    """The original create_instances_from_document, from its definition:
    (len A, len B before trimming, is_random, B's document) per instance."""
    document = documents[index]
    max_tokens = max_seq_length - 3
    target = max_tokens
    if rng.random() < short_seq_prob:
        target = rng.randint(2, max_tokens)
    instances, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            len_a = sum(map(len, chunk[:a_end]))
            if len(chunk) == 1 or rng.random() < 0.5:
                other = index
                while other == index:
                    other = rng.randint(0, len(documents) - 1)
                drawn = documents[other]
                len_b = 0
                for sentence in drawn[rng.randint(0, len(drawn) - 1):]:
                    len_b += len(sentence)
                    if len_b >= target - len_a:
                        break
                instances.append((len_a, len_b, True, other))
                i -= len(chunk) - a_end
            else:
                len_b = sum(map(len, chunk[a_end:]))
                instances.append((len_a, len_b, False, index))
            chunk, length = [], 0
        i += 1
    return instances


class PretrainingConformanceTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        directory = tf.compat.v1.test.get_temp_dir()
        cls.corpus, vocab = write_corpus(directory)
        cls.tokenizer = tokenization.BertTokenizer(vocab)
        cls.doc_of = np.full(cls.tokenizer.vocab_size, -1)
        for d in range(NUM_DOCS):
            cls.doc_of[cls.tokenizer.vocab[f"d{d}"]] = d
        cls.continuation = cls.tokenizer.vocab["##x"]

    @functools.lru_cache(maxsize=None)
    def examples(self, whole_word_mask):
        """One epoch, in output order, with the masked ids given back."""
        config = pretraining.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10,
            whole_word_mask=whole_word_mask)
        # A buffer far smaller than the epoch: the order must come from
        # the document permutation, not from the buffer.
        batches = list(pretraining.pretraining_dataset(
            [self.corpus], self.tokenizer, config, batch_size=256,
            shuffle_buffer=500, num_epochs=1).as_numpy_iterator())
        b = {k: np.concatenate([x[k] for x in batches]) for k in batches[0]}
        ids = b["input_word_ids"].copy()
        real = b["masked_lm_weights"] > 0
        rows = np.nonzero(real)[0]
        ids[rows, b["masked_lm_positions"][real]] = b["masked_lm_ids"][real]
        b["original_ids"] = ids
        return b

    def segment_documents(self, b):
        """(document of A, document of B) per example, each segment checked
        to come from one document."""
        docs = []
        for ids, types, mask in zip(b["original_ids"], b["input_type_ids"],
                                    b["input_mask"]):
            pair = []
            for segment in (0, 1):
                tags = set(self.doc_of[ids[(types == segment) & (mask > 0)]])
                tags.discard(-1)
                self.assertLen(tags, 1)
                pair.append(tags.pop())
            docs.append(pair)
        return np.array(docs)

    def test_pairs_and_negatives_follow_the_original(self):
        b = self.examples(False)
        docs = self.segment_documents(b)
        is_random = b["next_sentence_labels"] == 1
        self.assertAllEqual(docs[:, 0] != docs[:, 1], is_random)
        # The original run on the same tokenized documents.
        with open(self.corpus, encoding="utf-8") as f:
            texts = f.read().split("\n\n")
        sentences = [[s for s in t.split("\n") if s] for t in texts]
        sentences = [d for d in sentences if d]
        # One tokenizer call for the whole corpus, cut back into documents.
        pieces = iter(self.tokenizer.tokenize(
            tf.constant([s for d in sentences for s in d])).to_list())
        documents = [[next(pieces) for _ in d] for d in sentences]
        rng = random.Random(12345)
        reference = [x for i in range(len(documents)) for x in
                     original_instances(documents, i, 64, 0.1, rng)]
        reference_random = np.mean([x[2] for x in reference])
        self.assertAllClose(is_random.mean(), reference_random, atol=0.02)
        self.assertAllClose(len(docs) / len(reference), 1.0, atol=0.03)
        # Negatives: B's document uniform over the others, so the mean
        # normalised distance is 1/3, as in the reference run.
        distance = np.abs(docs[is_random, 0] - docs[is_random, 1])
        reference_distance = np.mean([abs(x[3] - i) for i in range(
            len(documents)) for x in original_instances(
                documents, i, 64, 0.1, rng) if x[2]])
        self.assertAllClose(distance.mean() / NUM_DOCS, 1 / 3, atol=0.02)
        self.assertAllClose(distance.mean(), reference_distance,
                            rtol=0.06)
        # Fresh per instance: the negatives of one document come from
        # different documents (two uniform draws agree 1 time in 3,000).
        partners = {}
        for a, other in docs[is_random]:
            partners.setdefault(a, []).append(other)
        several = [p for p in partners.values() if len(p) > 1]
        self.assertGreater(len(several), 300)
        self.assertGreater(np.mean([len(set(p)) == len(p) for p in several]),
                           0.98)

    def test_output_order_carries_no_trace_of_document_position(self):
        docs = self.segment_documents(self.examples(False))[:, 0]
        position = np.argsort(np.argsort(np.arange(len(docs))))
        rank = np.argsort(np.argsort(docs, kind="stable"))
        rho = np.corrcoef(position, rank)[0, 1]
        self.assertLess(abs(rho), 0.05)
        # Every document leads some example in the epoch.
        self.assertLen(set(docs), NUM_DOCS)

    def test_masked_count_per_row_is_the_originals_budget(self):
        b = self.examples(False)
        lengths = b["input_mask"].sum(axis=1)
        budget = [min(10, max(1, round(n * 0.15))) for n in lengths]
        self.assertAllEqual(b["masked_lm_weights"].sum(axis=1), budget)

    def test_whole_words_are_masked_whole_within_the_budget(self):
        b = self.examples(True)
        sep = self.tokenizer.sep_id
        cls = self.tokenizer.cls_id
        for ids, mask, positions, weights in zip(
                b["original_ids"], b["input_mask"],
                b["masked_lm_positions"], b["masked_lm_weights"]):
            row = ids[:mask.sum()]
            chosen = set(positions[weights > 0])
            groups = []  # the original's rule, see tests/masking_test.py
            for i, piece in enumerate(row):
                if piece in (cls, sep):
                    continue
                if groups and piece == self.continuation:
                    groups[-1].append(i)
                else:
                    groups.append([i])
            budget = min(10, max(1, round(len(row) * 0.15)))
            self.assertLessEqual(len(chosen), budget)
            left = budget - len(chosen)
            for group in groups:
                covered = len(chosen & set(group))
                self.assertIn(covered, (0, len(group)))
                if not covered:
                    self.assertGreater(len(group), left)

    def test_no_two_rows_share_a_mask_pattern_by_construction(self):
        b = self.examples(True)
        # The selection used to be drawn per word count, so rows of a batch
        # with as many words masked the same word indices. Group the rows
        # of each batch by word count and compare their masked words.
        groups = {}
        for row, (ids, mask, positions, weights) in enumerate(zip(
                b["original_ids"], b["input_mask"],
                b["masked_lm_positions"], b["masked_lm_weights"])):
            starts = ids[:mask.sum()] != self.continuation
            word = np.cumsum(starts) - 1
            masked_words = tuple(sorted(set(word[positions[weights > 0]])))
            groups.setdefault((row // 256, starts.sum()), []).append(
                masked_words)
        pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups.values())
        same = sum(g.count(x) - 1 for g in groups.values() for x in set(g))
        self.assertGreater(pairs, 1000)
        self.assertLess(same, 0.01 * pairs)


if __name__ == "__main__":
    tf.test.main()
