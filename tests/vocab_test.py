"""Vocabulary learning: layout of special tokens, usable result, user errors."""

import os
import subprocess
import sys

import tensorflow as tf

from bert_tf import data
from bert_tf import tokenization
from bert_tf import vocab
from tests import testing

# Written for this test: a small corpus with repeated words.
_CORPUS = """The cat sat on the mat. The dog sat on the log.
Cats and dogs are running; the runners were running faster!
Café owners in Zürich serve crème brûlée, and the café is busy.
Unwanted words, wanted words: the words we want are wanted.
"""


class VocabTest(tf.test.TestCase):

    def _corpus(self):
        return self.create_tempfile("corpus.txt", content=_CORPUS * 3).full_path

    def test_learned_vocab_puts_special_tokens_where_bert_does(self):
        counts = vocab.count_words([self._corpus()], lower_case=True)
        self.assertEqual(counts["cafe"], 6)  # accents stripped, lower-cased
        tokens = vocab.learn_vocab(counts, vocab_size=200, min_count=1)
        self.assertEqual(tokens[0], "[PAD]")
        self.assertEqual(tokens[1], "[unused0]")
        self.assertEqual(tokens[100:104], ["[UNK]", "[CLS]", "[SEP]",
                                           "[MASK]"])
        self.assertIn("##s", tokens)
        self.assertLen(tokens, len(set(tokens)))

    def test_learned_vocab_tokenizes_its_corpus_without_unk(self):
        counts = vocab.count_words([self._corpus()], lower_case=True)
        path = os.path.join(self.create_tempdir().full_path, "vocab.txt")
        vocab.write_vocab(vocab.learn_vocab(counts, 250, num_unused=0,
                                            min_count=1), path)
        tokenizer = tokenization.BertTokenizer(path, lower_case=True)
        self.assertEqual(tokenizer.unk_id, 1)
        ids = tokenizer.tokenize(tf.constant(_CORPUS.splitlines()))
        self.assertNotIn(tokenizer.unk_id, ids.flat_values.numpy().tolist())

    def test_cli_writes_vocab_and_refuses_to_overwrite(self):
        tmp = self.create_tempdir().full_path
        out = os.path.join(tmp, "vocab.txt")
        command = [sys.executable, "-m", "bert_tf.vocab",
                   f"--input={self._corpus()}", f"--output={out}",
                   "--vocab_size=200", "--min_count=1"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(command, capture_output=True, text=True,
                                cwd=testing.REPO_ROOT, env=env)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertIn("[UNK] = 100", result.stdout)
        tokenization.load_vocab(out)
        again = subprocess.run(command, capture_output=True, text=True,
                               cwd=testing.REPO_ROOT, env=env)
        self.assertEqual(again.returncode, 2)
        self.assertIn(f"{out} exists; pass --overwrite", again.stderr)

    def test_input_matching_no_file_is_named(self):
        with self.assertRaisesRegex(data.InputFilesError,
                                    "input '/no/\\*.txt' matches no file"):
            data.expand_input_files(["/no/*.txt"])

    def test_vocab_size_below_reserved_tokens_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "vocab_size 50 leaves no room "
                                    "after 104 reserved tokens"):
            vocab.learn_vocab({"a": 5}, vocab_size=50)


if __name__ == "__main__":
    tf.test.main()
