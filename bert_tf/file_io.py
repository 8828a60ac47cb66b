"""Atomic file writes that honour the umask; task files read line by line.

    file_io.atomic_write("out/vocab.txt", "[PAD]\\n[UNK]\\n")
    file_io.atomic_write("export/saved_model.pb", proto.SerializeToString())
    file_io.atomic_write("big.bin", lambda f: f.write(b"..."))  # streams

The data goes to a hidden temporary file beside `path`, is flushed to disk,
then renamed over `path`: a reader sees the old file or the new one, never a
half-written one. Unlike `tempfile.mkstemp`, which always creates mode 0600,
the temporary file is created with mode 0666 minus the umask, like any file
`open(path, "w")` creates, so a server running as another user can read an
export, a vocabulary or a prediction file when the umask allows it.
"""

import os

from bert_tf import errors

# Created as open(path, "w") creates a file; the umask then applies.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(
    os, "O_CLOEXEC", 0)
_CREATE_MODE = 0o666
_UTF8_BOM = b"\xef\xbb\xbf"


def atomic_write(path, data):
    """Writes `data` to `path` atomically, with the umask's permissions.

    Args:
        path: str. The file to create or replace; its directory must exist.
        data: bytes, or str (written as UTF-8, newlines unchanged), or a
            callable that takes the open binary file and writes to it.

    Raises:
        OSError: the write failed; `path` is unchanged and no temporary file
            is left.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            elif isinstance(data, str):
                f.write(data.encode("utf-8"))
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


def _create_temporary(directory, name):
    """(fd, path) of a new, exclusive file `.NAME.tmp-N` in `directory`."""
    for attempt in range(100):
        path = os.path.join(directory,
                            f".{name}.tmp-{os.getpid()}-{attempt}")
        try:
            return os.open(path, _CREATE_FLAGS, _CREATE_MODE), path
        except FileExistsError:
            continue  # left by an interrupted write, or a concurrent one
    raise FileExistsError(f"{directory}: could not create a temporary file "
                          f"for {name} (100 names taken)")


def read_lines(path):
    """(line number, text) of each line of a task file: decoded strictly
    as UTF-8 (an error names the line and byte), a leading byte-order mark
    and the LF / CRLF line end dropped."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if line_no == 1 and raw.startswith(_UTF8_BOM):
                raw = raw[len(_UTF8_BOM):]
            raw = raw[:-1] if raw.endswith(b"\n") else raw
            raw = raw[:-1] if raw.endswith(b"\r") else raw
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise errors.DataError(
                    f"{path}:{line_no}: not UTF-8 (byte 0x{raw[e.start]:02x} "
                    f"at byte {e.start + 1} of the line)") from None
            yield line_no, text
