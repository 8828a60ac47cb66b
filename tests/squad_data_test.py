"""SQuAD reader and features: real fixtures, every error, windows, labels
and character alignment on random text."""

import functools
import json
import os
from unittest import mock

import hypothesis
from hypothesis import strategies as st
import tensorflow as tf

from bert_tf.tasks.question_answering import data as squad
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks.text_classification import data as glue
from bert_tf import tokenization
from tests import testing

SHARED_DATA = os.path.join(testing.REPO_ROOT, "..", "shared", "data")
ALLENNLP_V1 = os.path.join(SHARED_DATA, "SQuAD", "allennlp_models_fixture_v1",
                           "squad.json")
TRANSFORMERS_V2 = os.path.join(SHARED_DATA, "SQuAD",
                               "transformers_fixture_v2",
                               "dev-v2.0-small.json")


@functools.lru_cache(maxsize=None)
def tokenizer():
    return tokenization.BertTokenizer(
        os.path.join(testing.minilm_dir(), "vocab.txt"), lower_case=True)


def qa(qid, question, answers=(), **extra):
    """A qas entry; answers = [(text, answer_start)]."""
    return {"id": qid, "question": question,
            "answers": [{"text": t, "answer_start": s} for t, s in answers],
            **extra}


def squad_json(paragraphs, version="1.1"):
    """paragraphs = [(context, [qa, ...])] in one article."""
    return {"version": version, "data": [{"title": "T", "paragraphs": [
        {"context": c, "qas": q} for c, q in paragraphs]}]}


def write(directory, name, content):
    path = os.path.join(directory, name)
    if not isinstance(content, (str, bytes)):
        content = json.dumps(content)
    with open(path, "wb") as f:
        f.write(content.encode("utf-8") if isinstance(content, str)
                else content)
    return path


def example(context, question="what?", answer=None, qid="q",
            impossible=False):
    """A SquadExample whose answer is the first occurrence of `answer`."""
    answers = ()
    if answer is not None:
        answers = (squad.Answer(answer, context.index(answer)),)
    return squad.SquadExample(qid, question, context, answers, impossible)


class ReaderTest(tf.test.TestCase):

    def test_allennlp_v1_fixture_counts_and_offsets(self):
        if not os.path.isfile(ALLENNLP_V1):
            self.skipTest(f"{ALLENNLP_V1} not present (shared data)")
        mismatched = []
        examples = squad.read_file(ALLENNLP_V1, mismatched)
        self.assertLen(examples, 5)
        self.assertEqual(sum(len(e.answers) for e in examples), 7)
        self.assertEqual(len({e.context for e in examples}), 2)
        self.assertEqual(mismatched, [])  # edited texts, consistent offsets
        for e in examples:
            self.assertTrue(all(a.matches for a in e.answers))
            self.assertEqual(e.title, "University_of_Notre_Dame")
        by_id = {e.qas_id: e for e in examples}
        self.assertLen(by_id["5733be284776f4190066117e"].answers, 3)
        self.assertEqual(by_id["5733b1da4776f4190066106b"].answers[0].text,
                         "Father Julius Nieuwl")

    def test_transformers_v2_fixture_counts_and_offsets(self):
        if not os.path.isfile(TRANSFORMERS_V2):
            self.skipTest(f"{TRANSFORMERS_V2} not present (shared data)")
        mismatched = []
        examples = squad.read_file(TRANSFORMERS_V2, mismatched)
        self.assertLen(examples, 14)
        self.assertEqual(sum(e.is_impossible for e in examples), 6)
        self.assertEqual(sum(len(e.answers) for e in examples), 8)
        self.assertEqual(mismatched, [])
        for e in examples:
            self.assertEqual(bool(e.answers), not e.is_impossible)

    def test_read_split_finds_the_official_file_names(self):
        directory = self.create_tempdir().full_path
        write(directory, "dev-v2.0.json", squad_json(
            [("Hi there.", [qa("a", "Who?", [("there", 3)])])], "v2.0"))
        examples = squad.read_split(directory, "dev", "v2.0")
        self.assertEqual(examples[0].answers, (squad.Answer("there", 3),))
        self.assertEqual(examples[0].where,
                         f"{directory}/dev-v2.0.json: "
                         "data[0].paragraphs[0].qas[0]")
        with self.assertRaisesRegex(glue.DataError,
                                    "expects train-v1.1.json .*"
                                    "dev-v1.1.json"):
            squad.read_split(directory, "train", "v1.1")
        with self.assertRaisesRegex(ValueError, "no split 'test'"):
            squad.read_split(directory, "test")

    def test_mismatched_answer_start_is_counted_logged_not_trained_on(self):
        context = "The cat sat on the mat."
        path = write(self.create_tempdir().full_path, "d.json", squad_json(
            [(context, [qa("q1", "Who?", [("cat", 5), ("cat", 4)]),
                        qa("q2", "Where?", [("mat", 3)])])]))
        mismatched = []
        with self.assertLogs(level="WARNING") as logs:
            examples = squad.read_file(path, mismatched)
        self.assertIn("2 answers whose answer_start does not match",
                      logs.output[0])
        self.assertIn("q1 (data[0].paragraphs[0].qas[0].answers[0])",
                      logs.output[0])
        self.assertLen(mismatched, 2)
        q1, q2 = examples
        self.assertEqual([a.matches for a in q1.answers], [False, True])
        self.assertEqual(q1.training_answer(), squad.Answer("cat", 4))
        self.assertIsNone(q2.training_answer())
        kept, dropped = squad.trainable_examples(examples)
        self.assertEqual([e.qas_id for e in kept], ["q1"])
        self.assertEqual(dropped, 1)

    def _error(self, content, pattern, name="d.json"):
        path = write(self.create_tempdir().full_path, name, content)
        with self.assertRaisesRegex(glue.DataError, pattern):
            squad.read_file(path)
        return path

    def test_missing_keys_and_wrong_types_name_file_and_json_path(self):
        good = squad_json([("ctx", [qa("q", "Who?", [("ctx", 0)])])])
        where = r"d\.json: data\[0\]\.paragraphs\[0\]"
        for damage, pattern in [
            (lambda d: d.pop("data"), r"d\.json: missing key 'data'"),
            (lambda d: d["data"][0].pop("paragraphs"),
             r"d\.json: data\[0\]: missing key 'paragraphs'"),
            (lambda d: d["data"][0]["paragraphs"][0].update(context=3),
             where + r"\.context: expected a string, found int 3"),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop(
                "question"), where + r"\.qas\[0\]: missing key 'question'"),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][
                0].update(answer_start="0"),
             where + r"\.qas\[0\]\.answers\[0\]\.answer_start: expected an "
             r"integer, found str \"0\""),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][
                0].update(answer_start=True),
             r"answer_start: expected an integer, found bool"),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(
                is_impossible="no"),
             r"is_impossible: expected true or false"),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(
                is_impossible=True),
             where + r"\.qas\[0\]: is_impossible is true but it has 1"),
            (lambda d: d["data"][0]["paragraphs"][0]["qas"].append(
                qa("q", "Again?")),
             where + r"\.qas\[1\]: duplicate question id 'q' \(first at "
             r"data\[0\]\.paragraphs\[0\]\.qas\[0\]\)"),
            (lambda d: d.update(data={}), r"data: expected a list"),
        ]:
            data = json.loads(json.dumps(good))
            damage(data)
            self._error(data, pattern)

    def test_bad_bytes_json_and_surrogates_are_data_errors(self):
        self._error(b'{"data": []}\xff', r"d\.json: not UTF-8 \(byte 0xff")
        self._error('{"data": [\n  {"title": }]}',
                    r"d\.json:2: not valid JSON")
        self._error('{"data": [{"paragraphs": [{"context": "a\\ud800b", '
                    '"qas": []}]}]}',
                    r"context: not valid Unicode \(lone surrogate U\+D800")
        # A byte-order mark is fine.
        path = write(self.create_tempdir().full_path, "bom.json",
                     b"\xef\xbb\xbf" + json.dumps(squad_json([])).encode())
        self.assertEqual(squad.read_file(path), [])


class WindowTest(tf.test.TestCase):

    def test_window_spans_follow_the_stride_until_the_end(self):
        self.assertEqual(squad_features.window_spans(10, 4, 3),
                         [(0, 4), (3, 4), (6, 4)])
        # A stride longer than the window: windows abut.
        self.assertEqual(squad_features.window_spans(10, 4, 6),
                         [(0, 4), (4, 4), (8, 2)])
        self.assertEqual(squad_features.window_spans(5, 8, 2), [(0, 5)])
        self.assertEqual(squad_features.window_spans(0, 8, 2), [(0, 0)])

    def test_max_context_prefers_central_positions_earliest_on_ties(self):
        spans = squad_features.window_spans(10, 4, 3)
        # Piece 3: last of window 0, first of window 1 (tie: window 0);
        # pieces 4, 5 are central in window 1; 6 ties again (window 1).
        self.assertEqual(squad_features.max_context_windows(spans, 10).tolist(),
                         [0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
        # Equal distances to the edges: the longer window wins (+ 0.01 *
        # length), even when it comes later.
        self.assertEqual(
            squad_features.max_context_windows([(0, 3), (0, 5)], 5).tolist(),
            [1, 1, 1, 1, 1])

    def test_lengths_without_room_for_context_name_the_flags(self):
        with self.assertRaisesRegex(
                ValueError, "--max_seq_length 67 leaves no room for context "
                "after --max_query_length 64"):
            squad_features.create_features(tokenizer(), [example("a b")], 67)
        squad_features.create_features(tokenizer(), [example("a b")], 68)


class FeaturesTest(tf.test.TestCase):

    def _tokens(self, feature):
        return [t.decode() for t in
                tokenizer().id_to_token(feature.input_word_ids).numpy()]

    def test_packing_types_and_question_truncation(self):
        [feature] = squad_features.create_features(
            tokenizer(), [example("Paris is big.", "where is the city now",
                                  "Paris")],
            max_seq_length=32, max_query_length=3)
        self.assertEqual(self._tokens(feature),
                         ["[CLS]", "where", "is", "the", "[SEP]", "paris",
                          "is", "big", ".", "[SEP]"])
        self.assertEqual(feature.input_type_ids.tolist(),
                         [0] * 5 + [1] * 5)
        self.assertEqual(feature.context_offset, 5)
        self.assertEqual((feature.start_position, feature.end_position),
                         (5, 5))
        self.assertEqual(feature.token_starts.tolist(), [0, 6, 9, 12])
        self.assertEqual(feature.token_ends.tolist(), [5, 8, 12, 13])

    def test_answers_outside_a_window_and_impossible_ones_label_cls(self):
        context = " ".join(f"w{i}" for i in range(30)) + " answer here"
        examples = [example(context, "q", "answer here"),
                    example(context, "q", impossible=True, qid="i")]
        features = squad_features.create_features(tokenizer(), examples,
                                         max_seq_length=16,
                                         max_query_length=4, doc_stride=6)
        answerable = [f for f in features if f.example_index == 0]
        self.assertLen(answerable, len(features) // 2)
        for f in answerable:
            self.assertLessEqual(len(f.input_word_ids), 16)
            tokens = self._tokens(f)
            if "answer" in tokens and "here" in tokens:
                self.assertEqual(tokens[f.start_position:
                                        f.end_position + 1],
                                 ["answer", "here"])
            else:
                self.assertEqual((f.start_position, f.end_position), (0, 0))
        self.assertTrue(any(f.start_position for f in answerable))
        for f in features[len(answerable):]:
            self.assertEqual((f.start_position, f.end_position), (0, 0))
        # Every context piece has exactly one max-context window.
        counts = {}
        for f in answerable:
            first = f.window_index * 6
            for i, best in enumerate(f.max_context):
                counts[first + i] = counts.get(first + i, 0) + int(best)
        self.assertEqual(set(counts.values()), {1})

    def test_answer_inside_a_word_takes_the_pieces_it_touches(self):
        # Truncated answers, as in the allennlp fixture ("Father Julius
        # Nieuwl"): Nieuwland is ni ##eu ##wl ##and.
        context = "Father Julius Nieuwland wrote"
        for answer, pieces, text in [
                ("Nieuwl", ["ni", "##eu", "##wl"], "Nieuwl"),
                ("Nieuw", ["ni", "##eu", "##wl"], "Nieuwl")]:
            [f] = squad_features.create_features(
                tokenizer(), [example(context, "who", answer)],
                max_seq_length=32, max_query_length=8)
            tokens = self._tokens(f)
            self.assertEqual(tokens[f.start_position:f.end_position + 1],
                             pieces)
            first = f.context_offset
            self.assertEqual(squad_features.span_text(
                context, f.token_starts[f.start_position - first],
                f.token_ends[f.end_position - first]), text)

    def test_questions_and_contexts_are_tokenized_in_batched_calls(self):
        tok = tokenizer()
        examples = [example(f"context {i % 3} here", f"question {i}")
                    for i in range(20)]
        with mock.patch.object(tok, "tokenize",
                               wraps=tok.tokenize) as questions, \
                mock.patch.object(tok, "tokenize_with_offsets",
                                  wraps=tok.tokenize_with_offsets) as contexts:
            features = squad_features.create_features(tok, examples, 32,
                                             max_query_length=8)
        self.assertLen(features, 20)
        self.assertEqual(questions.call_count, 1)
        self.assertEqual(contexts.call_count, 1)
        # The three distinct contexts, once each.
        self.assertLen(contexts.call_args[0][0].numpy(), 3)


# Words of the random contexts: accents (composed and combining), CJK,
# punctuation inside and around words, a long word.
WORDS = ("café", "naïve", "Ångström", "über", "cafe\u0301", "東京", "中文",
         "U.S.", "(1990)", "don't", "x", "Zürich's", "bring", "unaffable",
         "antidisestablishment")
SEPARATORS = (" ", "  ", "   ", "\t", "\n", " \u00a0 ")


@st.composite
def contexts_with_answers(draw):
    """(context, answer_start, answer_text): answers are whole words."""
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=40))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words),
                         max_size=len(words)))
    lead = draw(st.sampled_from(("", " ", "  ")))
    context, spans = lead, []
    for word, sep in zip(words, seps):
        spans.append((len(context), len(context) + len(word)))
        context += word + sep
    first = draw(st.integers(0, len(words) - 1))
    last = draw(st.integers(first, min(first + 2, len(words) - 1)))
    start, end = spans[first][0], spans[last][1]
    return context, start, context[start:end]


class AlignmentPropertyTest(tf.test.TestCase):

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(st.lists(contexts_with_answers(), min_size=1,
                               max_size=4))
    def test_every_answer_is_recovered_exactly_from_its_pieces(self, cases):
        examples = [squad.SquadExample(
            f"q{i}", "what is it", context, (squad.Answer(text, start),))
            for i, (context, start, text) in enumerate(cases)]
        features = squad_features.create_features(tokenizer(), examples,
                                         max_seq_length=40,
                                         max_query_length=8, doc_stride=10)
        found = set()
        for f in features:
            if not f.start_position:
                continue
            first = f.context_offset
            context = examples[f.example_index].context
            text = squad_features.span_text(
                context, int(f.token_starts[f.start_position - first]),
                int(f.token_ends[f.end_position - first]))
            self.assertEqual(text, examples[f.example_index].answers[0].text)
            found.add(f.example_index)
        self.assertEqual(found, set(range(len(examples))))


if __name__ == "__main__":
    tf.test.main()
