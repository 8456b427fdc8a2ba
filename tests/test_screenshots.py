"""The screenshots in docs/ show the bundled zoo as it is: each is listed in docs/screenshots.json with the
model it shows and that model's fingerprint, and a model changed since its screenshot fails here.

Regenerate them all with `ADDITION_SCREENSHOTS=docs python -m pytest tests/test_browser.py`.
"""

from __future__ import annotations

import re
import shutil

import pytest
import screenshots
from screenshots import DOCS, ROOT, file_hash, model_fingerprint, read_manifest

pytestmark = pytest.mark.slow  # a browser

TABS = ("one-question", "inside", "map", "learning", "many", "compare", "train-own", "model")
DOCS_LIMIT = 6 * 2**20  # bytes: every tab three ways, kept small by 256-colour PNGs
REGENERATE = "regenerate them: ADDITION_SCREENSHOTS=docs python -m pytest tests/test_browser.py"


def test_every_screenshot_is_listed_with_the_model_it_shows():
    manifest = read_manifest()
    shown = {path.name for path in DOCS.glob("*.png")}
    assert shown == set(manifest), f"unlisted: {shown - set(manifest)}, missing: {set(manifest) - shown}"
    for tab in TABS:  # every tab on a desktop, in dark mode and on a 390 px phone, each of bundled models
        for suffix in ("", "-dark", "-phone"):
            assert manifest.get(f"{tab}{suffix}.png", {}).get("models"), f"{tab}{suffix}.png"


def test_no_screenshot_is_older_than_the_model_it_shows():
    manifest = read_manifest()
    stale = [
        f"{name} ({model})"
        for name, entry in manifest.items()
        for model, fingerprint in entry["models"].items()
        if fingerprint != model_fingerprint(model)
    ]
    assert not stale, f"{', '.join(stale)}: older than the model shown; {REGENERATE}"
    swapped = [
        name for name, entry in manifest.items() if entry["models"] and entry["sha256"] != file_hash(DOCS / name)
    ]
    assert not swapped, f"{', '.join(swapped)} are not the screenshots the manifest lists: {REGENERATE}"


def test_a_changed_model_makes_its_screenshots_stale(tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    shutil.copytree(screenshots.ZOO / "add3", zoo / "add3", ignore=shutil.ignore_patterns("*.h5", "*.npz"))
    monkeypatch.setattr(screenshots, "ZOO", zoo)
    before = model_fingerprint("add3")
    metrics = zoo / "add3" / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"exhaustive_wrong": 0', '"exhaustive_wrong": 4'))
    assert model_fingerprint("add3") != before  # content, not mtime: a retrained model is caught


def test_the_readme_and_docs_show_only_screenshots_that_exist_and_docs_stay_small():
    linked = re.findall(r"\(docs/([\w.-]+\.png)\)", (ROOT / "README.md").read_text())
    assert linked and all((DOCS / name).is_file() for name in linked), linked
    # The pages beside the screenshots (docs/app.md shows every tab) link them by name.
    in_docs = [name for page in DOCS.glob("*.md") for name in re.findall(r"\]\(([\w.-]+\.png)\)", page.read_text())]
    assert in_docs and all((DOCS / name).is_file() for name in in_docs), in_docs
    assert {path.name for path in DOCS.glob("*.png")} <= set(linked) | set(in_docs)  # each one shown somewhere
    assert sum(path.stat().st_size for path in DOCS.iterdir()) < DOCS_LIMIT
