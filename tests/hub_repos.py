"""The local Hub's data: repos as git-like commits, its error answer, and the model card check.

tests/hub_server.py serves these; tests/hub_routes.py answers the client's calls with them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import yaml
from starlette.responses import JSONResponse

DATE = "2026-01-01T00:00:00.000Z"
GITATTRIBUTES = b"*.h5 filter=lfs diff=lfs merge=lfs -text\n*.png filter=lfs diff=lfs merge=lfs -text\n"
SPACE_SDKS = ("gradio", "streamlit", "docker", "static")
VARIABLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a file, which the Hub reports as `oid` and `ETag`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Commit:
    sha: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class Repo:
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    sdk: str | None = None  # a Space's SDK; None for a model repo
    variables: dict[str, dict] = field(default_factory=dict)  # a Space's variables: key -> value, description

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)


class HttpError(Exception):
    """Raised inside a handler to answer with a Hub-style error."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit

    def response(self) -> JSONResponse:
        headers = {"X-Error-Message": self.message}
        if self.code:
            headers["X-Error-Code"] = self.code
        if self.commit:
            headers["X-Repo-Commit"] = self.commit
        return JSONResponse({"error": self.message}, status_code=self.status, headers=headers)


def card_metadata_errors(content: str, repo_type: str = "model") -> list[str]:
    """What the Hub would reject in a README's YAML front matter (a useful subset)."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
    if not match:
        return []
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return [f"Invalid YAML: {err}"]
    if meta is None:
        return []
    if not isinstance(meta, dict):
        return ["metadata must be a YAML mapping"]
    errors = []
    if repo_type == "space":  # the Space configuration: an SDK it knows, versions as strings (3.10 is not "3.10")
        if "sdk" in meta and meta["sdk"] not in SPACE_SDKS:
            errors.append(f'"sdk" must be one of {", ".join(SPACE_SDKS)}')
        for key in ("sdk_version", "python_version", "app_file"):
            if key in meta and not isinstance(meta[key], str):
                errors.append(f'"{key}" must be a string')
        if "models" in meta and not (
            isinstance(meta["models"], list) and all(isinstance(m, str) for m in meta["models"])
        ):
            errors.append('"models" must be a list of repo ids')
    for key in ("license", "library_name", "pipeline_tag"):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    if "tags" in meta and not (isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])):
        errors.append('"tags" must be a list of strings')
    for i, entry in enumerate(meta.get("model-index") or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            errors.append(f'"model-index[{i}].name" is required')
            continue
        for j, result in enumerate(entry.get("results") or [None]):
            where = f"model-index[{i}].results[{j}]"
            if not isinstance(result, dict):
                errors.append(f'"{where}" must be a mapping')
                continue
            if not isinstance((result.get("task") or {}).get("type"), str):
                errors.append(f'"{where}.task.type" is required')
            dataset = result.get("dataset") or {}
            if not (isinstance(dataset.get("name"), str) and isinstance(dataset.get("type"), str)):
                errors.append(f'"{where}.dataset" needs a name and a type')
            metrics = result.get("metrics")
            if not metrics or not all(
                isinstance(m, dict) and isinstance(m.get("type"), str) and "value" in m for m in metrics
            ):
                errors.append(f'"{where}.metrics" needs entries with a type and a value')
    return errors
