"""SWAG data: the original CSV files (rowanz/swagaf train/val/test.csv).

The files are pandas-written CSV with RFC-4180 quoting (fields holding commas
are double-quoted) and a header naming the columns:
`,video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,...,ending3,
label` -- note the leading unnamed index column; test.csv has no `label`.
Columns are found by header name. An example's context is `sent1`; its four
choices are `sent2 + " " + ending_i` (`MultipleChoiceExample.choices`).

Files are read as `glue` reads its TSVs: UTF-8, an optional byte-order mark,
LF or CRLF, blank lines ignored, and every problem a `errors.DataError` whose
message starts with 'FILE:LINE: ' (the line a CSV record starts on), or
'FILE: ' / 'DIR: '.
"""

import csv
import dataclasses
import io
import math
import os
from collections.abc import Sequence

from bert_tf import errors
from bert_tf import file_io

NUM_CHOICES = 4
FILES = {"train": "train.csv", "dev": "val.csv", "test": "test.csv"}
ENDINGS = tuple(f"ending{i}" for i in range(NUM_CHOICES))
_LABELS = tuple(str(i) for i in range(NUM_CHOICES))


@dataclasses.dataclass(frozen=True)
class MultipleChoiceExample:
    """One SWAG question: a context and four candidate continuations.

    Args:
        guid: str. '<file stem>-<n>', n the example's position in the list
            read (e.g. 'val-3').
        context: str. `sent1`, the first sentence.
        start: str. `sent2`, the start of the second sentence (may be
            empty).
        endings: tuple of NUM_CHOICES str. The candidate endings of `start`.
        label: int or None. Index of the right ending; None for test rows.
        example_id: str. What a predictions file carries: the leading
            unnamed index column, else `fold-ind`, else the row number.
    """

    guid: str
    context: str
    start: str
    endings: tuple[str, ...]
    label: int | None
    example_id: str

    @property
    def choices(self) -> tuple[str, ...]:
        """Each candidate second sentence: `f"{start} {ending}"`, stripped."""
        return tuple(f"{self.start} {e}".strip() for e in self.endings)


def read_split(data_dir: str, split: str) -> list[MultipleChoiceExample]:
    """Examples of one split, read from `data_dir/FILES[split]`.

    Args:
        data_dir: str. Directory holding train.csv, val.csv, test.csv.
        split: str. "train", "dev" or "test"; only test may lack labels.

    Raises:
        ValueError: `split` is not a key of `FILES`.
        errors.DataError: the file is missing, empty, or malformed.
    """
    if split not in FILES:
        raise ValueError(f"SWAG has no split {split!r}; expected one of "
                         f"{', '.join(FILES)}")
    path = os.path.join(data_dir, FILES[split])
    if not os.path.isfile(path):
        raise errors.DataError(
            f"{data_dir}: SWAG {split} expects {FILES[split]} (files for "
            f"SWAG: {', '.join(FILES.values())})")
    return read_file(path, labelled=split != "test")


def read_file(path: str, labelled: bool = True
              ) -> list[MultipleChoiceExample]:
    """`read_split` for a file at any path; `labelled`: labels required
    (train, val) or ignored (test)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line_of = _line_numbers(text)
    examples = []
    line_no = 1
    try:
        header = next(reader, None)
        if header is None:
            raise errors.DataError(f"{path}: empty file, no SWAG header")
        column = _columns(path, header, labelled)
        line_no = line_of(reader.line_num)
        for row in reader:
            where = f"{path}:{line_no}"
            line_no = line_of(reader.line_num)
            if not row:
                continue
            if len(row) != len(header):
                raise errors.DataError(
                    f"{where}: expected {len(header)} comma-separated "
                    f"fields (as the header), found {len(row)}")
            examples.append(_example(
                row, column, where, f"{stem}-{len(examples)}",
                str(len(examples))))
    except csv.Error as e:
        raise errors.DataError(f"{path}:{line_no}: bad CSV: {e}") from None
    if not examples:
        raise errors.DataError(f"{path}: no examples in the SWAG file")
    return examples


def _line_numbers(text):
    """n -> the file's line number (lines end at LF) where the csv reader's
    line n + 1 starts: the reader also ends a line at a lone CR."""
    starts, line = [], 1
    for piece in io.StringIO(text, newline=""):
        starts.append(line)
        line += piece.count("\n")
    return lambda n: starts[n] if n < len(starts) else line


def _decode(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = data.count(b"\n", 0, e.start) + 1
        raise errors.DataError(
            f"{path}:{line_no}: not UTF-8 (byte 0x{data[e.start]:02x})"
        ) from None
    return text.removeprefix("\ufeff")


def _columns(path, header, labelled):
    """Column name -> position, with 'id' for the example id column."""
    required = ("sent1", "sent2") + ENDINGS + (("label",) if labelled else ())
    missing = [name for name in required if name not in header]
    if missing:
        raise errors.DataError(
            f"{path}:1: SWAG header lacks column(s) {', '.join(missing)}; "
            f"found {','.join(header)}")
    repeated = [name for name in required if header.count(name) > 1]
    if repeated:
        raise errors.DataError(f"{path}:1: SWAG header repeats column(s) "
                             f"{', '.join(repeated)}")
    column = {name: header.index(name) for name in required}
    if header[0] == "":
        column["id"] = 0
    elif "fold-ind" in header:
        column["id"] = header.index("fold-ind")
    return column


def _example(row, column, where, guid, row_number):
    context = row[column["sent1"]]
    endings = tuple(row[column[name]] for name in ENDINGS)
    for name, text in zip(("sent1",) + ENDINGS, (context,) + endings):
        if not text.strip():
            raise errors.DataError(f"{where}: empty {name!r} text")
    label = None
    if "label" in column:
        raw = row[column["label"]]
        if raw not in _LABELS:
            raise errors.DataError(f"{where}: label {raw!r} is not one of "
                                 f"{', '.join(_LABELS)}")
        label = int(raw)
    example_id = row[column["id"]] if "id" in column else row_number
    return MultipleChoiceExample(guid, context, row[column["sent2"]], endings,
                                 label, example_id)


def write_predictions(path: str, examples: Sequence[MultipleChoiceExample],
                      probabilities: Sequence[Sequence[float]],
                      id_column: str = "") -> None:
    """Writes per-ending probabilities and the predicted ending, as CSV.

    Header `<id_column>,ending0,ending1,ending2,ending3,prediction`, then
    per example its `example_id`, the four probabilities and the index of
    the most probable ending. Written atomically.

    Args:
        path: str. Output file.
        examples: the MultipleChoiceExamples predicted.
        probabilities: one sequence of NUM_CHOICES floats per example.
        id_column: str. Header of the id column: "" (default) as the
            original files' unnamed index column, or e.g. "fold-ind".

    Raises:
        ValueError: counts differ, or a row is not NUM_CHOICES finite floats.
    """
    if len(examples) != len(probabilities):
        raise ValueError(f"{len(examples)} examples but {len(probabilities)} "
                         f"rows of probabilities for {path}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((id_column,) + ENDINGS + ("prediction",))
    for example, row in zip(examples, probabilities):
        row = [float(p) for p in row]
        if len(row) != NUM_CHOICES or not all(map(math.isfinite, row)):
            raise ValueError(f"probabilities of {example.guid} are not "
                             f"{NUM_CHOICES} finite numbers: {row}")
        prediction = max(range(NUM_CHOICES), key=row.__getitem__)
        writer.writerow([example.example_id] + [f"{p:.6f}" for p in row]
                        + [prediction])
    file_io.atomic_write(path, out.getvalue())
