"""python -m bert_tf.zoo list | info NAME | download NAME | remove NAME

  list       the catalog: name, layers/hidden/heads, parameters, case,
             archive size (~: estimated until downloaded), what is cached
  info NAME  one entry: its URL, config, scores and cache paths
  download NAME
             downloads, verifies and converts it into the cache
             ($BERT_TF_HOME, default ~/.cache/bert_tf); prints the model
             directory, which --init_checkpoint and load_encoder also take
  remove NAME
             deletes its archive and converted model from the cache
"""

from bert_tf.cli import console  # noqa: F401  (first: a quiet TensorFlow)

import json
import os
import sys

from absl import app

from bert_tf import errors
from bert_tf.zoo import cache
from bert_tf.zoo import catalog

COMMANDS = ("list", "info", "download", "remove")


def _size(entry):
    archive = cache.archive_path(entry)
    if os.path.isfile(archive):
        return f"{os.path.getsize(archive) / 1e6:.0f} MB"
    if entry.size_bytes:
        return f"{entry.size_bytes / 1e6:.0f} MB"
    return f"~{entry.estimated_size_bytes / 1e6:.0f} MB"


def _cached(entry):
    held = cache.status(entry)
    if held["model"]:
        return "converted"
    return "archive" if held["archive"] else "-"


def list_table(out):
    rows = [("name", "L/H/A", "params", "case", "size", "cached")]
    for entry in catalog.entries().values():
        rows.append((entry.name, entry.shape,
                     f"{entry.parameters / 1e6:.1f}M",
                     "uncased" if entry.lower_case else "cased",
                     _size(entry), _cached(entry)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(value.ljust(width) for value, width in
                            zip(row, widths)).rstrip() + "\n")
    out.write(f"cache: {cache.home()}\n")


def info(name, out):
    entry = catalog.get(name)
    held = cache.status(entry)
    lines = [
        f"{entry.name}: {entry.title} ({entry.languages}, "
        f"{'uncased' if entry.lower_case else 'cased'}, released "
        f"{entry.released})",
        f"url: {entry.url}",
        f"architecture: {entry.shape}, {entry.parameters:,} parameters",
        f"archive: {_size(entry)}, SHA-256 "
        f"{entry.sha256 or 'recorded at the first download'}",
        f"archive in cache: {cache.archive_path(entry)} "
        f"({'present' if held['archive'] else 'absent'})",
        f"model in cache: {cache.model_dir(entry)} "
        f"({'present' if held['model'] else 'absent'})",
        f"config: {json.dumps(entry.config.to_dict(), sort_keys=True)}",
    ]
    for benchmark, scores in entry.scores.items():
        lines.append(f"{benchmark}: " + ", ".join(
            f"{k} {v}" for k, v in scores.items()))
    if entry.source:
        lines.append(f"source: {entry.source}")
    if entry.notes:
        lines.append(f"notes: {entry.notes}")
    out.write("\n".join(lines) + "\n")


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"expected one of {', '.join(COMMANDS)}")
    command, names = argv[1], argv[2:]
    if command == "list":
        if names:
            raise app.UsageError("list takes no name")
        list_table(sys.stdout)
        return 0
    if len(names) != 1:
        raise app.UsageError(f"{command} takes one catalog name")
    try:
        if command == "info":
            info(names[0], sys.stdout)
        elif command == "download":
            print(cache.resolve(names[0]))
        else:
            removed = cache.remove(names[0])
            print("\n".join(f"removed {path}" for path in removed)
                  or f"nothing cached for {names[0]}")
    except errors.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def run():
    app.run(main)
