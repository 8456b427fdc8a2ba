"""The page's "Use via API or MCP" panel, in headless Chromium: it counts the MCP tools once, as one number.

Gradio's panel opens on its MCP view when the app serves MCP; its heading counts the app's public endpoints
("N MCP Tools") and its list counts the tools the MCP server offers ("M Available MCP Tools"). Every public
endpoint is a tool (/train too), so the two must agree.
"""

from __future__ import annotations

import re

import pytest
from browser_site import TIMEOUT_MS, site_fixture  # noqa: F401  (the served app and Chromium)

pytestmark = pytest.mark.slow  # a browser


def test_the_api_page_counts_the_mcp_tools_with_one_number(site):
    url, _, browser = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("Use via API or MCP").click()
        page.get_by_text("Available MCP Tools").wait_for()
        page.locator("text=/^\\s*predict\\s*$/").first.wait_for()  # the list of tools has arrived
        text = page.locator("body").inner_text()
        heading = [int(n) for n in re.findall(r"(\d+)\s+MCP Tools?\b", text)]
        listed = [int(n) for n in re.findall(r"(\d+)\s+Available MCP Tools", text)]
        assert heading and listed, text
        assert len(set(heading + listed)) == 1, (heading, listed)
    finally:
        page.close()
