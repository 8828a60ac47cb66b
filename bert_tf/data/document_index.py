"""Where each document of a pre-training corpus starts and ends, on disk.

    index = document_index.DocumentIndex.for_files(["wiki/*.txt" expanded])
    index.num_documents          # every document of every file
    index.sentences(12345)       # [b"First line .", b"Second line ."]

Pre-training text is one sentence per line with a blank line between
documents. To visit the documents of a corpus far larger than memory in a
fresh random order every epoch, and to draw the B segment of a random-next
pair from any document of the corpus, a document must be readable by its
number: this index holds, per file, the byte offsets [start, end) of each
document (16 bytes per document), and `sentences` reads one with a single
positioned read.

The index of `corpus.txt` is built by one sequential scan of the file and
cached beside it as `corpus.txt.docindex` (or, where that directory is not
writable, under `$BERT_TF_HOME/document_index/`, default
`~/.cache/bert_tf/document_index/`). It records the size and modification
time of the file it describes: an index that no longer matches its file is
rebuilt (with a log line saying why), never read. A read whose bytes do not
sit between line breaks, as when the file changes during a run, is an error
naming the file.

Lines end at "\\n", "\\r\\n" or a lone "\\r"; a line of only whitespace
(space, tab, form feed, vertical tab) is blank; runs of blank lines make no
empty documents. Bytes are returned as they are (invalid UTF-8 included).
"""

import array
import hashlib
import json
import os
import re

from absl import logging
import numpy as np

from bert_tf import errors
from bert_tf import file_io

SUFFIX = ".docindex"
_MAGIC = b"bert_tf document index 1\n"
_BLANK = b" \t\n\r\x0b\x0c"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


DocumentIndexError = errors.DocumentIndexError


def _lines(f):
    """(byte offset, line) of every line of binary file `f`, line breaks
    ("\\n", "\\r\\n", lone "\\r") included."""
    position = 0
    for raw in f:
        for line in _LONE_CR.split(raw) if b"\r" in raw else (raw,):
            if line:
                yield position, line
                position += len(line)


def scan(path):
    """int64 [documents, 2]: byte [start, end) of each document of `path`,
    from its first line to the end of its last line."""
    spans = array.array("q")  # flat start, end pairs: 16 bytes a document
    start = end = None
    with open(path, "rb") as f:
        for position, line in _lines(f):
            if line.strip(_BLANK):
                if start is None:
                    start = position
                end = position + len(line)
            elif start is not None:
                spans.extend((start, end))
                start = None
    if start is not None:
        spans.extend((start, end))
    return np.frombuffer(spans, np.int64).reshape(-1, 2)


def _stamp(path):
    """What an index records of its file: size and modification time."""
    status = os.stat(path)
    return {"size": status.st_size, "mtime_ns": status.st_mtime_ns}


def _cache_paths(path):
    """Where the index of `path` may live: beside it, else the cache."""
    home = os.environ.get("BERT_TF_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache", "bert_tf")
    absolute = os.path.abspath(path)
    key = hashlib.sha256(absolute.encode()).hexdigest()[:16]
    return [absolute + SUFFIX, os.path.join(
        home, "document_index", f"{os.path.basename(path)}-{key}{SUFFIX}")]


def _write(index_path, stamp, spans):
    header = json.dumps({**stamp, "documents": len(spans)}).encode()
    os.makedirs(os.path.dirname(index_path), exist_ok=True)
    file_io.atomic_write(index_path, lambda f: f.write(
        _MAGIC + header + b"\n" + spans.astype("<i8").tobytes()))


def _read(index_path, stamp):
    """The spans of a cached index that matches `stamp`; else None and why.
    """
    try:
        with open(index_path, "rb") as f:
            if f.readline() != _MAGIC:
                return None, "not a document index"
            header = json.loads(f.readline())
            offset = f.tell()
        if {k: header.get(k) for k in stamp} != stamp:
            return None, (f"its file changed (size {header.get('size')} -> "
                          f"{stamp['size']} bytes or new modification time)")
        count = int(header["documents"])
        if os.path.getsize(index_path) != offset + 16 * count:
            return None, "truncated"
        spans = np.memmap(index_path, "<i8", "r", offset,
                          (count, 2)) if count else np.zeros((0, 2), np.int64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"unreadable ({e})"
    starts, ends = spans[:, 0], spans[:, 1]
    if count and (starts[0] < 0 or ends[-1] > stamp["size"]
                  or np.any(ends <= starts) or np.any(starts[1:] < ends[:-1])):
        return None, "its offsets are not those of this file"
    return spans, None


def index_file(path):
    """The spans of `path`'s documents, from the cache or a fresh scan."""
    stamp = _stamp(path)
    candidates = _cache_paths(path)
    for index_path in candidates:
        if os.path.exists(index_path):
            spans, why = _read(index_path, stamp)
            if spans is not None:
                return spans
            logging.warning("Rebuilding the document index %s: %s",
                            index_path, why)
    spans = scan(path)
    if _stamp(path) != stamp:
        raise DocumentIndexError(f"{path}: changed while it was indexed")
    for index_path in candidates:
        try:
            _write(index_path, stamp, spans)
            break
        except OSError:  # a read-only corpus directory: try the cache
            continue
    else:
        logging.warning("No writable place to cache the document index of "
                        "%s (tried %s); it is rebuilt every run", path,
                        ", ".join(candidates))
    return spans


class DocumentIndex:
    """The documents of a list of files, numbered in file order.

    Args:
        files: list of str. The corpus files.
        spans: list of int64 [documents, 2] arrays, one per file.
    """

    def __init__(self, files, spans):
        self.files = list(files)
        self._spans = list(spans)
        self._first = np.concatenate(
            [[0], np.cumsum([len(s) for s in self._spans])]).astype(np.int64)
        self.num_documents = int(self._first[-1])

    @classmethod
    def for_files(cls, files):
        """Indexes `files` (each one built once, then cached)."""
        return cls(files, [index_file(path) for path in files])

    def locate(self, document):
        """(file, start, end) of document number `document`."""
        if not 0 <= document < self.num_documents:
            raise IndexError(f"document {document} of "
                             f"{self.num_documents}")
        i = int(np.searchsorted(self._first, document, side="right")) - 1
        start, end = self._spans[i][document - self._first[i]]
        return self.files[i], int(start), int(end)

    def sentences(self, document):
        """The non-blank lines of document number `document`, as bytes."""
        path, start, end = self.locate(document)
        with open(path, "rb") as f:
            raw = os.pread(f.fileno(), end - start + 1, max(start - 1, 0))
        before, text = (raw[:1], raw[1:]) if start else (b"\n", raw)
        text = text[:end - start]
        if len(text) != end - start or before not in (b"\n", b"\r") \
                or text[-1:] not in (b"\n", b"\r") and \
                end != os.path.getsize(path):
            raise DocumentIndexError(
                f"{path}: document {document} is not where the index puts "
                f"it (bytes {start}-{end}); the file changed during the run")
        lines = _LINE_BREAK.split(text)
        return [line for line in lines if line.strip(_BLANK)]
