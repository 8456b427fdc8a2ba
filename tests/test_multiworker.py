"""Multi-worker training for real: two `python -m trainer --distribute` processes on 127.0.0.1, each with its
own TF_CONFIG (TensorFlow's way of testing MultiWorkerMirroredStrategy on one machine, CPU only). They learn
1-digit sums, end with equal weights, and only the chief writes the model folder; a worker killed with
`kill -9` and started again with the same command lets the run go on from its last epoch; a worker alone
says in one sentence that it cannot reach the others, and exits with status 2."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from trainer_runs import ROOT, wait_for_epoch, work_folder

from model.storage import load_model_dir

pytestmark = pytest.mark.slow  # trainings on worker processes

TASK = [
    "--digits", "1", "--encoder-units", "32", "--decoder-units", "32", "--batch-size", "64",
    "--samples-per-epoch", "6400", "--heldout-size", "1000", "--show-samples", "0", "--target-margin", "-1",
    "--time-budget", "0", "--learning-rate", "0.01", "--seed", "5",
]  # fmt: skip


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_worker(index: int, ports: list[int], *flags: str, log: Path, errors: Path | None = None) -> subprocess.Popen:
    """One worker, its output in `log`, its stderr too unless `errors` names a file (the child keeps the files
    open; ours close at once)."""
    config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": json.dumps(config), "CUDA_VISIBLE_DEVICES": "-1"}
    for name in ("TRAINER_REJOINS", "TRAINER_JOINING_SINCE"):
        env.pop(name, None)
    with open(log, "w") as out, open(errors or os.devnull, "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "trainer", *TASK, "--distribute", *flags],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err if errors else subprocess.STDOUT,
            text=True,
        )


def digest(log_path) -> str:
    found = re.findall(r"^Final weights: sha256 (\w+)", log_path.read_text(), re.MULTILINE)
    assert found, log_path.read_text()[-3000:]
    return found[-1]


def finished(procs: list[subprocess.Popen], seconds: float = 240) -> list[int]:
    deadline = time.time() + seconds
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=max(1, deadline - time.time())))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            raise
    return codes


def test_two_workers_learn_every_question_with_equal_weights_and_one_folder(tmp_path):
    out = tmp_path / "run"
    ports = free_ports(2)
    flags = ["--epochs", "12", "--target-accuracy", "0.995", "--output-dir", str(out)]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    procs = [start_worker(i, ports, *flags, log=logs[i]) for i in range(2)]
    codes = finished(procs)
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert "worker 1 of 2" in logs[1].read_text() and "The chief (worker 0) saves the model" in logs[1].read_text()
    assert digest(logs[0]) == digest(logs[1])  # the all-reduce kept the two copies identical
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["exhaustive_total"] == 100 and metrics["exhaustive_wrong"] <= 1, metrics  # >= 99% of all
    stored = load_model_dir(out)
    assert not stored.notes
    # Only the chief's folder is left: the other worker's work folder and model went to temporary folders.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "worker0.log", "worker1.log"]


def test_a_killed_worker_started_again_continues_the_run_from_its_last_epoch(tmp_path):
    out = tmp_path / "run"
    ports = free_ports(2)
    flags = ["--epochs", "8", "--output-dir", str(out)]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    chief = start_worker(0, ports, *flags, log=logs[0])
    second = start_worker(1, ports, *flags, log=logs[1])
    try:
        wait_for_epoch(out.with_name("run.worker-1"), second, 3)
    finally:
        os.kill(second.pid, signal.SIGKILL)
        second.wait()
    saved = json.loads((work_folder(out.with_name("run.worker-1")) / "state.json").read_text())["epoch"]
    again = start_worker(1, ports, *flags, log=tmp_path / "worker1-again.log")
    codes = finished([chief, again])
    text = (tmp_path / "worker1-again.log").read_text()
    assert codes == [0, 0], [logs[0].read_text()[-3000:], text[-3000:]]
    resumed = int(re.search(r"Resuming after epoch (\d+)", text).group(1))
    assert resumed in (saved - 1, saved), (resumed, saved)  # the workers agree on the last epoch both saved
    assert "lost contact with another worker" in logs[0].read_text()  # the chief waited and went on
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 8 and json.loads((out / "metrics.json").read_text())["epochs"] == 8
    assert not load_model_dir(out).notes and digest(logs[0]) == digest(tmp_path / "worker1-again.log")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "worker0.log", "worker1-again.log", "worker1.log"]


def test_a_worker_that_cannot_reach_the_others_says_so_and_exits_with_status_2(tmp_path):
    """Alone, past --connect-timeout, while TensorFlow still holds the interpreter waiting for the others:
    one sentence on stderr and exit status 2 (nothing was trained), not a kill (137)."""
    started = time.time()
    alone = ["--connect-timeout", "5", "--output-dir", str(tmp_path / "r")]
    log, errors = tmp_path / "alone.log", tmp_path / "alone.err"
    code = finished([start_worker(0, free_ports(2), *alone, log=log, errors=errors)], seconds=90)[0]
    text = errors.read_text()
    assert code == 2, (code, text[-2000:], log.read_text()[-2000:])
    assert time.time() - started < 60
    sentence = "python -m trainer: error: worker 0 could not reach the other workers"
    said = [line for line in text.splitlines() if line.startswith(sentence)]
    assert len(said) == 1 and "within 5s" in said[0] and "Traceback" not in text, text[-2000:]
