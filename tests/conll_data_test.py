"""CoNLL-2003 data: the real files, every error, schemes, windows, output,
random input."""

import collections
import os
import re

import hypothesis
import numpy as np
import tensorflow as tf
from hypothesis import strategies as st
from seqeval.metrics import sequence_labeling

from bert_tf.tasks.token_classification import data as conll
from bert_tf import tokenization
from tests import testing

SHARED_DATA = os.path.join(testing.REPO_ROOT, "..", "shared", "data")
CONLL_DIR = os.path.join(SHARED_DATA, "CoNLL-2003")
CASED_VOCAB = os.path.join(SHARED_DATA, "vocab", "bert-base-cased",
                           "vocab.txt")
# A vocabulary whose pieces the tests can count by hand.
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "mr", "smith",
              "##son", "went", "to", "new", "york", ".", "in", "paris",
              "u", "s", "-"]


def write(directory, name, content):
    """Writes str (as UTF-8) or bytes; returns the path."""
    path = os.path.join(directory, name)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(path, "wb") as f:
        f.write(data)
    return path


def tiny_tokenizer(test):
    path = write(test.create_tempdir().full_path, "vocab.txt",
                 "\n".join(TINY_VOCAB) + "\n")
    return tokenization.BertTokenizer(path, lower_case=True)


def sentence(text, tags, guid="s"):
    return conll.Sentence(guid, tuple(text.split()), tuple(tags.split()))


def ids(*tokens):
    return tuple(TINY_VOCAB.index(t) for t in tokens)


class ConllConformanceTest(tf.test.TestCase):
    """The real CoNLL-2003 files under ../shared/data (skipped when absent)."""

    def setUp(self):
        super().setUp()
        if not os.path.isdir(CONLL_DIR):
            self.skipTest(f"{CONLL_DIR} is absent")
        self.dir = os.path.join(CONLL_DIR, "bert_ner_full_dev_test")

    def test_full_dev_and_test_have_the_standard_sizes(self):
        for split, sentences, tokens, entities, documents in (
                ("dev", 3250, 51362, 5942, 216),
                ("test", 3453, 46435, 5648, 231)):
            with self.subTest(split=split), \
                    self.assertLogs("absl", "INFO") as logs:
                read = conll.read_split(self.dir, split)
                self.assertLen(read, sentences)
                self.assertEqual(sum(len(s.words) for s in read), tokens)
                self.assertEqual(sum(len(sequence_labeling.get_entities(
                    list(s.tags))) for s in read), entities)
                self.assertEqual(read[-1].document + 1, documents)
                self.assertEqual(read[-1].guid, f"{split}-{sentences - 1}")
                self.assertIn(f"{entities} entities; IOB2 tags",
                              "".join(logs.output))

    def test_first_sentences_and_tag_counts(self):
        dev = conll.read_split(self.dir, "dev")
        self.assertEqual(dev[0], conll.Sentence(
            "dev-0", ("CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT",
                      "TOP", "AFTER", "INNINGS", "VICTORY", "."),
            ("O", "O", "B-ORG") + ("O",) * 8, document=0, line=3))
        self.assertEqual(dev[2].words[:3], ("West", "Indian", "all-rounder"))
        self.assertEqual(dev[2].tags[:3], ("B-MISC", "I-MISC", "O"))
        test = conll.read_split(self.dir, "test")
        self.assertEqual(test[0].words[:3], ("SOCCER", "-", "JAPAN"))
        self.assertEqual(test[0].tags[2], "B-LOC")
        counts = collections.Counter(t for s in dev for t in s.tags)
        self.assertEqual(counts["B-PER"], 1842)
        self.assertEqual(set(counts), set(conll.TAGS))

    def test_train_head_and_missing_train_file(self):
        train = conll.read_split(os.path.join(CONLL_DIR,
                                              "bert_ner_train_head"), "train")
        self.assertLen(train, 121)
        self.assertEqual(train[0].words[:3], ("EU", "rejects", "German"))
        with self.assertRaisesRegex(conll.DataError,
                                    "no train file: expected eng.train or "
                                    "train.txt"):
            conll.read_split(self.dir, "train")

    def test_real_dev_windows_give_every_word_one_labelled_piece(self):
        dev = conll.read_split(self.dir, "dev")
        tokenizer = tokenization.BertTokenizer(CASED_VOCAB, lower_case=False)
        with self.assertLogs("absl", "INFO") as logs:
            features = conll.features(tokenizer, dev, 128)
        # 4 dev sentences have more than 126 cased pieces (the longest 149).
        self.assertIn("4 of 3250 sentences have more than 126 word pieces",
                      "".join(logs.output))
        self.assertLen(features, 3254)
        words = collections.Counter()
        continuation = {i for token, i in tokenizer.vocab.items()
                        if token.startswith("##")}
        num_split_tokens = 0
        for f in features:
            self.assertLessEqual(len(f.input_word_ids), 128)
            # Every BERT word (first piece not '##') is labelled: each
            # token's first one and the later words of tokens like 'U.S.'.
            starts = tuple(i for i, piece in enumerate(f.input_word_ids)
                           if 0 < i < len(f.input_word_ids) - 1
                           and piece not in continuation)
            self.assertEqual(f.label_weights, tuple(
                int(i in starts) for i in range(len(f.input_word_ids))))
            self.assertContainsSubset(f.word_positions, starts)
            num_split_tokens += len(starts) - len(f.word_positions)
            for offset in range(len(f.word_positions)):
                words[f.example_index, f.first_word + offset] += 1
        self.assertEqual(sum(words.values()), 51362)
        self.assertEqual(set(words.values()), {1})
        # Tokens with punctuation inside ('U.S.', '1-0', '2.5') give these
        # extra BERT words.
        self.assertGreater(num_split_tokens, 1000)


class ConllReaderTest(tf.test.TestCase):
    """Hand-written files: structure, layouts and every error."""

    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path

    def test_docstart_and_blank_lines_separate_sentences_and_documents(self):
        path = write(self.dir, "f", "\n".join([
            "-DOCSTART- -X- -X- O",
            "",
            "EU NNP B-NP B-ORG",
            "rejects VBZ B-VP O",
            "",
            "",
            "Peter NNP B-NP B-PER",
            "Blackburn NNP I-NP I-PER",
            "-DOCSTART- -X- O O",  # also ends the sentence
            "BRUSSELS NNP B-NP B-LOC",
            "",
            "-DOCSTART- -X- -X- O",  # an empty last document
            "",
            ""]))
        self.assertEqual(conll.read_file(path, "dev"), [
            conll.Sentence("dev-0", ("EU", "rejects"), ("B-ORG", "O"), 0, 3),
            conll.Sentence("dev-1", ("Peter", "Blackburn"),
                           ("B-PER", "I-PER"), 0, 7),
            conll.Sentence("dev-2", ("BRUSSELS",), ("B-LOC",), 1, 10)])

    def test_crlf_bom_tabs_and_space_runs_read_alike(self):
        lf = write(self.dir, "lf", "A DT O O\nb NN B-NP I-PER\n\nc X O O\n")
        crlf = write(self.dir, "crlf", b"\xef\xbb\xbfA DT O O\r\n"
                     b"b\tNN  B-NP   I-PER \r\n \t\r\nc X O O")
        self.assertEqual(conll.read_file(lf), conll.read_file(crlf))
        self.assertEqual(conll.read_file(crlf)[0].words, ("A", "b"))

    def test_both_layouts_and_missing_files(self):
        write(self.dir, "eng.testa", "a X O O\n")
        write(self.dir, "valid.txt", "b X O O\n")
        write(self.dir, "test.txt", "c X O O\n")
        # The original name wins when both are there.
        self.assertEqual(conll.read_split(self.dir, "dev")[0].words, ("a",))
        self.assertEqual(conll.read_split(self.dir, "test")[0].words, ("c",))
        with self.assertRaisesRegex(
                conll.DataError, f"^{self.dir}: no train file: expected "
                "eng.train or train.txt .*eng.train/eng.testa/eng.testb, "
                "train.txt/valid.txt/test.txt"):
            conll.read_split(self.dir, "train")
        with self.assertRaisesRegex(ValueError, "unknown CoNLL-2003 split "
                                    "'valid'; expected one of train, dev"):
            conll.read_split(self.dir, "valid")

    def test_wrong_number_of_columns_names_file_and_line(self):
        for line in ("EU NNP B-ORG", "EU NNP B-NP B-ORG extra", "EU\tB-ORG"):
            path = write(self.dir, "f", f"-DOCSTART- -X- O O\n\na X O O\n"
                         f"{line}\n")
            with self.subTest(line=line), self.assertRaisesRegex(
                    conll.DataError, f"^{path}:4: expected 4 space-separated "
                    "columns \\(token POS chunk NER\\), found [235]$"):
                conll.read_file(path)

    def test_unknown_tag_lists_the_allowed_tags(self):
        for tag in ("B-GPE", "b-PER", "I-", "E-LOC", "S-PER", "0"):
            path = write(self.dir, "f", f"a X O O\n\nb X O {tag}\n")
            with self.subTest(tag=tag), self.assertRaisesRegex(
                    conll.DataError,
                    f"^{path}:3: tag '{tag}' is not a CoNLL-2003 NER tag "
                    r"\(O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, "
                    r"I-MISC\)$"):
                conll.read_file(path)

    def test_files_without_sentences_are_errors(self):
        for content in ("", "\n\n", "-DOCSTART- -X- -X- O\n\n",
                        b"\xef\xbb\xbf \r\n"):
            path = write(self.dir, "f", content)
            with self.subTest(content=content), self.assertRaisesRegex(
                    conll.DataError, f"^{path}: no sentences$"):
                conll.read_file(path)

    def test_bytes_that_are_not_utf8_name_the_line(self):
        path = write(self.dir, "f", b"a X O O\nb\xff X O O\n")
        with self.assertRaisesRegex(conll.DataError,
                                    f"^{path}:2: not UTF-8 \\(byte 0xff"):
            conll.read_file(path)


class ConllSchemeTest(tf.test.TestCase):
    """IOB1 vs IOB2: detection, conversion, and what conlleval reads."""

    def test_to_iob2_rewrites_only_entity_initial_i_tags(self):
        for iob1, iob2 in (
                ("I-PER I-PER", "B-PER I-PER"),  # one entity
                ("I-PER B-PER", "B-PER B-PER"),  # two adjacent entities
                ("I-PER I-LOC", "B-PER B-LOC"),  # a type change starts one
                ("O I-ORG I-ORG O I-MISC", "O B-ORG I-ORG O B-MISC"),
                ("B-LOC I-LOC O B-PER", "B-LOC I-LOC O B-PER"),  # IOB2 kept
                ("O O", "O O")):
            with self.subTest(iob1=iob1):
                self.assertEqual(conll.to_iob2(iob1.split()), iob2.split())
                self.assertEqual(conll.to_iob2(iob2.split()), iob2.split())

    def test_detect_scheme_per_file(self):
        self.assertEqual(conll.detect_scheme([["O", "B-PER", "I-PER"],
                                              ["B-LOC"]]), "IOB2")
        self.assertEqual(conll.detect_scheme([["B-PER", "I-PER"],
                                              ["O", "I-LOC"]]), "IOB1")
        # No entity: both readings agree; reported as IOB2.
        self.assertEqual(conll.detect_scheme([["O"]]), "IOB2")

    def test_iob1_file_is_read_as_iob2_and_logged(self):
        directory = self.create_tempdir().full_path
        path = write(directory, "eng.train", "\n".join([
            "-DOCSTART- -X- O O", "", "U.N. NNP I-NP I-ORG",
            "official NN I-NP O", "Ekeus NNP I-NP I-PER", "heads VBZ I-VP O",
            "", "Germany NNP I-NP I-LOC", "France NNP I-NP B-LOC",
            "Rolf NNP I-NP I-PER", "Ekeus NNP I-NP I-PER", ""]))
        with self.assertLogs("absl", "INFO") as logs:
            sentences = conll.read_file(path)
        self.assertIn(f"{path}: 2 sentences, 5 entities; IOB1 tags, "
                      "converted to IOB2", "".join(logs.output))
        self.assertEqual([s.tags for s in sentences], [
            ("B-ORG", "O", "B-PER", "O"),
            ("B-LOC", "B-LOC", "B-PER", "I-PER")])

    def test_iob1_file_with_iob2_style_starts_warns(self):
        path = write(self.create_tempdir().full_path, "f",
                     "a X O I-PER\nb X O O\nc X O B-LOC\n")
        with self.assertLogs("absl", "WARNING") as logs:
            sentences = conll.read_file(path)
        self.assertIn("IOB1 file with 1 B- tags that start an entity after "
                      "a different tag (IOB2 style), first at line 3",
                      "".join(logs.output))
        self.assertEqual(sentences[0].tags, ("B-PER", "O", "B-LOC"))

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(st.lists(st.sampled_from(conll.TAGS), max_size=12))
    def test_to_iob2_keeps_the_entities_conlleval_reads(self, tags):
        # seqeval's default chunking is conlleval's.
        iob2 = conll.to_iob2(tags)
        self.assertEqual(sequence_labeling.get_entities(iob2),
                         sequence_labeling.get_entities(list(tags)))
        self.assertEqual(conll.detect_scheme([iob2]), "IOB2")
        self.assertEqual(conll.to_iob2(iob2), iob2)


class ConllFeaturesTest(tf.test.TestCase):
    """Word pieces, labels on first pieces, windows, predictions back."""

    def setUp(self):
        super().setUp()
        self.tokenizer = tiny_tokenizer(self)

    def test_first_piece_of_each_word_is_labelled(self):
        (feature,) = conll.features(self.tokenizer, [sentence(
            "Mr Smithson went to New York .",
            "O B-PER O O B-LOC I-LOC O")], 16)
        self.assertEqual(feature.input_word_ids, ids(
            "[CLS]", "mr", "smith", "##son", "went", "to", "new", "york",
            ".", "[SEP]"))
        tag = conll.TAGS.index
        self.assertEqual(feature.label_ids, (
            0, 0, tag("B-PER"), 0, 0, 0, tag("B-LOC"), tag("I-LOC"), 0, 0))
        self.assertEqual(feature.label_weights,
                         (0, 1, 1, 0, 1, 1, 1, 1, 1, 0))
        self.assertEqual(feature.word_positions, (1, 2, 4, 5, 6, 7, 8))
        self.assertEqual(feature.input_type_ids, (0,) * 10)
        self.assertEqual((feature.example_index, feature.first_word), (0, 0))

    def test_later_words_of_a_token_carry_its_tag_inside_the_entity(self):
        # 'U.S.' is four BERT words and 'u-s' three, as the NER export
        # splits raw text: each is labelled, inside the token's entity.
        (feature,) = conll.features(self.tokenizer, [sentence(
            "U.S. went u-s Mr.", "B-LOC O B-ORG O")], 16)
        self.assertEqual(feature.input_word_ids, ids(
            "[CLS]", "u", ".", "s", ".", "went", "u", "-", "s", "mr", ".",
            "[SEP]"))
        tag = conll.TAGS.index
        self.assertEqual(feature.label_ids, (
            0, tag("B-LOC"), tag("I-LOC"), tag("I-LOC"), tag("I-LOC"),
            tag("O"), tag("B-ORG"), tag("I-ORG"), tag("I-ORG"), tag("O"),
            tag("O"), 0))
        self.assertEqual(feature.label_weights, (0,) + (1,) * 10 + (0,))
        # Predictions and scores stay on the CoNLL tokens: first pieces.
        self.assertEqual(feature.word_positions, (1, 5, 6, 9))

    def test_text_entity_scores_count_entities_cut_inside_a_token_wrong(self):
        sentences = [sentence("U.S. went u-s Mr.", "B-LOC O B-ORG O")]
        (feature,) = conll.features(self.tokenizer, sentences, 16)

        def logits(word_tags):  # tag per position 1..10 ([CLS] u . s ...)
            row = np.zeros([12, len(conll.TAGS)], np.float32)
            for position, tag in enumerate(word_tags.split(), start=1):
                row[position, conll.TAGS.index(tag)] = 5.0
            return row[None]

        consistent = logits("B-LOC I-LOC I-LOC I-LOC O B-ORG I-ORG I-ORG "
                            "O O")
        self.assertEqual(conll.text_entity_scores(
            sentences, [feature], consistent),
            {"text_precision": 1.0, "text_recall": 1.0, "text_f1": 1.0})
        # The first '.' of 'U.S.' tagged O: the export would return 'U' and
        # 'S.' as two LOC entities, neither of them the gold 'U.S.'; the
        # CoNLL token itself is still B-LOC at its first word.
        split = logits("B-LOC O I-LOC I-LOC O B-ORG I-ORG I-ORG O O")
        self.assertEqual(conll.predicted_tags(sentences, [feature], split),
                         [["B-LOC", "O", "B-ORG", "O"]])
        scores = conll.text_entity_scores(sentences, [feature], split)
        self.assertAllClose(
            [scores["text_precision"], scores["text_recall"],
             scores["text_f1"]], [1 / 3, 1 / 2, 0.4])

    def test_long_sentences_are_split_into_windows_not_truncated(self):
        sentences = [sentence("Mr Smithson went to Paris", "O B-PER O O "
                              "B-LOC"),
                     sentence("in Paris", "O B-LOC"),
                     sentence("Smithsonsonson Mr", "B-PER O")]
        with self.assertLogs("absl", "INFO") as logs:
            features = conll.features(self.tokenizer, sentences, 5)
        # 3 pieces per window: [mr smith ##son] [went to paris] [in paris]
        # and the 4-piece word alone, cut to 3 pieces, then [mr].
        self.assertEqual([(f.example_index, f.first_word, f.input_word_ids)
                          for f in features], [
            (0, 0, ids("[CLS]", "mr", "smith", "##son", "[SEP]")),
            (0, 2, ids("[CLS]", "went", "to", "paris", "[SEP]")),
            (1, 0, ids("[CLS]", "in", "paris", "[SEP]")),
            (2, 0, ids("[CLS]", "smith", "##son", "##son", "[SEP]")),
            (2, 1, ids("[CLS]", "mr", "[SEP]"))])
        self.assertIn("2 of 3 sentences have more than 3 word pieces: split "
                      "into windows (5 windows in all)", "".join(logs.output))
        self.assertEqual(features[1].label_ids,
                         (0, 0, 0, conll.TAGS.index("B-LOC"), 0))
        with self.assertRaisesRegex(ValueError, "max_seq_length 2 leaves no "
                                    "room"):
            conll.features(self.tokenizer, sentences, 2)
        with self.assertRaisesRegex(ValueError, "s: 2 words but 1 tags"):
            conll.features(self.tokenizer, [sentence("in Paris", "O")], 8)

    def test_word_without_pieces_gets_unk(self):
        # U+200B is a format character: BERT's cleaning deletes it.
        (feature,) = conll.features(self.tokenizer, [conll.Sentence(
            "s", ("Paris", "\u200b", "?"), ("B-LOC", "O", "O"))], 16)
        self.assertEqual(feature.input_word_ids,
                         ids("[CLS]", "paris", "[UNK]", "[UNK]", "[SEP]"))
        self.assertEqual(feature.word_positions, (1, 2, 3))

    def test_predicted_tags_come_back_per_word_and_repaired(self):
        sentences = [sentence("Mr Smithson went to Paris",
                              "O B-PER O O B-LOC"),
                     sentence("New York", "B-LOC I-LOC")]
        features = conll.features(self.tokenizer, sentences, 5)
        self.assertLen(features, 3)
        longest = max(len(f.input_word_ids) for f in features)
        logits = np.zeros([3, longest, len(conll.TAGS)], np.float32)
        # The model says: O I-PER | O O I-LOC | I-LOC I-LOC. Pieces after
        # the first (##son) and [CLS]/[SEP] say B-MISC: never read.
        logits[:, :, conll.TAGS.index("B-MISC")] = 5.0
        wanted = [["O", "I-PER"], ["O", "O", "I-LOC"], ["I-LOC", "I-LOC"]]
        for row, (feature, tags) in enumerate(zip(features, wanted)):
            for position, tag in zip(feature.word_positions, tags):
                logits[row, position, conll.TAGS.index(tag)] = 10.0
        self.assertEqual(conll.predicted_tags(sentences, features, logits), [
            ["O", "B-PER", "O", "O", "B-LOC"], ["B-LOC", "I-LOC"]])
        with self.assertRaisesRegex(ValueError, "s: word 2 has no "
                                    "prediction"):
            conll.predicted_tags(sentences, features[:1] + features[2:],
                                 logits[[0, 2]])


class ConllOutputTest(tf.test.TestCase):

    def test_writes_token_gold_predicted_columns_atomically(self):
        directory = self.create_tempdir().full_path
        sentences = [conll.Sentence("d-0", ("EU", "rejects"),
                                    ("B-ORG", "O"), 0),
                     conll.Sentence("d-1", ("Peter",), ("B-PER",), 0),
                     conll.Sentence("d-2", ("Paris",), ("B-LOC",), 1)]
        predicted = [["B-ORG", "B-MISC"], ["B-PER"], ["O"]]
        path = os.path.join(directory, "out.txt")
        conll.write_predictions(path, sentences, predicted)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), "EU B-ORG B-ORG\nrejects O B-MISC\n\n"
                             "Peter B-PER B-PER\n\nParis B-LOC O\n\n")
        conll.write_predictions(path, sentences, predicted,
                                document_starts=True)
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read().split("\n")[:6], [
                "-DOCSTART- O O", "", "EU B-ORG B-ORG", "rejects O B-MISC",
                "", "Peter B-PER B-PER"])
        self.assertEqual(os.listdir(directory), ["out.txt"])
        with self.assertRaisesRegex(ValueError, "d-1: 1 words but 2 "
                                    "predicted tags"):
            conll.write_predictions(path, sentences,
                                    [["O", "O"], ["O", "O"], ["O"]])

    def test_output_reads_back_as_conll_columns(self):
        # The written gold column is a CoNLL file's NER column again.
        directory = self.create_tempdir().full_path
        sentences = [sentence("a b c", "B-PER I-PER O"),
                     sentence("d", "B-LOC")]
        path = os.path.join(directory, "out.txt")
        conll.write_predictions(path, sentences, [["O"] * 3, ["O"]])
        with open(path, encoding="utf-8") as f:
            columns = [line.split() for line in f.read().split("\n")]
        columns = "\n".join(f"{c[0]} X O {c[1]}" if c else ""
                            for c in columns)
        reread = conll.read_file(write(directory, "again", columns))
        self.assertEqual([s.tags for s in reread],
                         [s.tags for s in sentences])


@st.composite
def conll_lines(draw):
    """Bytes of a file of random, mostly CoNLL-like lines."""
    token = st.one_of(
        st.sampled_from(["EU", "-DOCSTART-", "-X-", "NNP", "B-NP", "",
                         "é", "1996-08-30"]),
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1,
                max_size=5))
    tag = st.sampled_from(list(conll.TAGS) * 2 + ["B-GPE", "i-PER", "", "-"])
    word = st.sampled_from(["EU", "rejects", "German", "é", "1996-08-30",
                            "-X-", "a\u00a0b"])
    # The real files start with -DOCSTART-.
    lines = ["-DOCSTART- -X- -X- O"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 8))):
        # Mostly token lines, so that whole files are often readable.
        kind = draw(st.sampled_from(["token"] * 5 + ["blank", "docstart",
                                                     "random"]))
        if kind == "token":
            fields = [draw(word), "NNP", "I-NP", draw(tag)]
        elif kind == "blank":
            fields = draw(st.lists(st.sampled_from(["", " "]), max_size=2))
        elif kind == "docstart":
            fields = ["-DOCSTART-", "-X-", "-X-", "O"]
        else:
            fields = draw(st.lists(token, max_size=6))
            if fields and draw(st.booleans()):
                fields[-1] = draw(tag)
        lines.append(draw(st.sampled_from([" ", "\t", "  "])).join(fields))
    data = draw(st.sampled_from(["\n", "\r\n"])).join(lines).encode(
        "utf-8")
    if draw(st.sampled_from([False, True])):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=3)) + data[at:]
    return data


def expected_sentences(data):
    """(words, tags as written, document, first line) of each sentence of a
    CoNLL file's bytes, read by the format's rules: whitespace-separated
    columns, sentences end at blank lines, documents at -DOCSTART-."""
    sentences, current, document, used = [], [], 0, False
    for line_no, raw in testing.file_lines(data).items():
        fields = re.split(r"[ \t]+", raw.decode("utf-8").strip(" \t"))
        if fields == [""] or fields[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
                used = True
            current = []
            if fields[0] == "-DOCSTART-" and used:
                document, used = document + 1, False
            continue
        current.append((fields[0], fields[3], document, line_no))
    if current:
        sentences.append(current)
    return [(tuple(w for w, _, _, _ in s), tuple(t for _, t, _, _ in s),
             s[0][2], s[0][3]) for s in sentences]


def check_read(test, path, data, read):
    """Runs `read()` on the CoNLL file `path` holding `data` and checks the
    outcome against the lines: the sentences are the file's (words, first
    line, document, tags up to the IOB2 rewrite), or the DataError names
    the file and the line at fault (its byte, column count or tag).
    Returns whether the read succeeded."""
    try:
        sentences = read()
    except conll.DataError as e:
        check_error(test, str(e), path, data)
        return False
    expected = expected_sentences(data)
    test.assertLen(sentences, len(expected))
    for i, (s, (words, tags, document, line)) in enumerate(
            zip(sentences, expected)):
        test.assertEqual((s.guid, s.words, s.document, s.line),
                         (f"train-{i}", words, document, line))
        test.assertContainsSubset(s.tags, conll.TAGS)
        test.assertEqual(conll.to_iob2(s.tags), list(s.tags))
        # IOB2 rewrites only I- to B-: same entity types, same Os.
        test.assertEqual([t[2:] for t in s.tags], [t[2:] for t in tags])
        test.assertEqual([t == "O" for t in s.tags], [t == "O" for t in tags])
        for word in s.words:
            test.assertNotRegex(word, "[ \t\n]")
            test.assertNotEmpty(word)
    return True


def check_error(test, message, path, data):
    """The message names the file, and the line at fault if any."""
    line = testing.assert_names_file_and_line(test, message, path, data)
    if line is None:
        test.assertEqual(message, f"{path}: no sentences")
        test.assertEqual(expected_sentences(data), [])
        return
    raw = testing.file_lines(data)[line]
    bad_byte = re.search(r"not UTF-8 \(byte 0x(..) at byte (\d+) ", message)
    if bad_byte:
        test.assertEqual(raw[int(bad_byte.group(2)) - 1],
                         int(bad_byte.group(1), 16), message)
        return
    fields = re.split(r"[ \t]+", raw.decode("utf-8").strip(" \t"))
    count = re.search(r"expected 4 space-separated columns .*, found "
                      r"(\d+)$", message)
    if count:
        test.assertLen(fields, int(count.group(1)), message)
        test.assertNotEqual(len(fields), 4)
    else:
        test.assertEqual(f"{path}:{line}: tag {fields[3]!r} is not a "
                         "CoNLL-2003 NER tag", message.split(" (")[0])
        test.assertNotIn(fields[3], conll.TAGS)


class ConllRandomInputTest(tf.test.TestCase):

    def test_random_lines_parse_or_raise_data_error(self):
        outcomes = collections.Counter()

        @hypothesis.settings(max_examples=150, deadline=None)
        @hypothesis.given(conll_lines())
        def check(data):
            path = write(self.create_tempdir().full_path, "f", data)
            outcomes[check_read(self, path, data,
                                lambda: conll.read_file(path))] += 1

        check()
        # The strategy makes readable files and broken ones.
        self.assertGreater(outcomes[True], 0, outcomes)
        self.assertGreater(outcomes[False], 0, outcomes)


if __name__ == "__main__":
    tf.test.main()
