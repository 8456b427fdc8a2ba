"""`python -m trainer.deploy_space`, proven end to end against the local Hub (tests/hub_server.py).

The command runs as a subprocess whose environment points the real
huggingface_hub client at the local Hub (the client reads HF_ENDPOINT when it is
imported), from a folder other than the checkout. The proof of a working Space:
the real client downloads the deployed Space into an empty folder, `python
app.py` starts there with nothing from the checkout importable, and
gradio_client gets 535+61 = 596 from it.

The allow-list is checked on the real checkout and on a temporary copy of it
with stray files planted (runs, caches, tests, secrets); the checkout itself is
never written to. Every file goes up as it is, but README.md: the Space gets its
own short card, this README's front matter followed by trainer/space_card.md.

The helpers are in tests/deploy_helpers.py; what needs no Hub (the code list, the card) is
in tests/test_deploy_card.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from app_fixtures import free_port
from deploy_helpers import (
    CARD,
    MODEL_REPO,
    PLANTED,
    PLANTED_TOKEN,
    ROOT,
    SPACE,
    TRANSCRIPT,
    WRONG_TOKEN,
    app_copy,
    deploy,
    hub_env,
    listed,
    running_app,
)
from hub_server import hub_server_fixture  # noqa: F401  (the local Hub-compatible server, as the fixture hub_server)

from trainer.deploy_space import space_files

pytestmark = pytest.mark.slow  # a Hub server and the app


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="module")
def env(hub_server, work) -> dict:
    return hub_env(hub_server, work / "home", hub_server.token)


@pytest.fixture(scope="module")
def deployed(hub_server, env, work) -> dict:
    """The checkout deployed once to SPACE with the real command, started from another folder.

    --models offers a model repo on the same Hub (the bundled model's files) beside the bundled ones.
    """
    bundled = ROOT / "model" / "zoo" / "add3"
    hub_server.put_files(MODEL_REPO, {p.name: p.read_bytes() for p in bundled.iterdir() if p.is_file()})
    proc = deploy(SPACE, "--message", "first deploy", "--models", MODEL_REPO, env=env, cwd=work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"proc": proc, "sha": hub_server.head(SPACE, repo_type="space")}


@pytest.fixture(autouse=True)
def _no_leftover_faults(hub_server):
    yield
    hub_server.clear_faults()


# What goes up ---------------------------------------------------------------------------------
def test_dry_run_lists_the_app_and_its_models_and_contacts_nothing(hub_server, env, work):
    before = len(hub_server.requests)
    proc = deploy("org/dry-run-only", "--dry-run", "--model", "org/m", env=env, cwd=work)
    assert proc.returncode == 0, proc.stderr
    files = listed(proc.stdout)
    bundled = {
        f"model/zoo/add3/{p.name}"
        for p in (ROOT / "model/zoo/add3").iterdir()
        if p.suffix in (".json", ".h5", ".npz", ".png")
    }
    code = {p.relative_to(ROOT).as_posix() for p in (ROOT / "model").glob("*.py")}
    assert {"app.py", "requirements.txt", "README.md", ".gitattributes"} | code | bundled <= set(files)
    assert "model/zoo/add3/model.weights.h5" in bundled and "model/storage.py" in code
    # What Train your own runs (python -m trainer.live) goes up; the trainer's own tools do not.
    assert {"trainer/__init__.py", "trainer/live.py"} <= set(files)
    assert not {"trainer/publish.py", "trainer/deploy_space.py", "trainer/zoo.py"} & set(files)
    assert not [
        p
        for p in files
        if p.split("/")[0] in ("tests", "runs", "bench", "docs", "test-artifacts")
        or "__pycache__" in p
        or "/." in "/" + p.removeprefix(".gitattributes")
    ]
    assert files["README.md"] == len(CARD)  # the Space's own card, not this README
    assert all(size == (ROOT / path).stat().st_size for path, size in files.items() if path != "README.md")
    assert f"Total: {sum(files.values()):,} bytes in {len(files)} files" in proc.stdout
    assert "Would set the Space variable ADDITION_MODEL=org/m" in proc.stdout
    assert len(hub_server.requests) == before and "org/dry-run-only" not in hub_server.spaces


def test_planted_files_in_a_copy_of_the_checkout_are_never_listed(hub_server, env, work):
    copy = work / "copy"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    for path in PLANTED:
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        (copy / path).write_bytes(b"planted")
    (copy / "model/zoo/linked.json").symlink_to(copy / "runs/x.txt")  # a link may point anywhere: skipped
    proc = deploy("x/y", "--dry-run", env=env, cwd=work, root=copy)
    assert proc.returncode == 0, proc.stderr
    files = listed(proc.stdout)
    assert f"from {copy} to" in proc.stdout  # the copy's files, not the checkout's
    assert set(files) == set(space_files(ROOT)) == set(space_files(copy))
    assert not set(PLANTED) & set(files) and "model/zoo/linked.json" not in files


# The end-to-end proof -------------------------------------------------------------------------
def test_the_deployed_space_downloads_and_answers(hub_server, deployed, work):
    sha, out = deployed["sha"], deployed["proc"].stdout
    assert f"Deployed {SPACE} @ {sha}" in out and f"{hub_server.url}/spaces/{SPACE}" in out
    assert hub_server.variables(SPACE) == {"ADDITION_MODELS": MODEL_REPO}
    assert [c.message for c in hub_server.history(SPACE, repo_type="space")] == ["first deploy", "initial commit"]
    assert len([r for r in hub_server.requests_for(f"/api/spaces/{SPACE}/commit/") if r[0] == "POST"]) == 1
    stored = hub_server.files(SPACE, repo_type="space")
    expected = space_files(ROOT)
    assert sorted(stored) == expected  # exactly the allow-list: the Hub's first README was replaced
    assert all(stored[path] == (ROOT / path).read_bytes() for path in expected if path != "README.md")
    assert stored["README.md"] == CARD

    # The real client downloads the Space into an empty folder ...
    folder = work / "space"
    folder.mkdir()
    env = hub_env(hub_server, work / "home-space", hub_server.token)
    download = (
        "import sys; from huggingface_hub import snapshot_download; "
        f"snapshot_download({SPACE!r}, repo_type='space', local_dir=sys.argv[1])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", download, str(folder)], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(".cache/")
    )
    assert got == expected

    # ... where `python app.py` starts with nothing from the checkout importable ...
    log_path = work / "space-app.log"
    with running_app(folder, {**env, **hub_server.variables(SPACE)}, log_path) as url:
        # ... and answers through the real API.
        from gradio_client import Client

        client = Client(url, verbose=False)
        try:
            result = client.predict("535+61", api_name="/predict")
            # The Space variable brought in the model repo, downloaded from the Hub at start-up.
            from_hub = client.predict("535+61", MODEL_REPO, api_name="/predict")
        finally:
            client.close()
        assert (result["error"], result["answer"]) == (None, 596)
        assert (from_hub["error"], from_hub["model"], from_hub["answer"]) == (None, MODEL_REPO, 596)
        assert "Traceback" not in log_path.read_text()


def test_the_dry_run_files_alone_start_the_app_and_train_your_own_works(hub_server, env, work):
    """Exactly the listed files, copied to an empty folder: the app starts there and /train (which runs
    `python -m trainer.live` from that folder) gives a model that answers."""
    proc = deploy("org/train-check", "--dry-run", env=env, cwd=work)
    assert proc.returncode == 0, proc.stderr
    folder = work / "dry-run-files"
    for path in listed(proc.stdout):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, folder / path)
    log_path = work / "dry-run-app.log"
    with running_app(folder, hub_env(hub_server, work / "home-dry-run", None), log_path) as url:
        from gradio_client import Client

        client = Client(url, verbose=False)
        try:
            job = client.submit(1, "+", 2, True, "lstm", 8, 5, api_name="/train")  # the smallest training allowed
            events = [e for e in job if isinstance(e, dict)] or [e for e in job.outputs() if isinstance(e, dict)]
            final = job.outputs()[-1] if job.outputs() else None
            assert isinstance(final, dict) and final.get("event") == "done", (events, log_path.read_text()[-3000:])
            answer = client.predict("3+4", final["model"], api_name="/predict")
            info = client.predict(final["model"], api_name="/model_info")
        finally:
            client.close()
        assert answer["error"] is None and answer["model"] == final["model"] and isinstance(answer["answer"], int)
        assert info["error"] is None and not [
            n for n in info["notes"] if "ignored" in n
        ]  # its analyses pass the checks
        assert "Traceback" not in log_path.read_text()


def test_a_second_deploy_changes_nothing_and_a_stale_file_is_removed(hub_server, deployed, env, work):
    sha = deployed["sha"]
    before = hub_server.files(SPACE, repo_type="space")
    again = deploy(SPACE, env=env, cwd=work)
    assert again.returncode == 0, again.stderr
    assert f"Deployed {SPACE} @ {sha}" in again.stdout  # nothing changed: no new commit
    assert len(hub_server.history(SPACE, repo_type="space")) == 2
    assert hub_server.files(SPACE, repo_type="space") == before

    # A file that is in the Space but not in the allow-list (an old upload, a hand edit) goes.
    hub_server.put_files(SPACE, {"old_app.py": b"print('old')\n", "runs/x.txt": b"x"}, repo_type="space")
    mirrored = deploy(SPACE, "--message", "mirror", env=env, cwd=work)
    assert mirrored.returncode == 0, mirrored.stderr
    assert hub_server.history(SPACE, repo_type="space")[0].message == "mirror"
    assert hub_server.files(SPACE, repo_type="space") == before


def test_model_flags_set_the_space_variables(hub_server, env, work):
    proc = deploy("org/with-model", "--model", "x/y", "--models", "add2,org/other@v2", "--private", env=env, cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert hub_server.variables("org/with-model") == {"ADDITION_MODEL": "x/y", "ADDITION_MODELS": "add2,org/other@v2"}
    assert "Space variable ADDITION_MODEL=x/y" in proc.stdout and hub_server.spaces["org/with-model"].private
    pinned = deploy("org/with-model", "--revision", "v1", env=env, cwd=work)  # the others stay as they were
    assert pinned.returncode == 0, pinned.stderr
    assert hub_server.variables("org/with-model") == {
        "ADDITION_MODEL": "x/y",
        "ADDITION_MODELS": "add2,org/other@v2",
        "ADDITION_MODEL_REVISION": "v1",
    }


# Failures: one sentence, exit 1, the token never shown ----------------------------------------------
@pytest.mark.parametrize(
    "case, says",
    [
        ("wrong token", "the Hub refused the token (HTTP 401)"),
        ("read-only token", "the token may not write to org/failing-read-only-token (HTTP 403)"),
        ("no token", "No Hugging Face token found: set HF_TOKEN"),
        ("server error", "the Hub answered with a server error (HTTP 500)"),
        ("unreachable", "could not reach the Hub at http://127.0.0.1:"),
    ],
)
def test_failures_are_one_sentence_and_exit_1(hub_server, work, case, says):
    space = "org/failing-" + case.replace(" ", "-")
    token = {"wrong token": WRONG_TOKEN, "read-only token": hub_server.read_token, "no token": None}.get(
        case, hub_server.token
    )
    endpoint = f"http://127.0.0.1:{free_port()}" if case == "unreachable" else hub_server.url
    if case == "server error":
        hub_server.fail(f"/api/spaces/{space}/commit/", status=500)
    proc = deploy(space, env=hub_env(hub_server, work / "home-failing", token, HF_ENDPOINT=endpoint), cwd=work)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (token and token in proc.stderr)
    if case == "server error":  # created, but the commit failed: the Space holds only the Hub's first commit
        assert [c.message for c in hub_server.history(space, repo_type="space")] == ["initial commit"]
    else:
        assert space not in hub_server.spaces


def test_a_space_config_the_hub_rejects_is_one_sentence(hub_server, env, work):
    """A front matter with python_version: 3.10 (a number, read as 3.1) is refused before anything changes."""
    copy = app_copy(work / "bad-readme")
    readme = (copy / "README.md").read_text()
    (copy / "README.md").write_text(readme.replace('python_version: "3.11"', "python_version: 3.10", 1))
    proc = deploy("org/bad-readme", env=env, cwd=work, root=copy)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert 'the Hub rejected README.md\'s front matter ("python_version" must be a string)' in proc.stderr
    assert [c.message for c in hub_server.history("org/bad-readme", repo_type="space")] == ["initial commit"]


@pytest.mark.parametrize("path", ["web/html.py", "model/zoo/add3/extra.json", "README.md"])
def test_a_file_holding_a_token_stops_the_deploy_and_the_dry_run(hub_server, env, work, path):
    """Names that look harmless (a .py, a .json, the README) do not let a token through."""
    copy = app_copy(work / f"tokened-{path.replace('/', '-')}")
    with open(copy / path, "a") as f:
        f.write(f"\nHF_TOKEN = {PLANTED_TOKEN!r}\n")
    space = f"org/tokened-{len(path)}"
    for args in (["--dry-run"], []):
        proc = deploy(space, *args, env=env, cwd=work, root=copy)
        assert proc.returncode == 1 and proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
        assert proc.stderr.startswith(f"error: Refusing to deploy: {path} holds something shaped like a Hugging Face")
        assert PLANTED_TOKEN not in proc.stderr
    assert space not in hub_server.spaces and hub_server.requests_for(space) == []


def test_a_linked_required_file_is_refused_not_followed(hub_server, env, work):
    copy = app_copy(work / "linked")
    (work / "requirements-elsewhere.txt").write_bytes((copy / "requirements.txt").read_bytes())
    (copy / "requirements.txt").unlink()
    (copy / "requirements.txt").symlink_to(work / "requirements-elsewhere.txt")
    proc = deploy("org/linked", "--dry-run", env=env, cwd=work, root=copy)
    assert proc.returncode == 1 and "lacks requirements.txt (as plain files: links are never uploaded)" in proc.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["not-a-space"], "is not a Space id"),
        (["a/b", "--models", "x,,y"], "--models must be"),
        (["a/b", "--model", ""], "--model must be"),
        (["a/b", "--no-such-flag"], "unrecognized arguments"),
        ([], "required: OWNER/SPACE"),
    ],
)
def test_bad_arguments_are_one_sentence_and_exit_2(hub_server, env, work, args, says):
    before = len(hub_server.requests)
    proc = deploy(*args, env=env, cwd=work)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr
    assert len(hub_server.requests) == before


def test_help_explains_every_flag(env, work):
    proc = deploy("--help", env=env, cwd=work)
    assert proc.returncode == 0
    for word in (
        "OWNER/SPACE",
        "--private",
        "--model",
        "--models",
        "--revision",
        "--message",
        "--dry-run",
        "ADDITION_MODEL",
        "ADDITION_MODELS",
        "ADDITION_MODEL_REVISION",
        "HF_TOKEN",
    ):
        assert word in proc.stdout


def test_the_token_never_appears_in_output_or_the_space(hub_server, deployed, work):
    texts = [*TRANSCRIPT, *(p.read_text() for p in work.glob("*.log"))]
    stored = [
        data
        for repo in hub_server.spaces.values()
        for commit in repo.commits.values()
        for data in commit.files.values()
    ]
    variables = [v["value"] for repo in hub_server.spaces.values() for v in repo.variables.values()]
    for token in (hub_server.token, hub_server.read_token, WRONG_TOKEN):
        assert not any(token in text for text in texts + variables)
        assert not any(token.encode() in data for data in stored)
