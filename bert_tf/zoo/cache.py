"""Where catalog checkpoints are kept: downloaded once, converted once.

    $BERT_TF_HOME (default: $XDG_CACHE_HOME/bert_tf or ~/.cache/bert_tf)
      archives/NAME.zip         the release archive, as published
      archives/NAME.zip.json    its verified size and SHA-256
      archives/NAME.zip.part    an unfinished download (resumed next time)
      models/NAME/              the bert_tf model directory converted from it
      locks/NAME.lock           held while a process fetches NAME

`resolve(name)` returns models/NAME, fetching and converting what is
missing. Processes asking for the same name at once take turns on the
lock: the second finds the first one's result. Nothing is placed before it
is complete and verified, so a process killed at any point leaves nothing
a later run trusts (an unfinished download is resumed, then verified).

Verification: an archive must have the catalog's SHA-256 when the catalog
records one; otherwise the one recorded at its first download, which also
had to pass the zip's own CRC check and hold a checkpoint, a config and a
vocabulary.
"""

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import zipfile

from absl import logging

from bert_tf import checkpoint_checks as checks
from bert_tf import errors
from bert_tf import file_io
from bert_tf.zoo import catalog
from bert_tf.zoo import download as download_lib

MODEL_FILE = "bert_tf_model.json"  # what a finished models/NAME holds
# float32 weights barely compress (google's zips: ~1.08x); an archive that
# would unpack to more than this many times its size is refused before
# anything is read or unpacked (a zip bomb from a hostile mirror).
_MAX_UNPACKED_RATIO = 4


def home():
    """The cache directory ($BERT_TF_HOME, else the user's cache)."""
    configured = os.environ.get("BERT_TF_HOME")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bert_tf")


def archive_path(entry):
    return os.path.join(home(), "archives", entry.name + ".zip")


def model_dir(entry):
    return os.path.join(home(), "models", entry.name)


def status(entry):
    """{"archive": bool, "model": bool}: what the cache holds for it."""
    return {"archive": os.path.isfile(archive_path(entry)),
            "model": os.path.isfile(os.path.join(model_dir(entry),
                                                 MODEL_FILE))}


@contextlib.contextmanager
def _locked(entry):
    directory = os.path.join(home(), "locks")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, entry.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def resolve(name, progress=True):
    """The bert_tf model directory of catalog checkpoint `name`, downloaded
    and converted on first use.

    Raises:
        ZooError: unknown name, download or verification failure; without
            network, naming the URL to fetch and where to put the file.
    """
    entry = catalog.get(name)
    with _locked(entry):
        if status(entry)["model"]:
            return model_dir(entry)
        archive = fetch_archive(entry, progress)
        _convert(entry, archive)
    return model_dir(entry)


def fetch(name, progress=True):
    """Downloads and verifies `name`'s archive (no conversion); returns
    its path."""
    entry = catalog.get(name)
    with _locked(entry):
        return fetch_archive(entry, progress)


def remove(name):
    """Deletes what the cache holds for `name`; returns the paths removed."""
    entry = catalog.get(name)
    removed = []
    with _locked(entry):
        archive = archive_path(entry)
        for path in (archive, archive + ".json", archive + ".part"):
            if os.path.exists(path):
                os.remove(path)
                removed.append(path)
        if os.path.isdir(model_dir(entry)):
            shutil.rmtree(model_dir(entry))
            removed.append(model_dir(entry))
    return removed


def fetch_archive(entry, progress=True):
    """The verified archive of `entry` (the caller holds its lock)."""
    path = archive_path(entry)
    if os.path.isfile(path):  # downloaded before, or put there by hand
        _verify(entry, path)
        if os.path.exists(path + ".part"):  # an unfinished download's
            os.remove(path + ".part")  # leftover, now unneeded
        return path
    if os.environ.get("BERT_TF_OFFLINE"):
        raise _offline_error(entry, "BERT_TF_OFFLINE is set")
    logging.info("Downloading %s from %s", entry.name, entry.url)
    try:
        # The catalog's size is informational (reported by third parties
        # for some entries): the server's length and the SHA-256 decide.
        digest = download_lib.download(
            entry.url, path, sha256=entry.sha256,
            progress=download_lib.Progress(entry.name) if progress else None)
    except download_lib.OfflineError as e:
        raise _offline_error(entry, str(e)) from None
    try:
        _check_archive(path)
    except errors.ZooError:
        os.remove(path)
        raise
    _record(path, digest)
    return path


def _offline_error(entry, reason):
    return errors.ZooError(
        f"{entry.name}: cannot download it ({reason}). Fetch {entry.url} "
        f"yourself and save it as {archive_path(entry)}; bert_tf then "
        "verifies, unpacks and converts it as if it had downloaded it")


def _verify(entry, path):
    recorded = _recorded(path)
    expected = entry.sha256 or (recorded or {}).get("sha256")
    if expected is None:  # put there by hand: check it now
        _check_archive(path)
        _record(path, checks.sha256(path))
        return
    digest = checks.sha256(path)
    where = "the catalog's" if entry.sha256 else \
        "recorded when first downloaded"
    if digest != expected.lower():
        os.remove(path)
        if os.path.exists(path + ".json"):
            os.remove(path + ".json")
        raise errors.ZooError(
            f"{path}: SHA-256 {digest}, expected {expected.lower()} "
            f"({where}); the file was deleted: run again to download it "
            "anew")


def _recorded(path):
    try:
        with open(path + ".json", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _record(path, digest):
    file_io.atomic_write(path + ".json", json.dumps(
        {"sha256": digest, "size_bytes": os.path.getsize(path)}))


def _checkpoint_dir(names):
    """The archive folder holding bert_config.json, vocab.txt and
    bert_model.ckpt.index (google's layout: one top folder, or none)."""
    folders = {os.path.dirname(n) for n in names
               if os.path.basename(n) == "bert_model.ckpt.index"}
    for folder in sorted(folders):
        if all(os.path.join(folder, f) in names
               for f in ("bert_config.json", "vocab.txt")):
            return folder
    return None


def _check_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > _MAX_UNPACKED_RATIO * max(os.path.getsize(path),
                                                    1 << 20):
                raise errors.ZooError(
                    f"{path}: would unpack to {unpacked:,} bytes, more than "
                    f"{_MAX_UNPACKED_RATIO}x its size: not a checkpoint "
                    "archive")
            bad = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise errors.ZooError(f"{path}: not a readable zip archive ({e})") \
            from None
    if bad is not None:
        raise errors.ZooError(f"{path}: {bad} is corrupted (CRC mismatch)")
    if _checkpoint_dir(names) is None:
        raise errors.ZooError(
            f"{path}: no folder with bert_model.ckpt.index, "
            "bert_config.json and vocab.txt")


def _convert(entry, archive):
    from bert_tf import checkpoints

    scratch = tempfile.mkdtemp(prefix=f".{entry.name}-", dir=home())
    try:
        with zipfile.ZipFile(archive) as zipped:
            folder = _checkpoint_dir(set(zipped.namelist()))
            members = [n for n in zipped.namelist()
                       if os.path.dirname(n) == folder]
            zipped.extractall(scratch, members)
        source = os.path.join(scratch, folder, "bert_model.ckpt")
        logging.info("Converting %s to %s", entry.name, model_dir(entry))
        checkpoints.convert(source, model_dir(entry))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
