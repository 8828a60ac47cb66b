"""tf.distribute strategies by name, for the command-line entry points.

  default                 one device (the first GPU if any, else the CPU)
  mirrored                all local GPUs, synchronous
  multi_worker_mirrored   several machines, synchronous; reads TF_CONFIG
  tpu                     a Cloud TPU named by `tpu` (address or name)
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored", "tpu")


def get_strategy(name="default", tpu=None):
    """Returns the strategy `name`; errors say what is missing."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise ValueError("multi_worker_mirrored needs TF_CONFIG (cluster "
                             "and task of this worker) in the environment")
        try:
            json.loads(config)
        except json.JSONDecodeError as e:
            raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from e
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        if not tpu:
            raise ValueError("--distribution_strategy=tpu needs --tpu "
                             "(a TPU name or grpc:// address, or 'local')")
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu="" if tpu == "local" else tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown distribution strategy {name!r}; one of "
                     f"{', '.join(STRATEGIES)}")


def num_workers(strategy):
    """Machines in the cluster (1 without TF_CONFIG)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return len(spec.get("worker", [])) + len(spec.get("chief", []))


def worker_index(strategy):
    """This machine's position among the workers (0 on a single machine);
    a chief, if the cluster has one, comes first."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0
    if resolver.task_type == "chief":
        return 0
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_id + (1 if has_chief else 0)


def is_chief(strategy):
    """True on the worker that writes checkpoints and summaries."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())
