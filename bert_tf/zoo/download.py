"""Downloads a file so that nothing half-written is ever trusted.

`download(url, path)` writes to PATH.part, resuming it (an HTTP Range
request) when an earlier attempt or process left one, and retrying a
connection that drops mid-way; the finished file is checked against the
expected size and SHA-256 and only then renamed to PATH. A mismatch
deletes the file and says so. Proxies come from the standard environment
variables (http_proxy, https_proxy, no_proxy), as urllib reads them.
"""

import http.client
import os
import sys
import time
import urllib.error
import urllib.request

from bert_tf import checkpoint_checks as checks
from bert_tf import errors

_CHUNK = 1 << 20
# Connection drops survived per download (each resumes where it stopped).
_ATTEMPTS = 5


class OfflineError(errors.ZooError):
    """The server cannot be reached at all (no network, DNS, refused)."""


class Progress:
    """Size, percentage and rate of a download on stderr: one line
    rewritten in place on a terminal, a line per 10% otherwise."""

    def __init__(self, label, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.start = time.monotonic()
        self.first = None
        self.shown = -1

    def update(self, done, total):
        if self.first is None:
            self.first = done  # resumed from here
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = (done - self.first) / elapsed / 1e6
        size = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "")
        percent = int(100 * done / total) if total else None
        line = (f"{self.label}: {size} MB"
                + (f" ({percent}%)" if percent is not None else "")
                + f" {rate:.1f} MB/s")
        if self.tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif percent is not None and percent // 10 > self.shown:
            self.shown = percent // 10
            self.stream.write(line + "\n")

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def download(url, path, sha256=None, size=None, progress=None, timeout=60):
    """Downloads `url` to `path` (atomically) and returns its SHA-256.

    Args:
        sha256: expected hex digest, or None.
        size: expected size in bytes, or None.
        progress: a `Progress` (or anything with update(done, total) and
            close()), or None.
        timeout: seconds a connection may stay silent.

    Raises:
        OfflineError: the server could not be reached; nothing is lost
            (PATH.part stays, to resume).
        ZooError: the server answered with an error, the file kept
            dropping, or it is not the expected file (then deleted).
    """
    part = path + ".part"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    total = None
    for attempt in range(_ATTEMPTS):
        try:
            total = _fetch(url, part, progress, timeout)
            break
        except (ConnectionError, TimeoutError, http.client.HTTPException,
                urllib.error.URLError) as e:
            unreachable = isinstance(e, urllib.error.URLError) and \
                not isinstance(e, urllib.error.HTTPError)
            resumable = os.path.exists(part) and os.path.getsize(part) > 0
            # Never reached, or no longer reachable: no point retrying.
            if unreachable and (not resumable or attempt == _ATTEMPTS - 1):
                raise OfflineError(f"cannot reach {url}: {e.reason}") from None
            if attempt == _ATTEMPTS - 1:
                raise errors.ZooError(
                    f"{url}: the download kept breaking off ({e}); run it "
                    f"again to resume from {part}") from None
            time.sleep(min(2 ** attempt, 10) * 0.1)
    if progress is not None:
        progress.close()
    return _verify_and_place(url, part, path, sha256, size or total)


def _fetch(url, part, progress, timeout):
    """Appends the rest of `url` to `part`; returns the full size (None if
    the server does not say)."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={
        "User-Agent": "bert_tf", **({"Range": f"bytes={offset}-"}
                                    if offset else {})})
    try:
        # A new opener reads the proxy variables now (urlopen's global one
        # kept those of its first use).
        response = urllib.request.build_opener().open(request,
                                                      timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing left after offset
            return offset
        raise errors.ZooError(f"{url}: HTTP {e.code} {e.reason}") from None
    with response:
        if offset and response.status != 206:  # range ignored: start over
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        done = offset
        with open(part, "ab" if offset else "wb") as f:
            while True:
                # What has arrived, not a full chunk: the file grows as
                # the data comes (a process killed mid-way keeps it all).
                block = response.read1(_CHUNK)
                if not block:
                    break
                f.write(block)
                f.flush()
                done += len(block)
                if progress is not None:
                    progress.update(done, total)
            f.flush()
            os.fsync(f.fileno())
        if total is not None and done < total:
            raise http.client.IncompleteRead(b"", total - done)
    return total


def _verify_and_place(url, part, path, sha256, size):
    got_size = os.path.getsize(part)
    digest = checks.sha256(part)
    problem = None
    if size is not None and got_size != size:
        problem = f"{got_size} bytes, expected {size}"
    elif sha256 is not None and digest != sha256.lower():
        problem = f"SHA-256 {digest}, expected {sha256.lower()}"
    if problem:
        os.remove(part)
        raise errors.ZooError(f"{url}: the downloaded file is not the "
                              f"expected one ({problem}); it was deleted")
    os.replace(part, path)
    return digest
