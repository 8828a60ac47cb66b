"""Atomic file writes that honour the umask.

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

# Created as open(path, "w") creates a file; the umask then applies.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(
    os, "O_CLOEXEC", 0)
_CREATE_MODE = 0o666


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
