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
checkpoint (bert_model.ckpt, bert_config.json and vocab.txt beside it) or
an HF BERT directory; its vocab.txt is used unless --vocab_file is given.
Without --do_train, --init_checkpoint is a fine-tuned model (OUTPUT_DIR/model
of an earlier run) to evaluate or predict with.
Writes: OUTPUT_DIR/model (fine-tuned bert_tf model directory, exportable
with `python -m serving.export`), OUTPUT_DIR/eval_results.json, the GLUE
submission files (MRPC.tsv, MNLI-m.tsv, ...), swag_predictions.csv or
conll2003_test_predictions.txt (token, gold and predicted tag columns),
OUTPUT_DIR/checkpoints (an interrupted run resumes from them) and
OUTPUT_DIR/train (TensorBoard).
"""

from bert_tf.cli import console  # noqa: F401  (first: TensorFlow loads quietly)

import sys

from absl import app
from absl import flags

from bert_tf.cli import flag_checks
from bert_tf import distribute
from bert_tf import errors
from bert_tf import finetuning
from bert_tf import optimization
from bert_tf.tasks.question_answering import features as squad_features
from bert_tf.tasks import registry
from bert_tf import training

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_enum("task", None, sorted(registry.TASKS),
                      "Task to run.", **fv)
    flags.DEFINE_string("data_dir", None, "The task's data directory, in "
                        "its original layout.", **fv)
    flags.DEFINE_string("output_dir", None, "Model, checkpoints, metrics and "
                        "predictions go here.", **fv)
    flags.DEFINE_string("init_checkpoint", None, "Pre-trained model "
                        "(bert_tf, google TF1 or HF); without --do_train a "
                        "fine-tuned one.", **fv)
    flags.DEFINE_string("bert_config_file", None, "bert_config.json, if not "
                        "beside --init_checkpoint.", **fv)
    flags.DEFINE_string("vocab_file", None, "vocab.txt; default: the one "
                        "beside --init_checkpoint.", **fv)
    flags.DEFINE_bool("do_lower_case", None, "Lower-case and strip accents; "
                      "default: true for uncased vocabularies, false for "
                      "cased.", **fv)
    flags.DEFINE_bool("do_train", False, "Fine-tune on the train split.",
                      **fv)
    flags.DEFINE_bool("do_eval", False, "Score the dev split(s).", **fv)
    flags.DEFINE_bool("do_predict", False, "Predict the test split(s).",
                      **fv)
    flags.DEFINE_integer("max_seq_length", 128, "Longest packed input, "
                         "special tokens included; longer sentence (pair)s "
                         "are trimmed, the longer segment first; longer NER "
                         "sentences are split into windows.", **fv)
    flags.DEFINE_integer("train_batch_size", 32, "Global training batch "
                         "size.", **fv)
    flags.DEFINE_integer("eval_batch_size", 32, "Evaluation/prediction batch "
                         "size.", **fv)
    flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.", **fv)
    flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the train "
                       "split.", **fv)
    flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the steps with "
                       "linear warmup.", **fv)
    flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS),
                      "adamw (Adam with bias correction and decoupled "
                      "weight decay), adam_weight_decay (google-research/"
                      "bert's: no bias correction) or lamb (a per-layer "
                      "trust ratio, for large batches); docs/finetuning.md.",
                      **fv)
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "Steps between "
                         "checkpoints.", **fv)
    flags.DEFINE_integer("log_steps", 100, "Steps between log lines.", **fv)
    flags.DEFINE_integer("seed", 12345, "Seed of initialisation, dropout and "
                         "shuffling.", **fv)
    flags.DEFINE_enum("distribution_strategy", "default",
                      list(distribute.STRATEGIES), "tf.distribute strategy.",
                      **fv)
    flags.DEFINE_string("tpu", None, "TPU name or address (with "
                        "--distribution_strategy=tpu).", **fv)
    flags.DEFINE_bool("jit_compile", False, "XLA-compile the model steps.",
                      **fv)
    flags.DEFINE_enum("mixed_precision", "fp32", list(training.PRECISIONS),
                      "fp32, bf16 (mixed bfloat16) or fp16 (with loss "
                      "scaling).", **fv)
    flags.DEFINE_bool("fixed_shapes", None, "Pad batches to a few bucket "
                      "lengths instead of each batch's longest; default: on "
                      "with --jit_compile or a TPU.", **fv)
    flags.DEFINE_bool("bucket_by_length", False, "Form training batches "
                      "from examples of similar length (less padding, "
                      "faster) instead of a uniform shuffle; costs accuracy "
                      "on some tasks (docs/finetuning.md).", **fv)
    flags.DEFINE_integer("max_query_length", 64, "SQuAD: question pieces "
                         "kept.", **fv)
    flags.DEFINE_integer("doc_stride", 128, "SQuAD: pieces between the "
                         "starts of two windows over a long context.", **fv)
    flags.DEFINE_integer("n_best_size", 20, "SQuAD: candidate starts/ends "
                         "per window, answers in nbest_predictions.json.",
                         **fv)
    flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer in "
                         "pieces.", **fv)
    flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2.0: "
                       "predict no answer when the null score beats the best "
                       "span by more (use the best_f1_thresh of an earlier "
                       "evaluation).", **fv)
    flags.mark_flags_as_required(["task", "data_dir", "output_dir"], **fv)
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
    """The one place flags become a `FinetuningRun`."""
    f = flag_values
    return finetuning.FinetuningRun(
        task=f.task,
        data_dir=f.data_dir,
        output_dir=f.output_dir,
        init_checkpoint=f.init_checkpoint,
        vocab_file=f.vocab_file,
        bert_config_file=f.bert_config_file,
        do_lower_case=f.do_lower_case,
        do_train=f.do_train,
        do_eval=f.do_eval,
        do_predict=f.do_predict,
        max_seq_length=f.max_seq_length,
        train_batch_size=f.train_batch_size,
        eval_batch_size=f.eval_batch_size,
        learning_rate=f.learning_rate,
        num_train_epochs=f.num_train_epochs,
        warmup_proportion=f.warmup_proportion,
        optimizer=f.optimizer,
        save_checkpoints_steps=f.save_checkpoints_steps,
        log_steps=f.log_steps,
        distribution_strategy=f.distribution_strategy,
        tpu=f.tpu,
        jit_compile=f.jit_compile,
        mixed_precision=f.mixed_precision,
        fixed_shapes=f.fixed_shapes,
        bucket_by_length=f.bucket_by_length,
        seed=f.seed,
        max_query_length=f.max_query_length,
        doc_stride=f.doc_stride,
        n_best_size=f.n_best_size,
        max_answer_length=f.max_answer_length,
        null_score_diff_threshold=f.null_score_diff_threshold)


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
