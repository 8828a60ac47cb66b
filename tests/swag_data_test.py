"""SWAG reader: the real CSV, every error, predictions, random input."""

import collections
import csv
import io
import os
import re

import hypothesis
import tensorflow as tf
from hypothesis import strategies as st

from bert_tf.tasks.multiple_choice import data as swag
from bert_tf.tasks.text_classification import data as glue
from tests import testing

SHARED_DATA = os.path.join(testing.REPO_ROOT, "..", "shared", "data")
FIXTURE = os.path.join(SHARED_DATA, "SWAG", "allennlp_models_fixture",
                       "swag.csv")
HEADER = (",video-id,fold-ind,startphrase,sent1,sent2,gold-source,"
          "ending0,ending1,ending2,ending3,label")


def write(directory, name, content):
    path = os.path.join(directory, name)
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(path, "wb") as f:
        f.write(data)
    return path


def row(index, sent1="He sat.", sent2="He", endings=("a.", "b.", "c.", "d."),
        label="1"):
    fields = [str(index), "vid", str(100 + index), f"{sent1} {sent2}", sent1,
              sent2, "gold", *endings, label]
    return ",".join(f'"{f}"' if "," in f or "\n" in f else f for f in fields)


@st.composite
def swag_files(draw):
    """(split, rows, damage, bytes): a CSV written properly, maybe damaged."""
    split = draw(st.sampled_from(sorted(swag.FILES)))
    text = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1,
                   max_size=6)
    label = st.sampled_from(["0", "1", "2", "3", "4", "", "1.0"])
    rows = [[str(i), "vid", "7", "sp", *draw(st.lists(
        text, min_size=2, max_size=2)), "gold", *draw(st.lists(
            text, min_size=4, max_size=4)), draw(label)]
            for i in range(draw(st.integers(1, 3)))]
    damage = draw(st.sampled_from(["none"] * 3 + [
        "drop", "add", "bytes", "quote", "truncate"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(
        ["\n", "\r\n"])))
    header = HEADER.split(",")
    writer.writerow(header if split != "test" else header[:-1])
    for r in rows:
        r = r if split != "test" else r[:-1]
        writer.writerow(r[:-1] if damage == "drop" else
                        r + ["x"] if damage == "add" else r)
    data = out.getvalue().encode("utf-8")
    at = draw(st.integers(len(HEADER) + 1, len(data)))
    if damage == "bytes":
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    elif damage == "quote":
        data = data[:at] + b'"' + data[at:]
    elif damage == "truncate":
        data = data[:at]
    return split, rows, damage, data


@st.composite
def swag_bytes(draw):
    """(labelled, bytes): the header, then random bytes or records of
    fields right for their column, some with a field too many or too few,
    a blank text, or junk in a field (empty, commas, quotes, CR, LF, bad
    UTF-8)."""
    labelled = draw(st.booleans())
    names = HEADER.split(",") if labelled else HEADER.split(",")[:-1]
    data = ",".join(names).encode() + b"\n"
    if draw(st.sampled_from(["records"] * 3 + ["bytes"])) == "bytes":
        return labelled, data + draw(st.binary(max_size=120))
    text = st.sampled_from([b"a", b"b c", b'"d, e"', b"\xc3\xa9"])
    label = st.sampled_from([b"0", b"1", b"2", b"3"] * 2 + [b"4", b"x", b""])
    junk = st.sampled_from([b"", b" ", b",", b'"', b'"\n"', b"\r", b"\xff",
                            b"\xc3", b'"a"b'])
    for _ in range(draw(st.integers(1, 3))):
        fields = [draw(label if name == "label" else text) for name in names]
        damage = draw(st.sampled_from(["none", "none", "junk", "count",
                                       "blank"]))
        if damage == "junk":
            fields[draw(st.integers(0, len(fields) - 1))] = draw(junk)
        elif damage == "blank":  # sent1 or an ending
            fields[draw(st.sampled_from([4, 7, 8, 9, 10]))] = b" "
        elif damage == "count":
            fields = fields[:-1] if draw(st.booleans()) else fields + [b"x"]
        data += b",".join(fields) + draw(st.sampled_from([b"\n", b"\r\n"]))
    return labelled, data


def check_read(test, path, data, labelled, read):
    """Runs `read()` on the SWAG file `path` holding `data` and checks the
    outcome: the examples are its CSV records, column by column (found by
    the file's header), in order; or the DataError names the file and the
    line of the record at fault. Returns whether the read succeeded."""
    try:
        examples = read()
    except glue.DataError as e:
        line = testing.assert_names_file_and_line(test, e, path, data)
        if line is not None:
            check_named_line(test, str(e), data, line)
        return False
    text = data.decode("utf-8").removeprefix("\ufeff")
    names, *records = csv.reader(io.StringIO(text, newline=""))
    records = [r for r in records if r]
    test.assertLen(examples, len(records))
    stem = os.path.splitext(os.path.basename(path))[0]
    for i, (example, record) in enumerate(zip(examples, records)):
        def field(name):
            return record[names.index(name)]

        test.assertEqual(example.guid, f"{stem}-{i}")
        test.assertEqual(example.context, field("sent1"))
        test.assertEqual(example.start, field("sent2"))
        test.assertEqual(example.endings,
                         tuple(field(f"ending{j}") for j in range(4)))
        # The id: the unnamed first column, else fold-ind, else the row.
        test.assertEqual(example.example_id,
                         record[0] if names[0] == "" else
                         field("fold-ind") if "fold-ind" in names else
                         str(i))
        for value in (example.context, *example.endings):
            test.assertNotEqual(value.strip(), "", example)
        test.assertEqual(example.label,
                         int(field("label")) if labelled else None)
        if labelled:
            test.assertIn(example.label, (0, 1, 2, 3))
    return True


def check_named_line(test, message, data, line):
    """The line a DataError names holds (or starts) the fault described."""
    raw = testing.file_lines(data)[line]
    bad_byte = re.search(r"not UTF-8 \(byte 0x(..)\)", message)
    if bad_byte:
        test.assertIn(int(bad_byte.group(1), 16), raw, message)
        test.assertRaises(UnicodeDecodeError, raw.decode, "utf-8")
        return
    if ": bad CSV: " in message:
        return
    if ": SWAG header " in message:
        test.assertEqual(line, 1, message)
        return
    # The record that starts on `line`, read from there on.
    rest = b"\n".join(data.split(b"\n")[line - 1:]).decode("utf-8")
    record = next(csv.reader(io.StringIO(rest, newline="")))
    header = next(csv.reader(io.StringIO(
        data.decode("utf-8").removeprefix("\ufeff"), newline="")))
    count = re.search(r"expected (\d+) comma-separated fields .*, found "
                      r"(\d+)$", message)
    label = re.search(r": label (.*) is not one of 0, 1, 2, 3$", message)
    empty = re.search(r": empty '(.+)' text$", message)
    if count:
        test.assertEqual(int(count.group(1)), len(header))
        test.assertLen(record, int(count.group(2)), message)
    elif label:
        test.assertEqual(repr(record[header.index("label")]), label.group(1),
                         message)
    else:
        test.assertIsNotNone(empty, f"unexpected message {message!r}")
        test.assertEqual(record[header.index(empty.group(1))].strip(), "",
                         message)


class SwagConformanceTest(tf.test.TestCase):
    """The real SWAG rows under ../shared/data (skipped when absent)."""

    def setUp(self):
        super().setUp()
        if not os.path.isfile(FIXTURE):
            self.skipTest(f"{FIXTURE} is absent")

    def test_fixture_reads_eleven_labelled_examples(self):
        examples = swag.read_file(FIXTURE)
        self.assertLen(examples, 11)
        self.assertEqual([e.label for e in examples],
                         [2, 2, 2, 2, 2, 0, 0, 2, 1, 0, 2])
        self.assertEqual(examples[0], swag.MultipleChoiceExample(
            "swag-0", "Students lower their eyes nervously.", "She",
            ("pats her shoulder, then saunters toward someone.",
             "turns with two students.", "walks slowly towards someone.",
             "wheels around as her dog thunders out."), 2, "0"))
        self.assertEqual(examples[0].choices[0],
                         "She pats her shoulder, then saunters toward "
                         "someone.")
        self.assertEqual([e.example_id for e in examples],
                         [str(i) for i in range(11)])

    def test_fixture_quoted_comma_fields_stay_whole(self):
        example = swag.read_file(FIXTURE)[8]
        self.assertEqual(example.context,
                         "The judge supervises the routine of the gymnast.")
        self.assertEqual(example.start, "Then, the gymnast spins")

    def test_read_split_dev_reads_val_csv(self):
        directory = self.create_tempdir().full_path
        os.symlink(FIXTURE, os.path.join(directory, "val.csv"))
        examples = swag.read_split(directory, "dev")
        self.assertLen(examples, 11)
        self.assertEqual(examples[3].guid, "val-3")


class SwagErrorTest(tf.test.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path

    def read(self, content, split="dev"):
        write(self.dir, swag.FILES[split], content)
        return swag.read_split(self.dir, split)

    def test_read_split_missing_file_lists_expected_files(self):
        with self.assertRaisesRegex(
                glue.DataError, rf"^{self.dir}: SWAG dev expects val\.csv "
                r"\(files for SWAG: train\.csv, val\.csv, test\.csv\)"):
            swag.read_split(self.dir, "dev")
        with self.assertRaisesRegex(ValueError, "no split 'val'"):
            swag.read_split(self.dir, "val")

    def test_read_split_missing_header_columns_named(self):
        header = HEADER.replace(",ending2", "").replace(",label", "")
        with self.assertRaisesRegex(
                glue.DataError,
                r"val\.csv:1: SWAG header lacks column\(s\) ending2, label"):
            self.read(f"{header}\n")

    def test_read_split_wrong_field_count_names_record_start_line(self):
        two_lines = row(0, sent1="Two\nlines.")
        content = f"{HEADER}\n{two_lines}\n{row(1)},extra\n"
        # Row 0 spans lines 2-4 (two quoted fields hold a newline).
        with self.assertRaisesRegex(
                glue.DataError,
                r"val\.csv:5: expected 12 comma-separated fields"):
            self.read(content)

    def test_read_split_bad_label_lists_allowed_values(self):
        with self.assertRaisesRegex(
                glue.DataError,
                r"val\.csv:2: label '4' is not one of 0, 1, 2, 3"):
            self.read(f"{HEADER}\n{row(0, label='4')}\n")

    def test_read_split_empty_split_names_file(self):
        for content in (f"{HEADER}\n", f"{HEADER}\n\n"):
            with self.assertRaisesRegex(glue.DataError,
                                        r"val\.csv: no examples"):
                self.read(content)
        with self.assertRaisesRegex(glue.DataError, r"val\.csv: empty file"):
            self.read("")

    def test_read_split_empty_ending_names_column(self):
        with self.assertRaisesRegex(glue.DataError,
                                    r"val\.csv:2: empty 'ending3' text"):
            self.read(f"{HEADER}\n{row(0, endings=('a', 'b', 'c', ' '))}\n")

    def test_read_split_non_utf8_names_line(self):
        content = f"{HEADER}\n{row(0)}\n".encode() + b"1,\xff\n"
        with self.assertRaisesRegex(glue.DataError,
                                    r"val\.csv:3: not UTF-8 \(byte 0xff\)"):
            self.read(content)

    def test_read_split_unterminated_quote_is_data_error(self):
        with self.assertRaisesRegex(glue.DataError, r"val\.csv:2: bad CSV"):
            self.read(f'{HEADER}\n{row(0)[:-1]}"open\n')

    def test_read_split_cr_inside_a_field_is_not_a_new_line(self):
        # Lines end at LF (or CRLF): a lone CR in a quoted field is text,
        # and the lines after it keep their numbers.
        first = row(0).replace("He sat.,He,", '"He\rsat.",He,')
        content = f"{HEADER}\n{first}\n{row(1, label='4')}\n"
        with self.assertRaisesRegex(glue.DataError,
                                    r"val\.csv:3: label '4' is not one of"):
            self.read(content)
        (example,) = self.read(f"{HEADER}\n{first}\n")
        self.assertEqual(example.context, "He\rsat.")

    def test_read_split_bom_and_crlf_parse_like_plain(self):
        plain = f"{HEADER}\n{row(0, sent2='Then, he')}\n{row(1)}\n"
        expected = self.read(plain)
        self.assertEqual(expected[0].start, "Then, he")
        for content in (b"\xef\xbb\xbf" + plain.encode(),
                        plain.replace("\n", "\r\n").encode()):
            self.assertEqual(self.read(content), expected)

    def test_read_split_test_split_has_no_labels(self):
        header = HEADER.removesuffix(",label")
        examples = self.read(f"{header}\n{row(5).rsplit(',', 1)[0]}\n",
                             split="test")
        self.assertEqual((examples[0].guid, examples[0].label,
                          examples[0].example_id), ("test-0", None, "5"))

    def test_read_split_without_index_column_uses_fold_ind(self):
        header = HEADER.removeprefix(",")
        (example,) = self.read(f"{header}\n{row(3).split(',', 1)[1]}\n")
        self.assertEqual(example.example_id, "103")

    def test_read_split_property_random_files_parse_or_raise_data_error(self):
        outcomes = collections.Counter()

        @hypothesis.settings(max_examples=50, deadline=None, database=None)
        @hypothesis.given(file=swag_files())
        def check(file):
            split, rows, damage, content = file
            path = write(self.dir, swag.FILES[split], content)
            try:
                examples = swag.read_split(self.dir, split)
            except glue.DataError as e:
                testing.assert_names_file_and_line(self, e, path, content)
                outcomes["error"] += 1
                return
            outcomes["read"] += 1
            if damage == "none":  # Undamaged files read back as written.
                self.assertEqual(
                    [(e.context, e.start, e.endings, e.label)
                     for e in examples],
                    [(r[4], r[5], tuple(r[7:11]),
                      int(r[11]) if split != "test" else None)
                     for r in rows])
            for e in examples:
                self.assertLen(e.endings, swag.NUM_CHOICES)
                self.assertIn(e.label, (None, 0, 1, 2, 3))

        check()
        # The strategy makes valid files and damaged ones.
        self.assertGreater(outcomes["read"], 0, outcomes)
        self.assertGreater(outcomes["error"], 0, outcomes)

    def test_read_file_property_random_bytes_raise_only_data_error(self):
        outcomes = collections.Counter()

        # Derandomized: a fixed run that both reads and refuses files.
        @hypothesis.settings(max_examples=100, deadline=None, database=None,
                             derandomize=True)
        @hypothesis.given(file=swag_bytes())
        def check(file):
            labelled, content = file
            path = write(self.dir, "random.csv", content)
            outcomes[check_read(self, path, content, labelled,
                                lambda: swag.read_file(path, labelled))] += 1

        check()
        self.assertGreater(outcomes[True], 0, outcomes)
        self.assertGreater(outcomes[False], 0, outcomes)


class SwagPredictionsTest(tf.test.TestCase):

    def test_write_predictions_round_trip(self):
        directory = self.create_tempdir().full_path
        examples = [swag.MultipleChoiceExample(
            f"test-{i}", "c", "s", ("a", "b", "c", "d"), None, str(i * 7))
            for i in range(2)]
        path = os.path.join(directory, "predictions.csv")
        swag.write_predictions(path, examples,
                               [[0.1, 0.2, 0.6, 0.1], [0.4, 0.1, 0.1, 0.4]])
        with open(path, newline="") as f:
            text = f.read()
        self.assertEqual(text.splitlines()[0],
                         ",ending0,ending1,ending2,ending3,prediction")
        rows = list(csv.reader(text.splitlines()[1:]))
        self.assertEqual(rows, [
            ["0", "0.100000", "0.200000", "0.600000", "0.100000", "2"],
            ["7", "0.400000", "0.100000", "0.100000", "0.400000", "0"]])
        self.assertEqual(os.listdir(directory), ["predictions.csv"])

    def test_write_predictions_rejects_bad_rows(self):
        path = os.path.join(self.create_tempdir().full_path, "p.csv")
        example = swag.MultipleChoiceExample("val-0", "c", "s", ("a",) * 4,
                                             1, "0")
        with self.assertRaisesRegex(ValueError, "1 examples but 2"):
            swag.write_predictions(path, [example], [[1, 0, 0, 0]] * 2)
        with self.assertRaisesRegex(ValueError, "not 4 finite numbers"):
            swag.write_predictions(path, [example], [[1, 0, 0]])
        with self.assertRaisesRegex(ValueError, "not 4 finite numbers"):
            swag.write_predictions(path, [example], [[1, 0, float("nan"), 0]])
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    tf.test.main()
