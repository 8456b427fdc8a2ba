"""What the Hub tests drive: client interpreters pointed at the local Hub, model folders, and their fixtures.

The client reads HF_ENDPOINT, HF_HUB_OFFLINE and HF_HOME when it is imported, so
it runs in other interpreters whose environment points at a local Hub
(tests/hub_server.py): `python -m trainer.publish` itself for the command line,
and long-lived "client" processes that each run many publishes and loads, so
TensorFlow is imported a handful of times rather than once per check.

A test module imports the fixtures it needs (work, clients, client, folders, published and the
autouse fault reset) from here, beside hub_server_fixture from tests/hub_server.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import keras  # noqa: E402

from model.config import NetworkConfig, TaskConfig  # noqa: E402
from model.network import build_model, rnn_layer_paths  # noqa: E402
from model.serving import load_catalogue  # noqa: E402
from model.storage import (  # noqa: E402
    write_json,
    write_keras_files,
    write_model_folder,
)

UPLOADED = (
    "config.json",
    "metadata.json",
    "model.weights.h5",
    "task_config.json",
    "network.json",
    "train_settings.json",
    "metrics.json",
    "history.json",
    "training_curve.png",
)
WRONG_TOKEN = "hf_wrongtoken_0123456789abcdef0123"
TRANSCRIPT: list[str] = []  # every output the client produced, scanned for tokens at the end

# Runs requests from the test, one JSON line each, and answers on the real stdout.
WORKER = r'''
import contextlib, hashlib, io, json, os, sys, traceback
channel = sys.stdout
from model.network import rnn_layer_paths
from model.serving import load_catalogue
from trainer.publish import main as publish_main

def digest(stored):
    """The weights in Keras' order (kernel, recurrent kernel, bias per layer; then the dense layer)."""
    h = hashlib.sha256()
    names = [f"{p}/cell/vars/{j}" for p in rnn_layer_paths(stored.net) for j in range(3)]
    for name in names + ["layers/dense/vars/0", "layers/dense/vars/1"]:
        h.update(stored.weights[name].tobytes())
    return h.hexdigest()

for line in sys.stdin:
    request, result = json.loads(line), {}
    saved_env = dict(os.environ)
    for key, value in request.get("env", {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if request["op"] == "cli":
                try:
                    result["rc"] = publish_main(request["argv"])
                except SystemExit as exit:
                    result["rc"] = exit.code
            elif request["op"] == "load":  # what the app does at start-up: its catalogue and default model
                catalogue = load_catalogue(request.get("source"), request.get("revision"), extra=[])
                m = catalogue.models[catalogue.default]
                result.update(source=m.source, revision=m.revision, notes=catalogue.notes, digest=digest(m.stored),
                              description=m.description, config=m.task.to_dict(), default=catalogue.default)
            else:
                scope = {"__name__": "__snippet__"}
                exec(compile(request["code"], "<snippet>", "exec"), scope)
                result["values"] = {k: scope[k].tolist() if hasattr(scope[k], "tolist") else scope[k]
                                    for k in request.get("return", [])}
    except BaseException:
        result["crash"] = traceback.format_exc()
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    result.update(stdout=out.getvalue(), stderr=err.getvalue())
    channel.write("@@result@@ " + json.dumps(result) + "\n")
    channel.flush()
'''


class Client:
    """One interpreter with the Hub client configured by `env`; requests run one at a time."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
        )

    def _call(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith("@@result@@ "):
                result = json.loads(line.removeprefix("@@result@@ "))
                TRANSCRIPT.extend([result["stdout"], result["stderr"], json.dumps(result.get("notes", []))])
                assert "crash" not in result, result["crash"]
                return result
        raise AssertionError("the client process died:\n" + self.log.read_text()[-3000:])

    def cli(self, *argv: str, env: dict | None = None) -> dict:
        """`python -m trainer.publish ARGV`, run as trainer.publish.main(argv)."""
        return self._call(op="cli", argv=[str(a) for a in argv], env=env or {})

    def load(self, source: str | None = None, revision: str | None = None, env: dict | None = None) -> dict:
        return self._call(op="load", source=source, revision=revision, env=env or {})

    def run(self, code: str, returning: tuple[str, ...] = (), env: dict | None = None) -> dict:
        return self._call(op="run", code=code, env=env or {}, **{"return": list(returning)})

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        TRANSCRIPT.append(self.log.read_text())


def client_env(endpoint: str, home: Path, token: str | None, **extra: str) -> dict:
    """A clean environment: only our Hub, our cache, our token."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGING_FACE", "ADDITION_MODEL")) and k != "TRANSFORMERS_OFFLINE"
    }
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
        **extra,
    )
    if token:
        env["HF_TOKEN"] = token
    return env


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    """The real command line, in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "trainer.publish", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    TRANSCRIPT.extend([proc.stdout, proc.stderr])
    return proc


def fingerprint(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def weights_digest(weights: list) -> str:
    """Weight arrays in Keras' order (as model.get_weights() lists them)."""
    h = hashlib.sha256()
    for array in weights:
        h.update(array.tobytes())
    return h.hexdigest()


def stored_weights(stored) -> list:
    """A checked model folder's weights in Keras' order."""
    names = [f"{p}/cell/vars/{j}" for p in rnn_layer_paths(stored.net) for j in range(3)]
    return [stored.weights[n] for n in [*names, "layers/dense/vars/0", "layers/dense/vars/1"]]


def save_folder(model, task: TaskConfig, net: NetworkConfig, folder: Path, metrics: dict) -> Path:
    """A model folder as the trainer writes it (Keras' files, task, network, settings, metrics), atomically."""

    def write(tmp: Path) -> None:
        write_keras_files(model, tmp)
        task.save(tmp / "task_config.json")
        net.save(tmp / "network.json")
        write_json(tmp / "train_settings.json", metrics["training"])
        write_json(tmp / "metrics.json", metrics)

    return write_model_folder(folder, write)


def snapshot(home: Path, repo_id: str, sha: str) -> Path:
    return home / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / sha


class Folders:
    """Trained-looking output folders (tiny untrained networks) and what they should load as."""

    def __init__(self, root: Path):
        task, net = TaskConfig(digits=1), NetworkConfig(encoder_units=16, decoder_units=16)
        self.task, self.digests, self.models = task, {}, {}
        metrics = {
            "heldout_exact_match": 0.9995,
            "heldout_size": 100,
            "heldout_char_accuracy": 0.9998,
            "exhaustive_wrong": 0,
            "exhaustive_total": 100,
            "epochs": 2,
            "samples_seen": 2000,
            "training": {"preset": "tiny", "batch_size": 32, "learning_rate": 0.005, "target_accuracy": 0.999},
        }
        for seed, name in ((1, "good"), (2, "second")):
            keras.utils.set_random_seed(seed)
            model = build_model(task, net)
            folder = save_folder(model, task, net, root / name, metrics)
            (folder / "history.json").write_text(json.dumps({"loss": [1.2, 0.4], "val_accuracy": [0.6, 0.97]}))
            (folder / "training_curve.png").write_bytes(b"\x89PNG\r\n\x1a\n-not-really-a-curve-" + name.encode())
            (folder / "notes.txt").write_text("mine")  # anything not listed stays local
            self.digests[name], self.models[name] = weights_digest(model.get_weights()), model
        self.good, self.second = root / "good", root / "second"
        # An attention model that writes its answers units first: its card's snippet decodes differently.
        self.attention_task = TaskConfig(digits=1, answer_order="lsb")
        attention_net = NetworkConfig(encoder_units=16, decoder_units=16, decoder="attention")
        keras.utils.set_random_seed(3)
        self.models["attention"] = build_model(self.attention_task, attention_net)
        self.attention = save_folder(
            self.models["attention"], self.attention_task, attention_net, root / "attention", metrics
        )
        self.weak = root / "weak"
        shutil.copytree(self.good, self.weak)
        (self.weak / "metrics.json").write_text(
            json.dumps({**metrics, "heldout_exact_match": 0.5, "exhaustive_wrong": 50})
        )
        self.broken = root / "broken"
        shutil.copytree(self.good, self.broken)
        weights = (self.good / "model.weights.h5").read_bytes()
        (self.broken / "model.weights.h5").write_bytes(weights[: len(weights) // 2])
        # What the app serves when a source fails: the default of the bundled zoo.
        catalogue = load_catalogue(extra=[], seconds=1)
        self.fallback = catalogue.default
        self.digests["bundled"] = weights_digest(stored_weights(catalogue.models[catalogue.default].stored))

    def files(self, name: str = "good", **changes: bytes) -> dict[str, bytes]:
        """The files of a published folder, some replaced (or removed, with None)."""
        files = {n: (getattr(self, name) / n).read_bytes() for n in UPLOADED}
        files.update(changes)
        return {n: data for n, data in files.items() if data is not None}


# Fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module", name="work")
def work_fixture(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hub")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", name="clients")
def clients_fixture(hub_server, work) -> dict[str, Client]:
    """Client processes sharing one HF cache: online, offline (HF_HUB_OFFLINE=1), and with an unreachable Hub.

    All start at once, before the model folders are built, so their TensorFlow imports overlap.
    """
    home, token = work / "home", hub_server.token
    started = {
        "online": Client(client_env(hub_server.url, home, token), work / "client.log"),
        "offline": Client(client_env(hub_server.url, home, token, HF_HUB_OFFLINE="1"), work / "offline.log"),
        "unreachable": Client(client_env(f"http://127.0.0.1:{_closed_port()}", home, token), work / "unreachable.log"),
    }
    yield started
    for c in started.values():
        c.close()


@pytest.fixture(scope="module", name="client")
def client_fixture(clients) -> Client:
    return clients["online"]


@pytest.fixture(scope="module", name="folders")
def folders_fixture(client, work) -> Folders:
    return Folders(work / "out")


@pytest.fixture(scope="module", name="published")
def published_fixture(hub_server, folders, work) -> dict:
    """org/adder, published once with the real command line."""
    env = client_env(hub_server.url, work / "home", hub_server.token)
    proc = run_cli(folders.good, "org/adder", "--message", "first model", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"proc": proc, "sha": hub_server.head("org/adder")}


@pytest.fixture(autouse=True, name="_no_leftover_faults")
def no_leftover_faults_fixture(hub_server):
    yield
    hub_server.clear_faults()
