"""Vocabulary loading and the provisional word-piece lookup."""

import os

import numpy as np
import tensorflow as tf

from bert_tf import tokenization
from tests import testing


class LoadVocabTest(tf.test.TestCase):

    def test_real_vocab_ids_are_line_numbers(self):
        vocab = tokenization.load_vocab(
            os.path.join(testing.minilm_dir(), "vocab.txt"))
        self.assertLen(vocab, 30522)
        self.assertEqual((vocab["[PAD]"], vocab["[UNK]"], vocab["[CLS]"],
                          vocab["[SEP]"], vocab["[MASK]"]),
                         (0, 100, 101, 102, 103))

    def test_duplicate_token_names_both_lines(self):
        path = self.create_tempfile(content="[PAD]\n[UNK]\nhello\n[CLS]\n"
                                    "hello\n").full_path
        with self.assertRaisesRegex(
                tokenization.VocabError,
                f"{path}:5: duplicate token 'hello' \\(first on line 3\\)"):
            tokenization.load_vocab(path)

    def test_empty_line_is_named(self):
        path = self.create_tempfile(content="[PAD]\n\n[UNK]\n").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}:2: empty vocabulary entry"):
            tokenization.load_vocab(path)

    def test_missing_special_tokens_are_listed(self):
        path = self.create_tempfile(content="[PAD]\n[UNK]\n[CLS]\n").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}: missing special token\\(s\\) "
                                    "\\[SEP\\], \\[MASK\\]"):
            tokenization.load_vocab(path)

    def test_missing_and_non_utf8_files_are_named(self):
        with self.assertRaisesRegex(tokenization.VocabError,
                                    "/no/vocab.txt: vocab file not found"):
            tokenization.load_vocab("/no/vocab.txt")
        path = self.create_tempfile(content=b"[PAD]\n\xff\n").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}: not UTF-8 text"):
            tokenization.load_vocab(path)


class SimpleWordPieceTest(tf.test.TestCase):

    def test_matches_transformers_ids_on_the_golden_sentences(self):
        # The golden inputs were tokenized by HF's tokenizer; the first
        # segment of each pair must come out the same.
        ref = np.load(os.path.join(testing.GOLDEN_DIR,
                                   "minilm_reference.npz"))
        tokenizer = tokenization.SimpleWordPiece(
            os.path.join(testing.minilm_dir(), "vocab.txt"))
        for row, first in enumerate(ref["text_a"].tolist()):
            ids = tokenizer.tokenize(first)
            expected = ref["input_word_ids"][row, 1:1 + len(ids)].tolist()
            self.assertEqual(ids, expected, first)
            self.assertEqual(ref["input_word_ids"][row, 1 + len(ids)], 102)

    def test_encode_packs_cls_sep_and_padding(self):
        tokenizer = tokenization.SimpleWordPiece(
            os.path.join(testing.minilm_dir(), "vocab.txt"))
        ids, mask, types = tokenizer.encode(["Hello, world!"], 8)
        self.assertEqual(ids, [[101, 7592, 1010, 2088, 999, 102, 0, 0]])
        self.assertEqual(mask, [[1, 1, 1, 1, 1, 1, 0, 0]])
        self.assertEqual(types, [[0] * 8])


if __name__ == "__main__":
    tf.test.main()
