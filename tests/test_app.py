"""The Gradio app through its real API: `python app.py` in a subprocess, called with gradio_client.

One server per module (it takes seconds to load TensorFlow). The questions
whose *answers* are checked need the trained bundled model; everything else
(error messages, limits, table arithmetic, concurrency) holds for any model.
A few tests use `app.AdditionService` in-process where the server cannot be
steered: a tiny 1-digit model, a model-loading fallback, an internal failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from app_fixtures import ROOT, free_port

from gradio_client import Client

BAD_INPUTS = {  # input -> a phrase its error message must contain
    "12a+3": "character",
    "abc": "character",
    "": "Type a sum",
    "   ": "Type a sum",
    "12345+1": "outside what this model learned",
    "1+2+3": "exactly 2 numbers",
    "42": "exactly 2 numbers",
    "-5+3": "Negative numbers",
    "5+-3": "Negative numbers",
    "x" * 10_000: "at most 200",
    "+".join(["9"] * 5000): "at most 200",
    "1++2": "misplaced '+'",
}
NON_STRINGS = [5, None, [1, 2], {"a": 1}, True, 3.5]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python app.py --host 127.0.0.1 --port N`, exactly as a person (or a Space) starts it."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"app.py did not start within 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, proc, log_path
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def client(server):
    return Client(server[0], verbose=False)


def predict(client: Client, question: object) -> dict:
    return client.predict(question, api_name="/predict")


def assert_clear_error(result: dict, phrase: str) -> None:
    assert isinstance(result["error"], str) and phrase in result["error"], result["error"]
    assert "Traceback" not in result["error"] and 'File "' not in result["error"]
    assert result["answer"] is None and result["positions"] is None


# One sum --------------------------------------------------------------------------------------
def test_predict_explains_the_network_input_and_every_position(client):
    result = predict(client, "535 + 61")
    assert result["error"] is None
    assert result["question"] == "535+61" and result["terms"] == [535, 61]
    assert result["network_input"] == " 16+535"  # padded to 7 on the right, then reversed
    info = client.predict(api_name="/model_info")
    alphabet = info["alphabet"]
    assert [alphabet[row.index(1)] for row in result["one_hot"]] == list(" 16+535")
    assert all(sum(row) == 1 and len(row) == len(alphabet) for row in result["one_hot"])
    assert result["true_answer"] == 596 and result["true_text"] == "596 "
    assert len(result["positions"]) == info["answer_length"] == 4
    for pos in result["positions"]:
        probabilities = [t["probability"] for t in pos["top"]]
        assert len(pos["top"]) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert pos["char"] == pos["top"][0]["char"] and pos["confidence"] == pytest.approx(probabilities[0])
        assert 0 <= probabilities[-1] <= probabilities[0] <= 1
        assert pos["wrong"] == (pos["char"] != pos["true_char"])
    assert result["correct"] == (not any(p["wrong"] for p in result["positions"]))
    assert result["min_confidence"] == pytest.approx(min(p["confidence"] for p in result["positions"]))


@pytest.mark.parametrize("question, total", [("535+61", 596), ("12+7", 19), ("305+148", 453), ("77+420", 497)])
def test_predict_answers_ordinary_sums_correctly(client, question, total):
    """Needs the trained bundled model (fails on the untrained placeholder, by design)."""
    result = predict(client, question)
    assert result["error"] is None
    assert (result["answer"], result["correct"]) == (total, True), result["answer_text"]


def test_a_number_beyond_the_models_digits_is_explained(client):
    assert_clear_error(predict(client, "1000+1"), "outside what this model learned")
    assert "0 to 999" in predict(client, "1000+1")["error"]


@pytest.mark.parametrize("question, phrase", BAD_INPUTS.items(), ids=lambda v: repr(v)[:20])
def test_bad_input_gets_a_clear_sentence(client, question, phrase):
    assert_clear_error(predict(client, question), phrase)


@pytest.mark.parametrize("value", NON_STRINGS, ids=repr)
def test_non_string_arguments_are_refused_clearly(client, value):
    assert_clear_error(predict(client, value), "Expected text")


def test_server_keeps_serving_after_bad_input_without_tracebacks(client, server):
    for question in ["", "x" * 10_000, None, "1+2+3"]:
        assert predict(client, question)["error"]
    assert predict(client, "535+61")["error"] is None
    _, proc, log_path = server
    assert proc.poll() is None
    assert "Traceback" not in log_path.read_text()


def test_concurrent_requests_each_get_their_own_answer(client):
    """/predict is batched; answers must not be mixed up between callers in one batch."""
    questions = [f"{a}+{b}" for a, b in zip(range(100, 124), range(900, 876, -1))] + ["abc", "5000+1"]
    jobs = [client.submit(q, api_name="/predict") for q in questions]
    results = [job.result(timeout=120) for job in jobs]
    for question, result in zip(questions[:-2], results):
        a, b = map(int, question.split("+"))
        assert (result["question"], result["true_answer"], result["error"]) == (question, a + b, None)
    assert "character" in results[-2]["error"] and "outside" in results[-1]["error"]


# Many sums ------------------------------------------------------------------------------------
def test_predict_batch_scores_valid_lines_and_explains_invalid_ones(client):
    result = client.predict("535+61\nabc\n\n1000+1\n 12 + 7 \n", api_name="/predict_batch")
    assert result["error"] is None
    rows = result["rows"]
    assert [r["question"] for r in rows] == ["535+61", "abc", "1000+1", "12+7"]  # blank line skipped
    assert (result["total"], result["valid"]) == (4, 2)
    assert "character" in rows[1]["error"] and "outside what this model learned" in rows[2]["error"]
    assert [r["true_answer"] for r in rows] == [596, None, None, 19]
    for row in (rows[0], rows[3]):
        assert row["correct"] == (row["prediction"] == str(row["true_answer"]))
        assert 0 <= row["min_confidence"] <= 1
    assert result["correct"] == sum(bool(r["correct"]) for r in rows)
    assert result["accuracy"] == pytest.approx(result["correct"] / 2)


@pytest.mark.parametrize("text, phrase", [
    ("\n".join(["1+1"] * 1001), "at most 1,000"),
    ("1" * 100_001, "at most 100,000"),
    ("", "Paste one sum per line"),
    ("\n \n", "Paste one sum per line"),
    (42, "Expected text"),
    (None, "Expected text"),
])
def test_predict_batch_limits(client, text, phrase):
    result = client.predict(text, api_name="/predict_batch")
    assert phrase in result["error"] and result["rows"] == []


def test_predict_batch_accepts_the_maximum(client):
    result = client.predict("\n".join(["1+1", "2+2"] * 500), api_name="/predict_batch")
    assert (result["error"], result["total"], result["valid"]) == (None, 1000, 1000)


def test_random_sums_are_sampled_in_range_and_repeatable(client):
    first = client.predict(50, "7", api_name="/random_sums")
    assert (first["error"], first["total"], first["valid"], first["seed"]) == (None, 50, 50, 7)
    for row in first["rows"]:
        terms = [int(t) for t in row["question"].split("+")]
        assert len(terms) == 2 and all(0 <= t <= 999 for t in terms) and row["true_answer"] == sum(terms)
    again = client.predict(50, 7, api_name="/random_sums")
    assert [r["question"] for r in again["rows"]] == [r["question"] for r in first["rows"]]
    assert first["accuracy"] == pytest.approx(first["correct"] / 50)
    unseeded = client.predict(3, api_name="/random_sums")
    assert unseeded["error"] is None and isinstance(unseeded["seed"], int)


def test_random_sums_are_mostly_right(client):
    """Needs the trained bundled model: the accuracy the app reports should match its claims."""
    assert client.predict(300, 1, api_name="/random_sums")["accuracy"] >= 0.95


@pytest.mark.parametrize("n", [0, 1001, -3, 2.5, "abc", None, True])
def test_random_sums_limits(client, n):
    result = client.predict(n, "", api_name="/random_sums")
    assert "The number of sums must be a whole number from 1 to 1,000" in result["error"]


def test_random_sums_bad_seed(client):
    assert "The seed must be a whole number" in client.predict(5, "-1", api_name="/random_sums")["error"]


def test_random_sums_maximum(client):
    assert client.predict(1000, 3, api_name="/random_sums")["valid"] == 1000


# The model ------------------------------------------------------------------------------------
def test_model_info_says_which_model_answers(client):
    info = client.predict(api_name="/model_info")
    expected = os.environ.get("ADDITION_MODEL") or "bundled"
    assert info["source"] in (expected, "bundled")
    if info["source"] == "bundled":
        assert info["offline"] and info["description"] == "bundled model (offline)"
    assert (info["digits"], info["terms"], info["reverse"]) == (3, 2, True)
    assert info["limits"] == {"question_chars": 200, "batch_lines": 1000, "batch_chars": 100_000,
                              "random_sums": 1000}
    assert isinstance(info["notes"], list) and isinstance(info["metrics"], dict) and info["error"] is None


def test_api_lists_exactly_the_named_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {"/predict", "/predict_batch", "/random_sums", "/model_info"}


def test_cli_help_documents_every_option():
    done = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert done.returncode == 0, done.stderr[-2000:]
    for option in ("--model", "--revision", "--host", "--port", "ADDITION_MODEL", "GRADIO_SERVER_PORT"):
        assert option in done.stdout


# In-process: situations the running server cannot be put into ---------------------------------
@pytest.fixture(scope="module")
def app_module():
    import app
    return app


def test_a_tiny_model_refuses_what_it_never_learned(app_module, tmp_path):
    from model.config import TaskConfig
    from model.network import build_model
    from model.storage import save_model_dir

    config = TaskConfig(digits=1)
    save_model_dir(build_model(config, encoder_units=8, decoder_units=8), config, tmp_path / "tiny")
    service = app_module.AdditionService(app_module.load_for_app(str(tmp_path / "tiny")))
    result = service.predict("12+3")
    assert "12 is outside what this model learned" in result["error"] and "0 to 9" in result["error"]
    assert service.predict("4+5")["network_input"] == "5+4"
    assert service.model_info()["digits"] == 1


def test_a_loading_fallback_is_shown_in_the_model_panel(app_module):
    from app_views import model_markdown

    loaded = app_module.load_for_app("/nonexistent/model-folder")
    info = app_module.AdditionService(loaded).model_info()
    assert info["source"] == "bundled" and info["notes"]
    assert info["notes"][0] in model_markdown(info) and "nonexistent" in info["notes"][0]


def test_an_internal_failure_becomes_a_message_not_a_traceback(app_module, monkeypatch, caplog):
    service = app_module.AdditionService(app_module.load_for_app())

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service.predictor, "explain", broken)
    for result in (service.predict("1+2"), service.predict_batch("1+2"), service.random_sums(3)):
        assert result["error"] == app_module.INTERNAL_ERROR
    assert "secret internal detail" in caplog.text  # logged on the server, never sent
    assert service.predict("abc")["error"].startswith("The question has")  # input errors still precise


def test_handler_latency_is_about_a_millisecond(app_module):
    import timeit

    service = app_module.AdditionService(app_module.load_for_app())
    seconds = min(timeit.repeat(lambda: service.predict_many(["535+61"]), number=50, repeat=3)) / 50
    assert seconds < 0.05, f"{seconds * 1000:.1f} ms per /predict call"  # ~1 ms on a laptop CPU


# Space deployment -----------------------------------------------------------------------------
def test_readme_front_matter_deploys_this_app_as_a_space():
    yaml = pytest.importorskip("yaml")
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing; it carries the Space front matter"
    text = readme.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with Hugging Face Space front matter between '---' lines"
    front = yaml.safe_load(match.group(1))
    pin = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin, "requirements.txt must pin gradio=="
    assert front["sdk"] == "gradio"
    assert str(front["sdk_version"]) == pin.group(1)
    assert front["app_file"] == "app.py"
    assert str(front["python_version"]) == "3.11"
