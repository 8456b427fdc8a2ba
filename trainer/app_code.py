"""Which of the project's Python files the app runs, found by reading its imports (no code is run).

Starting from app.py, every `import` and `from … import` of a project module
is followed, wherever it stands (inside functions too, since the app imports
lazily), and so is every string that names a project module, such as the
`python -m trainer.live` that the "Train your own" tab starts as a subprocess.
Each module found brings its packages' `__init__.py`. So the Space gets what
the app and its trainer subprocess import, and a module added later is picked
up without editing a list. Only files under the project folder count; tests,
benchmarks and anything else are never imported by the app and never listed.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

ENTRY = "app.py"
MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")  # a dotted name, as `python -m` takes one


def app_modules(root: Path, allowed: Callable[[str], bool]) -> set[str]:
    """POSIX paths, relative to `root`, of app.py and every project .py file it needs at run time.

    `allowed(part)` says whether a folder or file name may be uploaded at all (no caches, tests, secrets).
    """
    root = Path(root)
    found: set[str] = set()
    pending = [root / ENTRY]
    while pending:
        path = pending.pop()
        relative = path.relative_to(root).as_posix()
        if relative in found:
            continue
        found.add(relative)
        package = path.relative_to(root).parent.parts  # the package this file belongs to, () for top level
        for name in _named_modules(path, package):
            pending += _files(root, name, allowed)
    return found


def _named_modules(path: Path, package: tuple[str, ...]) -> Iterator[str]:
    """Every module name the file imports or spells out as a string (each may or may not be the project's)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module:
                yield module
            yield from (f"{module}.{alias.name}" if module else alias.name for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            yield node.value
        elif isinstance(node, (ast.List, ast.Tuple)):  # a command line: "-m", NAME runs NAME (a package: its __main__)
            words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for flag, name in itertools.pairwise(words):
                if flag == "-m" and isinstance(name, str):
                    yield from (name, f"{name}.__main__")


def _files(root: Path, name: str, allowed: Callable[[str], bool]) -> list[Path]:
    """The project files that importing `name` runs: its packages' __init__.py and its own file; [] if none."""
    parts = name.split(".")
    if not all(allowed(part) for part in parts):
        return []
    as_module, as_package = root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")
    own = [p for p in (as_module, as_package) if p.is_file() and not p.is_symlink()]
    if not own:
        return []
    parents = [root.joinpath(*parts[:i], "__init__.py") for i in range(1, len(parts))]
    return [p for p in parents if p.is_file() and not p.is_symlink()] + own
