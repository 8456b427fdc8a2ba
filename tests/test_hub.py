"""Publishing to and loading from the Hub, end to end, with the real huggingface_hub client.

The client reads HF_ENDPOINT, HF_HUB_OFFLINE and HF_HOME when it is imported, so
it runs in other interpreters whose environment points at a local Hub
(tests/hub_server.py): `python -m trainer.publish` itself for the command line,
and long-lived "client" processes that each run many publishes and loads, so
TensorFlow is imported a handful of times rather than once per check.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hub_server import hub_server_fixture  # noqa: F401  (the local Hub-compatible server, as the fixture hub_server)

pytestmark = pytest.mark.slow  # a Hub server

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import keras  # noqa: E402

from model.codec import answer_texts, encode_questions, one_hot  # noqa: E402
from model.config import NetworkConfig, TaskConfig  # noqa: E402
from model.network import build_model, greedy_probabilities, rnn_layer_paths  # noqa: E402
from model.questions import make_questions  # noqa: E402
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


# Fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hub")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def clients(hub_server, work) -> dict[str, Client]:
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


@pytest.fixture(scope="module")
def client(clients) -> Client:
    return clients["online"]


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


@pytest.fixture(scope="module")
def folders(client, work) -> Folders:
    return Folders(work / "out")


@pytest.fixture(scope="module")
def published(hub_server, folders, work) -> dict:
    """org/adder, published once with the real command line."""
    env = client_env(hub_server.url, work / "home", hub_server.token)
    proc = run_cli(folders.good, "org/adder", "--message", "first model", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"proc": proc, "sha": hub_server.head("org/adder")}


@pytest.fixture(autouse=True)
def _no_leftover_faults(hub_server):
    yield
    hub_server.clear_faults()


# Publishing ----------------------------------------------------------------------------
def test_cli_publishes_one_commit_that_downloads_byte_identical(hub_server, published, client, folders, work):
    sha = published["sha"]
    assert f"Published org/adder @ {sha}" in published["proc"].stdout
    assert f"{hub_server.url}/org/adder" in published["proc"].stdout
    assert [c.message for c in hub_server.history("org/adder")] == ["first model", "initial commit"]
    assert len([r for r in hub_server.requests_for("/api/models/org/adder/commit/") if r[0] == "POST"]) == 1
    stored = hub_server.files("org/adder")
    # Exactly the listed files: not notes.txt, no empty assets/.
    assert set(stored) == {".gitattributes", "README.md", *UPLOADED}
    assert all(stored[name] == (folders.good / name).read_bytes() for name in UPLOADED)

    seen = len(hub_server.requests)
    loaded = client.load("org/adder")
    fetched = {path.rsplit("/", 1)[-1] for _, path, _ in hub_server.requests[seen:] if "/resolve/" in path}
    assert not fetched & {"README.md", "history.json", "training_curve.png", ".gitattributes"}  # only what it needs
    assert (loaded["source"], loaded["revision"], loaded["notes"]) == ("org/adder", sha, [])
    assert loaded["description"] == f"org/adder @ {sha[:12]}"
    assert loaded["digest"] == folders.digests["good"]
    folder = snapshot(work / "home", "org/adder", sha)
    for name in ("model.weights.h5", "task_config.json", "network.json", "metrics.json"):
        assert (folder / name).read_bytes() == (folders.good / name).read_bytes()


def test_plain_keras_loads_the_published_model(published, client, folders):
    ran = client.run(
        "import keras, hashlib\n"
        "model = keras.saving.load_model('hf://org/adder')\n"
        "h = hashlib.sha256()\n"
        "for w in model.get_weights():\n"
        "    h.update(w.tobytes())\n"
        "digest = h.hexdigest()\n",
        returning=("digest",),
    )
    assert ran["values"]["digest"] == folders.digests["good"]


def test_model_card_declares_keras_and_the_measured_accuracy(hub_server, published):
    card = hub_server.files("org/adder")["README.md"].decode()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "keras" and front["license"] == "apache-2.0"
    assert {"keras", "lstm", "seq2seq", "addition", "arithmetic"} <= set(front["tags"])
    every, held = front["model-index"][0]["results"]
    # The headline first: every question was asked, all 100 right.
    assert every["dataset"]["name"] == "all 1-digit sums" and every["metrics"][0]["value"] == 1.0
    assert held["dataset"]["name"] == "random 1-digit sums (held-out)"
    assert {m["type"]: m["value"] for m in held["metrics"]} == {"exact_match": 0.9995, "accuracy": 0.9998}
    assert "# adder: an LSTM that learned to add" in card
    assert "- **Headline:** 100.00% right (0 wrong of all 100 questions)" in card
    assert 'keras.saving.load_model("hf://org/adder")' in card
    assert "![Training curve](training_curve.png)" in card
    assert "| preset | tiny |" in card and "| target_accuracy | 0.999 |" in card
    assert "0 wrong out of all 100 questions" in card
    # The real client checks the card with the Hub before committing; ours accepted it.
    assert ("POST", "/api/validate-yaml", 200) in hub_server.requests


def test_model_card_usage_snippet_works_as_written(hub_server, published, client, folders):
    card = hub_server.files("org/adder")["README.md"].decode()
    code = re.search(r"```python\n(.*?)```", card, re.DOTALL).group(1)
    ran = client.run(code, returning=("x", "probabilities", "answer"))
    expected_x = one_hot(encode_questions(make_questions([[5, 1]]), folders.task), folders.task)
    assert np.array_equal(np.array(ran["values"]["x"]), expected_x)  # encoded exactly like the codec
    expected = folders.models["good"].predict(expected_x, verbose=0)[0]
    assert np.allclose(ran["values"]["probabilities"], expected, atol=1e-5)  # the published weights
    answer = "".join(folders.task.alphabet[i] for i in np.argmax(ran["values"]["probabilities"], -1)).strip()
    assert ran["values"]["answer"] == answer and f"5+1 = {answer}" in ran["stdout"]


def test_an_attention_models_card_snippet_decodes_it_greedily_and_the_usual_way_round(hub_server, client, folders):
    assert client.cli(folders.attention, "org/attender")["rc"] == 0
    card = hub_server.files("org/attender")["README.md"].decode()
    assert "attends over every encoder state" in card and "units first" in card
    code = re.search(r"```python\n(.*?)```", card, re.DOTALL).group(1)
    ran = client.run(code, returning=("x", "probabilities", "answer"))
    task = folders.attention_task
    x = one_hot(encode_questions(make_questions([[5, 1]]), task), task)
    expected = greedy_probabilities(folders.models["attention"], x, task)[0]
    assert np.allclose(ran["values"]["probabilities"], expected, atol=1e-5)
    written = np.argmax(expected, -1)[None]
    assert ran["values"]["answer"] == answer_texts(written, task)[0].strip()


def test_revision_pinning_loads_the_first_push_by_sha(hub_server, client, folders):
    assert client.cli(folders.good, "org/pinned")["rc"] == 0
    first = hub_server.head("org/pinned")
    assert client.cli(folders.second, "org/pinned", "--message", "second model")["rc"] == 0
    second = hub_server.head("org/pinned")
    assert first != second and len(hub_server.history("org/pinned")) == 3  # creation + one per publish

    latest = client.load("org/pinned")
    assert (latest["revision"], latest["digest"]) == (second, folders.digests["second"])
    pinned = client.load("org/pinned", revision=first)
    assert (pinned["revision"], pinned["digest"]) == (first, folders.digests["good"])
    # The same through the app's environment variables.
    by_env = client.load(env={"ADDITION_MODEL": "org/pinned", "ADDITION_MODEL_REVISION": first})
    assert (by_env["source"], by_env["revision"], by_env["digest"]) == ("org/pinned", first, folders.digests["good"])


def test_publish_to_a_branch_leaves_main_alone(hub_server, client, folders):
    result = client.cli(folders.good, "org/branchy", "--revision", "experiment")
    assert result["rc"] == 0, result["stderr"]
    head = hub_server.head("org/branchy", "experiment")
    assert f"@ {head}" in result["stdout"] and "/org/branchy/tree/experiment" in result["stdout"]
    assert [c.message for c in hub_server.history("org/branchy")] == ["initial commit"]
    loaded = client.load("org/branchy", revision="experiment")
    assert (loaded["revision"], loaded["digest"]) == (head, folders.digests["good"])


def test_quality_gate_refuses_before_any_request_and_force_overrides(hub_server, client, folders, work):
    env = client_env(hub_server.url, work / "home", hub_server.token)
    proc = run_cli(folders.weak, "org/weak", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: Refusing to publish: the model is 50% right (50 wrong of all 100 "
        "questions), below the required 99.9%; train longer, or use --force "
        "(force=True) to publish anyway."
    )
    assert hub_server.requests_for("org/weak") == [] and proc.stdout == ""

    forced = client.cli(folders.weak, "org/weak", "--force", "--message", "forced")
    assert forced["rc"] == 0 and hub_server.history("org/weak")[0].message == "forced"
    assert "value: 0.5\n" in hub_server.files("org/weak")["README.md"].decode()  # the card tells the truth
    assert client.cli(folders.weak, "org/weak-lower-bar", "--min-accuracy", "0.4")["rc"] == 0


def test_a_folder_that_does_not_load_is_refused(hub_server, client, folders):
    result = client.cli(folders.broken, "org/broken")
    assert result["rc"] == 1
    assert "Refusing to publish a model that does not load" in result["stderr"]
    assert "Traceback" not in result["stderr"] and hub_server.requests_for("org/broken") == []


PLANTED_TOKEN = "hf_" + "Pl4nted" * 5  # shaped like a real token: hf_ and 35 letters and digits
SECRET = b"the contents of a secret file: never uploaded\n"
LEAKS = [  # (file, how it is spoilt, what the refusal says)
    ("training_curve.png", "link", "is a symbolic link, and only plain files are uploaded"),
    ("model.weights.h5", "link", "is a symbolic link, and only plain files are uploaded"),
    ("history.json", "token", "holds something shaped like a Hugging Face token (hf_…), so it is not uploaded; remove"),
    ("train_settings.json", "token", "holds something shaped like a Hugging Face token (hf_…), so it is not uploaded"),
    # issue 25: publish waited for ever on a named pipe, and uploaded a hard link's file from outside the folder
    ("history.json", "pipe", "is not a plain file, and only plain files are uploaded"),
    ("model.weights.h5", "hard link", "is a hard link (the file has 2 names), and only files with one name"),
]


@pytest.mark.parametrize("name,how,says", LEAKS, ids=[f"{name}-{how}" for name, how, _ in LEAKS])
def test_publish_never_uploads_a_link_or_a_token(hub_server, client, folders, work, name, how, says):
    folder, repo = (
        work / f"leaky-{how}-{name}",
        f"org/leaky-{how.replace(' ', '-')}-{name.split('.')[0]}".replace("_", "-"),
    )
    shutil.copytree(folders.good, folder)
    target = work / f"secret-{how}-{name}"
    if how == "link":  # a link to a real file of the right kind still never goes up
        target.write_bytes((folder / name).read_bytes() if name.endswith(".h5") else SECRET)
        (folder / name).unlink()
        (folder / name).symlink_to(target)
    elif how == "pipe":  # nobody ever writes to it: reading it would wait for ever
        (folder / name).unlink(missing_ok=True)
        os.mkfifo(folder / name)
    elif how == "hard link":  # the same file as one outside the folder
        target.write_bytes((folder / name).read_bytes())
        (folder / name).unlink()
        os.link(target, folder / name)
    else:
        (folder / name).write_text(json.dumps({"loss": [1.0], "note": f"token={PLANTED_TOKEN}"}))
    result = client.cli(folder, repo)
    assert result["rc"] == 1 and "Traceback" not in result["stderr"]
    assert result["stderr"].startswith(f"error: Refusing to publish: {name} {says}"), result["stderr"]
    assert len(result["stderr"].strip().splitlines()) == 1
    assert PLANTED_TOKEN not in result["stderr"] + result["stdout"]
    assert hub_server.requests_for(repo) == []  # refused before any request


def test_help_explains_every_flag(work):
    proc = subprocess.run(
        [sys.executable, "-m", "trainer.publish", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    for flag in ("OUTPUT_DIR", "REPO_ID", "--private", "--message", "--revision", "--force", "--min-accuracy"):
        assert flag in proc.stdout
    assert "HF_TOKEN" in proc.stdout


def test_missing_token_is_one_sentence(hub_server, folders, work):
    proc = run_cli(folders.good, "org/tokenless", env=client_env(hub_server.url, work / "empty-home", None))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "error: No Hugging Face token found: set HF_TOKEN to a token with write access "
        "or run `hf auth login`, then run the same command again."
    )
    assert hub_server.requests_for("org/tokenless") == []


@pytest.mark.parametrize(
    "token, says",
    [
        (WRONG_TOKEN, "the Hub refused the token (HTTP 401)"),
        ("read", "the token may not write to org/refused (HTTP 403)"),
    ],
)
def test_refused_token_is_explained(hub_server, client, folders, token, says):
    token = hub_server.read_token if token == "read" else token
    result = client.cli(folders.good, "org/refused", env={"HF_TOKEN": token})
    assert result["rc"] == 1 and says in result["stderr"]
    assert "Traceback" not in result["stderr"] and token not in result["stderr"] + result["stdout"]


def test_failed_upload_keeps_the_folder_and_prints_a_working_retry(hub_server, client, folders):
    before = fingerprint(folders.good)
    hub_server.fail("/api/models/org/flaky/commit/", status=500)
    result = client.cli(folders.good, "org/flaky")
    assert result["rc"] == 1 and "Traceback" not in result["stderr"]
    assert "the Hub answered with a server error (HTTP 500)" in result["stderr"]
    assert f"Nothing was changed locally: {folders.good} is intact." in result["stderr"]
    retry = f"python -m trainer.publish {folders.good} org/flaky"
    assert result["stderr"].rstrip().endswith(f"Retry with: {retry}")
    assert fingerprint(folders.good) == before
    assert [c.message for c in hub_server.history("org/flaky")] == ["initial commit"]

    hub_server.clear_faults()
    assert client.cli(*shlex.split(retry)[3:])["rc"] == 0
    assert hub_server.files("org/flaky")["model.weights.h5"] == (folders.good / "model.weights.h5").read_bytes()


def test_python_api_for_the_trainer(hub_server, client, folders):
    ran = client.run(
        "from trainer.publish import PublishError, publish\n"
        f"url, sha = publish({str(folders.good)!r}, 'org/api', private=True, commit_message='from the trainer',"
        " revision=None, force=False)\n"
        "try:\n"
        f"    publish({str(folders.weak)!r}, 'org/api-weak')\n"
        "except PublishError as err:\n"
        "    refusal = str(err)\n",
        returning=("url", "sha", "refusal"),
    )
    assert ran["values"]["url"] == f"{hub_server.url}/org/api" and ran["values"]["sha"] == hub_server.head("org/api")
    assert hub_server.repos["org/api"].private and hub_server.history("org/api")[0].message == "from the trainer"
    assert ran["values"]["refusal"].startswith("Refusing to publish: the model is 50% right")
    # A private repo is invisible without a token, and readable with one.
    assert "there is no model repo org/api" in client.load("org/api", env={"HF_TOKEN": None})["notes"][0]
    assert client.load("org/api")["revision"] == ran["values"]["sha"]


# Loading failures: each is one sentence, and the app serves the bundled model ----------
def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


LOAD_FAILURES = {
    "missing repo": (
        None,
        "org/does-not-exist",
        None,
        {},
        "there is no model repo org/does-not-exist on http://127.0.0.1:",
    ),
    "missing revision": ("revs", "org/revs", "v9", {}, "org/revs has no branch, tag or commit named 'v9'"),
    "missing file": ("incomplete", "org/incomplete", None, {}, "@ ", "has no model.weights.h5"),
    "refused token": (
        "tokened",
        "org/tokened",
        None,
        {"HF_TOKEN": WRONG_TOKEN},
        "the Hub refused the token (HTTP 401)",
    ),
    "server error": ("down", "org/down", None, {}, "the Hub answered with a server error (HTTP 500)"),
    "truncated weights": (
        "truncated",
        "org/truncated",
        None,
        {},
        "model.weights.h5 could not be read (truncated or corrupt)",
    ),
    "download cut short": ("cut", "org/cut", None, {}, "a file of org/cut arrived truncated"),
    "bytes flipped in transit": (
        "flipped",
        "org/flipped",
        None,
        {},
        "model.weights.h5 of org/flipped @ ",
        "arrived damaged",
    ),
    # Three operators make a 14-character alphabet: the 12-character weights cannot be this task's.
    "config not matching weights": (
        "mismatch",
        "org/mismatch",
        None,
        {},
        "model.weights.h5 does not match the network in network.json and task_config.json",
        "alphabet of 14",
    ),
    "invalid repo id": (None, "not a repo id!", None, {}, "no such folder: not a repo id!; if you meant a Hub repo"),
    # A data-only repo whose output bias would be the first bytes of the server's environment.
    "weights from another file": (
        "environ",
        "org/environ",
        None,
        {},
        "model.weights.h5 is refused: /layers/dense/vars/1 keeps its bytes in another file (HDF5 external storage)",
    ),
}


def _bytes_from_environ(weights: Path) -> bytes:
    """The weights file rewritten with its output bias stored externally, in /proc/self/environ."""
    import h5py

    arrays: dict = {}
    with h5py.File(weights, "r") as f:
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    rewritten = weights.parent.with_name("environ.weights.h5")  # outside the model folder
    with h5py.File(rewritten, "w") as f:
        for name, array in arrays.items():
            if name == "layers/dense/vars/1":
                f.require_group("layers/dense/vars")
                f.create_dataset(name, array.shape, array.dtype, external=[("/proc/self/environ", 0, array.nbytes)])
            else:
                f.create_dataset(name, data=array)
    return rewritten.read_bytes()


@pytest.mark.parametrize("case", list(LOAD_FAILURES))
def test_load_failure_is_explained_and_falls_back_to_the_bundled_zoo(hub_server, client, folders, case):
    setup, source, revision, env, *phrases = LOAD_FAILURES[case]
    weights = (folders.good / "model.weights.h5").read_bytes()
    if setup:
        changes = {
            "incomplete": {"model.weights.h5": None},
            "truncated": {"model.weights.h5": _cut(weights)},
            "mismatch": {"task_config.json": TaskConfig(digits=1, operators="+-*").to_json().encode()},
            "environ": {"model.weights.h5": _bytes_from_environ(folders.good / "model.weights.h5")},
        }.get(setup, {})
        hub_server.put_files(source, folders.files(**changes))
    if setup == "down":
        hub_server.fail("/org/down/", status=500)
    elif setup == "cut":
        hub_server.short_read(source, "model.weights.h5", 1000)
    elif setup == "flipped":
        hub_server.corrupt_in_transit(source, "model.weights.h5")

    loaded = client.load(source, revision, env=env)
    assert (loaded["source"], loaded["revision"], loaded["digest"]) == ("bundled", None, folders.digests["bundled"])
    [note] = loaded["notes"]
    assert note.startswith(f"Could not use {source}: ") and note.endswith(f". Serving {folders.fallback} instead.")
    for phrase in phrases:
        assert phrase in note
    assert "\n" not in note and "Traceback" not in note and "/snapshots/" not in note

    if setup in ("down", "cut", "flipped"):  # a passing problem: once it is gone, the same load works
        hub_server.clear_faults()
        again = client.load(source, revision, env=env)
        assert (again["source"], again["digest"], again["notes"]) == (source, folders.digests["good"], [])


# No network -----------------------------------------------------------------------------
def test_offline_and_unreachable_hub_serve_the_cache(hub_server, published, clients, folders):
    clients["online"].load("org/adder")  # cached by now, whichever tests ran before
    offline, unreachable = clients["offline"], clients["unreachable"]
    requests_before = len(hub_server.requests)
    for worker in (offline, unreachable):
        cached = worker.load("org/adder")
        assert (cached["source"], cached["revision"]) == ("org/adder", published["sha"])
        assert cached["digest"] == folders.digests["good"]
        # model/hub.py says when it served the cache because the Hub failed (or offline mode was on).
        assert all(f"serving the cached copy of org/adder @ {published['sha'][:12]}" in n for n in cached["notes"])
    assert len(hub_server.requests) == requests_before  # nothing reached the Hub

    never = offline.load("org/never-downloaded")
    assert never["source"] == "bundled"
    assert "HF_HUB_OFFLINE is set and no complete copy of org/never-downloaded" in never["notes"][0]
    never = unreachable.load("org/never-downloaded")
    assert never["source"] == "bundled"
    assert "could not reach the Hub at http://127.0.0.1:" in never["notes"][0]


# The token -------------------------------------------------------------------------------
def test_token_never_appears_in_output_or_files(hub_server, client, folders, work):
    assert client.cli(folders.good, "org/leakcheck")["rc"] == 0
    assert client.load("org/leakcheck")["revision"] == hub_server.head("org/leakcheck")
    client.load("org/leakcheck", env={"HF_TOKEN": WRONG_TOKEN})
    texts = [*TRANSCRIPT, *(p.read_text() for p in work.glob("*.log"))]
    files = [p for p in work.rglob("*") if p.is_file()]
    assert len(files) > 20 and any("models--org--leakcheck" in str(p) for p in files)
    stored = [
        data for repo in hub_server.repos.values() for commit in repo.commits.values() for data in commit.files.values()
    ]
    for token in (hub_server.token, WRONG_TOKEN):
        assert not any(token in text for text in texts)
        assert not any(token.encode() in p.read_bytes() for p in files)
        assert not any(token.encode() in data for data in stored)


def test_trainer_trains_then_pushes_in_one_command(hub_server, work):
    """`python -m trainer --push-to-hub`: the whole path a user takes, on a tiny task."""
    out = work / "trained-and-pushed"
    env = client_env(hub_server.url, work / "home-train", hub_server.token)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer",
            "--digits",
            "1",
            "--epochs",
            "1",
            "--samples-per-epoch",
            "2048",
            "--encoder-units",
            "8",
            "--decoder-units",
            "8",
            "--show-samples",
            "0",
            "--target-margin",
            "-1",
            "--output-dir",
            str(out),
            "--push-to-hub",
            "org/trained",
            "--commit-message",
            "trained here",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    TRANSCRIPT.extend([proc.stdout, proc.stderr])
    # Two gradient steps cannot learn addition: the run has no target of its own, so it passes and pushes,
    # and the publishing gate refuses it, saying how to publish later.
    assert proc.returncode == 1 and "Refusing to publish" in proc.stderr and "--force-push" in proc.stderr
    assert "org/trained" not in hub_server.repos
    forced = run_cli(out, "org/trained", "--force", "--message", "trained here", env=env)
    assert forced.returncode == 0, forced.stderr
    assert hub_server.history("org/trained")[0].message == "trained here"
    stored = hub_server.files("org/trained")
    assert stored["model.weights.h5"] == (out / "model.weights.h5").read_bytes()
    assert b"library_name: keras" in stored["README.md"]
