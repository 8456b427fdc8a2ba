"""Multi-worker training speed: questions per second of 1 worker against 2 workers on this machine.

Runs the same `python -m trainer` (add3's task and network, batch 512, no
whole-space checks) as one process, then as two MultiWorkerMirroredStrategy
workers on 127.0.0.1 (TF_CONFIG), each pinned to one logical CPU with one
TensorFlow thread, so each worker is one "machine" of one core. Questions per
second come from the chief's history: the questions of the epochs after the
first (which pays for tracing) over their seconds. Efficiency = 2-worker
questions/s / (2 x 1-worker questions/s). The checks after each epoch are a
1,000-question held-out set, a small share of an epoch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, finish, free_port, header, parser

RUN = [
    "--batch-size", "512", "--heldout-size", "1000", "--show-samples", "0", "--target-margin", "-1",
    "--pass-accuracy", "-1", "--hard-fraction", "0", "--time-budget", "0", "--seed", "1",
]  # fmt: skip


def one_core_env(core: int) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CUDA_VISIBLE_DEVICES": "-1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
    }


def command(core: int, extra: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), sys.executable, "-m", "trainer", *RUN, *extra]


def questions_per_second(history_file: Path) -> float:
    h = json.loads(history_file.read_text())
    seen, seconds = h["samples_seen"], h["elapsed_seconds"]
    return (seen[-1] - seen[0]) / (seconds[-1] - seconds[0])


def one_worker(folder: Path, extra: list[str]) -> float:
    out = folder / "one"
    subprocess.run(command(0, [*extra, "--output-dir", str(out)]), env=one_core_env(0), check=True, cwd=ROOT)
    return questions_per_second(out / "history.json")


def two_workers(folder: Path, extra: list[str]) -> float:
    out = folder / "two"
    ports = [free_port(), free_port()]
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
        env = {**one_core_env(index), "TF_CONFIG": json.dumps(config)}
        flags = [*extra, "--distribute", "--output-dir", str(out)]
        procs.append(subprocess.Popen(command(index % (os.cpu_count() or 1), flags), env=env, cwd=ROOT))
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a worker failed")
    return questions_per_second(out / "history.json")


def main() -> None:
    args = parser(__doc__, model=False).parse_args()
    meta = header("Multi-worker training: 1 worker against 2 (one logical CPU each)")
    samples, epochs = ("25600", "3") if args.quick else ("102400", "4")
    extra = ["--samples-per-epoch", samples, "--epochs", epochs]
    with tempfile.TemporaryDirectory() as tmp:
        one = one_worker(Path(tmp), extra)
        two = two_workers(Path(tmp), extra)
    rows = [
        {"workers": 1, "questions/s": round(one)},
        {"workers": 2, "questions/s": round(two)},
    ]
    summary = f"2 workers: {two / one:.2f}x the questions/s of 1; efficiency {two / (2 * one):.0%}"
    finish(meta, rows, summary, args.out)


if __name__ == "__main__":
    main()
