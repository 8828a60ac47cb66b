r"""Fine-tunes BERT on a task, evaluates it, writes test predictions.

    python -m tasks.finetune --task=mrpc \
        --data_dir=glue_data/MRPC --init_checkpoint=uncased_L-12_H-768_A-12 \
        --output_dir=runs/mrpc --do_train --do_eval --do_predict \
        --max_seq_length=128 --train_batch_size=32 --learning_rate=2e-5 \
        --num_train_epochs=3

Tasks: mnli qqp qnli stsb mrpc rte sst2 cola wnli (GLUE TSVs as
distributed: DATA_DIR/train.tsv, dev.tsv, test.tsv; MNLI dev_matched.tsv,
dev_mismatched.tsv, test_matched.tsv, test_mismatched.tsv), ax (the
diagnostic set, DATA_DIR/diagnostic.tsv, predicted with an MNLI model given
as --init_checkpoint), swag (train.csv, val.csv, test.csv) and conll2003
(CoNLL-2003 column files: eng.train, eng.testa, eng.testb or train.txt,
valid.txt, test.txt; IOB1 or IOB2; --do_eval scores dev and test), squad
(train-v1.1.json, dev-v1.1.json) and squad_v2 (train-v2.0.json,
dev-v2.0.json; SQuAD's test set is hidden, so --do_eval and --do_predict
both answer the dev file: predictions.json, nbest_predictions.json and,
for v2.0, null_odds.json; score them with `python -m tasks.squad_eval`).
--init_checkpoint: a bert_tf model directory, a google-research TF1
checkpoint (bert_model.ckpt, bert_config.json and vocab.txt beside it), an
HF BERT directory, or a catalog name (bert_base_uncased, ...: downloaded and
converted on first use, see `python -m bert_tf.zoo list`); its vocab.txt is
used unless --vocab_file is given.
Without --do_train, --init_checkpoint is a fine-tuned model (OUTPUT_DIR/model
of an earlier run) to evaluate or predict with.
Writes: OUTPUT_DIR/model (fine-tuned bert_tf model directory, exportable
with `python -m serving.export`), OUTPUT_DIR/eval_results.json, the GLUE
submission files (MRPC.tsv, MNLI-m.tsv, ...), swag_predictions.csv or
conll2003_test_predictions.txt (token, gold and predicted tag columns),
OUTPUT_DIR/checkpoints (an interrupted run resumes from them) and
OUTPUT_DIR/train (TensorBoard).
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf.cli import run_flags
from bert_tf import errors
from bert_tf import finetuning
from bert_tf.tasks.question_answering import features as squad_features

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags (the fields of `FinetuningRun`) and their checks
    on `flag_values`."""
    run_flags.define_flags(finetuning.FinetuningRun, flag_values)
    _define_checks(flag_values)


def _define_checks(fv):
    flag_checks.existing_dir(fv, "data_dir")
    flag_checks.output_dir(fv, "output_dir")
    flag_checks.existing_checkpoint(fv, "init_checkpoint")
    flag_checks.existing_file(fv, "bert_config_file", "vocab_file")
    flag_checks.at_least(fv, 3, "max_seq_length",
                         why="[CLS], a piece and [SEP]")
    flag_checks.positive(fv, "train_batch_size", "eval_batch_size",
                         "learning_rate", "num_train_epochs",
                         "save_checkpoints_steps", "log_steps",
                         "max_query_length", "doc_stride", "n_best_size",
                         "max_answer_length")
    flag_checks.in_range(fv, 0, 1, "warmup_proportion")
    flag_checks.seed(fv, "seed")
    flag_checks.finite(fv, "null_score_diff_threshold")
    flag_checks.check(fv, ["do_train", "do_eval", "do_predict"], lambda v: (
        None if any(v.values()) else "nothing to do: pass at least one of "
        "--do_train, --do_eval, --do_predict"))
    flag_checks.check(fv, ["init_checkpoint"], lambda v: (
        None if v["init_checkpoint"] else "--init_checkpoint is required: "
        "the pre-trained model to fine-tune (or, without --do_train, the "
        "fine-tuned model)"))
    flag_checks.check(fv, ["distribution_strategy", "tpu"], lambda v: (
        "--distribution_strategy=tpu needs --tpu (a TPU name or address, or "
        "local)" if v["distribution_strategy"] == "tpu" and not v["tpu"]
        else None))
    flag_checks.check(
        fv, ["task", "max_seq_length", "max_query_length", "doc_stride"],
        _squad_lengths_problem)


def _squad_lengths_problem(values):
    """SQuAD windows need room for a context piece after the question."""
    if not (values["task"] or "").startswith("squad"):
        return None
    try:
        squad_features.check_lengths(values["max_seq_length"],
                                     values["max_query_length"],
                                     values["doc_stride"])
    except ValueError as e:
        return str(e)
    return None


def run_from_flags(flag_values=FLAGS):
    """The `FinetuningRun` the parsed flags describe."""
    return run_flags.run_from_flags(finetuning.FinetuningRun, flag_values)


def main(argv):
    del argv
    try:
        results, _ = finetuning.run(run_from_flags())
    except errors.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for split, values in results.items():
        shown = "  ".join(f"{k} {v:.4f}" if isinstance(v, float)
                          else f"{k} {v}" for k, v in sorted(values.items()))
        print(f"{FLAGS.task} {split}: {shown}")
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=flag_checks.parse_flags)
