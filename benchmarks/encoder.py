"""bert_tf's BertEncoder vs keras-hub's BertBackbone, side by side.

    python -m benchmarks.encoder                 # BERT-Base, batch 32, seq 128
    python -m benchmarks.encoder --preset=mini --steps=5

Both models get the same architecture and the same random inputs.
keras-hub's BertBackbone hard-codes the tanh GELU, so the equal-config
comparison runs ours with `hidden_act="gelu_new"` (the same function); a
third column shows ours with the exact erf GELU that "gelu" checkpoints
(the original BERTs) need, which keras-hub cannot compute. For each precision (fp32,
mixed_bfloat16) and XLA setting it measures:
  predict  examples/s of a forward pass (training=False)
  train    examples/s of forward + backward + Adam update
The models alternate within each repetition, in a rotating order, and the
best repetition of each is kept, so machine drift hits all alike. Rows go to benchmarks/RESULTS.md (section "encoder").
"""

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import configs  # noqa: E402
from bert_tf.layers import encoder as encoder_lib  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "base", "bert_tf.BertConfig preset to compare.")
flags.DEFINE_integer("batch_size", 32, "Examples per step.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("steps", 3, "Timed steps per measurement.")
flags.DEFINE_integer("repeats", 2, "Alternating repetitions; the best is kept.")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Policies.")
flags.DEFINE_list("xla", ["false", "true"], "jit_compile settings.")
flags.DEFINE_list("modes", ["predict", "train"], "What to time.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


def _inputs(config, batch, seq):
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, config.vocab_size, (batch, seq)).astype(np.int32)
    lengths = rng.integers(seq // 2, seq + 1, batch)
    mask = (np.arange(seq) < lengths[:, None]).astype(np.int32)
    types = (np.arange(seq) >= lengths[:, None] // 2).astype(np.int32) * mask
    return ids * mask, mask, types


KINDS = ("bert_tf", "keras_hub", "bert_tf_erf")


def _build(kind, config):
    if kind.startswith("bert_tf"):
        act = "gelu" if kind == "bert_tf_erf" else "gelu_new"
        model = encoder_lib.BertEncoder(config.replace(hidden_act=act))

        def forward(ids, mask, types, training):
            return model({"input_word_ids": ids, "input_mask": mask,
                          "input_type_ids": types},
                         training=training)["pooled_output"]
    else:
        model = keras_hub.models.BertBackbone(
            vocabulary_size=config.vocab_size,
            num_layers=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            hidden_dim=config.hidden_size,
            intermediate_dim=config.intermediate_size,
            dropout=config.hidden_dropout_prob,
            max_sequence_length=config.max_position_embeddings,
            num_segments=config.type_vocab_size)

        def forward(ids, mask, types, training):
            return model({"token_ids": ids, "padding_mask": mask,
                          "segment_ids": types},
                         training=training)["pooled_output"]
    return model, forward


def _step_fn(model, forward, mode, jit):
    optimizer = keras.optimizers.Adam(1e-5)
    optimizer.build(model.trainable_variables)

    def predict(ids, mask, types):
        return forward(ids, mask, types, False)

    def train(ids, mask, types):
        with tf.GradientTape() as tape:
            pooled = tf.cast(forward(ids, mask, types, True), tf.float32)
            loss = tf.reduce_mean(tf.square(pooled))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return tf.function(predict if mode == "predict" else train,
                       jit_compile=jit)


def _time(step, batch, steps):
    step(*batch)  # trace / compile
    step(*batch)  # warm caches
    start = time.perf_counter()
    for _ in range(steps):
        result = step(*batch)
    np.asarray(result)  # wait for the last step
    return steps / (time.perf_counter() - start)


def run():
    config = configs.BertConfig.preset(FLAGS.preset)
    batch = [tf.constant(a) for a in
             _inputs(config, FLAGS.batch_size, FLAGS.seq_length)]
    rows = []
    for precision in FLAGS.precisions:
        for xla in FLAGS.xla:
            jit = xla == "true"
            for mode in FLAGS.modes:
                keras.mixed_precision.set_global_policy(precision)
                steps = {}
                for kind in KINDS:
                    model, forward = _build(kind, config)
                    steps[kind] = _step_fn(model, forward, mode, jit)
                best = dict.fromkeys(KINDS, 0.0)
                for repeat in range(FLAGS.repeats):
                    # Rotate who goes first: no model always gets the
                    # freshest (or the most throttled) slot.
                    shift = repeat % len(KINDS)
                    for kind in KINDS[shift:] + KINDS[:shift]:
                        rate = _time(steps[kind], batch, FLAGS.steps)
                        best[kind] = max(best[kind], rate * FLAGS.batch_size)
                row = (mode, precision, "on" if jit else "off",
                       best["bert_tf"], best["keras_hub"],
                       best["bert_tf"] / best["keras_hub"],
                       best["bert_tf_erf"])
                print("%-8s %-15s xla=%-3s bert_tf %7.1f ex/s  keras-hub "
                      "%7.1f ex/s  ratio %.2f  (bert_tf erf GELU %7.1f)" % row,
                      flush=True)
                rows.append(row)
    keras.mixed_precision.set_global_policy("float32")
    return config, rows


def main(argv):
    del argv
    config, rows = run()
    if not FLAGS.write:
        return
    lines = [
        f"BertEncoder (bert_tf) vs keras_hub.models.BertBackbone, preset "
        f"`{FLAGS.preset}` (L={config.num_hidden_layers}, "
        f"H={config.hidden_size}, heads={config.num_attention_heads}), batch "
        f"{FLAGS.batch_size}, seq {FLAGS.seq_length}, best of "
        f"{FLAGS.repeats} x {FLAGS.steps} steps. Command: `python -m "
        f"benchmarks.encoder --preset={FLAGS.preset}`.",
        "",
        "`bert_tf` and `keras-hub` compute the same function (tanh GELU); "
        "`ratio` = bert_tf / keras-hub. `bert_tf erf` is ours with the exact "
        "GELU of the original checkpoints.",
        "",
        "| mode | precision | XLA | bert_tf ex/s | keras-hub ex/s | ratio "
        "| bert_tf erf ex/s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for mode, precision, xla, ours, theirs, ratio, erf in rows:
        lines.append(f"| {mode} | {precision} | {xla} | {ours:.1f} | "
                     f"{theirs:.1f} | {ratio:.2f} | {erf:.1f} |")
    results.write_section(f"encoder ({FLAGS.preset})", "\n".join(lines))


if __name__ == "__main__":
    app.run(main)
