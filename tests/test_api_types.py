"""What view_api() documents is what a call takes and returns: one call's types, never Any or a batch's lists.

A client reads an endpoint's parameters and result from `Client.view_api()` (Gradio's /gradio_api/info) and
calls it with exactly those types. /predict is batched (concurrent callers share one pass of the network), so
its Python function takes lists; a client still sends one question and gets one JSON object back, and that is
what must be documented. The served app, called with gradio_client and raw HTTP.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from app_fixtures import served_app
from gradio_client import Client

pytestmark = pytest.mark.slow  # the app, served

MODEL = "None | str"  # an optional model name, as listed by /models (null: the default model)
# Each public endpoint: its parameters and their documented Python types, and a call made of those types.
DOCUMENTED: dict[str, tuple[dict[str, str], tuple]] = {
    "/predict": ({"question": "str", "model": MODEL}, ("535+61", "add3")),
    "/predict_batch": ({"text": "str", "model": MODEL}, ("535+61\n12+7", "add3")),
    "/random_sums": ({"n": "int | str", "seed": "int | str | None", "model": MODEL}, (5, 7, "add3")),
    "/attribution": ({"question": "str", "model": MODEL}, ("535+61", "add3")),
    "/states": ({"question": "str", "model": MODEL}, ("535+61", "add3")),
    "/compare": ({"question": "str", "model_a": MODEL, "model_b": MODEL}, ("535+61", "add3", "gru3")),
    "/compare_random": (
        {"n": "int | str", "seed": "int | str | None", "model_a": MODEL, "model_b": MODEL},
        (5, 7, "add3", "gru3"),
    ),
    "/model_info": ({"model": MODEL}, ("add3",)),
    "/models": ({}, ()),
}
# /train streams events (a generator): its parameters are Train your own's, checked by its own tests; here
# only that each event it documents is a JSON object.
NOT_CHECKED = {"/train"}
RESULT = "dict(str, Any)"  # gradio_client's spelling of a JSON object


@pytest.fixture(scope="module")
def url():
    with served_app() as (address, _):
        yield address


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


@pytest.fixture(scope="module")
def documented(client) -> dict:
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def test_every_public_endpoint_documents_one_calls_types_and_a_json_object(documented):
    assert set(documented) - NOT_CHECKED == set(DOCUMENTED)
    for name, (parameters, _) in DOCUMENTED.items():
        info = documented[name]
        assert {p["parameter_name"]: p["python_type"]["type"] for p in info["parameters"]} == parameters, name
        assert [r["python_type"]["type"] for r in info["returns"]] == [RESULT], name
        assert [r["type"] for r in info["returns"]] == [{"type": "object", "additionalProperties": {}}], name
    assert [r["python_type"]["type"] for r in documented["/train"]["returns"]] == [RESULT]
    predict = {p["parameter_name"]: p for p in documented["/predict"]["parameters"]}
    assert predict["question"]["type"] == {"type": "string"} and not predict["question"]["parameter_has_default"]
    assert predict["model"]["parameter_has_default"] and predict["model"]["parameter_default"] is None


def test_the_printed_view_api_shows_predicts_one_question(client, capsys):
    client.view_api()
    text = capsys.readouterr().out
    start = text.index('api_name="/predict")')
    block = text[start : text.index(" - predict(", start)]
    assert "question: str (required)" in block and "list" not in block
    assert "result: dict(str, Any)" in block and "Any \n" not in block


SAMPLES = {"question": "535+61", "text": "535+61\n12+7", "n": 5, "seed": 7, "model": "add3", "model_a": "add3"}
SAMPLES["model_b"] = "gru3"


def of_type(schema: dict, sample: object) -> object:
    """A value of the JSON schema `schema` made from `sample`: the sample itself, or a list of it where the
    schema wants an array (a client that trusts the documentation sends what it says)."""
    options = [o for o in schema.get("anyOf", schema.get("oneOf", [schema])) if o.get("type") != "null"]
    kinds = {"string": str, "integer": int, "number": float, "array": list}
    for option in options:
        if option.get("type") == "array":
            return [of_type(option["items"], sample)]
        if isinstance(sample, kinds.get(option.get("type", ""), object)):
            return sample
    return str(sample)


def test_each_endpoint_called_with_values_of_its_documented_types_answers(client, documented):
    for name in DOCUMENTED:
        arguments = [of_type(p["type"], SAMPLES[p["parameter_name"]]) for p in documented[name]["parameters"]]
        result = client.predict(*arguments, api_name=name)
        assert isinstance(result, dict) and result["error"] is None, (name, arguments, result)
    answer = client.predict("535+61", api_name="/predict")  # as docs/api.md writes it
    assert answer["answer"] == 596 and answer["correct"] is True and answer["model"] == "add3"
    assert client.predict("535+61", None, api_name="/predict")["answer"] == 596  # model: None is documented
    assert client.predict("535+61", "gru3", api_name="/predict")["model"] == "gru3"
    assert client.predict(5, 7, "add3", api_name="/random_sums")["total"] == 5
    assert client.predict(api_name="/models")["default"] == "add3"


def test_raw_http_info_and_direct_calls_agree(url):
    with urllib.request.urlopen(url + "/gradio_api/info", timeout=30) as response:
        info = json.load(response)["named_endpoints"]
    assert info["/predict"]["parameters"][0]["type"] == {"type": "string"}
    for name, (_, arguments) in DOCUMENTED.items():
        request = urllib.request.Request(
            url + "/gradio_api/run" + name,
            data=json.dumps({"data": list(arguments)}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            [result] = json.load(response)["data"]
        assert isinstance(result, dict) and result["error"] is None, (name, result)
