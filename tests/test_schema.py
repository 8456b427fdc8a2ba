"""Every call's data is checked against its function's input components before Gradio sees it.

The app is launched once for the module (in-process, `app_fixtures.served_app`)
and sent raw HTTP, as a hostile client would: direct calls
(/gradio_api/run/…), queued ones (/gradio_api/call/…, /gradio_api/queue/join
with its result read from /gradio_api/queue/data), by name or by fn_index,
the page's private events included. A bad input gets HTTP 400 and one
sentence naming the input, never the value sent; a bad fn_index 400, an
unknown name 404; and nothing a visitor sends makes a function fail inside
the server (no 500, no traceback in the log).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest
from app_fixtures import error_log, served_app

from web import call_schema

pytestmark = pytest.mark.slow  # the app, served

HUGE = "x" * 90_000  # under the 96 KiB body cap once JSON-encoded


@pytest.fixture(scope="module")
def server():
    """(url, the app's config, ERROR log records) for the app served in this process."""
    with error_log() as errors, served_app() as (url, app):
        yield url, app.demo.config, errors


def post(url: str, path: str, body: object) -> tuple[int, bytes]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + path, raw, {"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def queued(url: str, fn_index: int, data: list) -> tuple[int, dict | None]:
    """Join the queue as the page does and read the result: (join status, the completed message or None)."""
    session = uuid.uuid4().hex
    status, _ = post(url, "/gradio_api/queue/join", {"data": data, "fn_index": fn_index, "session_hash": session})
    if status != 200:
        return status, None
    with urllib.request.urlopen(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return status, message
    return status, None


def fn_index(config: dict, name: str) -> int:
    return next(dep["id"] for dep in config["dependencies"] if dep["api_name"] == name)


def assert_refused(status: int, body: bytes, *, words: str = "", code: int = 400) -> None:
    """One JSON sentence with the status `code`, short, repeating nothing of the value sent."""
    assert status == code, (status, body[:300])
    error = json.loads(body)["error"]
    assert error.endswith(".") and len(body) < 300 and "xxxxxxxx" not in error, body[:300]
    assert words in error, error


def assert_no_tracebacks(server, capfd) -> None:
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err, (out + err)[-3000:]
    assert not server[2], [r.getMessage()[:300] for r in server[2]]


# The model picker, sent 90 kB: by name, by a private event's fn_index, queued or direct ---------------------
@pytest.mark.parametrize(
    "path, by_index, data",
    [
        ("/gradio_api/run/show", None, ["535+61", HUGE]),  # a private event, by its name
        ("/gradio_api/run/models", "switch_model", [HUGE, "535+61"]),  # by fn_index (it wins over the path)
        ("/gradio_api/call/show", None, ["535+61", HUGE]),  # queued, by name
    ],
)
def test_a_huge_model_name_is_refused_without_echo(server, capfd, path, by_index, data):
    url, config, _ = server
    body = {"data": data} | ({"fn_index": fn_index(config, by_index)} if by_index else {})
    assert_refused(*post(url, path, body), words='"Model" input')
    assert_no_tracebacks(server, capfd)


def test_a_huge_model_name_in_a_queue_join_is_refused(server, capfd):
    url, config, _ = server
    index = fn_index(config, "switch_model")
    body = {"data": [HUGE, ""], "fn_index": index, "session_hash": uuid.uuid4().hex}
    assert_refused(*post(url, "/gradio_api/queue/join", body), words='"Model" input')
    assert_no_tracebacks(server, capfd)


def test_a_radio_or_dropdown_takes_the_choices_the_session_holds(server, capfd):
    url, config, _ = server
    train = fn_index(config, "train_page")  # Cell: a Radio of lstm, gru and simple_rnn, never changed
    data = [2, ["+"], 2, True, HUGE, 64, 30, "repeat", "msb"]
    assert_refused(*post(url, "/gradio_api/queue/join", {"data": data, "fn_index": train, "session_hash": "s"}))
    data[4] = "transformer"
    status, answer = post(url, "/gradio_api/queue/join", {"data": data, "fn_index": train, "session_hash": "s"})
    assert_refused(status, answer, words='"Cell" input takes one of its choices')
    # The picker gains a visitor's own model for that visitor's session only: a name it never gave (or one
    # of a session the server has dropped) is refused in a sentence, not by Gradio's "not in the list" error.
    session = uuid.uuid4().hex
    for name in ("yours-0123456789ab", "add3 ", 3):
        body = {"data": ["535+61", name], "session_hash": session}
        assert_refused(*post(url, "/gradio_api/run/show", body), words='"Model" input takes one of its choices')
    assert post(url, "/gradio_api/run/show", {"data": ["535+61", "gru3"], "session_hash": session})[0] == 200
    # The bundled zoo has no bracket task, so its Bracket pattern radio holds no choices at all
    assert_refused(*post(url, "/gradio_api/run/draw", {"data": ["add3", "(a+b)+c"]}), words='"Bracket pattern"')
    assert post(url, "/gradio_api/run/draw", {"data": ["add3", None]})[0] == 200
    assert_no_tracebacks(server, capfd)


# Arity, fn_index, names ----------------------------------------------------------------------------------
def test_too_many_inputs_are_refused_and_too_few_padded(server, capfd):
    url, config, _ = server
    status, answer = post(url, "/gradio_api/run/show", {"data": ["535+61", "add3", "extra"]})
    assert_refused(status, answer, words="takes 2 inputs, not 3")
    status, answer = post(url, "/gradio_api/run/models", {"data": ["535+61"], "fn_index": fn_index(config, "show")})
    assert status == 200 and "596" in json.loads(answer)["data"][0], answer[:300]
    assert_no_tracebacks(server, capfd)


@pytest.mark.parametrize("index", [999, -1, "0", 1.5, True, [0], {"a": 1}])
def test_a_forged_fn_index_is_refused(server, capfd, index):
    url = server[0]
    body = {"data": ["535+61"], "fn_index": index, "session_hash": uuid.uuid4().hex}
    for path in ("/gradio_api/queue/join", "/gradio_api/run/models"):
        assert_refused(*post(url, path, body), words="fn_index")
    assert_no_tracebacks(server, capfd)


def test_a_join_without_fn_index_and_an_unknown_name_are_refused(server, capfd):
    url = server[0]
    body = {"data": [], "session_hash": uuid.uuid4().hex}
    assert_refused(*post(url, "/gradio_api/queue/join", body), words="fn_index")
    for path in ("/gradio_api/run/no_such", "/gradio_api/call/no_such", "/gradio_api/call/v2/no_such"):
        assert_refused(*post(url, path, {"data": []}), code=404)
    assert_refused(*post(url, "/gradio_api/call/v2/show", {"question": "1+1"}), code=404)  # private: not an endpoint
    assert_no_tracebacks(server, capfd)


@pytest.mark.parametrize(
    "body, words",
    [
        (["535+61"], "JSON object"),
        ({"data": "535+61"}, "data must be a list"),
        ({"fn_index": 0}, "data must be a list"),
        ({"data": [], "session_hash": 5}, "session_hash"),
    ],
)
def test_a_call_body_of_the_wrong_shape_is_refused(server, capfd, body, words):
    assert_refused(*post(server[0], "/gradio_api/run/show", body), words=words)
    assert_no_tracebacks(server, capfd)


# Input types ---------------------------------------------------------------------------------------------
def test_a_number_to_a_textbox_and_overlong_text_are_refused(server, capfd):
    url = server[0]
    assert_refused(*post(url, "/gradio_api/run/show", {"data": [535.61, "add3"]}), words='"Question" input')
    assert_refused(*post(url, "/gradio_api/run/show", {"data": ["1" * 201, "add3"]}), words="at most 200")
    status, answer = post(url, "/gradio_api/run/show", {"data": ["535+61".center(200), "add3"]})
    assert status == 200, answer[:300]
    assert_no_tracebacks(server, capfd)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1" + b"0" * 400, b'"5"', b"true"])
def test_nan_huge_or_non_numbers_to_a_slider_are_refused(server, capfd, value):
    """The Step slider (lenient: its view checks the range) and the Units slider (Gradio checks it)."""
    url, config, _ = server
    step = b'{"data": ["535+61", "add3", %s, []]}' % value
    assert_refused(*post(url, "/gradio_api/run/render", step), words='"Step" input takes a finite number')
    units = b'{"data": [2, ["+"], 2, true, "lstm", %s, 30, null, null], "fn_index": %d, "session_hash": "s"}' % (
        value,
        fn_index(config, "train_page"),
    )
    assert_refused(*post(url, "/gradio_api/queue/join", units), words='"Units" input takes a number from 8 to 256')
    assert_no_tracebacks(server, capfd)


def test_a_checked_slider_out_of_range_is_refused_and_a_lenient_one_passes(server, capfd):
    url, config, _ = server
    units = [2, ["+"], 2, True, "lstm", 100_000, 30, None, None]
    body = {"data": units, "fn_index": fn_index(config, "train_page"), "session_hash": "s"}
    assert_refused(*post(url, "/gradio_api/queue/join", body), words="from 8 to 256")
    status, answer = post(url, "/gradio_api/run/render", {"data": ["535+61", "add3", 10**6, []]})
    assert status == 200 and "whole number from 1 to" in answer.decode(), answer[:300]  # the view says it
    assert_no_tracebacks(server, capfd)


def test_checkbox_groups_checkboxes_and_examples_take_their_own_values(server, capfd):
    url, config, _ = server
    render = "/gradio_api/run/render"
    assert_refused(*post(url, render, {"data": ["1+1", "add3", 1, ["gates", "x"]]}), words='"Also show" input')
    assert_refused(*post(url, render, {"data": ["1+1", "add3", 1, "gates"]}), words='"Also show" input')
    assert post(url, render, {"data": ["1+1", "add3", 1, ["gates", "cell"]]})[0] == 200
    train = {"data": [2, ["+"], 2, "yes", "lstm", 64, 30, None, None], "fn_index": fn_index(config, "train_page")}
    assert_refused(*post(url, "/gradio_api/queue/join", {**train, "session_hash": "s"}), words="true or false")
    example = fn_index(config, "lambda")  # a click on an example sends its index
    for index in (4, -1, 10**9, "0", True):
        body = {"data": [index], "fn_index": example}
        assert_refused(*post(url, "/gradio_api/run/models", body), words='"Examples (click one)" input')
    status, answer = post(url, "/gradio_api/run/models", {"data": [3], "fn_index": example})
    assert status == 200 and json.loads(answer)["data"][0], answer[:300]
    assert_no_tracebacks(server, capfd)


def test_a_number_to_a_checkbox_group_is_refused(server, capfd):
    """A number is refused where a CheckboxGroup takes a list (len() on a number would be a 500)."""
    url, *_ = server
    for value in (5, 2.5, True):
        assert_refused(*post(url, "/gradio_api/run/render", {"data": ["1+1", "add3", 1, value]}), words="Also show")
    assert_no_tracebacks(server, capfd)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": ["\\ud800"]}',  # a lone surrogate, escaped
        b'{"data": ["1+1", "\\udc00"]}',
        json.dumps({"data": [[[["1+1"]]]]}).encode("utf-16"),  # UTF-16 with its byte-order mark
        json.dumps({"data": ["1+1"]}).encode("utf-16-le"),
        b"\xef\xbb\xbf" + json.dumps({"data": ["1+1"]}).encode(),  # a UTF-8 byte-order mark
    ],
    ids=["lone-high-surrogate", "lone-low-surrogate", "utf-16", "utf-16-le", "utf-8-bom"],
)
@pytest.mark.parametrize("path", ["/gradio_api/run/predict", "/gradio_api/queue/join", "/gradio_api/mcp/"])
def test_a_body_that_is_not_plain_utf8_is_refused_in_one_sentence(server, capfd, body, path):
    """A lone surrogate would give a bare 500 on direct calls, and a UTF-16 body would hide its nesting from
    the depth check (a RecursionError, a 500)."""
    url, *_ = server
    assert_refused(*post(url, path, body), words="UTF-8")
    assert post(url, "/gradio_api/run/predict", {"data": ["\U0001f600"]})[0] == 200  # a paired surrogate is fine
    assert_no_tracebacks(server, capfd)


@pytest.mark.parametrize(
    "arguments,words",
    [
        ({"bogus": 1}, "takes no argument named 'bogus'; it takes question, model"),
        ({}, "needs the argument 'question'"),
        ({"question": "1+1", "session_hash": "s"}, "takes no argument named 'session_hash'"),
        ({"question": "1+1", "x" * 5000: 1}, "takes no argument named 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"),
    ],
    ids=["unknown", "missing", "session_hash", "huge-name"],
)
def test_keyword_calls_name_only_the_endpoints_own_arguments(server, capfd, arguments, words):
    """/call/v2/predict with an unknown or missing keyword argument, or with session_hash: one sentence, not a 500."""
    url, *_ = server
    status, body = post(url, "/gradio_api/call/v2/predict", arguments)
    assert status == 400 and words in json.loads(body)["error"] and len(body) < 300, body[:300]
    assert post(url, "/gradio_api/call/v2/predict", {"question": "1+1", "model": "add2"})[0] == 200
    assert_no_tracebacks(server, capfd)


# Every function, called with nothing but nulls ------------------------------------------------------------
def test_every_function_given_nulls_answers_without_failing(server, capfd):
    url, config, _ = server
    # warm_up (no inputs) starts the trainer's TensorFlow subprocess: not something to run beside the tests
    functions = [dep for dep in config["dependencies"] if dep["backend_fn"] and dep["api_name"] != "warm_up"]
    assert len(functions) > 30
    for dep in functions:
        nulls = [None] * len(dep["inputs"])
        if dep["queue"]:
            status, message = queued(url, dep["id"], nulls)
            assert status in (200, 400), (dep["api_name"], status)
            if status == 200:
                assert message is not None and message["success"], (dep["api_name"], message)
        else:
            status, answer = post(url, "/gradio_api/run/models", {"data": nulls, "fn_index": dep["id"]})
            assert status in (200, 400), (dep["api_name"], status, answer[:300])
    assert_no_tracebacks(server, capfd)


def test_every_function_given_empty_values_answers_without_failing(server, capfd):
    """Schema-valid but empty: "" for text, 0 for numbers (a lenient slider's 0 is out of range), [] for lists."""
    url, config, _ = server
    components = {c["id"]: c for c in config["components"]}
    empty = {"textbox": "", "number": 0, "slider": 0, "checkboxgroup": [], "checkbox": False}
    for dep in config["dependencies"]:
        if not dep["backend_fn"] or dep["queue"] or not dep["inputs"]:
            continue
        data = [empty.get(components[i]["type"]) for i in dep["inputs"]]
        status, answer = post(url, "/gradio_api/run/models", {"data": data, "fn_index": dep["id"]})
        assert status in (200, 400), (dep["api_name"], status, answer[:300])
    assert_no_tracebacks(server, capfd)


def test_the_page_still_works_after_all_that(server, capfd):
    status, answer = post(server[0], "/gradio_api/run/predict", {"data": ["535+61"]})
    assert status == 200 and json.loads(answer)["data"][0]["true_answer"] == 596
    assert_no_tracebacks(server, capfd)


# The schema itself, from a config -------------------------------------------------------------------------
def test_the_schema_reads_each_inputs_rule_from_the_config(server):
    schema = call_schema.CallSchema.of_config(server[1])
    show = schema.by_name["show"]
    assert show.arity == 2 and schema.by_index[show.index] is show and not show.public
    assert show.problem(["1+1", "add3"]) is None and show.problem([None, None]) is None
    own = "yours-0123456789ab"  # the picker gains a visitor's own model, in that visitor's session
    assert show.problem(["1+1", own], choices_now=lambda component: [own]) is None
    assert show.problem(["1+1", own]) == 'The "Model" input takes one of its choices.'
    assert show.problem(["1+1", "add3"], choices_now=lambda component: [own]) is not None  # as Gradio checks it
    assert show.problem(["1+1", "add3", 5]) == "This function takes 2 inputs, not 3."
    assert schema.by_name["predict"].problem([{"anything": 1}, 5]) is None  # the JSON API checks its own inputs
    assert call_schema.finite_number(10**20) and not call_schema.finite_number(10**400)
    assert not call_schema.finite_number(float("nan")) and not call_schema.finite_number(True)
