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

import sys

from absl import app
from absl import flags

from bert_tf import checkpoint_sources
from bert_tf import configs
from bert_tf import distribute
from bert_tf import optimization
from bert_tf import tokenization
from bert_tf import training
from bert_tf.data import glue as glue_data
from tasks import finetuning

FLAGS = flags.FLAGS

flags.DEFINE_enum("task", None, sorted(finetuning.FAMILIES), "Task to run.")
flags.DEFINE_string("data_dir", None, "The task's data directory, in its "
                    "original layout.")
flags.DEFINE_string("output_dir", None, "Model, checkpoints, metrics and "
                    "predictions go here.")
flags.DEFINE_string("init_checkpoint", None, "Pre-trained model (bert_tf, "
                    "google TF1 or HF); without --do_train a fine-tuned one.")
flags.DEFINE_string("bert_config_file", None, "bert_config.json, if not "
                    "beside --init_checkpoint.")
flags.DEFINE_string("vocab_file", None, "vocab.txt; default: the one beside "
                    "--init_checkpoint.")
flags.DEFINE_bool("do_lower_case", None, "Lower-case and strip accents; "
                  "default: true for uncased vocabularies, false for cased.")
flags.DEFINE_bool("do_train", False, "Fine-tune on the train split.")
flags.DEFINE_bool("do_eval", False, "Score the dev split(s).")
flags.DEFINE_bool("do_predict", False, "Predict the test split(s).")
flags.DEFINE_integer("max_seq_length", 128, "Longest packed input, special "
                     "tokens included; longer sentence (pair)s are trimmed, "
                     "the longer segment first; longer NER sentences are "
                     "split into windows.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 32, "Evaluation/prediction batch "
                     "size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate (AdamW).")
flags.DEFINE_float("num_train_epochs", 3.0, "Passes over the train split.")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of the steps with "
                   "linear warmup.")
flags.DEFINE_enum("optimizer", "adamw", list(optimization.OPTIMIZERS),
                  "Optimizer.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Steps between "
                     "checkpoints.")
flags.DEFINE_integer("log_steps", 100, "Steps between log lines.")
flags.DEFINE_integer("seed", 12345, "Seed of initialisation, dropout and "
                     "shuffling.")
flags.DEFINE_enum("distribution_strategy", "default",
                  list(distribute.STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU name or address (with "
                    "--distribution_strategy=tpu).")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the model steps.")
flags.DEFINE_enum("mixed_precision", "fp32", list(training.PRECISIONS),
                  "fp32, bf16 (mixed bfloat16) or fp16 (with loss scaling).")
flags.DEFINE_bool("fixed_shapes", None, "Pad batches to a few bucket "
                  "lengths instead of each batch's longest; default: on "
                  "with --jit_compile or a TPU.")
flags.DEFINE_integer("max_query_length", 64, "SQuAD: question pieces kept.")
flags.DEFINE_integer("doc_stride", 128, "SQuAD: pieces between the starts of "
                     "two windows over a long context.")
flags.DEFINE_integer("n_best_size", 20, "SQuAD: candidate starts/ends per "
                     "window, answers in nbest_predictions.json.")
flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer in "
                     "pieces.")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2.0: predict no "
                   "answer when the null score beats the best span by more "
                   "(use the best_f1_thresh of an earlier evaluation).")
flags.mark_flags_as_required(["task", "data_dir", "output_dir"])


def run_from_flags():
    """The one place flags become a `FinetuningRun`."""
    return finetuning.FinetuningRun(
        task=FLAGS.task,
        data_dir=FLAGS.data_dir,
        output_dir=FLAGS.output_dir,
        init_checkpoint=FLAGS.init_checkpoint,
        vocab_file=FLAGS.vocab_file,
        bert_config_file=FLAGS.bert_config_file,
        do_lower_case=FLAGS.do_lower_case,
        do_train=FLAGS.do_train,
        do_eval=FLAGS.do_eval,
        do_predict=FLAGS.do_predict,
        max_seq_length=FLAGS.max_seq_length,
        train_batch_size=FLAGS.train_batch_size,
        eval_batch_size=FLAGS.eval_batch_size,
        learning_rate=FLAGS.learning_rate,
        num_train_epochs=FLAGS.num_train_epochs,
        warmup_proportion=FLAGS.warmup_proportion,
        optimizer=FLAGS.optimizer,
        save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        log_steps=FLAGS.log_steps,
        distribution_strategy=FLAGS.distribution_strategy,
        tpu=FLAGS.tpu,
        jit_compile=FLAGS.jit_compile,
        mixed_precision=FLAGS.mixed_precision,
        fixed_shapes=FLAGS.fixed_shapes,
        seed=FLAGS.seed,
        max_query_length=FLAGS.max_query_length,
        doc_stride=FLAGS.doc_stride,
        n_best_size=FLAGS.n_best_size,
        max_answer_length=FLAGS.max_answer_length,
        null_score_diff_threshold=FLAGS.null_score_diff_threshold)


def main(argv):
    del argv
    try:
        results, _ = finetuning.run(run_from_flags())
    except (finetuning.FinetuningError, glue_data.DataError,
            configs.ConfigError, checkpoint_sources.CheckpointError,
            tokenization.VocabError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for split, values in results.items():
        shown = "  ".join(f"{k} {v:.4f}" if isinstance(v, float)
                          else f"{k} {v}" for k, v in sorted(values.items()))
        print(f"{FLAGS.task} {split}: {shown}")
    return 0


if __name__ == "__main__":
    app.run(main)
