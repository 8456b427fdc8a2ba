"""The README is a page and the docs beside it hold together: every relative link in README.md and
docs/*.md points to a file that exists (and to a heading of it, where the link names one), the README
stays at most 12 KB, and its zoo table is the one `python -m trainer.zoo` wrote to bench/results/zoo.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 12 * 1024  # bytes: what it is, the screenshot, the commands, the zoo table, links
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # no headings in code
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        missing = not file.exists() or ROOT not in (file, *file.parents)
        if missing or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert not broken, f"{page.name} links to what does not exist: {broken}"


def test_the_docs_are_linked_from_the_readme():
    linked = {Path(t.partition("#")[0]).name for t in relative_links(ROOT / "README.md")}
    assert {p.name for p in PAGES[1:]} <= linked


def test_the_readme_is_a_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.encode()) <= README_LIMIT
    for command in (
        "pip install -r requirements.txt && python app.py",
        "bash tests/run.sh",
        'python -m pytest -m "not slow"',
        "python -m trainer ",
        "python -m trainer.deploy_space ",
        "curl ",
    ):
        assert command in text, command
    assert "](docs/app.png)" in text


def zoo_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| `")]


def test_the_readme_zoo_table_is_the_measured_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    measured = (ROOT / "bench" / "results" / "zoo.md").read_text(encoding="utf-8")
    assert zoo_rows(measured) and zoo_rows(readme) == zoo_rows(measured)


def test_the_limits_tables_are_the_ones_the_declarations_make():
    from trainer.flags import limits_markdown

    assert limits_markdown() in (ROOT / "docs/limits-and-security.md").read_text(encoding="utf-8")
