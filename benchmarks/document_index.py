"""What the pre-training document index costs: build, reuse, random reads.

    python -m benchmarks.document_index [--documents=200000]

Writes a corpus of --documents documents (Wikipedia-like: 2-60 sentences of
8-40 words each, about 3 KB a document) to a temporary directory and
measures, on this machine (benchmarks/RESULTS.md, section "document
index"):
  build      the one sequential scan that finds every document (MB/s,
             documents/s) and the size of the cached index;
  reuse      opening the cached index (checked against its file);
  read       random documents read by number, as every epoch's permutation
             and every random-next B segment read them (documents/s).
Extrapolated to Wikipedia + BooksCorpus (~3.3 billion words, ~20 GB of
text) from the measured rates.
"""

import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from benchmarks import results
from bert_tf.data import document_index

FLAGS = flags.FLAGS
flags.DEFINE_integer("documents", 200000, "Documents in the corpus.")
flags.DEFINE_integer("reads", 20000, "Random documents read.")
flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")

_WORDS = ("the of and in to was is for on as by with he at from his an "
          "were are which this be also or had first one their its new "
          "after but who not they have has her two she been other when "
          "there all during into school time may years more most only "
          "over city some world would where later up such used many can "
          "state about national out known university united then made").split()
_CORPUS_BYTES = 20e9  # Wikipedia + BooksCorpus as plain text, about


def write_corpus(path, documents, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array(_WORDS)
    with open(path, "w") as f:
        for _ in range(documents):
            sentences = [" ".join(words[rng.integers(0, len(words), n)])
                         + " ." for n in rng.integers(8, 41,
                                                      rng.integers(2, 61))]
            f.write("\n".join(sentences) + "\n\n")


def main(argv):
    del argv
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "corpus.txt")
        write_corpus(path, FLAGS.documents)
        size = os.path.getsize(path)
        start = time.perf_counter()
        index = document_index.DocumentIndex.for_files([path])
        build = time.perf_counter() - start
        index_bytes = os.path.getsize(path + document_index.SUFFIX)
        start = time.perf_counter()
        index = document_index.DocumentIndex.for_files([path])
        reuse = time.perf_counter() - start
        picks = np.random.default_rng(1).integers(
            0, index.num_documents, FLAGS.reads)
        start = time.perf_counter()
        for document in picks:
            index.sentences(int(document))
        read = (time.perf_counter() - start) / FLAGS.reads
    documents = index.num_documents
    full_documents = _CORPUS_BYTES / (size / documents)
    rows = [
        f"{documents:,} documents, {size / 1e6:.0f} MB of text "
        f"({size / documents / 1e3:.1f} KB a document), one process, "
        "local disk with the file in the page cache.",
        "",
        "| step | measured | per document | Wikipedia + BooksCorpus "
        "(~20 GB, extrapolated) |",
        "| --- | ---: | ---: | ---: |",
        f"| build (one scan) | {build:.2f} s, {size / build / 1e6:.0f} MB/s"
        f" | {build / documents * 1e6:.1f} µs | "
        f"{_CORPUS_BYTES / (size / build) / 60:.0f} min, once |",
        f"| cached index | {index_bytes / 1e6:.1f} MB | "
        f"{index_bytes / documents:.0f} bytes | "
        f"{full_documents * index_bytes / documents / 1e6:.0f} MB |",
        f"| reopen (checked) | {reuse * 1e3:.1f} ms | | |",
        f"| random read | {1 / read:,.0f} documents/s | "
        f"{read * 1e6:.0f} µs | |",
    ]
    print("\n".join(rows))
    if FLAGS.write:
        results.write_section("document index", "\n".join(rows))


if __name__ == "__main__":
    app.run(main)
