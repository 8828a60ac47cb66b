"""GLUE task data: the original distribution's TSV files, read strictly.

Each task is a `GlueTask` spec in `TASKS` (mnli qqp qnli stsb mrpc rte sst2
cola wnli ax): its labels, its splits and files, and the column layout of
each kind of file. `read_split` turns one split into `Example`s and
`write_submission` writes test predictions in the GLUE server's format.

How files are read:
- UTF-8; a byte-order mark at the start is dropped (MRPC's files have one);
  lines end in LF or CRLF; blank lines are ignored.
- Tabs separate columns and nothing else is special: quote characters are
  text (MRPC sentences hold unbalanced `"`), as in google-research/bert's
  `csv.reader(delimiter="\\t", quotechar=None)`.
- Where a file has a header (all but CoLA's train and dev), it must be
  exactly the expected one, and columns are found by name in it; every row
  must have as many columns. So a column can never shift silently.
- Everything else is a `DataError` whose message starts with the place:
  'FILE:LINE: ', or 'FILE: ' / 'DIR: '.

QQP is the one exception. The real QQP train.tsv has rows broken by stray
tabs or newlines inside questions. For QQP only, a row with the wrong number
of columns is skipped: the skips are counted and logged (with the first few
locations), and `read_split` appends each 'FILE:LINE' to its `skipped` list
when one is given. A QQP question may also be empty (Quora's data holds
a few); every other task rejects an empty text.
"""

import dataclasses
import math
import os
from collections.abc import Sequence

from absl import logging

from bert_tf import errors
from bert_tf import file_io

_LOGGED_SKIPS = 5  # QQP: skipped rows named in the warning.


DataError = errors.DataError


@dataclasses.dataclass(frozen=True)
class Example:
    """One sentence or sentence pair, as google-research/bert's InputExample.

    Args:
        guid: str. '<split>-<n>', n the example's position in the list
            `read_split` returns (e.g. 'dev-12').
        text_a: str. The first (or only) sentence, verbatim.
        text_b: str or None. The second sentence; None for single-sentence
            tasks.
        label: The label string, one of the task's `labels`; a float score
            in [0, 5] for STS-B; None for test rows.
        index: str or None. The test files' index column, which submission
            files are keyed by; None for train and dev rows.
    """

    guid: str
    text_a: str
    text_b: str | None
    label: str | float | None
    index: str | None = None


@dataclasses.dataclass(frozen=True)
class Columns:
    """The column layout of one kind of file (train, dev or test) of a task.

    Args:
        names: tuple of str. The columns in file order: the header row when
            `header` is true, else names given to a header-less file's
            columns.
        text_a: str. Name of the first sentence's column.
        text_b: str or None. Name of the second sentence's column.
        label: str or None. Name of the label (or score) column.
        index: str or None. Name of the index column submissions carry.
        header: bool. Whether the file starts with the header `names`.
    """

    names: tuple[str, ...]
    text_a: str
    text_b: str | None = None
    label: str | None = None
    index: str | None = None
    header: bool = True


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """One GLUE task as plain data: labels, splits, files and columns.

    Args:
        name: str. Key in `TASKS`: "mnli", "qqp", ...
        labels: tuple of str or None. Class label strings in id order; None
            for regression (STS-B).
        is_pair: bool. Whether examples have a `text_b`.
        eval_splits: tuple of str. Labelled evaluation splits: ("dev",), or
            ("dev_matched", "dev_mismatched") for MNLI; () for AX.
        test_splits: tuple of str. Unlabelled splits submitted to the GLUE
            server.
        train_columns: Columns or None. Layout of train.tsv (None: no train
            split, as for AX).
        eval_columns: Columns or None. Layout of the eval splits' files.
        test_columns: Columns. Layout of the test splits' files.
        submission_names: tuple of str. GLUE server file stem of each test
            split, in `test_splits` order ("MNLI-m", "MNLI-mm").
        test_file: str or None. File of the single test split when it is not
            '<split>.tsv' (AX: "diagnostic.tsv").
        skip_malformed: bool. Skip (and count) rows with the wrong number of
            columns instead of raising; QQP only.
        allow_empty_text: bool. Accept empty sentences; QQP only.
        metrics: str. What its dev splits are scored with, a key of
            `metrics.METRICS`: "accuracy", "mcc", "accuracy_and_f1" or
            "pearson_spearman".
    """

    name: str
    labels: tuple[str, ...] | None
    is_pair: bool
    eval_splits: tuple[str, ...]
    test_splits: tuple[str, ...]
    train_columns: Columns | None
    eval_columns: Columns | None
    test_columns: Columns
    submission_names: tuple[str, ...]
    test_file: str | None = None
    skip_malformed: bool = False
    allow_empty_text: bool = False
    metrics: str = "accuracy"

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def splits(self) -> tuple[str, ...]:
        train = ("train",) if self.train_columns is not None else ()
        return train + self.eval_splits + self.test_splits

    def files(self) -> dict[str, str]:
        """Split -> file name in the task's data directory."""
        files = {split: f"{split}.tsv" for split in self.splits}
        if self.test_file is not None:
            files[self.test_splits[0]] = self.test_file
        return files

    def columns(self, split: str) -> Columns:
        """The column layout of `split`'s file."""
        self._check_split(split, self.splits)
        if split in self.test_splits:
            return self.test_columns
        if split in self.eval_splits:
            return self.eval_columns
        return self.train_columns

    def submission_file(self, split: str) -> str:
        """GLUE server file name of a test split's predictions."""
        self._check_split(split, self.test_splits)
        stem = self.submission_names[self.test_splits.index(split)]
        return f"{stem}.tsv"

    def _check_split(self, split, allowed):
        if split not in allowed:
            raise ValueError(f"task {self.name} has no split {split!r}; "
                             f"expected one of {', '.join(allowed)}")


_BINARY = ("0", "1")
_NLI_LABELS = ("contradiction", "entailment", "neutral")
_ENTAILMENT = ("entailment", "not_entailment")
_MNLI_COLUMNS = (
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse",
    "sentence2_binary_parse", "sentence1_parse", "sentence2_parse",
    "sentence1", "sentence2")
_STSB_COLUMNS = ("index", "genre", "filename", "year", "old_index",
                 "source1", "source2", "sentence1", "sentence2")
_QQP_COLUMNS = ("id", "qid1", "qid2", "question1", "question2",
                "is_duplicate")
_MRPC_COLUMNS = ("#1 ID", "#2 ID", "#1 String", "#2 String")


def _indexed_pair_task(name, labels, a, b, submission):
    """QNLI, RTE, WNLI: 'index A B label', test without the label."""
    labelled = Columns(("index", a, b, "label"), a, b, label="label")
    test = Columns(("index", a, b), a, b, index="index")
    return GlueTask(name, labels, True, ("dev",), ("test",), labelled,
                    labelled, test, (submission,))


def _mnli_task():
    s1, s2 = "sentence1", "sentence2"
    train = Columns(_MNLI_COLUMNS + ("label1", "gold_label"), s1, s2,
                    label="gold_label")
    dev = Columns(_MNLI_COLUMNS + tuple(f"label{i}" for i in range(1, 6))
                  + ("gold_label",), s1, s2, label="gold_label")
    test = Columns(_MNLI_COLUMNS, s1, s2, index="index")
    return GlueTask("mnli", _NLI_LABELS, True,
                    ("dev_matched", "dev_mismatched"),
                    ("test_matched", "test_mismatched"), train, dev, test,
                    ("MNLI-m", "MNLI-mm"))


def _make_tasks():
    q1, q2 = "question1", "question2"
    qqp = Columns(_QQP_COLUMNS, q1, q2, label="is_duplicate")
    stsb = Columns(_STSB_COLUMNS + ("score",), "sentence1", "sentence2",
                   label="score")
    mrpc = Columns(("Quality",) + _MRPC_COLUMNS, "#1 String", "#2 String",
                   label="Quality")
    sst2 = Columns(("sentence", "label"), "sentence", label="label")
    cola = Columns(("source", "label", "annotation", "sentence"), "sentence",
                   label="label", header=False)
    single_test = Columns(("index", "sentence"), "sentence", index="index")
    tasks = [
        _mnli_task(),
        GlueTask("qqp", _BINARY, True, ("dev",), ("test",), qqp, qqp,
                 Columns(("id", q1, q2), q1, q2, index="id"), ("QQP",),
                 skip_malformed=True, allow_empty_text=True,
                 metrics="accuracy_and_f1"),
        _indexed_pair_task("qnli", _ENTAILMENT, "question", "sentence",
                           "QNLI"),
        GlueTask("stsb", None, True, ("dev",), ("test",), stsb, stsb,
                 Columns(_STSB_COLUMNS, "sentence1", "sentence2",
                         index="index"), ("STS-B",),
                 metrics="pearson_spearman"),
        GlueTask("mrpc", _BINARY, True, ("dev",), ("test",), mrpc, mrpc,
                 Columns(("index",) + _MRPC_COLUMNS, "#1 String",
                         "#2 String", index="index"), ("MRPC",),
                 metrics="accuracy_and_f1"),
        _indexed_pair_task("rte", _ENTAILMENT, "sentence1", "sentence2",
                           "RTE"),
        GlueTask("sst2", _BINARY, False, ("dev",), ("test",), sst2, sst2,
                 single_test, ("SST-2",)),
        GlueTask("cola", _BINARY, False, ("dev",), ("test",), cola, cola,
                 single_test, ("CoLA",), metrics="mcc"),
        _indexed_pair_task("wnli", _BINARY, "sentence1", "sentence2", "WNLI"),
        # The diagnostic set is predicted by an MNLI model: MNLI's labels.
        GlueTask("ax", _NLI_LABELS, True, (), ("test",), None, None,
                 Columns(("index", "sentence1", "sentence2"), "sentence1",
                         "sentence2", index="index"), ("AX",),
                 test_file="diagnostic.tsv"),
    ]
    return {task.name: task for task in tasks}


TASKS: dict[str, GlueTask] = _make_tasks()


def read_split(task: GlueTask, data_dir: str, split: str,
               skipped: list[str] | None = None) -> list[Example]:
    """Examples of one split, read from `data_dir/task.files()[split]`.

    Args:
        task: GlueTask. One of `TASKS`.
        data_dir: str. The task's directory of the GLUE download (e.g.
            glue_data/MNLI).
        split: str. A key of `task.files()`.
        skipped: list or None. QQP only: each skipped malformed row's
            'FILE:LINE' is appended to it (they are also counted in a
            warning). Other tasks raise on such rows and never append.

    Returns:
        The split's examples in file order.

    Raises:
        ValueError: `split` is not one of the task's splits.
        DataError: the file is missing, empty, or not as the task expects.
    """
    files = task.files()
    task.columns(split)  # Unknown split: a ValueError naming the splits.
    path = os.path.join(data_dir, files[split])
    if not os.path.isfile(path):
        raise DataError(
            f"{data_dir}: task {task.name} expects {files[split]} (files for "
            f"{task.name}: {', '.join(files.values())})")
    return read_file(task, path, split, skipped)


def read_file(task: GlueTask, path: str, split: str,
              skipped: list[str] | None = None) -> list[Example]:
    """`read_split` for a file at any path, laid out as `split`'s file."""
    columns = task.columns(split)
    position = {name: i for i, name in enumerate(columns.names)}
    examples, skips = [], []
    rows = _rows(path)
    if columns.header:
        line_no, fields = next(rows, (None, None))
        if line_no is not None and tuple(fields) != columns.names:
            found, expected = "\t".join(fields), "\t".join(columns.names)
            raise DataError(
                f"{path}:{line_no}: header {found!r} is not the {task.name} "
                f"{split} header {expected!r}")
    for line_no, fields in rows:
        where = f"{path}:{line_no}"
        if len(fields) != len(columns.names):
            if task.skip_malformed:
                skips.append(where)
                continue
            raise DataError(
                f"{where}: expected {len(columns.names)} tab-separated "
                f"columns ({', '.join(columns.names)}), found {len(fields)}")
        values = {name: fields[i] for name, i in position.items()}
        examples.append(_example(task, columns, values, where,
                                 f"{split}-{len(examples)}"))
    if skips:
        logging.warning(
            "%s: skipped %d malformed rows (wrong number of columns), "
            "first at %s", path, len(skips),
            ", ".join(s.rsplit(":", 1)[1] for s in skips[:_LOGGED_SKIPS]))
        if skipped is not None:
            skipped.extend(skips)
    if not examples:
        note = f" ({len(skips)} malformed rows skipped)" if skips else ""
        raise DataError(f"{path}: no examples in the {task.name} {split} "
                        f"file{note}")
    return examples


def _rows(path):
    """(line number, fields) of each non-blank line."""
    for line_no, text in file_io.read_lines(path):
        if text:
            yield line_no, text.split("\t")


def _example(task, columns, values, where, guid):
    texts = []
    for name in (columns.text_a, columns.text_b):
        if name is None:
            texts.append(None)
        elif values[name].strip() or task.allow_empty_text:
            texts.append(values[name])
        else:
            raise DataError(f"{where}: empty {name!r} text")
    label = None
    if columns.label is not None:
        label = _label(task, values[columns.label], where)
    index = values[columns.index] if columns.index is not None else None
    return Example(guid, texts[0], texts[1], label, index)


def _label(task, raw, where):
    if task.labels is not None:
        if raw not in task.labels:
            raise DataError(
                f"{where}: label {raw!r} is not one of {task.name}'s labels "
                f"({', '.join(task.labels)})")
        return raw
    try:
        score = float(raw)
    except ValueError:
        score = None
    if score is None or not 0.0 <= score <= 5.0:
        raise DataError(f"{where}: score {raw!r} is not a number in [0, 5]")
    return score


def write_submission(path: str, task: GlueTask, examples: Sequence[Example],
                     predictions: Sequence[int | float]) -> None:
    """Writes test predictions as the GLUE server reads them.

    The file is 'index<TAB>prediction' and one row per example: its `index`
    and the predicted label string (STS-B: the score clipped to [0, 5], 3
    decimals). Name it `task.submission_file(split)`. Written atomically.

    Args:
        path: str. Output file.
        task: GlueTask. The task the predictions are for.
        examples: Example sequence of a test split (they carry an `index`).
        predictions: class ids into `task.labels`, or STS-B scores; one per
            example.

    Raises:
        ValueError: counts differ, an example has no index, a class id is
            out of range, or a score is not finite.
    """
    if len(examples) != len(predictions):
        raise ValueError(f"{len(examples)} examples but {len(predictions)} "
                         f"predictions for {path}")
    lines = ["index\tprediction"]
    for example, prediction in zip(examples, predictions):
        if example.index is None:
            raise ValueError(
                f"example {example.guid} has no index: submissions are of "
                f"test splits ({', '.join(task.test_splits)})")
        if task.labels is None:
            score = float(prediction)
            if not math.isfinite(score):
                raise ValueError(f"score {prediction!r} for {example.guid} "
                                 "is not a finite number")
            value = f"{min(max(score, 0.0), 5.0):.3f}"
        else:
            class_id = int(prediction)
            if class_id != prediction or not 0 <= class_id < len(task.labels):
                raise ValueError(
                    f"prediction {prediction!r} for {example.guid} is not a "
                    f"class id of {task.name} (0..{len(task.labels) - 1})")
            value = task.labels[class_id]
        lines.append(f"{example.index}\t{value}")
    file_io.atomic_write(path, "\n".join(lines) + "\n")
