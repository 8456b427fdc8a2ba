"""requirements.txt pins every package the code imports itself, at the version installed here.

A package that arrives only as another package's dependency can change or
vanish when that package is upgraded; the Space installs requirements.txt and
nothing else. The imports are read from the source (every `import` in app.py,
model/, trainer/ and web/, inside functions too), not listed by hand.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"app", "model", "trainer", "web"}


def imported_top_level_names() -> set[str]:
    names = set()
    for path in [ROOT / "app.py", *(p for d in ("model", "trainer", "web") for p in (ROOT / d).rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - PROJECT - set(sys.stdlib_module_names) - {"__future__"}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_directly_imported_package_is_pinned_at_the_installed_version():
    text = (ROOT / "requirements.txt").read_text()
    pins = {normalised(name): version for name, version in re.findall(r"^([\w.-]+)==(\S+)$", text, re.MULTILINE)}
    providers = metadata.packages_distributions()
    imported = imported_top_level_names()
    assert {"numpy", "pandas", "PIL", "h5py", "starlette", "gradio"} <= imported  # the scan sees real imports
    unpinned, wrong = [], []
    for module in sorted(imported):
        for dist in providers.get(module, [module]):
            pinned = pins.get(normalised(dist))
            if pinned is None:
                unpinned.append(f"{module} (from {dist})")
            elif pinned != metadata.version(dist):
                wrong.append(f"{dist}=={pinned} but {metadata.version(dist)} is installed")
    assert not unpinned, f"imported but not pinned in requirements.txt: {unpinned}"
    assert not wrong, wrong
