"""The screenshots in docs/ and what they show: a manifest of each picture's model and that model's fingerprint.

The browser tests (tests/test_browser.py) take every screenshot; with
ADDITION_SCREENSHOTS=docs they also write them, optimised, into docs/ and
record them in docs/screenshots.json. tests/test_screenshots.py then fails when
a screenshot is older than the model it shows: a fingerprint is a hash of the
model files the page reads (file contents, not mtimes, which git does not keep).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MANIFEST = DOCS / "screenshots.json"
ZOO = ROOT / "model" / "zoo"
UPDATE = os.environ.get("ADDITION_SCREENSHOTS") == "docs"
SHOWN_FILES = (  # what the views read from a model folder
    "model.weights.h5",
    "task_config.json",
    "network.json",
    "metrics.json",
    "map.npz",
    "learning.npz",
)


def model_fingerprint(name: str) -> str:
    """A hash of the bundled model's files the page shows (its weights, task, metrics, map and record)."""
    digest = hashlib.sha256()
    folder = ZOO / name
    for file in SHOWN_FILES:
        path = folder / file
        digest.update(file.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(absent)")
    return digest.hexdigest()[:20]


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def optimised_png(png: bytes) -> bytes:
    """A screenshot as a 256-colour PNG: a third of the bytes, and the UI's flat colours survive."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    quantised = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    quantised.save(out, format="PNG", optimize=True)
    return out.getvalue()


def read_manifest() -> dict[str, dict]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def record(png: bytes, file: str, models: list[str], what: str) -> None:
    """Write a screenshot into docs/ and note it in the manifest with the bundled models it shows and their
    fingerprints (only with ADDITION_SCREENSHOTS=docs)."""
    if not UPDATE:
        return
    path = DOCS / file
    path.write_bytes(optimised_png(png))
    manifest = read_manifest()
    manifest[file] = {
        "what": what,
        "models": {name: model_fingerprint(name) for name in models},
        "sha256": file_hash(path),
    }
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
