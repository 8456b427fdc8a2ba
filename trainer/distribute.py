"""`--distribute`: which tf.distribute strategy a run trains under, how it gets its devices, and how the
workers of a multi-machine run feed one global batch and agree.

One loop (train.py: a `tf.function` step through `strategy.run`) serves every strategy:

- TF_CONFIG set (several machines, or several processes on one): MultiWorkerMirroredStrategy, every
  worker running the same command with its own TF_CONFIG (see docs/training.md). Keras 3's `fit` cannot run
  under it (keras-team/keras#20585), which is why the loop is our own;
- GPUs present: MirroredStrategy over all of them;
- CPU only: the CPU split into `cpu_replicas` logical devices, mirrored (how CI proves the mirrored path
  on an ordinary machine; it does not make a CPU faster).

Without `--distribute`, TensorFlow's default strategy: one device, a GPU when there is one (TensorFlow
places work on it without flags).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import numpy as np
import tensorflow as tf

from model.config import NetworkConfig, TaskConfig
from model.questions import Questions

from .epochs import batches
from .rundir import RunFolder
from .settings import TrainSettings
from .tf_config import cluster_spec

CONNECT_SECONDS = 60  # how long a worker waits for the others at the start before it gives up
UNREACHABLE = 2  # the exit status of a worker that could not reach the others: nothing was trained (run.py)
# argv: the pid to end, the seconds to wait, the sentence to say first. It ends with its parent (a worker
# gone already is never signalled), ignores Ctrl-C, and ends the worker with SIGINT, which connect() makes
# an exit with status 2 (SIGKILL 2 s later, should that fail).
WATCHDOG = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pid, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    if os.getppid() != pid:
        sys.exit()
    time.sleep(0.1)
print(sys.argv[3], file=sys.stderr, flush=True)
os.kill(pid, signal.SIGINT)
time.sleep(2)
if os.getppid() == pid:
    os.kill(pid, signal.SIGKILL)
"""
HEARTBEAT_SECONDS = 10  # a worker silent this long is taken for lost; the others start again (cli.py)


class ClusterError(RuntimeError):
    """The workers of a TF_CONFIG cluster could not all be reached; the message is one sentence, `cause`
    TensorFlow's own words (for the log of a retry)."""

    def __init__(self, sentence: str, cause: str = ""):
        super().__init__(sentence)
        self.cause = cause


def choose_strategy(
    distribute: bool, cpu_replicas: int = 2, connect_seconds: float = CONNECT_SECONDS, connect_total: float = 0
) -> tf.distribute.Strategy:
    """The strategy for a run; must be called before TensorFlow has placed anything on a device."""
    if not distribute:
        return tf.distribute.get_strategy()
    spec = cluster_spec()
    if spec is not None:
        return connect(*spec, seconds=connect_seconds, total=connect_total or connect_seconds)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        print(f"Distributed: MirroredStrategy over {len(gpus)} GPU(s).", flush=True)
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    print(f"Distributed: MirroredStrategy over {len(devices)} logical CPU devices.", flush=True)
    return tf.distribute.MirroredStrategy(devices)


def connect(
    workers: list[str], index: int, seconds: float = CONNECT_SECONDS, total: float = CONNECT_SECONDS
) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy over the TF_CONFIG workers, once every one has joined within `seconds`;
    ClusterError otherwise. TensorFlow alone would wait for the others for ever: its coordination service
    (which the strategy would configure itself) is configured here with a registration deadline."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context  # no public API sets the deadline

    print(
        f"Distributed: MultiWorkerMirroredStrategy, worker {index} of {len(workers)} (TF_CONFIG); "
        f"waiting up to {seconds:.0f}s more for the others...",
        flush=True,
    )
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader="/job:worker/replica:0/task:0",
        cluster_register_timeout_in_ms=int(seconds * 1000),
        heartbeat_timeout_in_ms=HEARTBEAT_SECONDS * 1000,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name="worker", num_tasks=len(workers))],
    )
    unreachable = (
        f"worker {index} could not reach the other workers ({', '.join(workers)}) within {total:.0f}s; "
        "start every worker with the same command and its own TF_CONFIG"
    )
    # TensorFlow's own start-up waits for every worker without a deadline (the registration timeout above
    # covers only part of it), holding the interpreter: past the deadline a watchdog process says so and
    # ends this one (a thread of this process could not run).
    python_handler = exit_on_sigint()
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(seconds), f"python -m trainer: error: {unreachable}"]
    )
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=seconds)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        Cluster(strategy).any_worker(False)  # the first collective: every worker is there
    except tf.errors.OpError as err:
        raise ClusterError(unreachable, f"{type(err).__name__}: {str(err)[:200]}") from None
    finally:
        watchdog.kill()
        watchdog.wait()
        signal.signal(signal.SIGINT, python_handler)  # Ctrl-C interrupts the run again (exit status 130)
    return strategy


def exit_on_sigint() -> Any:
    """Make SIGINT end this process at once with exit status UNREACHABLE; return Python's handler.

    The C handler is libc's own `_exit`, which the kernel calls with the signal's number (SIGINT is 2 on
    every POSIX system), so the status is UNREACHABLE. It needs neither the interpreter's lock nor its main
    thread, which TensorFlow holds while it waits for the other workers: a Python handler would never run,
    and SIGKILL reads as "killed" to a scheduler. Ctrl-C while waiting ends the worker the same way.
    """
    import ctypes

    python_handler = signal.getsignal(signal.SIGINT)
    libc = ctypes.CDLL(None)
    libc.signal.argtypes, libc.signal.restype = [ctypes.c_int, ctypes.c_void_p], ctypes.c_void_p
    libc.signal(signal.SIGINT, ctypes.cast(libc._exit, ctypes.c_void_p))
    return python_handler


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
    strategy: tf.distribute.Strategy,
    questions: Questions,
    task: TaskConfig,
    global_batch: int,
    *,
    teacher_forcing: bool = False,
) -> Any:
    """An epoch's questions as global batches split over the strategy's replicas. Every worker draws the
    same questions; each (one input pipeline) takes its slice of every global batch, cut into per-replica
    batches for its devices, so together they train on exactly the global batches one machine would."""

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        replica_batch = context.get_per_replica_batch_size(global_batch)
        rows = pipeline_rows(len(questions), global_batch, context)
        return batches(questions[rows], task, replica_batch, teacher_forcing=teacher_forcing)

    return strategy.distribute_datasets_from_function(pipeline)


def pipeline_rows(count: int, global_batch: int, context: tf.distribute.InputContext) -> np.ndarray:
    """The rows of `count` questions this input pipeline feeds: its slice of each whole global batch."""
    pipelines, index = context.num_input_pipelines, context.input_pipeline_id
    share = global_batch // pipelines
    whole = count // global_batch * global_batch
    return np.arange(whole).reshape(-1, pipelines, share)[:, index].ravel()


def agree_where_to_start(
    cluster: Cluster, folder: RunFolder, task: TaskConfig, net: NetworkConfig, settings: TrainSettings
) -> bool:
    """Whether this worker resumes: every worker continues from the last epoch all of them saved (0: every
    one starts afresh), stepping back one epoch where it saved one more than another worker."""
    mine = folder.saved_epoch() if folder.belongs_to(task, net, settings) else 0
    agreed = int(min(cluster.every_worker(float(mine))))
    if agreed == 0:
        return False
    if agreed < mine:
        folder.step_back(agreed)
    return True
