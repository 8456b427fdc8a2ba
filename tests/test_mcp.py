"""The app as an MCP server: its named endpoints are tools (/train too), and the guard applies.

`python app.py` serves MCP by default at /gradio_api/mcp/ (streamable HTTP).
The tests speak JSON-RPC to it over raw HTTP, as any MCP client does: list the
tools, call predict, and send what the guard refuses anywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from app_fixtures import ROOT, free_port

pytestmark = pytest.mark.slow  # the app, served

MCP = "/gradio_api/mcp/"


def start(*flags: str, env: dict | None = None) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *flags],
        cwd=ROOT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, f"app.py exited with {proc.returncode}"
        try:
            urllib.request.urlopen(url + "/", timeout=2)
            return url, proc
        except OSError:
            assert time.monotonic() < deadline, "app.py did not start"
            time.sleep(0.3)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def server():
    url, proc = start()
    yield url
    stop(proc)


def post(url: str, body: bytes, timeout: float = 60) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + MCP,
        data=body,
        headers={"content-type": "application/json", "accept": "application/json, text/event-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def rpc(url: str, method: str, params: dict, timeout: float = 60) -> dict:
    """One JSON-RPC call; the answer arrives as a server-sent event (or plain JSON)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    status, body = post(url, body, timeout)
    assert status == 200, body
    text = body.decode()
    data = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return json.loads(data[-1] if data else text)["result"]


def test_the_named_endpoints_are_tools_that_say_what_they_return(server):
    tools = {tool["name"]: tool for tool in rpc(server, "tools/list", {})["tools"]}
    assert {"predict", "predict_batch", "random_sums", "attribution", "states", "compare", "models", "train"} <= set(
        tools
    )
    assert not {"train_api", "train_page", "predict_direct"} & set(tools)
    for name, tool in tools.items():
        assert len(tool["description"]) > 20, name
        for parameter, schema in tool["inputSchema"]["properties"].items():  # each one described for the caller
            assert len(schema.get("description", "")) > 10, (name, parameter)
    assert "answer" in tools["predict"]["description"]
    assert tools["predict"]["inputSchema"]["properties"]["question"]["type"] == "string"  # one question, not a batch


def test_predict_through_mcp(server):
    result = rpc(server, "tools/call", {"name": "predict", "arguments": {"question": "535+61"}})
    assert not result.get("isError"), result
    answer = json.loads(result["content"][0]["text"])  # JSON, not a Python repr
    assert answer["answer"] == 596 and answer["correct"] is True and answer["error"] is None


def test_train_through_mcp_answers_with_the_new_model_which_then_answers(server):
    tools = {t["name"]: t for t in rpc(server, "tools/list", {})["tools"]}
    digits = tools["train"]["inputSchema"]["properties"]["digits"]
    assert "1 to 3" in digits["description"]  # the bounds the check uses (trainer/live_settings.py)
    arguments = {"digits": 1, "units": 16, "seconds": 5}
    result = rpc(server, "tools/call", {"name": "train", "arguments": arguments}, timeout=240)
    assert not result.get("isError"), result
    done = json.loads(result["content"][0]["text"])  # the last event, as JSON
    assert done["event"] == "done" and done["model"].startswith("yours-"), done
    asked = {"question": "3+4", "model": done["model"]}
    answer = json.loads(rpc(server, "tools/call", {"name": "predict", "arguments": asked})["content"][0]["text"])
    assert answer["model"] == done["model"] and answer["error"] is None, answer


def test_train_through_mcp_out_of_bounds_says_why_in_one_sentence(server):
    result = rpc(server, "tools/call", {"name": "train", "arguments": {"digits": 9}}, timeout=120)
    said = json.loads(result["content"][0]["text"])
    assert said["event"] == "error" and said["message"].count(". ") == 0 and "1 to 3" in said["message"], said


def test_the_predict_tool_takes_what_view_api_documents_for_predict(server):
    from gradio_client import Client

    tool = {t["name"]: t for t in rpc(server, "tools/list", {})["tools"]}["predict"]
    schema = tool["inputSchema"]
    documented = Client(server, verbose=False).view_api(return_format="dict", print_info=False)
    parameters = documented["named_endpoints"]["/predict"]["parameters"]
    # one question and an optional model name, for the tool and for a gradio_client caller alike
    assert {p["parameter_name"]: p["type"] for p in parameters} == {
        name: {k: v for k, v in property.items() if k != "description"}
        for name, property in schema["properties"].items()
    }
    assert schema["properties"]["question"]["type"] == "string" and schema["required"] == ["question"]
    arguments = {"question": "535+61", "model": "gru3"}  # of the types the schema names
    result = rpc(server, "tools/call", {"name": "predict", "arguments": arguments})
    assert not result.get("isError"), result
    answer = json.loads(result["content"][0]["text"])
    assert answer["answer"] == 596 and answer["model"] == "gru3" and answer["error"] is None


def test_mcp_requests_pass_the_same_guard(server):
    status, body = post(server, b"[" * 90_000)
    assert status == 400 and b"nest at most" in body
    status, body = post(server, b'{"jsonrpc": "2.0", "params": "' + b"9" * 200_000 + b'"}')
    assert status == 413 and b"at most 98,304 bytes" in body


def test_mcp_can_be_turned_off():
    from app import MCP_ENV, parse_args

    assert parse_args([]).mcp and not parse_args(["--no-mcp"]).mcp
    os.environ[MCP_ENV] = "0"
    try:
        assert not parse_args([]).mcp and parse_args(["--mcp"]).mcp
    finally:
        del os.environ[MCP_ENV]
    url, proc = start(env={MCP_ENV: "0"})
    try:
        assert post(url, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}')[0] == 404
    finally:
        stop(proc)
