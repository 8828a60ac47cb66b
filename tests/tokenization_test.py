"""BertTokenizer: exact parity with the original algorithm, offsets, packing."""

import functools
import json
import os
import subprocess
import sys

import hypothesis
from hypothesis import strategies as st
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bert_tf import tokenization
from tests import testing

CORPUS = os.path.join(testing.REPO_ROOT, "tests", "data",
                      "tokenizer_corpus.jsonl")
EXPECTED = os.path.join(testing.GOLDEN_DIR, "tokenizer_expected.json")
CASED_VOCAB = os.path.join(testing.SHARED_DATA, "vocab", "bert-base-cased",
                           "vocab.txt")


def uncased_vocab():
    return os.path.join(testing.minilm_dir(), "vocab.txt")


@functools.lru_cache(maxsize=None)
def uncased_tokenizer(lower_case=True):
    return tokenization.BertTokenizer(uncased_vocab(), lower_case=lower_case)


def toy_vocab(test, extra=()):
    # The toy vocabulary of google-research/bert's tokenization tests,
    # plus the special tokens bert_tf requires.
    tokens = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
              "runn", "##ing", ",", "[PAD]", "[MASK]", *extra]
    return test.create_tempfile(content="\n".join(tokens) + "\n").full_path


class ParityTest(tf.test.TestCase):
    """Ids equal HF `tokenizers` configured as the original, 0 mismatches."""

    def _check(self, run_name, vocab_file):
        with open(CORPUS, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f]
        with open(EXPECTED) as f:
            run = json.load(f)["runs"][run_name]
        tokenizer = tokenization.BertTokenizer(
            vocab_file, lower_case=run["lower_case"])
        ids = tokenizer.tokenize(tf.constant(lines)).to_list()
        mismatches = [i for i, (a, b) in enumerate(zip(ids, run["ids"]))
                      if a != b]
        self.assertLen(ids, len(run["ids"]))
        self.assertEqual(mismatches, [], [lines[i] for i in mismatches[:3]])
        with_offsets, _, _ = tokenizer.tokenize_with_offsets(
            tf.constant(lines))
        self.assertEqual(with_offsets.to_list(), ids)

    def test_uncased_vocab_lower_case_matches_original(self):
        self._check("uncased_vocab_lower_case", uncased_vocab())

    def test_uncased_vocab_in_cased_mode_matches_original(self):
        self._check("uncased_vocab_cased_mode", uncased_vocab())

    def test_bert_base_cased_vocab_matches_original(self):
        if not os.path.isfile(CASED_VOCAB):
            self.skipTest(f"{CASED_VOCAB} not present (shared data)")
        self._check("bert_base_cased_vocab", CASED_VOCAB)


class OriginalBehaviourTest(tf.test.TestCase):
    """Cases from the original's definitions, incl. where HF deviates."""

    def _tokens(self, text, lower_case=True, vocab=None):
        tokenizer = tokenization.BertTokenizer(vocab, lower_case) if vocab \
            else uncased_tokenizer(lower_case)
        ids = tokenizer.tokenize(tf.constant([text]))
        return [t.decode() for t in
                tokenizer.id_to_token(ids).to_list()[0]]

    def test_toy_vocab_cases_of_the_original_tests(self):
        vocab = toy_vocab(self)
        self.assertEqual(self._tokens("UNwant\u00e9d,running", vocab=vocab),
                         ["un", "##want", "##ed", ",", "runn", "##ing"])
        self.assertEqual(self._tokens("unwantedX running", vocab=vocab),
                         ["[UNK]", "runn", "##ing"])
        self.assertEqual(self._tokens("", vocab=vocab), [])

    def test_literal_special_tokens_are_plain_text(self):
        self.assertEqual(self._tokens("hi world [UNK] [CLS]"),
                         ["hi", "world", "[", "un", "##k", "]", "[", "cl",
                          "##s", "]"])

    def test_final_sigma_follows_python_lower(self):
        # The original lower-cases with str.lower(): a word-final capital
        # sigma becomes ς. (HF tokenizers lower-cases per character: σ.)
        self.assertEqual(self._tokens("\u039f\u0394\u039f\u03a3 \u03a3"),
                         ["ο", "##δ", "##ος", "σ"])

    def test_private_use_characters_are_kept_not_deleted(self):
        # The original deletes only Cc/Cf; private-use (Co) characters stay
        # and, absent from the vocabulary, become [UNK]. (HF deletes them.)
        self.assertEqual(self._tokens("use \ue000 and"),
                         ["use", "[UNK]", "and"])

    def test_control_characters_are_deleted_not_spaces(self):
        self.assertEqual(self._tokens("un\x00want\u200bed"),
                         self._tokens("unwanted"))

    def test_words_over_200_characters_become_unk(self):
        # The original's max_input_chars_per_word is 200: a word of exactly
        # 200 characters is still split, greedily longest-first. The vocab
        # has "aaa" and "##aa" but no "aaaa" or "##aaa", so 200 a's are
        # aaa + 98 x ##aa + ##a; the cap counts characters, not bytes
        # ("\u00df" is 2 bytes; lower-casing strips the accent of "\u00e9").
        self.assertEqual(self._tokens("a" * 199), ["aaa"] + ["##aa"] * 98)
        self.assertEqual(self._tokens("a" * 200),
                         ["aaa"] + ["##aa"] * 98 + ["##a"])
        self.assertEqual(self._tokens("\u00df" * 200),
                         ["\u00df"] + ["##\u00df"] * 199)
        self.assertEqual(self._tokens("\u00e9" * 200),
                         ["ee"] + ["##ee"] * 99)
        self.assertEqual(self._tokens("a" * 201), ["[UNK]"])
        self.assertEqual(self._tokens("\u00df" * 201 + " x"), ["[UNK]", "x"])
        self.assertEqual(self._tokens("\u00e9" * 201 + " x"), ["[UNK]", "x"])
        # The offsets path caps words itself: same ids, and an over-long
        # word's [UNK] spans the whole word.
        tokenizer = uncased_tokenizer()
        texts = ["a" * 200, "\u00df" * 200, "a" * 201 + " x",
                 "\u00df" * 201 + " x"]
        ids, starts, ends = tokenizer.tokenize_with_offsets(
            tf.constant(texts))
        self.assertEqual(ids.to_list(),
                         tokenizer.tokenize(tf.constant(texts)).to_list())
        self.assertEqual([row[0] for row in starts.to_list()], [0] * 4)
        self.assertEqual([row[-1] for row in ends.to_list()],
                         [200, 200, 203, 203])
        self.assertEqual([row[0] for row in ends.to_list()[2:]], [201, 201])

    def test_invalid_utf8_bytes_are_dropped(self):
        tokenizer = uncased_tokenizer()
        ids = tokenizer.tokenize(tf.constant([b"hel\xfflo wor\xc3ld"]))
        self.assertEqual(ids.to_list(),
                         tokenizer.tokenize(tf.constant(["hello world"]))
                         .to_list())

    def test_runs_in_tf_function_and_tf_data(self):
        tokenizer = uncased_tokenizer()
        eager = tokenizer.tokenize(tf.constant(["Hello there!"])).to_list()
        traced = tf.function(tokenizer.tokenize)(tf.constant(["Hello there!"]))
        self.assertEqual(traced.to_list(), eager)
        dataset = tf.data.Dataset.from_tensor_slices(["Hello there!"]) \
            .batch(1).map(tokenizer.tokenize)
        self.assertEqual(next(iter(dataset)).to_list(), eager)


class OffsetsTest(tf.test.TestCase):

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(st.lists(st.text(
        alphabet=st.sampled_from(
            list("abcdefXYZ  .,!?'-\t\n") + ["\u00e9", "\u00df", "\u0301",
                                             "\u4e2d", "\u6587", "\u00a0",
                                             "\u200b", "\x00", "\u0130",
                                             "\u03a3", "\ud55c", "\uff21",
                                             "\u2028", "\U0001F600"]),
        max_size=40), min_size=1, max_size=4))
    def test_each_piece_comes_from_its_span(self, texts):
        tokenizer = uncased_tokenizer()
        ids, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
        tokens = tokenizer.id_to_token(ids).to_list()
        for text, row, row_starts, row_ends in zip(
                texts, tokens, starts.to_list(), ends.to_list()):
            spans = sorted(set(zip(row_starts, row_ends)))
            for token, start, end in zip(row, row_starts, row_ends):
                self.assertLess(start, end)
                piece = token.decode()
                source = tokenization.normalize(
                    tf.constant(text[start:end]), True).numpy().decode()
                if piece != "[UNK]":
                    # The span normalizes to text holding the piece. (Cut
                    # out of its word, a final sigma lower-cases to σ, not ς.)
                    self.assertIn(piece.removeprefix("##").replace("ς", "σ"),
                                  source.replace("ς", "σ"))
            # Spans never overlap unless they are the same span.
            for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
                self.assertLessEqual(e1, s2)

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(st.lists(st.text(
        alphabet=st.sampled_from(list("abcdeXYZ019 .,;!?'#[]-\t\n\r")),
        max_size=300), min_size=1, max_size=5))
    def test_ascii_fast_path_equals_the_step_by_step_path(self, texts):
        tokenizer = uncased_tokenizer()
        fast = tokenizer.tokenize(tf.constant(texts)).to_list()
        exact = tokenizer._tokenize_exact(tf.constant(texts)).to_list()
        self.assertEqual(fast, exact)

    @hypothesis.settings(max_examples=40, deadline=None)
    @hypothesis.given(st.lists(st.text(max_size=60), min_size=1, max_size=5))
    def test_any_unicode_gives_the_same_ids_with_offsets(self, texts):
        tokenizer = uncased_tokenizer()
        ids, _, _ = tokenizer.tokenize_with_offsets(tf.constant(texts))
        self.assertEqual(tokenizer.tokenize(tf.constant(texts)).to_list(),
                         ids.to_list())

    def test_offsets_cut_the_original_characters(self):
        tokenizer = uncased_tokenizer()
        text = "Caf\u00e9 na\u00efve  \u4e2d\u6587 ok"
        _, starts, ends = tokenizer.tokenize_with_offsets(tf.constant([text]))
        spans = [text[s:e] for s, e in zip(starts.to_list()[0],
                                           ends.to_list()[0])]
        self.assertEqual(spans, ["Caf\u00e9", "na\u00efve", "\u4e2d",
                                 "\u6587", "ok"])


    def test_offsets_of_a_batch_equal_each_row_alone(self):
        # Rows are located in one running total over the whole batch; a row
        # ending or starting in characters that normalize to nothing (a
        # control character, a combining accent) must not shift its
        # neighbours' offsets.
        tokenizer = uncased_tokenizer()
        texts = ["", "ab\x00", "\u0301x\u00e9 y", "Caf\u00e9 " * 500,
                 "\x00", "\u4e2d\u6587 ok\u200b", ""]
        _, starts, ends = tokenizer.tokenize_with_offsets(tf.constant(texts))
        for i, text in enumerate(texts):
            _, alone_starts, alone_ends = tokenizer.tokenize_with_offsets(
                tf.constant([text]))
            self.assertEqual(starts.to_list()[i], alone_starts.to_list()[0])
            self.assertEqual(ends.to_list()[i], alone_ends.to_list()[0])


    def test_offsets_memory_grows_with_the_batch_text_not_its_longest_row(
            self):
        # One 200 KB text among 1,023 empty ones: a [batch, longest row]
        # table of int64 offsets would take 1.6 GB; the batch holds 200 KB.
        script = """if True:
            import os, resource
            import tensorflow as tf
            from bert_tf import tokenization
            from tests import testing
            tokenizer = tokenization.BertTokenizer(
                os.path.join(testing.minilm_dir(), "vocab.txt"),
                lower_case=True)
            texts = tf.constant(["word, " * 34000] + [""] * 1023)
            tokenizer.tokenize_with_offsets(texts[1:])  # warm up
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            _, starts, _ = tokenizer.tokenize_with_offsets(texts)
            assert starts.row_lengths()[0] == 68000
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print((after - before) // 1024)
        """
        out = subprocess.run([sys.executable, "-c", script], check=True,
                             capture_output=True, text=True,
                             cwd=testing.REPO_ROOT, timeout=300)
        growth_mb = int(out.stdout.split()[-1])
        self.assertLess(growth_mb, 300, out.stdout)


class PackTest(tf.test.TestCase):

    @staticmethod
    def _original_truncation(a, b, budget):
        a, b = list(a), list(b)
        while len(a) + len(b) > budget:
            if len(a) > len(b):
                a.pop()
            else:
                b.pop()
        return a, b

    def test_pair_truncation_trims_the_longer_segment_first(self):
        tokenizer = uncased_tokenizer()
        rng = np.random.default_rng(0)
        for _ in range(50):
            la, lb = rng.integers(0, 12, size=2)
            seq_length = int(rng.integers(5, 20))
            a = list(range(1000, 1000 + la))
            b = list(range(2000, 2000 + lb))
            packed = tokenizer.pack([tf.ragged.constant([a], tf.int32),
                                     tf.ragged.constant([b], tf.int32)],
                                    seq_length)
            ta, tb = self._original_truncation(a, b, seq_length - 3)
            want = [101, *ta, 102, *tb, 102]
            want += [0] * (seq_length - len(want))
            self.assertEqual(packed["input_word_ids"].numpy()[0].tolist(),
                             want)
            self.assertEqual(packed["input_mask"].numpy()[0].tolist(),
                             [1] * (len(ta) + len(tb) + 3)
                             + [0] * (seq_length - len(ta) - len(tb) - 3))
            self.assertEqual(packed["input_type_ids"].numpy()[0].tolist(),
                             [0] * (len(ta) + 2) + [1] * (len(tb) + 1)
                             + [0] * (seq_length - len(ta) - len(tb) - 3))

    def test_round_robin_trim_in_core_ops_equals_tf_text_on_batches(self):
        rng = np.random.default_rng(1)
        for budget in (1, 2, 5, 8, 13):
            a = tf.ragged.constant([list(range(n)) for n in
                                    rng.integers(0, 12, 40)], tf.int32)
            b = tf.ragged.constant([list(range(100, 100 + n)) for n in
                                    rng.integers(0, 12, 40)], tf.int32)
            ours = tokenization.trim_round_robin([a, b], budget)
            theirs = tf_text.RoundRobinTrimmer(budget).trim([a, b])
            for mine, reference in zip(ours, theirs):
                self.assertAllEqual(mine.to_list(), reference.to_list())
            single = tokenization.trim_round_robin([a], budget)[0]
            self.assertAllEqual(single.to_list(),
                                [row[:budget] for row in a.to_list()])

    def test_encode_single_and_pair(self):
        tokenizer = uncased_tokenizer()
        single = tokenizer.encode(tf.constant(["Hello, world!"]),
                                  seq_length=8)
        self.assertEqual(single["input_word_ids"].numpy().tolist(),
                         [[101, 7592, 1010, 2088, 999, 102, 0, 0]])
        pair = tokenizer.encode(tf.constant(["hello"]), tf.constant(["world"]),
                                seq_length=6)
        self.assertEqual(pair["input_word_ids"].numpy().tolist(),
                         [[101, 7592, 102, 2088, 102, 0]])
        self.assertEqual(pair["input_type_ids"].numpy().tolist(),
                         [[0, 0, 0, 1, 1, 0]])
        with self.assertRaisesRegex(ValueError, "seq_length 2 leaves no room"):
            tokenizer.encode(tf.constant(["a"]), seq_length=2)

    def test_detokenize_joins_word_pieces(self):
        tokenizer = uncased_tokenizer()
        ids = tokenizer.tokenize(tf.constant(["Unaffable dogs!"]))
        self.assertEqual(tokenizer.detokenize(ids).numpy().tolist(),
                         [b"unaffable dogs !"])


class LoadVocabTest(tf.test.TestCase):

    def test_real_vocab_ids_are_line_numbers(self):
        vocab = tokenization.load_vocab(uncased_vocab())
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

    def test_empty_line_and_empty_file_are_named(self):
        path = self.create_tempfile(content="[PAD]\n\n[UNK]\n").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}:2: empty vocabulary entry"):
            tokenization.load_vocab(path)
        path = self.create_tempfile(content="").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}: vocab file is empty"):
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
        path = self.create_tempfile(content=b"[PAD]\nok\n\xff\n").full_path
        with self.assertRaisesRegex(tokenization.VocabError,
                                    f"{path}:3: not UTF-8 text"):
            tokenization.load_vocab(path)


class CaseCheckTest(tf.test.TestCase):

    def test_uncased_vocab_without_lower_casing_is_an_error(self):
        tokenization.check_lower_case(uncased_vocab(), True)
        with self.assertRaisesRegex(ValueError, "uncased vocabulary but "
                                    "lower-casing is off"):
            tokenization.check_lower_case(uncased_vocab(), False)

    def test_cased_vocab_with_lower_casing_is_an_error(self):
        tokens = list(tokenization.SPECIAL_TOKENS) + [
            w for w in ("The", "the", "Paris", "London", "a", "b")]
        path = self.create_tempfile(content="\n".join(tokens) + "\n").full_path
        tokenization.check_lower_case(path, False)
        with self.assertRaisesRegex(ValueError, "cased vocabulary but "
                                    "lower-casing is on"):
            tokenization.check_lower_case(path, True)

    def test_checkpoint_names_of_google_releases_are_checked(self):
        with self.assertRaisesRegex(ValueError, "checkpoint .* is a cased "
                                    "model but lower-casing is on"):
            tokenization.check_lower_case(
                uncased_vocab(), True,
                checkpoint="models/cased_L-12_H-768_A-12/bert_model.ckpt")
        tokenization.check_lower_case(
            uncased_vocab(), True,
            checkpoint="models/uncased_L-12_H-768_A-12/bert_model.ckpt")

    def test_hf_tokenizer_config_is_checked(self):
        tmp = self.create_tempdir().full_path
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": False}, f)
        with self.assertRaisesRegex(ValueError, "declares do_lower_case=false"):
            tokenization.check_lower_case(uncased_vocab(), True,
                                          checkpoint=tmp)
        tokenization.check_lower_case(uncased_vocab(), True,
                                      checkpoint=testing.minilm_dir())


if __name__ == "__main__":
    tf.test.main()
