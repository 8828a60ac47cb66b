"""Property-based fuzzing of every reader of user files.

GLUE TSVs, SWAG CSV, SQuAD JSON, CoNLL columns, pre-training text, vocab
files and config JSON get near-valid files (well-formed ones with random
field values, then random byte-level damage: cut, inserted or replaced
bytes, invalid UTF-8, stray tabs, quotes and line ends) and random bytes.
Each read must either succeed or raise the reader's own error type with a
message that starts with the file's path (most then name the line or the
JSON path): no other exception type, and no hang (hypothesis' deadline).
What a read returns is checked against the bytes (GLUE, SWAG and CoNLL
with the checks of their reader tests, which also check that an error's
line holds the fault), and each derandomized run must both read files and
refuse them, so that neither set of checks is left idle.
"""

import collections
import json
import os
import re
import tempfile

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import tensorflow as tf

from bert_tf import configs
from bert_tf.data import document_index
from bert_tf.tasks.multiple_choice import data as swag
from bert_tf.tasks.question_answering import data as squad
from bert_tf.tasks.text_classification import data as glue
from bert_tf.tasks.token_classification import data as conll
from bert_tf import tokenization
from tests import conll_data_test
from tests import glue_data_test
from tests import swag_data_test
from tests import testing

# Derandomized in every profile: each test requires both outcomes (files
# read and files refused), which a fixed example stream guarantees. No
# deadline: a loaded machine is not a failure.
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Field text: letters, digits, spaces, the separators and quotes readers
# care about, accents, CJK, a combining mark, an emoji.
_TEXT = st.text(alphabet=st.sampled_from(list(
    "ab Zz09 .,-'\"\t\r\n\\{}[]:#éß東\u0301😀")), max_size=20)
# A field: mostly plain words (files that read), or any _TEXT (blank
# ones, separators and quotes inside, which often do not).
_FIELD = st.one_of(st.sampled_from(["a", "b c", "é", "東京"]), _TEXT)
_JUNK = st.sampled_from([b"\t", b"\n", b"\r\n", b"\r", b"\"", b",", b" ",
                         b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf", b"{",
                         b"}", b"[", b"]", b":", b"-DOCSTART-", b"O",
                         b"B-PER", b"I-XYZ"])


@st.composite
def _damaged(draw, valid):
    """`valid` bytes (drawn) after up to 4 random edits."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["cut", "insert", "replace", "drop"]))
        at = draw(st.integers(0, len(data)))
        if kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(_JUNK)
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "drop" and at < len(data):
            del data[at:at + draw(st.integers(1, 8))]
    return bytes(data)


def _inputs(valid):
    # The undamaged files too, so that reads succeed often enough for the
    # checks on what they return to run.
    return st.one_of(valid, _damaged(valid), st.binary(max_size=200))


def _write(data, name):
    directory = tempfile.mkdtemp(prefix="fuzz_")
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@st.composite
def _glue_file(draw, task_name, split):
    task = glue.TASKS[task_name]
    columns = task.columns(split)
    rows = ["\t".join(columns.names)] if columns.header else []
    for _ in range(draw(st.integers(0, 4))):
        fields = []
        for name in columns.names:
            if name == columns.label and task.labels:
                fields.append(draw(st.sampled_from(
                    list(task.labels) + ["x", ""])))
            elif name == columns.label:
                fields.append(draw(st.sampled_from(
                    ["3.2", "0", "5.0", "-1", "nan", "x"])))
            else:
                fields.append(draw(_FIELD).replace("\t", " ")
                              .replace("\n", " ").replace("\r", " "))
        rows.append("\t".join(fields))
    return ("\n".join(rows) + "\n").encode()


@st.composite
def _swag_file(draw):
    header = ["", "video-id", "fold-ind", "startphrase", "sent1",
              "sent2", "gold-source", "ending0", "ending1", "ending2",
              "ending3", "label"]
    rows = [",".join(header)]
    for i in range(draw(st.integers(0, 3))):
        fields = [str(i), "v", "1", "s", draw(_FIELD), draw(_FIELD),
                  "gold"]
        fields += [draw(_FIELD) for _ in range(4)]
        fields.append(draw(st.sampled_from(["0", "1", "2", "3", "4", "x",
                                            ""])))
        rows.append(",".join('"' + f.replace('"', '""') + '"'
                             for f in fields))
    return ("\n".join(rows) + "\n").encode()


@st.composite
def _squad_file(draw):
    context = draw(_TEXT)
    qas = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(st.integers(-1, len(context) + 1))
        impossible = draw(st.sampled_from([None, False, True]))
        answers = [{"text": context[max(start, 0):][:3],
                    "answer_start": start}]
        if impossible and draw(st.booleans()):
            answers = []  # as v2.0 writes impossible questions
        qas.append({
            # "q0" again: a duplicate id.
            "id": draw(st.sampled_from([f"q{i}", f"q{i}", "q0", "", 7])),
            "question": draw(_TEXT),
            "answers": answers,
            **({"is_impossible": impossible}
               if impossible is not None else {})})
    document = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def _conll_file(draw):
    lines = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.integers(0, 4)) == 0:
            lines.append("")
            continue
        word = draw(_TEXT).replace(" ", "").replace("\t", "") \
            .replace("\n", "").replace("\r", "") or "w"
        tag = draw(st.sampled_from(list(conll.TAGS) + ["B-XYZ", "I"]))
        lines.append(f"{word} NNP I-NP {tag}")
    return ("\n".join(lines) + "\n").encode()


@st.composite
def _vocab_file(draw):
    tokens = list(tokenization.SPECIAL_TOKENS) + draw(st.lists(
        _TEXT, max_size=6))
    tokens = draw(st.permutations(tokens))
    return ("\n".join(tokens) + "\n").encode()


@st.composite
def _config_file(draw):
    values = configs.BertConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37).to_dict()
    for key in draw(st.lists(st.sampled_from(sorted(values)),
                             max_size=2)):
        values[key] = draw(st.sampled_from(
            [0, -3, 1.5, "x", None, [], 10**12, True]))
    return json.dumps(values).encode()



class ReaderFuzzTest(tf.test.TestCase):

    def assertReadsOrNamesFile(self, read, path, error_type):
        """`read(path)`, or None if it raised `error_type` naming the file
        (and an existing line); counts both outcomes in `self.outcomes`."""
        with open(path, "rb") as f:
            data = f.read()
        try:
            result = read(path)
        except error_type as e:
            testing.assert_names_file_and_line(self, e, path, data)
            self.outcomes[False] += 1
            return None
        self.outcomes[True] += 1
        return result

    def assertBothOutcomes(self, check):
        """Runs the hypothesis test `check`: the fixed (derandomized) run
        must read some files and refuse others, or the checks on one of
        the two outcomes would never run."""
        self.outcomes = collections.Counter()
        check()
        self.assertGreater(self.outcomes[True], 0, self.outcomes)
        self.assertGreater(self.outcomes[False], 0, self.outcomes)

    # -------------------------------------------------------------- GLUE

    def test_glue_tsv(self):
        @FUZZ
        @given(st.data())
        def check(data):
            task_name = data.draw(st.sampled_from(
                ["sst2", "mrpc", "stsb", "mnli", "qqp", "cola", "ax"]))
            task = glue.TASKS[task_name]
            split = data.draw(st.sampled_from(list(task.splits)))
            content = data.draw(_inputs(_glue_file(task_name, split)))
            path = _write(content, "file.tsv")
            self.outcomes[glue_data_test.check_read(
                self, task, split, path, content,
                lambda skipped: glue.read_file(task, path, split,
                                               skipped))] += 1

        self.assertBothOutcomes(check)

    # -------------------------------------------------------------- SWAG

    def test_swag_csv(self):
        @FUZZ
        @given(st.data())
        def check(data):
            content = data.draw(_inputs(_swag_file()))
            path = _write(content, "val.csv")
            labelled = data.draw(st.booleans())
            self.outcomes[swag_data_test.check_read(
                self, path, content, labelled,
                lambda: swag.read_file(path, labelled))] += 1

        self.assertBothOutcomes(check)

    # ------------------------------------------------------------- SQuAD

    def test_squad_json(self):
        @FUZZ
        @given(st.data())
        def check(data):
            path = _write(data.draw(_inputs(_squad_file())),
                          "dev-v1.1.json")
            examples = self.assertReadsOrNamesFile(squad.read_file, path,
                                                   glue.DataError)
            ids = [example.qas_id for example in examples or ()]
            self.assertLen(set(ids), len(ids))
            for example in examples or ():
                self.assertIsInstance(example.question, str)
                self.assertNotEqual(example.qas_id, "")
                if example.is_impossible:
                    self.assertEqual(example.answers, ())
                for answer in example.answers:
                    self.assertIsInstance(answer.text, str)
                    self.assertEqual(
                        answer.matches, answer.start >= 0 and example.context[
                            answer.start:answer.start + len(answer.text)]
                        == answer.text)

        self.assertBothOutcomes(check)

    # ------------------------------------------------------------ CoNLL

    def test_conll_columns(self):
        @FUZZ
        @given(st.data())
        def check(data):
            content = data.draw(_inputs(_conll_file()))
            path = _write(content, "train.txt")
            self.outcomes[conll_data_test.check_read(
                self, path, content, lambda: conll.read_file(path))] += 1

        self.assertBothOutcomes(check)

    # ------------------------------------------------------ vocab, config

    def test_vocab_file(self):
        @FUZZ
        @given(st.data())
        def check(data):
            content = data.draw(_inputs(_vocab_file()))
            path = _write(content, "vocab.txt")
            vocab = self.assertReadsOrNamesFile(tokenization.load_vocab, path,
                                                tokenization.VocabError)
            if vocab is not None:
                # One token a line (CRs before the LF dropped), its id the
                # line's index.
                lines = content.decode("utf-8").removesuffix("\n")
                self.assertEqual(vocab, {line.rstrip("\r"): i for i, line
                                         in enumerate(lines.split("\n"))})

        self.assertBothOutcomes(check)

    def test_config_json(self):
        @FUZZ
        @given(st.data())
        def check(data):
            content = data.draw(_inputs(_config_file()))
            path = _write(content, "bert_config.json")
            config = self.assertReadsOrNamesFile(
                configs.BertConfig.from_json_file, path, configs.ConfigError)
            if config is not None:
                self.assertGreater(config.hidden_size, 0)
                # Every field the file sets is the config's.
                values = json.loads(content.decode("utf-8-sig"))
                self.assertEqual(
                    {k: v for k, v in config.to_dict().items()
                     if k in values},
                    {k: v for k, v in values.items()
                     if k in config.to_dict()})

        self.assertBothOutcomes(check)

    def test_config_json_with_a_list_or_object_activation(self):
        # Found by test_config_json: a list is unhashable, and testing it
        # against the activation names raised TypeError.
        for value in ([], {}, ["gelu"]):
            values = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=37,
                          hidden_act=value)
            path = _write(json.dumps(values).encode(), "bert_config.json")
            with self.assertRaisesRegex(
                    configs.ConfigError,
                    "^" + re.escape(f"{path}: field 'hidden_act' is "
                                    f"{value!r}; supported: ")):
                configs.BertConfig.from_json_file(path)

    # ---------------------------------------------------- pre-training

    @settings(FUZZ, max_examples=40)
    @given(st.binary(max_size=300))
    def test_pretraining_text_documents_are_blank_line_separated(self, raw):
        """Any bytes parse: documents are the runs of non-blank lines."""
        path = _write(raw, "corpus.txt")
        index = document_index.DocumentIndex.for_files([path])
        documents = [[s.decode("utf-8", "replace")
                      for s in index.sentences(i)]
                     for i in range(index.num_documents)]
        text = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        expected, current = [], []
        for line in text.split(b"\n"):
            if line.strip(b" \t\n\r\x0b\x0c") == b"":
                if current:
                    expected.append(current)
                current = []
            else:
                current.append(line.decode("utf-8", "replace"))
        if current:
            expected.append(current)
        self.assertEqual(documents, expected)


if __name__ == "__main__":
    tf.test.main()
