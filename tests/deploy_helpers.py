"""What the deploy tests share: the command run against the local Hub, and the app started from a folder.

`deploy` runs `python -m trainer.deploy_space` with an environment pointing the real
huggingface_hub client at tests/hub_server.py; `running_app` starts `python app.py` in a
downloaded or copied folder with nothing from the checkout importable; `app_copy` copies the
deployable files. TRANSCRIPT keeps every output, which the token test scans.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from app_fixtures import free_port  # noqa: E402

from trainer.deploy_space import space_card, space_files  # noqa: E402

SPACE = "org/addition-space"
MODEL_REPO = "org/adder"  # a model repo the Space is told to offer
WRONG_TOKEN = "hf_wrongtoken_deploy_0123456789abcdef"
TRANSCRIPT: list[str] = []  # every output of the command, scanned for tokens at the end
# Planted in a copy of the checkout: none of these may be listed. Outside the allowed folders first, then
# inside them: caches, resume state, half-written and hidden folders, other suffixes, secret-looking names.
PLANTED = (
    "runs/x.txt",
    "runs/default/model.weights.h5",
    "tests/planted_test.py",
    "bench/planted.py",
    "docs/planted.png",
    "test-artifacts/shot.png",
    ".pytest_cache/v/cache.json",
    ".hypothesis/x.py",
    ".gradio/flagged.json",
    "__pycache__/app.cpython-311.pyc",
    "notes.py",
    "model/__pycache__/planted.py",
    "model/__pycache__/codec.cpython-311.pyc",
    "model/runs/stray.py",
    "model/zoo/add3/checkpoint/state.h5",
    "model/zoo/add2.partial/history.json",
    "model/zoo/.add2.writing-7/model.weights.h5",
    "web/tests/test_x.py",
    "web/.hidden.py",
    "model/zoo/add3/notes.txt",
    "model/zoo/add3/.env",
    "model/zoo/hf_token.json",
    "model/zoo/id_rsa.png",
    "model/secrets.py",
    "model/zoo/add3/credentials.json",
)

CARD = space_card((ROOT / "README.md").read_bytes())  # what the Space shows as its README


def hub_env(server, home: Path, token: str | None, **extra: str) -> dict:
    """Only our Hub (or `extra`'s HF_ENDPOINT), our cache and our token; nothing on PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGING_FACE", "ADDITION_MODEL")) and k != "PYTHONPATH"
    }
    env.update(
        HF_ENDPOINT=server.url,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    if token:
        env["HF_TOKEN"] = token
    return env


def deploy(*args: str, env: dict, cwd: Path, root: Path = ROOT) -> subprocess.CompletedProcess:
    """The real command line, in a fresh interpreter started outside `root`."""
    proc = subprocess.run(
        [sys.executable, "-m", "trainer.deploy_space", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    TRANSCRIPT.extend([proc.stdout, proc.stderr])
    return proc


def listed(stdout: str) -> dict[str, int]:
    """path -> size from a --dry-run listing."""
    rows = [line.split() for line in stdout.splitlines() if line.startswith("  ")]
    return {row[0]: int(row[1].replace(",", "")) for row in rows}


@contextmanager
def running_app(folder: Path, env: dict, log_path: Path) -> Iterator[str]:
    """`python app.py` started in `folder` with nothing from the checkout importable; yields its URL."""
    where = subprocess.run(
        [sys.executable, "-c", "import model, web, trainer; print(model.__file__, web.__file__, trainer.__file__)"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.split() == [str(folder / f"{p}/__init__.py") for p in ("model", "web", "trainer")], where
    port = free_port()
    with open(log_path, "w") as log:
        app = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert app.poll() is None, f"app.py exited with {app.returncode}:\n{log_path.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, f"app.py did not start in 180 s:\n{log_path.read_text()[-3000:]}"
                time.sleep(0.3)
        yield url
    finally:
        app.terminate()
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(timeout=20)


def app_copy(folder: Path) -> Path:
    """The deployable files (and the trainer, which runs the command) copied to `folder`."""
    shutil.copytree(ROOT / "trainer", folder / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    for path in space_files(ROOT):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, folder / path)
    return folder


PLANTED_TOKEN = "hf_" + "Pl4nted" * 5  # shaped like a real token: hf_ and 35 letters and digits
