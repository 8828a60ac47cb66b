"""Catalog checkpoints by name: downloaded, verified, converted, cached.

Nothing here touches the internet: a loopback HTTP server started by the
test serves archives generated in google-research/bert's layout (a folder
holding bert_model.ckpt.*, bert_config.json and vocab.txt), and a catalog
of the test's own ($BERT_TF_CATALOG) points at it.
"""

import hashlib
import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from unittest import mock

import keras
import tensorflow as tf

from bert_tf import checkpoints
from bert_tf import configs
from bert_tf import errors
from bert_tf.layers import encoder as encoder_lib
from bert_tf.zoo import cache
from bert_tf.zoo import download as download_lib
from tests import testing

CONFIG = configs.BertConfig(
    vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    intermediate_size=64, max_position_embeddings=32)
FOLDER = "uncased_L-2_H-16_A-2"
SST2 = os.path.join(testing.REPO_ROOT, "tasks", "data", "glue", "SST-2")


def _archive(directory):
    """(zip bytes, the encoder): a random tiny encoder in google's layout."""
    vocab = os.path.join(directory, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                          + [f"w{i}" for i in range(35)]) + "\n")
    encoder = encoder_lib.BertEncoder(CONFIG)
    google = os.path.join(directory, "google")
    checkpoints.save_google_checkpoint(google, encoder, vocab)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(os.listdir(google)):
            archive.write(os.path.join(google, name), f"{FOLDER}/{name}")
    return buffer.getvalue(), encoder


class _Server(http.server.ThreadingHTTPServer):
    """Serves `files` {path: bytes}; honours Range. Paths starting
    /drop/ close the connection half way through a full (non-range)
    response; /hold/ send half and wait for `release`. `requests` logs
    (path, Range header) per request; proxied requests (absolute URLs)
    are served by their path."""

    daemon_threads = True

    def __init__(self, files):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.requests = []
        self.release = threading.Event()
        self.half_sent = threading.Event()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path
        if path.startswith("http://"):  # a proxy request
            path = "/" + path.split("/", 3)[3]
            self.server.requests.append(("proxy", path))
        data = self.server.files.get(path.split("/")[-1])
        self.server.requests.append((path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range",
                             f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if start == 0 and path.startswith(("/drop/", "/hold/")):
            half = len(data) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            if path.startswith("/hold/"):
                self.server.half_sent.set()
                self.server.release.wait(60)
            self.close_connection = True
            return  # the connection closes with the rest unsent
        self.wfile.write(body)


def _size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def _flock_waiter(inode):
    with open("/proc/locks", encoding="ascii") as f:
        return any("-> FLOCK" in line and f":{inode} " in line for line in f)


class ZooDownloadTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data, cls.encoder = _archive(tf.compat.v1.test.get_temp_dir())
        cls.sha256 = hashlib.sha256(cls.data).hexdigest()

    def setUp(self):
        super().setUp()
        corrupted = bytearray(self.data)
        corrupted[len(corrupted) // 2] ^= 0xFF
        self.server = _Server({"tiny.zip": self.data,
                               "corrupt.zip": bytes(corrupted)})
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.addCleanup(self.server.release.set)
        self.home = self.create_tempdir().full_path
        self.catalog_file = os.path.join(self.create_tempdir().full_path,
                                         "catalog.json")
        self.write_catalog()
        self.env = {"BERT_TF_HOME": self.home,
                    "BERT_TF_CATALOG": self.catalog_file}
        patcher = mock.patch.dict(os.environ, self.env)
        patcher.start()
        self.addCleanup(patcher.stop)

    def write_catalog(self, **urls):
        """Entries: tiny (the archive), corrupt (a byte flipped, the
        catalog holding the true SHA-256), and any {name: url} given."""
        base = self.server.base
        urls = {"tiny": f"{base}/ok/tiny.zip", "drop": f"{base}/drop/tiny.zip",
                "hold": f"{base}/hold/tiny.zip",
                "corrupt": f"{base}/ok/corrupt.zip", **urls}
        entries = []
        for name, url in urls.items():
            entries.append({
                "name": name, "title": name, "url": url, "lower_case": True,
                "languages": "test", "config": CONFIG.to_dict(),
                "released": "2026-12-02",
                "sha256": self.sha256 if name == "corrupt" else None})
        with open(self.catalog_file, "w", encoding="utf-8") as f:
            json.dump({"source": "test", "checkpoints": entries}, f)

    def archive(self, name):
        return os.path.join(self.home, "archives", f"{name}.zip")

    def gets(self, path):
        """(path, Range header) of the requests for `path`."""
        return [r for r in self.server.requests if r[0] == path]

    def assertIsTheArchivesEncoder(self, encoder):
        testing.assert_same_weights(self, checkpoints.model_weights(
            self.encoder), checkpoints.model_weights(encoder))

    def test_first_use_downloads_and_converts_then_works_offline(self):
        encoder = checkpoints.load_encoder("tiny")
        self.assertIsTheArchivesEncoder(encoder)
        self.assertLen(self.gets("/ok/tiny.zip"), 1)
        with open(self.archive("tiny") + ".json") as f:
            self.assertEqual(json.load(f), {"sha256": self.sha256,
                                            "size_bytes": len(self.data)})
        self.server.shutdown()  # offline from here on
        with mock.patch.dict(os.environ, {"BERT_TF_OFFLINE": "1"}):
            again = checkpoints.load_encoder("tiny")
            self.assertIsTheArchivesEncoder(again)
            # Fine-tuning's --init_checkpoint takes the name too.
            self.assertEqual(checkpoints.detect_format("tiny"), "bert_tf")
        self.assertLen(self.gets("/ok/tiny.zip"), 1)
        # A local path wins over the name.
        workdir = self.create_tempdir().full_path
        local = encoder_lib.BertEncoder(CONFIG)
        checkpoints.save_model(
            os.path.join(workdir, "tiny"), local,
            os.path.join(self.home, "models", "tiny", "vocab.txt"))
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(workdir)
        testing.assert_same_weights(
            self, checkpoints.model_weights(local),
            checkpoints.model_weights(checkpoints.load_encoder("tiny")))

    def test_archive_that_would_unpack_huge_is_refused_unread(self):
        buffer = io.BytesIO()  # 64 MB of zeros: a ~60 KB zip
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            with zipfile.ZipFile(io.BytesIO(self.data)) as real:
                for name in real.namelist():
                    archive.writestr(name, real.read(name))
            archive.writestr(f"{FOLDER}/padding", bytes(64 << 20))
        self.server.files["bomb.zip"] = buffer.getvalue()
        self.write_catalog(bomb=f"{self.server.base}/ok/bomb.zip")
        with self.assertRaisesRegex(errors.ZooError,
                                    r"bomb.zip: would unpack to 67,[\d,]+ "
                                    r"bytes, more than 4x its size"):
            cache.resolve("bomb", progress=False)
        self.assertEqual(os.listdir(os.path.join(self.home, "archives")),
                         [])

    def test_download_dropped_half_way_resumes_with_a_range_request(self):
        path = cache.fetch("drop", progress=False)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.assertEqual(self.gets("/drop/tiny.zip"), [
            ("/drop/tiny.zip", None),
            ("/drop/tiny.zip", f"bytes={len(self.data) // 2}-")])

    def test_archive_with_the_wrong_sha256_is_refused_and_deleted(self):
        with self.assertRaisesRegex(
                errors.ZooError, r"corrupt.zip: the downloaded file is not "
                r"the expected one \(SHA-256 [0-9a-f]{64}, expected "
                f"{self.sha256}\\); it was deleted"):
            checkpoints.load_encoder("corrupt")
        self.assertEqual(os.listdir(os.path.join(self.home, "archives")),
                         [])
        self.assertFalse(os.path.exists(os.path.join(self.home, "models")))
        # An archive changed in the cache after its first download is
        # refused too (the recorded SHA-256), and deleted.
        cache.fetch("tiny", progress=False)
        with open(self.archive("tiny"), "r+b") as f:
            f.seek(100)
            f.write(b"\x00")
        with self.assertRaisesRegex(errors.ZooError,
                                    "recorded when first downloaded"):
            cache.resolve("tiny", progress=False)
        self.assertFalse(os.path.exists(self.archive("tiny")))

    def test_kill_9_during_download_leaves_nothing_trusted(self):
        process = subprocess.Popen(
            [sys.executable, "-m", "bert_tf.zoo", "download", "hold"],
            cwd=testing.REPO_ROOT, env={**os.environ, **self.env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(process.kill)
        part = self.archive("hold") + ".part"
        # Killed once half the archive is written (to the .part file).
        self.assertTrue(self.server.half_sent.wait(120))
        deadline = time.monotonic() + 60
        while max(_size(part), _size(self.archive("hold"))) < \
                len(self.data) // 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.server.release.set()
        self.assertFalse(os.path.exists(self.archive("hold")),
                         "a killed download left a file a later run trusts")
        self.assertFalse(os.path.exists(os.path.join(self.home, "models")))
        # The next run resumes the part, verifies and converts.
        self.assertIsTheArchivesEncoder(checkpoints.load_encoder("hold"))
        self.assertEqual(self.gets("/hold/tiny.zip")[-1],
                         ("/hold/tiny.zip", f"bytes={len(self.data) // 2}-"))

    def test_two_processes_asking_at_once_download_once(self):
        if not os.path.exists("/proc/locks"):
            self.skipTest("needs /proc/locks to see the waiting process")
        command = [sys.executable, "-m", "bert_tf.zoo", "download", "hold"]
        processes = [subprocess.Popen(
            command, cwd=testing.REPO_ROOT, env={**os.environ, **self.env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
        for process in processes:
            self.addCleanup(process.kill)
        self.assertTrue(self.server.half_sent.wait(120))
        # The other process waits on the name's lock (a blocked flock shows
        # in /proc/locks as "-> FLOCK ... MAJOR:MINOR:INODE"), then the
        # download may go on.
        inode = os.stat(os.path.join(self.home, "locks", "hold.lock")).st_ino
        deadline = time.monotonic() + 120
        while not _flock_waiter(inode):
            self.assertLess(time.monotonic(), deadline)
            self.assertLen(self.gets("/hold/tiny.zip"), 1,
                           "a second process downloads the same archive")
            time.sleep(0.05)
        self.server.release.set()
        outputs = [p.communicate(timeout=300) for p in processes]
        for process, (out, err) in zip(processes, outputs):
            self.assertEqual(process.returncode, 0, err[-2000:])
            self.assertEqual(out.strip(), os.path.join(self.home, "models",
                                                       "hold"))
        # One download (its first request was cut at half: one resume).
        self.assertLen([r for r in self.gets("/hold/tiny.zip")
                        if r[1] is None], 1)
        self.assertIsTheArchivesEncoder(checkpoints.load_encoder("hold"))

    def test_offline_error_names_the_url_and_the_cache_path(self):
        os.makedirs(os.path.dirname(self.archive("offline")))
        with socket.socket() as closed:  # bound, not listening: refused
            closed.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{closed.getsockname()[1]}/tiny.zip"
            self.write_catalog(offline=url)
            for unfinished in (False, True):  # a first try, or a resume
                if unfinished:
                    with open(self.archive("offline") + ".part", "wb") as f:
                        f.write(self.data[:100])
                with self.assertRaises(errors.ZooError) as raised:
                    checkpoints.load_encoder("offline")
                self.assertIn(f"Fetch {url} yourself and save it as "
                              f"{self.archive('offline')}",
                              str(raised.exception))
        # Put there by hand, it is verified and converted (and the
        # unfinished download's part removed).
        with open(self.archive("offline"), "wb") as f:
            f.write(self.data)
        self.assertIsTheArchivesEncoder(checkpoints.load_encoder("offline"))
        self.assertEqual(sorted(os.listdir(os.path.dirname(
            self.archive("offline")))), ["offline.zip", "offline.zip.json"])

    def test_proxy_from_the_environment_is_used(self):
        self.write_catalog(proxied="http://bert-models.invalid/ok/tiny.zip")
        with mock.patch.dict(os.environ, {"http_proxy": self.server.base,
                                          "no_proxy": ""}):
            cache.fetch("proxied", progress=False)
        self.assertIn(("proxy", "/ok/tiny.zip"), self.server.requests)

    def test_finetuning_and_convert_take_a_catalog_name(self):
        from bert_tf import finetuning

        self.addCleanup(keras.mixed_precision.set_global_policy, "float32")
        output_dir = self.create_tempdir().full_path
        results, _ = finetuning.run(finetuning.FinetuningRun(
            task="sst2", data_dir=SST2, output_dir=output_dir,
            init_checkpoint="tiny", do_train=True, do_eval=True,
            max_seq_length=16, train_batch_size=16, num_train_epochs=0.1,
            save_checkpoints_steps=1000, log_steps=1000))
        self.assertGreater(results["dev"]["num_examples"], 0)
        self.server.shutdown()  # converted once: offline from here on
        converted = os.path.join(self.create_tempdir().full_path, "out")
        result = subprocess.run(
            [sys.executable, "-m", "bert_tf.convert", "--input=tiny",
             f"--output={converted}"], cwd=testing.REPO_ROOT,
            env={**os.environ, **self.env, "BERT_TF_OFFLINE": "1"},
            capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertIsTheArchivesEncoder(checkpoints.load_encoder(converted))
        self.assertLen(self.gets("/ok/tiny.zip"), 1)

    def test_progress_shows_size_share_and_rate(self):
        out = io.StringIO()  # not a terminal: a line per 10%
        progress = download_lib.Progress("tiny", out)
        for done in range(0, 2_000_001, 100_000):
            progress.update(done, 2_000_000)
        progress.close()
        lines = out.getvalue().splitlines()
        self.assertLen(lines, 11)
        self.assertRegex(lines[5], r"^tiny: 1\.0/2\.0 MB \(50%\) [\d.]+ MB/s$")

    def test_command_line_lists_downloads_and_removes(self):
        def zoo(*args):
            return subprocess.run(
                [sys.executable, "-m", "bert_tf.zoo", *args],
                cwd=testing.REPO_ROOT, env={**os.environ, **self.env},
                capture_output=True, text=True, timeout=300)

        listed = zoo("list")
        self.assertEqual(listed.returncode, 0, listed.stderr[-2000:])
        self.assertRegex(listed.stdout, r"tiny +L2/H16/A2 +[\d.]+M +uncased "
                         r"+~\d+ MB +-")
        self.assertEqual(zoo("download", "tiny").stdout.strip(),
                         os.path.join(self.home, "models", "tiny"))
        self.assertRegex(zoo("list").stdout, r"tiny .* converted")
        info = zoo("info", "tiny").stdout
        self.assertIn(f"url: {self.server.base}/ok/tiny.zip", info)
        self.assertIn("(present)", info)
        removed = zoo("remove", "tiny")
        self.assertIn(f"removed {self.archive('tiny')}", removed.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.home, "models",
                                                     "tiny")))
        unknown = zoo("info", "tinny")
        self.assertEqual(unknown.returncode, 2)
        self.assertIn("error: 'tinny' is not a checkpoint in the bert_tf "
                      "catalog; did you mean tiny?", unknown.stderr)


if __name__ == "__main__":
    tf.test.main()
