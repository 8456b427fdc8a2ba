"""What the crowd tests share: the launched app with a raised open-file limit, and raw HTTP from a chosen address.

Distinct clients are distinct loopback source addresses (127.0.0.2, 127.0.0.3, … are all
loopback on Linux), which is how the guard (web/guard.py) tells clients apart. A test module
imports the fixture server (port, process, log) from here.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from app_fixtures import ROOT, free_port


def raise_file_limit(wanted: int) -> None:
    """Lift this process's open-file limit (the server inherits it) or skip if the machine cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} open files; the hard limit (ulimit -Hn) is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory):
    raise_file_limit(4096)
    port = free_port()
    log = tmp_path_factory.mktemp("crowd") / "app.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("SYSTEM", None)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except OSError:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
    yield port, proc, log
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


# Raw HTTP from a chosen source address ----------------------------------------------------------------
def connect(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def status_of(sock: socket.socket) -> int:
    """The HTTP status of the response arriving on `sock` (-1 if the server closed it first)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(256)
        if not chunk:
            return -1
        head += chunk
    return int(head.split(b" ", 2)[1])


def open_page(source: str, port: int) -> tuple[socket.socket, int]:
    """What an open page holds: its heartbeat stream. Returns the socket (left open) and the status."""
    sock = connect(source, port)
    sock.sendall(f"GET /gradio_api/heartbeat/{uuid.uuid4().hex} HTTP/1.1\r\nHost: app\r\n\r\n".encode())
    return sock, status_of(sock)


def request(source: str, port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    sock = connect(source, port)
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\nContent-Length: {len(data)}\r\n"
    sock.sendall(head.encode() + b"content-type: application/json\r\n\r\n" + data)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer else -1
    return status, answer.partition(b"\r\n\r\n")[2]


def slow_body(source: str, port: int) -> socket.socket:
    """A POST that promises 100 bytes of body and sends one: a trickle that never ends."""
    sock = connect(source, port)
    sock.sendall(
        b"POST /gradio_api/run/predict HTTP/1.1\r\nHost: app\r\ncontent-type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    return sock


def answers(source: str, port: int) -> bool:
    """One active user's visit: the page, then 535+61."""
    page = request(source, port, "GET", "/")[0]
    status, body = request(source, port, "POST", "/gradio_api/run/predict", {"data": ["535+61"]})
    return page == 200 and status == 200 and b'"answer":596' in body.replace(b" ", b"")


def training_processes(proc: subprocess.Popen) -> int:
    """How many `python -m trainer.live` children the server has right now."""
    found = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == proc.pid and b"trainer.live" in cmdline:
                found += 1
    return found


def call(source: str, port: int, name: str, data: list) -> tuple[int, bytes]:
    return request(source, port, "POST", f"/gradio_api/call/{name}", {"data": data})
