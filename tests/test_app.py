"""The Gradio app through its real API: `python app.py` in a subprocess, called with gradio_client and raw HTTP.

One server per module. It serves the bundled zoo plus two model folders made
here with hostile metrics files (NaN numbers; a note full of markup), named
with --models, exactly as a person or a Space would start it. A few tests use
the service in-process where the server cannot be steered (a failure inside).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from app_fixtures import ROOT, free_port
from gradio_client import Client

pytestmark = pytest.mark.slow  # the app, served

BAD_INPUTS = {  # input -> a phrase its error message must contain
    "12a+3": "character",
    "abc": "character",
    "": "Type a question",
    "   ": "Type a question",
    "12345+1": "outside what this model learned",
    "1+2+3": "exactly 2 numbers",
    "42": "exactly 2 numbers",
    "-5+3": "Negative numbers",
    "5+-3": "Negative numbers",
    "5-3": "only knows +",
    "5*3": "only knows +",
    "5 5+1": "cannot contain spaces",
    "x" * 10_000: "at most 200",
    "+".join(["9"] * 5000): "at most 200",
    "1++2": "misplaced operator",
    "٣+٤": "character",
}
NON_STRINGS = [5, None, [1, 2], {"a": 1}, True, 3.5]
NOT_NUMBERS = ["²", "①", "٥", "５", "9" * 5000, "1e3", "-1", 2.5, None, True, "", "0x10"]
HOSTILE_NOTE = '![pixel](http://127.0.0.1:9/pixel.png) <img src="http://127.0.0.1:9/x.png" onerror="alert(1)">'


def strict_json(text: str | bytes):
    """json.loads that refuses NaN and Infinity, as strict parsers (browsers' JSON.parse) do."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def hostile_models(tmp_path_factory):
    """Two copies of the bundled model whose metrics.json a stranger wrote."""
    from model.storage import BUNDLED_DIR, MAP_FILE

    base = tmp_path_factory.mktemp("models")
    nan = shutil.copytree(BUNDLED_DIR, base / "nan-metrics", ignore=shutil.ignore_patterns(MAP_FILE))
    (nan / "metrics.json").write_text('{"heldout_exact_match": NaN, "exhaustive_wrong": Infinity}')
    note = shutil.copytree(BUNDLED_DIR, base / "html-note", ignore=shutil.ignore_patterns(MAP_FILE))
    (note / "metrics.json").write_text(
        json.dumps(
            {"heldout_exact_match": 0.5, "note": HOSTILE_NOTE, "exhaustive_wrong": "x", "exhaustive_total": {"a": 1}}
        )
    )
    return nan, note


@pytest.fixture(scope="module")
def server(tmp_path_factory, hostile_models):
    """`python app.py --host 127.0.0.1 --port N --models …`, as a person (or a Space) starts it."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    models = ",".join(str(p) for p in hostile_models)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--models", models],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
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
            time.sleep(0.3)
    yield url, proc, log_path
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def client(server):
    c = Client(server[0], verbose=False)
    yield c
    c.close()


def predict(client: Client, question: object, model: str | None = None) -> dict:
    if model is None:
        return client.predict(question, api_name="/predict")
    return client.predict(question, model, api_name="/predict")


def post(url: str, path: str, payload: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + path, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def assert_clear_error(result: dict, phrase: str) -> None:
    assert isinstance(result["error"], str) and phrase in result["error"], result["error"]
    assert "Traceback" not in result["error"] and 'File "' not in result["error"]
    assert result["answer"] is None and result["positions"] is None


# One question ---------------------------------------------------------------------------------------
def test_predict_explains_the_network_input_and_every_position(client):
    result = predict(client, "535 + 61")
    assert result["error"] is None and result["model"] == "add3"
    assert result["question"] == "535+61"
    assert result["network_input"] == " 16+535"  # padded to 7 on the right, then reversed
    assert result["true_answer"] == 596 and result["true_text"] == "596 "
    info = client.predict(api_name="/model_info")
    assert len(result["positions"]) == info["task"]["answer_length"] == 4
    for pos in result["positions"]:
        probabilities = [t["probability"] for t in pos["top"]]
        assert len(pos["top"]) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert pos["char"] == pos["top"][0]["char"] and pos["confidence"] == pytest.approx(probabilities[0])
        assert pos["wrong"] == (pos["char"] != pos["true_char"])
        assert (pos["margin"] > 0) == (not pos["wrong"])
    assert result["correct"] == (not any(p["wrong"] for p in result["positions"]))
    assert result["min_margin"] == pytest.approx(min(p["margin"] for p in result["positions"]))


@pytest.mark.parametrize("question, total", [("535+61", 596), ("12+7", 19), ("305+148", 453), ("77+420", 497)])
def test_predict_answers_ordinary_sums_correctly(client, question, total):
    result = predict(client, question)
    assert (result["error"], result["answer"], result["correct"]) == (None, total, True), result["answer_text"]


@pytest.mark.parametrize("question, phrase", BAD_INPUTS.items(), ids=lambda v: repr(v)[:20])
def test_bad_input_gets_a_clear_sentence(client, question, phrase):
    assert_clear_error(predict(client, question), phrase)


@pytest.mark.parametrize("value", NON_STRINGS, ids=repr)
def test_non_string_arguments_are_refused_clearly(client, value):
    assert_clear_error(predict(client, value), "Expected text")


def test_spaces_around_numbers_are_fine_but_not_inside(client):
    assert predict(client, " 535 +\t61 ")["answer"] == 596
    assert_clear_error(predict(client, "5 5+1"), "cannot contain spaces")
    assert_clear_error(predict(client, "55+1 0"), "cannot contain spaces")


def test_a_model_can_be_named_and_an_unknown_one_is_explained(client):
    assert predict(client, "535+61", "add3")["answer"] == 596
    assert predict(client, "535+61", "nan-metrics")["model"] == "nan-metrics"
    result = predict(client, "535+61", "no-such-model")
    assert "There is no model called no-such-model" in result["error"] and "add3" in result["error"]


def test_server_keeps_serving_after_bad_input_without_tracebacks(client, server):
    for question in ["", "x" * 10_000, None, "1+2+3", {"data": [1]}]:
        assert predict(client, question)["error"]
    assert predict(client, "535+61")["error"] is None
    _, proc, log_path = server
    assert proc.poll() is None
    assert "Traceback" not in log_path.read_text()


def test_raw_http_works_with_and_without_the_model_argument(server):
    url = server[0]
    for data in (["535+61"], ["535+61", None], ["535+61", "add3"]):
        status, body = post(url, "/gradio_api/run/predict", {"data": data})
        assert status == 200 and strict_json(body)["data"][0]["answer"] == 596, body[:300]
    status, body = post(url, "/gradio_api/call/predict", {"data": ["12+7"]})  # the queued REST form
    event_id = strict_json(body)["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/predict/{event_id}", timeout=60) as stream:
        text = stream.read().decode()
    assert "event: complete" in text and '"answer":19' in text.replace(" ", "")


# Many questions ---------------------------------------------------------------------------------------
def test_predict_batch_scores_valid_lines_and_explains_invalid_ones(client):
    result = client.predict("535+61\nabc\n\n1000+1\n 12 + 7 \n", api_name="/predict_batch")
    assert result["error"] is None
    rows = result["rows"]
    assert [r["question"] for r in rows] == ["535+61", "abc", "1000+1", "12+7"]  # blank line skipped
    assert (result["total"], result["valid"]) == (4, 2)
    assert "character" in rows[1]["error"] and "outside what this model learned" in rows[2]["error"]
    assert [r["true_answer"] for r in rows] == [596, None, None, 19]
    assert result["accuracy"] == pytest.approx(result["correct"] / 2)


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("\n".join(["1+1"] * 501), "at most 500"),
        ("1" * 20_001, "at most 20,000"),
        ("", "Paste one question per line"),
        ("\n \n", "Paste one question per line"),
        (42, "Expected text"),
        (None, "Expected text"),
    ],
)
def test_predict_batch_limits(client, text, phrase):
    result = client.predict(text, api_name="/predict_batch")
    assert phrase in result["error"] and result["rows"] == []


def test_random_sums_are_sampled_in_range_and_repeatable(client):
    first = client.predict(50, "7", api_name="/random_sums")
    assert (first["error"], first["total"], first["valid"], first["seed"]) == (None, 50, 50, 7)
    for row in first["rows"]:
        terms = [int(t) for t in row["question"].split("+")]
        assert len(terms) == 2 and all(0 <= t <= 999 for t in terms) and row["true_answer"] == sum(terms)
    again = client.predict(50, 7, api_name="/random_sums")
    assert [r["question"] for r in again["rows"]] == [r["question"] for r in first["rows"]]
    assert client.predict(300, 1, api_name="/random_sums")["accuracy"] >= 0.99


@pytest.mark.parametrize("n", [*NOT_NUMBERS, 0, 501, -3], ids=repr)
def test_one_rule_for_what_a_number_is(client, server, n):
    """Only ASCII digits (or a JSON whole number) count: "٥", "５", "²" and "①" are refused, never a traceback."""
    result = client.predict(n, "", api_name="/random_sums")
    assert "The number of questions must be a whole number from 1 to 500" in result["error"], result["error"]
    seeded = client.predict(5, n, api_name="/random_sums")
    if n not in ("", None, 0, 501):  # those are fine seeds
        assert "The seed must be a whole number" in seeded["error"], (n, seeded["error"])
    assert "Traceback" not in server[2].read_text()


# The models ----------------------------------------------------------------------------------------------
def test_models_lists_the_zoo_and_the_named_folders(client):
    listing = client.predict(api_name="/models")
    names = [m["name"] for m in listing["models"]]
    assert listing["default"] == "add3" and {"add3", "nan-metrics", "html-note"} <= set(names)
    add3 = next(m for m in listing["models"] if m["name"] == "add3")
    assert add3["task"] == "3-digit addition, 2 numbers" and add3["cell"] == "lstm" and add3["accuracy"] > 0.999


def test_model_info_is_strict_json_even_when_a_metrics_file_holds_nan(server):
    status, body = post(server[0], "/gradio_api/run/model_info", {"data": ["nan-metrics"]})
    info = strict_json(body)["data"][0]
    assert status == 200 and info["error"] is None and info["metrics"] == {}
    assert any("metrics.json was ignored" in note for note in info["notes"])


def test_invalid_metric_fields_are_dropped_with_a_note(client):
    info = client.predict("html-note", api_name="/model_info")
    assert "exhaustive_wrong" not in info["metrics"] and "exhaustive_total" not in info["metrics"]
    assert info["metrics"]["note"] == HOSTILE_NOTE  # kept as data; the page shows it as text
    assert any("ignored invalid fields" in note for note in info["notes"])


def test_a_repo_note_is_shown_as_text_never_as_markup(client):
    from web.about import model_html

    html = model_html(client.predict("html-note", api_name="/model_info"))
    assert "<img" not in html and "&lt;img" in html and "![pixel]" in html


def test_model_info_describes_task_network_and_limits(client):
    info = client.predict(api_name="/model_info")
    assert (info["task"]["digits"], info["task"]["terms"], info["task"]["operators"]) == (3, 2, "+")
    assert info["network"] == {
        "cell": "lstm",
        "encoder_units": 128,
        "decoder_units": 128,
        "encoder_layers": 1,
        "decoder_layers": 1,
    }
    assert info["limits"] == {"question_chars": 200, "batch_lines": 500, "batch_chars": 20_000, "random_sums": 500}
    assert info["examples"] and info["source"] == "bundled" and info["offline"]


def test_compare_attribution_and_states(client):
    both = client.predict("535+61", "add3", "nan-metrics", api_name="/compare")
    assert both["a"]["answer"] == both["b"]["answer"] == 596
    many = client.predict(20, 3, "add3", "html-note", api_name="/compare_random")
    assert [r["question"] for r in many["a"]["rows"]] == [r["question"] for r in many["b"]["rows"]]
    grid = client.predict("199+1", api_name="/attribution")
    assert len(grid["grid"]) == 4 and len(grid["grid"][0]) == 7 and grid["method"] == "occlusion"
    assert grid["grid"][0][4] > 0.5  # 200's hundreds digit depends on 199's units digit (the carry)
    states = client.predict("535+61", api_name="/states")
    encoder, decoder = states["layers"]
    assert len(encoder["hidden"]) == 128 and len(encoder["hidden"][0]) == 7 and len(decoder["hidden"][0]) == 4
    assert set(encoder["gates"]) == {"input", "forget", "output", "candidate"}


def test_api_lists_exactly_the_named_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {
        "/predict",
        "/predict_batch",
        "/random_sums",
        "/attribution",
        "/states",
        "/compare",
        "/compare_random",
        "/model_info",
        "/models",
        "/train",
    }


def test_cli_help_documents_every_option():
    done = subprocess.run(
        [sys.executable, "app.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for option in ("--model", "--models", "--revision", "--host", "--port", "ADDITION_MODELS", "GRADIO_SERVER_PORT"):
        assert option in done.stdout


# In-process: what the running server cannot be put into ------------------------------------------------
def test_an_internal_failure_becomes_a_message_not_a_traceback(monkeypatch, caplog):
    from model.serving import load_catalogue
    from web.service import INTERNAL_ERROR, Service

    service = Service(load_catalogue(extra=[]))

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(service.served(None).predictor, "explain", broken)
    for result in (service.predict("1+2"), service.predict_batch("1+2"), service.random_sums(3)):
        assert result["error"] == INTERNAL_ERROR
    assert "secret internal detail" in caplog.text  # logged on the server, never sent
    assert service.predict("abc")["error"].startswith("The question has")  # input errors stay precise


def test_every_models_hints_and_examples_are_questions_it_accepts():
    from model.questions import example_questions, parse_question
    from model.serving import load_catalogue
    from web.service import Service

    service = Service(load_catalogue(extra=[]))
    for name in service.names():
        task = service.served(name).task
        for question in example_questions(task, 4) + service.model_info(name)["examples"]:
            parse_question(question, task)  # raises InputError if a hint suggested a refused question
        empty = service.predict("", name)["error"]
        hinted = re.search(r"such as (\S+)\.", empty)
        assert hinted and parse_question(hinted.group(1), task), empty


def test_readme_front_matter_deploys_this_app_as_a_space():
    yaml = pytest.importorskip("yaml")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with Hugging Face Space front matter between '---' lines"
    front = yaml.safe_load(match.group(1))
    pin = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin and front["sdk"] == "gradio" and str(front["sdk_version"]) == pin.group(1)
    assert front["app_file"] == "app.py" and str(front["python_version"]) == "3.11"
