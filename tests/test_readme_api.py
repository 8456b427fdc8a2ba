"""The README's HTTP examples, run as written: its curl commands, through bash, against the served app.

A person copies the two blocks after "**Over HTTP.**" into a shell; this test
does the same, changing only the address to the test server's.
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
    """The bash blocks of the README's "Over HTTP" paragraph: the queued pair, then the direct form."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("**Over HTTP.**") : text.index("The request guard (`web/guard.py`)")]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


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
