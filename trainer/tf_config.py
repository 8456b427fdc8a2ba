"""TF_CONFIG, read without TensorFlow: the workers of a multi-worker run and which one this process is.

Read before TensorFlow loads, so a bad TF_CONFIG is one sentence (exit 2) and
each worker knows early whether it is the chief, which writes the model folder.
"""

from __future__ import annotations

import json
import os


def cluster_spec() -> tuple[list[str], int] | None:
    """(worker addresses, this worker's index) from TF_CONFIG, or None when it is not set; ValueError with
    one sentence when it is set but unusable."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = [str(w) for w in config["cluster"]["worker"]]
        index = int(config["task"]["index"])
        kind = config["task"].get("type", "worker")
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            'TF_CONFIG must be JSON such as {"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}'
        ) from None
    if kind != "worker" or not 0 <= index < len(workers) or not workers:
        raise ValueError(f"TF_CONFIG's task must be a worker from 0 to {len(workers) - 1}, got {kind} {index}")
    return workers, index
