"""Serving soak: concurrent clients on two models while one is replaced.

    python -m benchmarks.serving_soak            # MiniLM, 16+200 clients, 60 s
    python -m benchmarks.serving_soak --model=tiny --duration=10 --write=false

Two exports, an SST-2 classifier and a CoNLL-2003 tagger (on the real
MiniLM encoder, untrained heads, or a tiny random encoder), are served by
`serving.dev_server` in its own process over loopback. --clients gRPC
clients (one channel each; even ones query the classifier, odd ones the
tagger) send batch-1 requests for --duration seconds. At the middle a new
version of the classifier is exported into its base path, as a deployment
would; the server picks it up by polling, warms it up and swaps it in.
Meanwhile --rest_clients REST clients (all connecting at once, then one
request per connection every --rest_pause seconds, as urllib and curl
do) query the
classifier, and one abuser thread loops over requests the server must
refuse cheaply: a 33-byte request declaring 50,000 strings, a gRPC message
and a REST body over --max_request_bytes, 2 ms-deadline requests, a lone
surrogate, JSON nested 10,000 deep, and a client sending its headers too
slowly. Reported: requests, failed requests (must be 0), requests/s, p50/p99
per model and API, REST connection resets (must be 0), abuse requests not
refused as expected (must be 0), the server's memory after loading and at
its peak, and when version 2 took over. Written to benchmarks/RESULTS.md
(section "serving soak"); tests/serving_soak_test.py runs a short version.
"""

import dataclasses
import http.client
import json
import os
import socket
import tempfile
import threading
import time

from absl import app
from absl import flags
import numpy as np

import grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from benchmarks import results
from benchmarks import serving as serving_benchmark
from bert_tf.export import exporter as export
from serving.client import lib as client
from serving.dev_server import server as dev_server

MODELS = ("sst2", "conll2003")
# The server's limits in this run: small enough that the abuser's oversize
# requests stay cheap for the client side of this machine.
MAX_REQUEST_BYTES = 4 << 20
REST_TIMEOUT_MS = 2000
SERVER_FLAGS = (f"--max_request_bytes={MAX_REQUEST_BYTES}",
                f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}")
# Errors of a REST client that mean the server reset or dropped it.
_RESETS = (ConnectionResetError, ConnectionRefusedError, BrokenPipeError,
           http.client.RemoteDisconnected)


@dataclasses.dataclass(frozen=True)
class Options:
    model: str = "minilm"  # or "tiny"
    clients: int = 16
    duration: float = 60.0
    rest_clients: int = 200
    rest_pause: float = 2.0  # Seconds between one REST client's requests.


def _inputs(model, text):
    name = "text_a" if model == "sst2" else "text"
    return {name: np.array([text], dtype=object)}


def _rest_worker(rest_address, texts, index, pause, start_line, stop, out):
    """One REST client: a new connection per request (Connection: close),
    `pause` seconds apart.
    Appends latencies to out["sst2 REST"], failures to out["failures"] and
    counts connection resets in out["resets"]."""
    host, port = rest_address.rsplit(":", 1)
    mine, failed, resets, i = [], [], 0, index
    start_line.wait()
    while not stop.is_set():
        body = json.dumps({"instances": [texts[i % len(texts)]]})
        begin = time.perf_counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            connection.request("POST", "/v1/models/sst2:predict", body,
                               {"Connection": "close"})
            response = connection.getresponse()
            answer = response.read()
            if response.status == 200:
                mine.append(time.perf_counter() - begin)
            else:
                failed.append(f"sst2 REST: {response.status} {answer[:200]}")
        except _RESETS:
            resets += 1
        except OSError as e:
            failed.append(f"sst2 REST: {type(e).__name__}: {e}")
        finally:
            connection.close()
        i += 997
        stop.wait(pause)
    with out["lock"]:
        out["sst2 REST"].extend(mine)
        out["failures"].extend(failed)
        out["resets"] += resets


def _abuse_requests(stub, rest_address):
    """(kind, function) pairs; each function returns True when the server
    refused its request as it should."""
    host, port = rest_address.rsplit(":", 1)

    def grpc_code(request, code, timeout=30.0):
        try:
            stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            return e.code() == code
        return False

    def declared(size, text=b"x"):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "sst2"
        tensor = request.inputs["text_a"]
        tensor.dtype = 7  # DT_STRING
        tensor.tensor_shape.dim.add(size=size)
        tensor.string_val.append(text)
        return request

    def raw_http(data, want):
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(data)
            return s.recv(64).startswith(want)

    def post(body, want=b"HTTP/1.1 400"):
        return raw_http(b"POST /v1/models/sst2:predict HTTP/1.1\r\nHost: x"
                        b"\r\nContent-Length: %d\r\n\r\n%s" % (
                            len(body), body), want)

    def slow_headers():
        # The server cuts it off: its timeout after a worker takes it up
        # (the wait for a worker depends on the load).
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(b"POST /v1/models/sst2:predict HTTP/1.1\r\n")
            return s.recv(64) == b""

    return [
        ("50,000 declared strings (gRPC)", lambda: grpc_code(
            declared(50_000), grpc.StatusCode.INVALID_ARGUMENT)),
        ("message over the size limit (gRPC)", lambda: grpc_code(
            declared(1, b"x" * (MAX_REQUEST_BYTES + 1)),
            grpc.StatusCode.RESOURCE_EXHAUSTED)),
        ("2 ms deadline (gRPC)", lambda: grpc_code(
            declared(1), grpc.StatusCode.DEADLINE_EXCEEDED, timeout=0.002)),
        ("body over the size limit (REST)", lambda: raw_http(
            b"POST /v1/models/sst2:predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 1000000000\r\n\r\n", b"HTTP/1.1 413")),
        ("lone surrogate (REST)", lambda: post(
            b'{"instances": ["\\ud800"]}')),
        ("JSON nested 10,000 deep (REST)", lambda: post(
            b'{"instances": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")),
        ("headers too slow (REST)", slow_headers),
    ]


def _abuser(address, rest_address, stop, out):
    """Loops over `_abuse_requests`; counts {kind: [refused, not]}."""
    with grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", -1)]) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        kinds = _abuse_requests(stub, rest_address)
        counts = {kind: [0, 0] for kind, _ in kinds}
        i = 0
        while not stop.is_set():
            kind, function = kinds[i % len(kinds)]
            try:
                refused = function()
            except OSError:
                refused = False
            counts[kind][0 if refused else 1] += 1
            i += 1
    out["abuse"] = counts


def soak(address, texts, clients, duration, swap, rest_address=None,
         rest_clients=0, rest_pause=2.0):
    """Runs the clients; calls `swap()` at the middle. Returns
    ({model: latencies}, failures, elapsed seconds, swap result, extra):
    latencies also under "sst2 REST" with REST clients, and `extra` holds
    "resets" (REST connections reset), "abuse" ({kind: [refused as
    expected, not]}, with REST clients only) and "after_swap" ({model:
    requests answered after `swap()` returned}). The load goes on past
    `duration` (up to twice it) until every model has answered a request
    after the swap: on a loaded machine the second half can pass first."""
    latencies = {model: [] for model in MODELS}
    failures, lock = [], threading.Lock()
    rest_clients = rest_clients if rest_address else 0
    start_line = threading.Barrier(clients + rest_clients + 1)
    stop = threading.Event()
    extra = {"lock": lock, "sst2 REST": [], "failures": failures,
             "resets": 0, "abuse": {}}
    swapped_event = threading.Event()
    after_swap = {model: 0 for model in MODELS}

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
                    if swapped_event.is_set():
                        with lock:
                            after_swap[model] += 1
                except client.ServingClientError as e:
                    failed.append(f"{model}: {e}")
                i += clients
        with lock:
            latencies[model].extend(mine)
            failures.extend(failed)

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(clients)]
    threads += [threading.Thread(target=_rest_worker, args=(
        rest_address, texts, i, rest_pause, start_line, stop, extra))
        for i in range(rest_clients)]
    if rest_clients:
        threads.append(threading.Thread(target=_abuser, args=(
            address, rest_address, stop, extra)))
    for thread in threads:
        thread.start()
    start_line.wait()
    begin = time.perf_counter()
    try:
        time.sleep(duration / 2)
        swapped = swap(begin)
        swapped_event.set()
        time.sleep(max(duration - (time.perf_counter() - begin), 0.0))
        while time.perf_counter() - begin < 2 * duration and not all(
                after_swap.values()):
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    if rest_clients:
        latencies["sst2 REST"] = extra["sst2 REST"]
    extra = {"resets": extra["resets"], "abuse": extra["abuse"],
             "after_swap": after_swap}
    return latencies, failures, time.perf_counter() - begin, swapped, extra


def _memory_mb(pid):
    """{"VmRSS": MB, "VmHWM": MB (peak)} of a process (Linux), or {}."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return {k: int(v.split()[0]) / 1024 for k, v in (
                line.split(":", 1) for line in f)
                if k in ("VmRSS", "VmHWM")}
    except OSError:
        return {}


def _start_server(config_file):
    log_path = os.path.join(os.path.dirname(config_file), "dev_server.log")
    with open(log_path, "wb") as log:
        try:
            return dev_server.start_subprocess(
                config_file, MODELS, log=log, extra_flags=SERVER_FLAGS)
        except RuntimeError as e:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"{e}: {f.read()[-2000:]}") from None


def run(options):
    texts = serving_benchmark.sentences()
    with tempfile.TemporaryDirectory() as workdir:
        base = os.path.join(workdir, "exports")
        model_dirs = {task: serving_benchmark.model_dir(
            options.model, workdir, task) for task in MODELS}
        for task in MODELS:
            export.export(model_dirs[task], os.path.join(base, task))
        process, address, rest_address = _start_server(
            os.path.join(base, "models.config"))
        loaded = _memory_mb(process.pid)

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
            latencies, failures, elapsed, swapped, extra = soak(
                address, texts, options.clients, options.duration, swap,
                rest_address, options.rest_clients, options.rest_pause)
            final = client.get_model_status(address, "sst2")
            peak = _memory_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)
    return {"latencies": latencies, "failures": failures,
            "elapsed": elapsed, "swap": swapped, "final_status": final,
            "resets": extra["resets"], "abuse": extra["abuse"],
            "after_swap": extra["after_swap"],
            "memory_mb": (loaded.get("VmRSS"), peak.get("VmHWM"))}


def table(options, measured):
    total = sum(len(v) for v in measured["latencies"].values())
    failed = len(measured["failures"])
    started, serving = measured["swap"]
    encoder = ("all-MiniLM-L6-v2" if options.model == "minilm"
               else "a tiny random encoder")
    rest = (f" and {options.rest_clients} concurrent REST clients (sst2, a "
            f"new connection per request, {options.rest_pause:g} s apart)"
            if options.rest_clients else "")
    lines = [
        f"{options.clients} concurrent gRPC clients{rest} for "
        f"{measured['elapsed']:.0f} s on two exports ({encoder}): sst2 "
        "(classifier) and conll2003 (tagger), batch 1, serving.dev_server "
        f"in its own process ({' '.join(SERVER_FLAGS)}). sst2 version 2 "
        f"was exported at {started:.1f} s and served from {serving:.1f} s.",
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
    if options.rest_clients:
        lines.append(f"REST connections reset: {measured['resets']}.")
    if measured.get("abuse"):
        lines += ["", "Requests the server must refuse, sent meanwhile by "
                  "one client in a loop:", "",
                  "| request | sent | refused as expected |",
                  "| --- | ---: | ---: |"]
        for kind, (refused, other) in measured["abuse"].items():
            lines.append(f"| {kind} | {refused + other} | {refused} |")
        wrong = sum(other for _, other in measured["abuse"].values())
        lines += ["", f"Not refused as expected: {wrong}."]
    loaded, peak = measured.get("memory_mb", (None, None))
    if loaded and peak:
        lines.append(f"Server memory: {loaded:.0f} MB after loading, peak "
                     f"{peak:.0f} MB.")
    return "\n".join(lines)


FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags (not defined on import: the tests import
    this module beside other benchmarks)."""
    flags.DEFINE_enum("model", "minilm", ["minilm", "tiny"], "Encoder of both "
                      "models.")
    flags.DEFINE_integer("clients", 16, "Concurrent gRPC clients.")
    flags.DEFINE_integer("rest_clients", 200, "Concurrent REST clients, with "
                         "an abuser of oversize and amplified requests; 0: "
                         "neither.")
    flags.DEFINE_float("rest_pause", 2.0, "Seconds between one REST "
                       "client's requests.")
    flags.DEFINE_float("duration", 60.0, "Seconds of load.")
    flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


def main(argv):
    del argv
    options = Options(FLAGS.model, FLAGS.clients, FLAGS.duration,
                      FLAGS.rest_clients, FLAGS.rest_pause)
    measured = run(options)
    text = table(options, measured)
    print(text)
    for failure in measured["failures"][:10]:
        print("failed:", failure)
    if FLAGS.write:
        results.write_section("serving soak", text)
    wrong = sum(other for _, other in measured["abuse"].values())
    return 1 if measured["failures"] or measured["resets"] or wrong else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
