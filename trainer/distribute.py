"""`--distribute`: which tf.distribute strategy a run trains under, how it gets its devices, and how the
workers of a multi-machine run feed one global batch and agree.

One loop (train.py: a `tf.function` step through `strategy.run`) serves every strategy:

- TF_CONFIG set (several machines, or several processes on one): MultiWorkerMirroredStrategy, every
  worker running the same command with its own TF_CONFIG (see the README). Keras 3's `fit` cannot run
  under it (keras-team/keras#20585), which is why the loop is our own;
- GPUs present: MirroredStrategy over all of them;
- CPU only: the CPU split into `cpu_replicas` logical devices, mirrored (how CI proves the mirrored path
  on an ordinary machine; it does not make a CPU faster).

Without `--distribute`, TensorFlow's default strategy: one device, a GPU when there is one (TensorFlow
places work on it without flags).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from model.config import TaskConfig
from model.questions import Questions

from .epochs import batches
from .tf_config import cluster_spec

CONNECT_SECONDS = 60  # how long a worker waits for the others at the start before it gives up


class ClusterError(RuntimeError):
    """The workers of a TF_CONFIG cluster could not all be reached; the message is one sentence."""


def choose_strategy(distribute: bool, cpu_replicas: int = 2) -> tf.distribute.Strategy:
    """The strategy for a run; must be called before TensorFlow has placed anything on a device."""
    if not distribute:
        return tf.distribute.get_strategy()
    spec = cluster_spec()
    if spec is not None:
        return connect(*spec)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        print(f"Distributed: MirroredStrategy over {len(gpus)} GPU(s).", flush=True)
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    print(f"Distributed: MirroredStrategy over {len(devices)} logical CPU devices.", flush=True)
    return tf.distribute.MirroredStrategy(devices)


def connect(workers: list[str], index: int) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy over the TF_CONFIG workers, once every one answers a first all-reduce
    within CONNECT_SECONDS; ClusterError otherwise (TensorFlow alone would wait for ever)."""
    print(
        f"Distributed: MultiWorkerMirroredStrategy, worker {index} of {len(workers)} (TF_CONFIG); "
        f"waiting up to {CONNECT_SECONDS}s for the others...",
        flush=True,
    )
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=CONNECT_SECONDS)
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    try:
        Cluster(strategy).any_worker(False)
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.InternalError):
        raise ClusterError(
            f"worker {index} could not reach the other workers ({', '.join(workers)}) within {CONNECT_SECONDS}s; "
            "start every worker with the same command and its own TF_CONFIG"
        ) from None
    return strategy


class Cluster:
    """What the loop needs to know of the machines: how many, whether this one is the chief, and agreement."""

    def __init__(self, strategy: tf.distribute.Strategy):
        self.strategy = strategy
        resolver = getattr(strategy, "cluster_resolver", None)
        spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
        self.workers = max(1, len(spec.get("worker", [])))
        self.index = int(resolver.task_id or 0) if resolver is not None and self.workers > 1 else 0

    @property
    def several_workers(self) -> bool:
        return self.workers > 1

    @property
    def chief(self) -> bool:
        """Worker 0 writes the model folder; the others write theirs to temporary folders."""
        return self.index == 0

    def any_worker(self, flag: bool) -> bool:
        """Whether `flag` holds on any worker (an all-gather, so every worker gets the same answer)."""
        return max(self.every_worker(1.0 if flag else 0.0)) > 0

    def every_worker(self, value: float) -> list[float]:
        """`value` as each replica of each worker gave it (one value per replica), on every worker."""
        if not self.several_workers:
            return [value]
        per_replica = self.strategy.run(lambda: tf.constant([value], tf.float32))
        return [float(v) for v in self.strategy.gather(per_replica, axis=0).numpy()]


def distributed_batches(
    strategy: tf.distribute.Strategy, questions: Questions, task: TaskConfig, global_batch: int
) -> Any:
    """An epoch's questions as global batches split over the strategy's replicas. Every worker draws the
    same questions; each (one input pipeline) takes its slice of every global batch, cut into per-replica
    batches for its devices, so together they train on exactly the global batches one machine would."""

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        replica_batch = context.get_per_replica_batch_size(global_batch)
        return batches(questions[pipeline_rows(len(questions), global_batch, context)], task, replica_batch)

    return strategy.distribute_datasets_from_function(pipeline)


def pipeline_rows(count: int, global_batch: int, context: tf.distribute.InputContext) -> np.ndarray:
    """The rows of `count` questions this input pipeline feeds: its slice of each whole global batch."""
    pipelines, index = context.num_input_pipelines, context.input_pipeline_id
    share = global_batch // pipelines
    whole = count // global_batch * global_batch
    return np.arange(whole).reshape(-1, pipelines, share)[:, index].ravel()
