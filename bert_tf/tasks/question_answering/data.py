"""SQuAD data: the official JSON files, read strictly.

Files as distributed: v1.1 `train-v1.1.json` / `dev-v1.1.json`, v2.0
`train-v2.0.json` / `dev-v2.0.json`, laid out as
`{"version", "data": [{"title", "paragraphs": [{"context", "qas": [{"id",
"question", "answers": [{"text", "answer_start"}], "is_impossible",
"plausible_answers"}]}]}]}`; `answer_start` is a character (code point)
offset into `context`.

How files are read:
- UTF-8 (a byte-order mark is dropped), valid JSON; `version` and `title`
  are optional, `is_impossible` (v2.0) is an optional bool and
  `plausible_answers` an optional answer list, kept but never used. Every
  other key is required with its type, question ids are unique, strings
  are valid Unicode (JSON escapes can spell lone surrogates, which have no
  UTF-8 form), and an impossible question has no answers. Anything else is
  a `errors.DataError` naming the file and the JSON path:
  'FILE: data[0].paragraphs[3].qas[1]: ...'.
- An answer whose `answer_start` does not point at its `text` in the
  context is not an error (real files have a few): it is counted and logged
  with the first few question ids (`Answer.matches` is False). Evaluation
  keeps it, as the official scripts compare texts only; training never uses
  it (`trainable_examples` drops a question left without any usable answer).

Model inputs are made from the examples in `squad_features.py`.
"""

import dataclasses
import json
import os
from collections.abc import Sequence

from absl import logging

from bert_tf import errors

FILES = {
    "v1.1": {"train": "train-v1.1.json", "dev": "dev-v1.1.json"},
    "v2.0": {"train": "train-v2.0.json", "dev": "dev-v2.0.json"},
}
_BOM = "\ufeff"
_LOGGED_MISMATCHES = 5


@dataclasses.dataclass(frozen=True)
class Answer:
    """One answer: its text, where it starts, and whether that agrees.

    Args:
        text: str. The answer text, verbatim.
        start: int. `answer_start`, a character offset into the context.
        matches: bool. `context[start:start + len(text)] == text`.
    """

    text: str
    start: int
    matches: bool = True


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph.

    Args:
        qas_id: str. The question's `id`, which predictions are keyed by.
        question: str. The question text.
        context: str. The paragraph (one str object shared by its
            questions).
        answers: tuple of Answer, in file order ([] for impossible or
            unlabelled questions).
        is_impossible: bool. v2.0: the paragraph does not answer it.
        plausible_answers: tuple of Answer. v2.0: spans that look like an
            answer to an impossible question (not used).
        title: str. The article's title ("" without one).
        where: str. 'FILE: data[i].paragraphs[j].qas[k]', for messages.
    """

    qas_id: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    is_impossible: bool = False
    plausible_answers: tuple[Answer, ...] = ()
    title: str = ""
    where: str = ""

    def training_answer(self) -> Answer | None:
        """The first answer usable as a label: it matches its text and has
        some non-space character."""
        for answer in self.answers:
            if answer.matches and answer.text.strip():
                return answer
        return None


def read_split(data_dir: str, split: str, version: str = "v1.1",
               mismatched: list[str] | None = None) -> list[SquadExample]:
    """Examples of one split, read from `data_dir/FILES[version][split]`.

    Args:
        data_dir: str. Directory holding the SQuAD JSON files.
        split: str. "train" or "dev".
        version: str. "v1.1" or "v2.0".
        mismatched: list or None. See `read_file`.

    Raises:
        ValueError: unknown version or split.
        errors.DataError: the file is missing or not valid SQuAD JSON.
    """
    if version not in FILES:
        raise ValueError(f"unknown SQuAD version {version!r}; expected one "
                         f"of {', '.join(FILES)}")
    files = FILES[version]
    if split not in files:
        raise ValueError(f"SQuAD has no split {split!r}; expected one of "
                         f"{', '.join(files)}")
    path = os.path.join(data_dir, files[split])
    if not os.path.isfile(path):
        raise errors.DataError(
            f"{data_dir}: SQuAD {version} {split} expects {files[split]} "
            f"(files for SQuAD {version}: {', '.join(files.values())})")
    return read_file(path, mismatched)


def read_file(path: str,
              mismatched: list[str] | None = None) -> list[SquadExample]:
    """Every question of a SQuAD JSON file, in file order.

    Args:
        path: str. The file.
        mismatched: list or None. Each answer whose `answer_start` does not
            match its text is appended as its JSON path (they are also
            counted in a warning).

    Raises:
        errors.DataError: see the module docstring.
    """
    root = _load_json(path)
    _expect(root, dict, path, "the top level")
    data = _get(root, "data", list, path, "")
    examples, mismatches, seen = [], [], {}
    for i, article in enumerate(data):
        where = f"data[{i}]"
        _expect(article, dict, path, where)
        title = _string(article.get("title", ""), path, f"{where}.title")
        paragraphs = _get(article, "paragraphs", list, path, where)
        for j, paragraph in enumerate(paragraphs):
            where = f"data[{i}].paragraphs[{j}]"
            _expect(paragraph, dict, path, where)
            context = _string(_get(paragraph, "context", str, path, where),
                              path, f"{where}.context")
            for k, qa in enumerate(_get(paragraph, "qas", list, path,
                                        where)):
                at = f"{where}.qas[{k}]"
                example = _example(qa, context, title, path, at, mismatches)
                if example.qas_id in seen:
                    raise errors.DataError(
                        f"{path}: {at}: duplicate question id "
                        f"{example.qas_id!r} (first at {seen[example.qas_id]})")
                seen[example.qas_id] = at
                examples.append(example)
    if mismatches:
        logging.warning(
            "%s: %d answers whose answer_start does not match their text "
            "(kept for evaluation, not trained on); first: %s", path,
            len(mismatches), ", ".join(mismatches[:_LOGGED_MISMATCHES]))
        if mismatched is not None:
            mismatched.extend(mismatches)
    return examples


def trainable_examples(examples: Sequence[SquadExample]
                       ) -> tuple[list[SquadExample], int]:
    """(The examples that can be trained on, how many were dropped):
    impossible questions, and others with a usable answer."""
    kept = [e for e in examples
            if e.is_impossible or e.training_answer() is not None]
    return kept, len(examples) - len(kept)


def _load_json(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.DataError(f"{path}: not UTF-8 (byte 0x{raw[e.start]:02x} "
                             f"at byte offset {e.start})") from None
    try:
        return json.loads(text.removeprefix(_BOM))
    except json.JSONDecodeError as e:
        raise errors.DataError(f"{path}:{e.lineno}: not valid JSON: {e.msg} "
                             f"(column {e.colno})") from None


_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string",
               int: "an integer", bool: "true or false"}


def _expect(value, kind, path, where):
    # bool is an int to Python; JSON's true is no answer_start.
    ok = isinstance(value, kind) and not (kind is int
                                          and isinstance(value, bool))
    if not ok:
        place = f"{path}: {where}" if where else path
        raise errors.DataError(f"{place}: expected {_TYPE_NAMES[kind]}, found "
                             f"{type(value).__name__} {_short(value)}")
    return value


def _short(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _get(obj, key, kind, path, where):
    if key not in obj:
        place = f"{path}: {where}" if where else path
        raise errors.DataError(f"{place}: missing key {key!r}")
    return _expect(obj[key], kind, path, f"{where}.{key}" if where else key)


def _string(value, path, where):
    _expect(value, str, path, where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise errors.DataError(
            f"{path}: {where}: not valid Unicode (lone surrogate "
            f"U+{ord(value[e.start]):04X} at character {e.start})") from None
    return value


def _answers(qa, key, context, path, where, mismatches, qas_id):
    answers = []
    for a, answer in enumerate(_get(qa, key, list, path, where)):
        at = f"{where}.{key}[{a}]"
        _expect(answer, dict, path, at)
        text = _string(_get(answer, "text", str, path, at), path,
                       f"{at}.text")
        start = _get(answer, "answer_start", int, path, at)
        matches = 0 <= start and context[start:start + len(text)] == text
        if not matches and mismatches is not None:
            mismatches.append(f"{qas_id} ({at})")
        answers.append(Answer(text, start, matches))
    return tuple(answers)


def _example(qa, context, title, path, where, mismatches):
    _expect(qa, dict, path, where)
    qas_id = _string(_get(qa, "id", str, path, where), path, f"{where}.id")
    if not qas_id:
        raise errors.DataError(f"{path}: {where}.id: empty question id")
    question = _string(_get(qa, "question", str, path, where), path,
                       f"{where}.question")
    answers = _answers(qa, "answers", context, path, where, mismatches,
                       qas_id)
    impossible = _expect(qa.get("is_impossible", False), bool, path,
                         f"{where}.is_impossible")
    if impossible and answers:
        raise errors.DataError(f"{path}: {where}: is_impossible is true but "
                             f"it has {len(answers)} answers")
    plausible = _answers(qa, "plausible_answers", context, path, where,
                         None, qas_id) if "plausible_answers" in qa else ()
    return SquadExample(qas_id, question, context, answers, impossible,
                        plausible, title, f"{path}: {where}")
