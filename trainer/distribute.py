"""`--distribute`: which tf.distribute strategy a run trains under, and how it gets its devices.

Keras splits each global batch across a strategy's replicas by itself, so a
run only has to build and compile its model inside `strategy.scope()`:

- TF_CONFIG set (several machines): MultiWorkerMirroredStrategy, every worker
  running the same command with its own TF_CONFIG (see the README);
- GPUs present: MirroredStrategy over all of them;
- CPU only: the CPU split into `cpu_replicas` logical devices, mirrored (how CI
  proves the distributed path on an ordinary machine; it does not make a CPU
  faster).

Without `--distribute`, TensorFlow's default strategy: one device, a GPU when
there is one (TensorFlow places work on it without flags).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf


def choose_strategy(distribute: bool, cpu_replicas: int = 2) -> tf.distribute.Strategy:
    """The strategy for a run; must be called before TensorFlow has placed anything on a device."""
    if not distribute:
        return tf.distribute.get_strategy()
    if os.environ.get("TF_CONFIG"):
        workers = json.loads(os.environ["TF_CONFIG"]).get("cluster", {}).get("worker", [])
        print(f"Distributed: MultiWorkerMirroredStrategy over {len(workers)} workers (TF_CONFIG).", flush=True)
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        print(f"Distributed: MirroredStrategy over {len(gpus)} GPU(s).", flush=True)
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    print(f"Distributed: MirroredStrategy over {len(devices)} logical CPU devices.", flush=True)
    return tf.distribute.MirroredStrategy(devices)
