"""Property-based fuzzing of every reader of user files.

GLUE TSVs, SWAG CSV, SQuAD JSON, CoNLL columns, pre-training text, vocab
files and config JSON get near-valid files (well-formed ones with random
field values, then random byte-level damage: cut, inserted or replaced
bytes, invalid UTF-8, stray tabs, quotes and line ends) and random bytes.
Each read must either succeed or raise the reader's own error type with a
message that starts with the file's path (most then name the line or the
JSON path): no other exception type, and no hang (hypothesis' deadline).
"""

import json
import os
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

FUZZ = settings(max_examples=120, deadline=5000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Field text: letters, digits, spaces, the separators and quotes readers
# care about, accents, CJK, a combining mark, an emoji.
_TEXT = st.text(alphabet=st.sampled_from(list(
    "ab Zz09 .,-'\"\t\r\n\\{}[]:#éß東\u0301😀")), max_size=20)
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
    return st.one_of(_damaged(valid), st.binary(max_size=200))


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
                fields.append(draw(_TEXT).replace("\t", " ")
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
        fields = [str(i), "v", "1", "s", draw(_TEXT), draw(_TEXT), "gold"]
        fields += [draw(_TEXT) for _ in range(4)]
        fields.append(draw(st.sampled_from(["0", "3", "4", "x", ""])))
        rows.append(",".join('"' + f.replace('"', '""') + '"'
                             for f in fields))
    return ("\n".join(rows) + "\n").encode()


@st.composite
def _squad_file(draw):
    context = draw(_TEXT)
    qas = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(st.integers(-1, len(context) + 1))
        qas.append({
            "id": draw(st.sampled_from([f"q{i}", "", 7])),
            "question": draw(_TEXT),
            "answers": [{"text": context[max(start, 0):][:3],
                         "answer_start": start}],
            **({"is_impossible": draw(st.booleans())}
               if draw(st.booleans()) else {})})
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
        try:
            return read(path)
        except error_type as e:
            message = str(e)
            self.assertTrue(message.startswith((f"{path}:", f"{path} ")),
                            f"error does not name the file: {message!r}")
            return None

    # -------------------------------------------------------------- GLUE

    @FUZZ
    @given(st.data())
    def test_glue_tsv(self, data):
        task_name = data.draw(st.sampled_from(
            ["sst2", "mrpc", "stsb", "mnli", "qqp", "cola", "ax"]))
        task = glue.TASKS[task_name]
        split = data.draw(st.sampled_from(list(task.splits)))
        path = _write(data.draw(_inputs(
            _glue_file(task_name, split))), "file.tsv")
        examples = self.assertReadsOrNamesFile(
            lambda p: glue.read_file(task, p, split), path, glue.DataError)
        for example in examples or ():
            self.assertIsInstance(example.text_a, str)
            if task.labels and split != "test" and \
                    example.label is not None:
                self.assertIn(example.label, task.labels)

    # -------------------------------------------------------------- SWAG

    @FUZZ
    @given(st.data())
    def test_swag_csv(self, data):
        path = _write(data.draw(_inputs(_swag_file())),
                      "val.csv")
        labelled = data.draw(st.booleans())
        examples = self.assertReadsOrNamesFile(
            lambda p: swag.read_file(p, labelled), path, glue.DataError)
        for example in examples or ():
            self.assertLen(example.endings, 4)

    # ------------------------------------------------------------- SQuAD

    @FUZZ
    @given(st.data())
    def test_squad_json(self, data):
        path = _write(data.draw(_inputs(_squad_file())),
                      "dev-v1.1.json")
        examples = self.assertReadsOrNamesFile(squad.read_file, path,
                                               glue.DataError)
        for example in examples or ():
            for answer in example.answers:
                self.assertIsInstance(answer.text, str)

    # ------------------------------------------------------------ CoNLL

    @FUZZ
    @given(st.data())
    def test_conll_columns(self, data):
        path = _write(data.draw(_inputs(_conll_file())),
                      "train.txt")
        sentences = self.assertReadsOrNamesFile(conll.read_file, path,
                                                conll.DataError)
        for sentence in sentences or ():
            self.assertLen(sentence.tags, len(sentence.words))
            self.assertTrue(set(sentence.tags) <= set(conll.TAGS))

    # ------------------------------------------------------ vocab, config

    @FUZZ
    @given(st.data())
    def test_vocab_file(self, data):
        path = _write(data.draw(_inputs(_vocab_file())),
                      "vocab.txt")
        vocab = self.assertReadsOrNamesFile(tokenization.load_vocab, path,
                                            tokenization.VocabError)
        if vocab is not None:
            self.assertEqual(sorted(vocab.values()), list(range(len(vocab))))

    @FUZZ
    @given(st.data())
    def test_config_json(self, data):
        path = _write(data.draw(_inputs(_config_file())),
                      "bert_config.json")
        config = self.assertReadsOrNamesFile(
            configs.BertConfig.from_json_file, path, configs.ConfigError)
        if config is not None:
            self.assertGreater(config.hidden_size, 0)

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
