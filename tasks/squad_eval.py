r"""Scores SQuAD predictions with the official EM/F1, printed as JSON.

    python -m tasks.squad_eval dev-v1.1.json OUTPUT_DIR/predictions.json
    {"exact_match": 81.2, "f1": 88.4}

    python -m tasks.squad_eval dev-v2.0.json OUTPUT_DIR/predictions.json \
        --na_prob_file=OUTPUT_DIR/null_odds.json
    {"exact": ..., "f1": ..., "total": ..., "HasAns_exact": ..., ...}

DATA.json is a SQuAD file in the official layout; predictions.json maps
question ids to answer texts ("" = no answer). The version is the data's:
v2.0 when its `version` says so or a question is impossible or has no
answers (or with --na_prob_file), else v1.1; --version overrides. v1.1
prints exact_match and f1; v2.0 exact, f1, total and the HasAns_/NoAns_
splits, plus best_exact(_thresh) and best_f1(_thresh) with --na_prob_file:
the keys and percentages (0-100) of evaluate-v1.1.py / evaluate-v2.0.py
(bert_tf/tasks/question_answering/metrics.py has the definitions).
Unreadable or malformed
files exit with status 2 and a message naming the file.
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import json
import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf import errors
from bert_tf.tasks.question_answering import data as squad_data
from bert_tf.tasks.question_answering import metrics as squad_metrics

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_string("na_prob_file", None, "v2.0: {id: no-answer score} "
                        "(null_odds.json); adds best_exact/best_f1 and "
                        "their thresholds.", **fv)
    flags.DEFINE_float("na_prob_thresh", 1.0, "v2.0: questions whose "
                       "no-answer score exceeds this count as answered "
                       "\"\".", **fv)
    flags.DEFINE_enum("version", "auto", ["auto", "1.1", "2.0"], "SQuAD "
                      "version of the scores; auto: from the data file.",
                      **fv)
    flag_checks.existing_file(flag_values, "na_prob_file")
    flag_checks.finite(flag_values, "na_prob_thresh")


define_flags()  # at import, as before: tests call main() directly


def _read_mapping(path, value_types, what):
    """A JSON object {str: value} from `path`, or a DataError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise errors.DataError(f"{path}: cannot read: "
                                  f"{e.strerror}") from None
    try:
        value = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise errors.DataError(f"{path}: not UTF-8 (byte offset "
                                  f"{e.start})") from None
    except json.JSONDecodeError as e:
        raise errors.DataError(f"{path}:{e.lineno}: not valid JSON: "
                                  f"{e.msg} (column {e.colno})") from None
    if not isinstance(value, dict):
        raise errors.DataError(f"{path}: expected a JSON object {{id: "
                                  f"{what}}}, found {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, value_types) or isinstance(item, bool):
            raise errors.DataError(
                f"{path}: {key!r}: expected {what}, found "
                f"{type(item).__name__} {json.dumps(item)[:40]}")
    return value


def _is_v2(path, examples, version, na_prob_file):
    if version != "auto":
        return version == "2.0"
    if na_prob_file:
        return True
    if any(e.is_impossible or not e.answers for e in examples):
        return True
    with open(path, encoding="utf-8-sig") as f:
        version = json.load(f).get("version")
    return str(version).lstrip("v").startswith("2")


def evaluate(data_file, predictions_file, na_prob_file=None,
             na_prob_thresh=1.0, version="auto"):
    """The metrics dict that `main` prints (arguments as the flags).

    Raises:
        glue.DataError: a file is unreadable or malformed.
    """
    try:
        examples = squad_data.read_file(data_file)
    except OSError as e:
        raise errors.DataError(f"{data_file}: cannot read: "
                                  f"{e.strerror}") from None
    predictions = _read_mapping(predictions_file, str, "an answer string")
    gold = {e.qas_id: [a.text for a in e.answers] for e in examples}
    if not _is_v2(data_file, examples, version, na_prob_file):
        try:
            return squad_metrics.evaluate_v1(gold, predictions)
        except ValueError as e:
            raise errors.DataError(f"{data_file}: {e}") from None
    na_probs = None
    if na_prob_file:
        na_probs = _read_mapping(na_prob_file, (int, float), "a number")
    try:
        return squad_metrics.evaluate_v2(gold, predictions, na_probs,
                                         na_prob_thresh)
    except ValueError as e:
        raise errors.DataError(f"{na_prob_file}: {e}") from None


def main(argv):
    if len(argv) != 3:
        print("usage: python -m tasks.squad_eval DATA.json predictions.json "
              "[--na_prob_file=null_odds.json]", file=sys.stderr)
        return 2
    try:
        results = evaluate(argv[1], argv[2], FLAGS.na_prob_file,
                           FLAGS.na_prob_thresh, FLAGS.version)
    except errors.DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2 if "exact" in results else None))
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=flag_checks.parse_flags)
