"""Serving soak: concurrent clients on two models while one is replaced.

    python -m benchmarks.serving_soak            # MiniLM, 16 clients, 60 s
    python -m benchmarks.serving_soak --model=tiny --duration=10 --write=false

Two exports, an SST-2 classifier and a CoNLL-2003 tagger (on the real
MiniLM encoder, untrained heads, or a tiny random encoder), are served by
`serving.dev_server` in its own process over loopback. --clients gRPC
clients (one channel each; even ones query the classifier, odd ones the
tagger) send batch-1 requests for --duration seconds. At the middle a new
version of the classifier is exported into its base path, as a deployment
would; the server picks it up by polling, warms it up and swaps it in.
Reported: requests, failed requests (must be 0), requests/s, p50/p99 per
model, and when version 2 took over. Written to benchmarks/RESULTS.md
(section "serving soak"); tests/serving_soak_test.py runs a short version.
"""

import dataclasses
import os
import tempfile
import threading
import time

from absl import app
from absl import flags
import numpy as np

from benchmarks import results
from benchmarks import serving as serving_benchmark
from serving import client
from serving import export

MODELS = ("sst2", "conll2003")


@dataclasses.dataclass(frozen=True)
class Options:
    model: str = "minilm"  # or "tiny"
    clients: int = 16
    duration: float = 60.0


def _inputs(model, text):
    name = "text_a" if model == "sst2" else "text"
    return {name: np.array([text], dtype=object)}


def soak(address, texts, clients, duration, swap):
    """Runs the clients; calls `swap()` at the middle. Returns
    ({model: latencies}, failures, elapsed seconds, swap result)."""
    latencies = {model: [] for model in MODELS}
    failures, lock = [], threading.Lock()
    start_line = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(index):
        model = MODELS[index % len(MODELS)]
        mine, failed = [], []
        with client.Client(address) as api:
            start_line.wait()
            i = index
            while not stop.is_set():
                begin = time.perf_counter()
                try:
                    api.predict(model, _inputs(model, texts[i % len(texts)]))
                    mine.append(time.perf_counter() - begin)
                except client.ServingClientError as e:
                    failed.append(f"{model}: {e}")
                i += clients
        with lock:
            latencies[model].extend(mine)
            failures.extend(failed)

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    begin = time.perf_counter()
    try:
        time.sleep(duration / 2)
        swapped = swap(begin)
        time.sleep(max(duration - (time.perf_counter() - begin), 0.0))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return latencies, failures, time.perf_counter() - begin, swapped


def run(options):
    texts = serving_benchmark.sentences()
    with tempfile.TemporaryDirectory() as workdir:
        base = os.path.join(workdir, "exports")
        model_dirs = {task: serving_benchmark.model_dir(
            options.model, workdir, task) for task in MODELS}
        for task in MODELS:
            export.export(model_dirs[task], os.path.join(base, task))
        process, address, _ = serving_benchmark.start_server(
            os.path.join(base, "models.config"), MODELS)

        def swap(begin):
            """Exports version 2 of sst2; returns (seconds from the start
            when the export began, when version 2 was serving)."""
            started = time.perf_counter() - begin
            export.export(model_dirs["sst2"], os.path.join(base, "sst2"))
            deadline = time.monotonic() + 300
            while client.get_model_status(address, "sst2")[0] != \
                    client.VersionStatus(2, "AVAILABLE"):
                if time.monotonic() > deadline:
                    raise RuntimeError("version 2 was not loaded in 300 s")
                time.sleep(0.05)
            return started, time.perf_counter() - begin

        try:
            latencies, failures, elapsed, swapped = soak(
                address, texts, options.clients, options.duration, swap)
            final = client.get_model_status(address, "sst2")
        finally:
            process.terminate()
            process.wait(timeout=60)
    return {"latencies": latencies, "failures": failures,
            "elapsed": elapsed, "swap": swapped, "final_status": final}


def table(options, measured):
    total = sum(len(v) for v in measured["latencies"].values())
    failed = len(measured["failures"])
    started, serving = measured["swap"]
    encoder = ("all-MiniLM-L6-v2" if options.model == "minilm"
               else "a tiny random encoder")
    lines = [
        f"{options.clients} concurrent gRPC clients for "
        f"{measured['elapsed']:.0f} s on two exports ({encoder}): sst2 "
        "(classifier) and conll2003 (tagger), batch 1, serving.dev_server "
        f"in its own process. sst2 version 2 was exported at "
        f"{started:.1f} s and served from {serving:.1f} s.",
        "",
        "| model | requests | requests/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for model, values in measured["latencies"].items():
        p50, p99 = (np.percentile(values, [50, 99]) * 1000.0
                    if values else (0.0, 0.0))
        lines.append(f"| {model} | {len(values)} | "
                     f"{len(values) / measured['elapsed']:.1f} | {p50:.1f} | "
                     f"{p99:.1f} |")
    lines += ["", f"Requests: {total + failed}, failed: {failed}."]
    return "\n".join(lines)


FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags (not defined on import: the tests import
    this module beside other benchmarks)."""
    flags.DEFINE_enum("model", "minilm", ["minilm", "tiny"], "Encoder of both "
                      "models.")
    flags.DEFINE_integer("clients", 16, "Concurrent clients.")
    flags.DEFINE_float("duration", 60.0, "Seconds of load.")
    flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


def main(argv):
    del argv
    options = Options(FLAGS.model, FLAGS.clients, FLAGS.duration)
    measured = run(options)
    text = table(options, measured)
    print(text)
    for failure in measured["failures"][:10]:
        print("failed:", failure)
    if FLAGS.write:
        results.write_section("serving soak", text)
    return 1 if measured["failures"] else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
