"""The HTTP examples of the README and of docs/api.md, run as written: their curl commands, through bash,
against the served app.

A person copies the README's one call, or the two blocks under docs/api.md's "Over HTTP" heading, into a
shell; this test does the same, changing only the address to the test server's.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from app_fixtures import ROOT, served_app

README_URL = "http://127.0.0.1:7860"

pytestmark = [
    pytest.mark.slow,  # the app, served
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


def http_blocks() -> list[str]:
    """The bash blocks of docs/api.md's "Over HTTP" section: the queued pair, then the direct form."""
    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("\n## Over HTTP\n")
    section = text[start : text.index("\n## ", start + 1)]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def readme_call() -> str:
    """The README's one API call: the bash block under its "Ask it over HTTP" heading."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Ask it over HTTP\n")
    section = text[start : text.index("\n## ", start + 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1 and "curl " in blocks[0], blocks
    return blocks[0]


@pytest.fixture(scope="module")
def url():
    with served_app() as (address, _):
        yield address


def run(block: str, url: str) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.replace(README_URL, url)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_queued_curl_pair_runs_as_written(url):
    queued = http_blocks()[0]
    assert "EVENT_ID=$(" in queued  # the id is captured, not left for the reader to paste
    out = run(queued, url)
    assert "event: complete" in out and '"answer": 596' in out


def test_the_direct_curl_calls_run_as_written(url):
    out = run(http_blocks()[1], url).replace('": ', '":')  # compact JSON here, spaced in the stream above
    assert '"answer":596' in out and '"model":"add3"' in out and '"name":"add3"' in out


def test_the_readme_call_runs_as_written(url):
    out = run(readme_call(), url).replace('": ', '":')
    assert '"answer":596' in out and '"model":"add3"' in out
