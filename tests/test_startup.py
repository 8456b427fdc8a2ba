"""Start-up is never down and never hangs, whatever the repos, the Hub or the command line do.

The app is started for real (`python app.py`) with HF_ENDPOINT pointing at a
local Hub (tests/hub_server.py) holding hostile repos, at a server that accepts
connections and never answers, at one that drops every connection, and with
credentials in the endpoint URL. Each time it must come up in bounded time,
serve, and say in one sentence per problem what it skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from app_fixtures import ROOT, free_port
from hub_server import HubServer, hub_server_fixture  # noqa: F401  (hub_server_fixture: the fixture hub_server)

from model.storage import BUNDLED_DIR, zoo_folders

pytestmark = pytest.mark.slow  # a Hub server and the app

MODEL_FILES = ("task_config.json", "model.weights.h5", "metrics.json", "train_settings.json")
DEEP = "[" * 30_000 + "]" * 30_000  # 60 kB: within the size cap, so the parser meets it
HUGE_DEEP = "[" * 100_000 + "]" * 100_000  # 200 kB: refused by its size before it is parsed


def bundled_files(**changes: bytes) -> dict[str, bytes]:
    files = {name: (BUNDLED_DIR / name).read_bytes() for name in MODEL_FILES if (BUNDLED_DIR / name).exists()}
    return {**files, **changes}


HOSTILE_REPOS = {  # repo -> (files, a phrase the note about it must contain)
    "evil/deep-task": (bundled_files(**{"task_config.json": DEEP.encode()}), "nested too deeply"),
    "evil/huge-deep-task": (bundled_files(**{"task_config.json": HUGE_DEEP.encode()}), "at most 64,000"),
    "evil/huge-int": (bundled_files(**{"task_config.json": b'{"digits": 1' + b"0" * 5000 + b"}"}), "not valid JSON"),
    "evil/bomb-units": (bundled_files(**{"network.json": b'{"encoder_units": 8000}'}), "from 1 to 512"),
    "evil/bomb-alphabet": (
        bundled_files(
            **{
                "task_config.json": json.dumps(
                    {"digits": 3, "terms": 2, "alphabet": "".join(map(chr, range(0x4E00, 0x4E00 + 5_000)))}
                ).encode()
            }
        ),
        "alphabet must be",
    ),
    "evil/big-weights": (bundled_files(**{"model.weights.h5": b"\0" * 72_000_000}), "at most 70,000,000"),
}
METRICS_REPOS = {  # served, with a note saying what in metrics.json was ignored
    "odd/deep-metrics": DEEP.encode(),
    "odd/text-accuracy": b'{"heldout_exact_match": "abc", "heldout_char_accuracy": [1]}',
    "odd/bad-counts": b'{"exhaustive_wrong": "x", "exhaustive_total": {"a": 1}}',
}


def app_env(home: Path, endpoint: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ADDITION_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@contextmanager
def running_app(env: dict, log: Path, *args: str, deadline_s: float = 120):
    """`python app.py` with `env`; yields (url, seconds it took to answer) and stops it afterwards."""
    port = free_port()
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.monotonic() - started > deadline_s:
                    pytest.fail(f"app.py did not answer within {deadline_s} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, time.monotonic() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def call(url: str, name: str, *data) -> dict:
    request = urllib.request.Request(
        f"{url}/gradio_api/run/{name}",
        data=json.dumps({"data": list(data)}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"][0]


def warm_cache(env: dict, repo_id: str) -> None:
    """Download a repo into HF_HOME through the app's own loader, as a first start would."""
    code = f"from model.hub import download_repo; print(download_repo({repo_id!r}, None, 60)[1])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


class BadServer:
    """A TCP server on 127.0.0.1 that accepts connections and then says nothing ("silent") or hangs up ("drop")."""

    def __init__(self, mode: str):
        self.mode, self.sock = mode, socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "drop":
                conn.close()
            else:
                self.held.append(conn)  # never read, never answered

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture(scope="module")
def hub():
    with HubServer() as server:
        for repo, (files, _) in HOSTILE_REPOS.items():
            server.put_files(repo, files)
        for repo, metrics in METRICS_REPOS.items():
            server.put_files(repo, bundled_files(**{"metrics.json": metrics}))
        server.put_files("good/adder", bundled_files())
        yield server


def test_hostile_repos_never_stop_the_app_and_each_gets_one_sentence(hub, tmp_path):
    """Malformed configs, model bombs and bad metrics -> notes and fallbacks, never an exit."""
    env = app_env(
        tmp_path / "hf",
        hub.url,
        ADDITION_MODEL="evil/deep-task",
        ADDITION_MODELS=",".join([*list(HOSTILE_REPOS)[1:], *METRICS_REPOS]),
    )
    with running_app(env, tmp_path / "app.log") as (url, _):
        listing = call(url, "models")
        assert listing["default"] == "add3"  # the broken default fell back to the bundled model
        names = {m["name"] for m in listing["models"]}
        assert set(METRICS_REPOS) <= names and not names & set(HOSTILE_REPOS)
        notes = " ".join(listing["notes"])
        for repo, (_, phrase) in HOSTILE_REPOS.items():
            assert f"Could not use {repo}" in notes, repo
            assert phrase in notes.split(f"Could not use {repo}")[1].split("Could not use")[0], (repo, notes)
        assert "Serving add3 instead" in notes
        for repo in METRICS_REPOS:
            info = call(url, "model_info", repo)
            assert info["error"] is None and any("metrics.json" in n for n in info["notes"]), info["notes"]
            assert call(url, "predict", "535+61", repo)["answer"] == 596
    assert not any(
        p.stat().st_size > 1_000_000 for p in (tmp_path / "hf").rglob("model.weights.h5") if "big-weights" in str(p)
    ), "the oversized weights file was downloaded"


@pytest.mark.parametrize("mode", ["silent", "drop"])
def test_a_misbehaving_hub_neither_hangs_start_up_nor_loses_the_cached_model(hub, tmp_path, mode):
    """Start-up finishes in bounded time and serves the complete cached snapshot."""
    home = tmp_path / "hf"
    warm_cache(app_env(home, hub.url), "good/adder")
    bad = BadServer(mode)
    try:
        env = app_env(home, bad.url, ADDITION_MODEL="good/adder", ADDITION_HUB_TIMEOUT="5")
        with running_app(env, tmp_path / "app.log", deadline_s=90) as (url, seconds):
            info = call(url, "model_info")
            assert info["source"] == "good/adder" and len(info["revision"]) == 40, info
            assert any("serving the cached copy" in n for n in info["notes"]), info["notes"]
            assert call(url, "predict", "535+61")["answer"] == 596
    finally:
        bad.close()
    assert seconds < 60, f"start-up took {seconds:.0f} s"


# The app's start-up loader, kept running afterwards as the app keeps serving; its result is one JSON line.
LOADER = """
import json, sys, time
from model.serving import load_catalogue
started = time.monotonic()
catalogue = load_catalogue()
seconds = time.monotonic() - started
print(json.dumps({"seconds": seconds, "default": catalogue.default, "models": sorted(catalogue.models),
                  "notes": catalogue.notes}), flush=True)
sys.stdin.read()
"""
BUNDLED_WEIGHTS = (BUNDLED_DIR / "model.weights.h5").stat().st_size
ENDLESS = {  # fault -> (repo, its weights' size (None: the bundled file), the stream's bytes a second, a phrase)
    "past its declared size": (
        "evil/endless",
        None,
        16_000_000,
        f"model.weights.h5 of evil/endless sent more than the {BUNDLED_WEIGHTS:,} bytes the Hub declared for it",
    ),
    # 60 MB of zeros declared (within the limit) at 4 MB/s: within its size, still streaming, at the deadline.
    "still streaming at the deadline": ("evil/slow", 60_000_000, 4_000_000, "did not answer within"),
}


def files_under(home: Path) -> dict[Path, int]:
    """Every file in HF_HOME (the snapshots' links left out) and its size; one removed meanwhile is left out."""
    sizes = {}
    for path in home.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                sizes[path] = path.lstat().st_size
        except FileNotFoundError:
            continue
    return sizes


@pytest.mark.parametrize("fault", list(ENDLESS))
def test_a_download_that_never_ends_stops_at_its_declared_size_and_at_the_deadline(hub, tmp_path, fault):
    """A Hub streaming a file for ever: start-up ends in time with one sentence, and HF_HOME stops growing."""
    repo, size, rate, phrase = ENDLESS[fault]
    weights = bytes(size) if size else (BUNDLED_DIR / "model.weights.h5").read_bytes()
    hub.put_files(repo, bundled_files(**{"model.weights.h5": weights}))
    hub.endless_download(repo, "model.weights.h5", rate)
    home, log = tmp_path / "hf", tmp_path / "loader.log"
    env = app_env(home, hub.url, ADDITION_MODEL=repo, ADDITION_HUB_TIMEOUT="4")
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", LOADER], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
    try:
        line = proc.stdout.readline()
        assert line, log.read_text()[-3000:]
        loaded = json.loads(line)
        first = files_under(home)
        sizes = []
        for _ in range(8):  # 4 s with the loader still running: whatever it left behind must not grow
            time.sleep(0.5)
            sizes.append(sum(files_under(home).values()))
        for _ in range(20):  # and what it was writing is removed once its stream sends another chunk
            if not any(p.name.endswith(".incomplete") for p in files_under(home)):
                break
            time.sleep(0.5)
        kept = files_under(home)
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        hub.clear_faults()

    assert max(sizes) <= sum(first.values()), f"HF_HOME grew after start-up: {sum(first.values()):,} then {sizes}"
    assert all(n <= len(weights) for n in kept.values()), f"a file larger than declared was kept: {kept}"
    assert not [p for p in kept if p.name.endswith(".incomplete")], f"a partial download was left: {kept}"
    assert loaded["seconds"] < 4 + 2, f"start-up took {loaded['seconds']:.1f} s with a 4 s deadline"
    assert loaded["default"] == "add3" and {f.name for f in zoo_folders()} <= set(loaded["models"])
    [note] = loaded["notes"]
    assert note.startswith(f"Could not use {repo}: ") and note.endswith(". Serving add3 instead."), note
    assert phrase in note and "\n" not in note, note


def test_a_revision_that_could_escape_the_cache_is_refused_before_any_request(hub, tmp_path):
    """A revision that names a path (`..`, `/etc`, `//`, `-rf`, a .lock, 200 characters) is never asked for."""
    from model.hub import ModelLoadError, check_revision

    for revision in ("../../../../tmp/x", "main/../../x", "/etc", "a//b", "x.lock", "-rf", "a" * 200):
        with pytest.raises(ModelLoadError, match="not a valid revision"):
            check_revision(revision)
    for fine in ("main", "v1.0", "refs/pr/3", "feature/x", "a" * 40, "0123456789abcdef0123456789abcdef01234567"):
        check_revision(fine)
    before = len(hub.requests)
    env = app_env(tmp_path / "hf", hub.url)
    code = (
        "from model.serving import load_catalogue; c = load_catalogue('good/adder', '../../../../tmp/x', []);"
        "print(c.notes)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "not a valid revision" in done.stdout and len(hub.requests) == before
    assert not (Path("/tmp") / "x").exists() or (Path("/tmp") / "x").stat().st_mtime < time.time() - 60


def test_credentials_in_the_endpoint_are_never_shown(tmp_path):
    """`user:secret@` in the endpoint never reaches a visitor, neither in answers, notes, links nor the page config."""
    endpoint = "http://someone:hunter2secret@127.0.0.1:9"  # nothing listens on port 9: every note names the Hub
    env = app_env(tmp_path / "hf", endpoint, ADDITION_MODEL="good/adder", ADDITION_MODELS="other/repo")
    with running_app(env, tmp_path / "app.log") as (url, _):
        pages = [
            json.dumps(call(url, "model_info")),
            json.dumps(call(url, "models")),
            urllib.request.urlopen(url + "/config", timeout=30).read().decode(),
            urllib.request.urlopen(url + "/", timeout=30).read().decode(),
        ]
        assert "could not reach the Hub at http://127.0.0.1:9" in pages[1]
        for page in pages:
            assert "hunter2secret" not in page and "someone:" not in page
    code = "from model.hub import repo_page_url; print(repo_page_url('a/b', 'f' * 40))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "http://127.0.0.1:9/a/b/tree/" + "f" * 40, done.stderr


def test_a_busy_port_is_one_sentence(tmp_path):
    """A port in use is one sentence and exit status 2, not a traceback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "app.py", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env=app_env(tmp_path / "hf", "http://127.0.0.1:9"),
        )
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_mistyped_folder_is_called_a_folder(tmp_path):
    """`--model tests/nope` names the folder, not a Hub repo it never was."""
    env = app_env(tmp_path / "hf", "http://127.0.0.1:9")
    code = (
        "from model.serving import load_catalogue;"
        "print(load_catalogue('tests/nope', None, ['./also-nope', 'runs//x']).notes)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert "no such folder: tests/nope; if you meant a Hub repo, use its id, owner/name" in out, out + done.stderr
    assert "no such folder: ./also-nope" in out and "no such folder: runs//x" in out


def test_a_local_folder_with_a_bomb_is_refused_before_reading(tmp_path):
    """For a local folder too: a weights file far larger than its network is refused by size, unread."""
    from model.serving import load_catalogue

    folder = shutil.copytree(BUNDLED_DIR, tmp_path / "bomb")
    with open(folder / "model.weights.h5", "ab") as f:
        f.truncate(2 * 1024**3)  # a sparse 2 GiB file
    catalogue = load_catalogue(None, None, [str(folder)])
    assert "bomb" not in catalogue.models
    assert "it is not this model's weights file" in " ".join(catalogue.notes)
