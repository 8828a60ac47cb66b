"""Multi-worker runs on localhost, for the tests.

`run_workers` starts one process per worker with its TF_CONFIG, and kills
every worker as soon as one fails (a peer left alone would wait for it in
a collective until its own timeout).

Run as a module, it trains a small linear model with `training.train`
on numbered examples, in a process of its own (MultiWorkerMirroredStrategy
needs one process per worker):

    python -m tests.multi_worker OUTPUT.npz GLOBAL_BATCH STEPS [multi]

Global batch g is examples [g*B, (g+1)*B); the input pipeline k of n reads
its k-th part, as `tf.distribute.InputContext` describes. With `multi`
(and TF_CONFIG) it trains under MultiWorkerMirroredStrategy. The chief
writes the final weights, and every worker the example numbers it read,
to OUTPUT.npz (OUTPUT.worker<k>.npz for the other workers).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from tests import testing

FEATURES = 6


def _free_ports(count):
    ports = []
    for _ in range(count):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


# What a worker says when another process took its port first: TF's
# gRPC server binds the cluster's ports itself (no port 0, no
# SO_REUSEPORT), so the ports are found free and the start retried.
_PORT_TAKEN = "Could not start gRPC server"


def run_workers(command, num_workers=2, timeout=600, env=None, attempts=3):
    """Runs `command(index)` (an argv list) as worker `index` of a localhost
    cluster; returns each worker's output. Raises AssertionError naming the
    first worker that failed (its output's tail), every other one killed
    at once; a start that lost a port to another process is retried on
    new ports.
    """
    for attempt in range(attempts):
        try:
            return _run_once(command, num_workers, timeout, env)
        except AssertionError as e:
            if _PORT_TAKEN not in str(e) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _run_once(command, num_workers, timeout, env):
    cluster = {"worker": [f"127.0.0.1:{port}"
                          for port in _free_ports(num_workers)]}
    logs = [tempfile.TemporaryFile("w+") for _ in range(num_workers)]
    workers = []
    for index in range(num_workers):
        worker_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                      **(env or {}), "TF_CONFIG": json.dumps({
                          "cluster": cluster,
                          "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            command(index), cwd=testing.REPO_ROOT, env=worker_env,
            stdout=logs[index], stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + timeout
    failed = None
    while failed is None and any(w.poll() is None for w in workers):
        failed = next((i for i, w in enumerate(workers)
                       if w.poll() not in (None, 0)), None)
        if failed is None and time.monotonic() > deadline:
            failed = "timeout"
        time.sleep(0.1)
    if failed is None:  # all exited: one failed after the last poll?
        failed = next((i for i, w in enumerate(workers) if w.returncode),
                      None)
    for worker in workers:  # a peer left alone would wait for the failed
        if worker.poll() is None:  # one in a collective until its timeout
            worker.kill()
        worker.wait()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    if failed == "timeout":
        raise AssertionError(f"workers still running after {timeout} s:\n"
                             + outputs[0][-3000:])
    if failed is not None:
        raise AssertionError(
            f"worker {failed} exited with status "
            f"{workers[failed].returncode}:\n{outputs[failed][-3000:]}")
    return outputs


def _train(output, global_batch, steps, multi):
    import numpy as np
    import keras
    import tensorflow as tf

    from bert_tf import distribute
    from bert_tf import training

    strategy = distribute.get_strategy(
        "multi_worker_mirrored" if multi else "default")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    table_x = tf.constant(rng.normal(size=(global_batch * steps, FEATURES)),
                          tf.float32)
    table_y = tf.constant(rng.normal(size=(global_batch * steps, 1)),
                          tf.float32)
    read = []

    def dataset_fn(context, batch_size):
        n, k = context.num_input_pipelines, context.input_pipeline_id
        assert batch_size * n == global_batch, (batch_size, n)
        ids = tf.data.Dataset.range(global_batch * steps).batch(global_batch)
        ids = ids.map(lambda g: g[k * batch_size:(k + 1) * batch_size])
        read.extend(int(i) for batch in ids for i in batch)
        return ids.map(lambda i: {"ids": i, "x": tf.gather(table_x, i),
                                  "y": tf.gather(table_y, i)})

    def build_model():
        inputs = {"x": keras.Input((FEATURES,), name="x")}
        return keras.Model(inputs, keras.layers.Dense(
            1, kernel_initializer="glorot_uniform",
            bias_initializer="zeros")(inputs["x"]))

    def loss_fn(features, outputs):
        error = outputs - features["y"]
        loss = tf.reduce_mean(tf.square(error))
        count = tf.cast(tf.size(features["ids"]), tf.float32)
        return loss, {"loss": (loss * count, count)}

    with tempfile.TemporaryDirectory() as output_dir:
        model, _ = training.train(
            strategy, build_model, lambda: keras.optimizers.SGD(0.1),
            loss_fn, dataset_fn, training.TrainingConfig(
                output_dir=output_dir, num_train_steps=steps,
                global_batch_size=global_batch, save_checkpoints_steps=steps,
                log_steps=steps))
    index = distribute.worker_index(strategy)
    path = output if index == 0 else output.replace(
        ".npz", f".worker{index}.npz")
    np.savez(path, read=np.array(read),
             **{w.path.replace("/", "."): w.numpy() for w in model.weights})


if __name__ == "__main__":
    _train(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
           len(sys.argv) > 4 and sys.argv[4] == "multi")
