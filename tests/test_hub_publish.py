"""Publishing to the Hub, end to end, with the real huggingface_hub client.

`python -m trainer.publish` and its Python API against the local Hub (tests/hub_server.py):
what one publish uploads and how it loads back, the model card, revisions and branches, the
refusals (quality gate, unloadable folder, links and tokens in files, missing or refused token,
failed upload), and that no token ends up in any output or file. The client processes and
folders are in tests/hub_clients.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from hub_clients import (  # noqa: F401  (fixtures: work, clients, client, folders, published, the fault reset)
    ROOT,
    TRANSCRIPT,
    UPLOADED,
    WRONG_TOKEN,
    client_env,
    client_fixture,
    clients_fixture,
    fingerprint,
    folders_fixture,
    no_leftover_faults_fixture,
    published_fixture,
    run_cli,
    snapshot,
    work_fixture,
)
from hub_server import hub_server_fixture  # noqa: F401  (the local Hub-compatible server, as the fixture hub_server)

from model.codec import answer_texts, encode_questions, one_hot
from model.network import greedy_probabilities
from model.questions import make_questions

pytestmark = pytest.mark.slow  # a Hub server


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
    # a named pipe would make publish wait for ever; a hard link's file may lie outside the folder
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
