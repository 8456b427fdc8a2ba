"""A small Hugging Face Hub look-alike for tests: the real `huggingface_hub` client talks to it.

It speaks the few endpoints the client calls to create a repo, commit files (regular,
base64 NDJSON commits), branch, describe a revision, list its tree, validate a model
card's YAML and resolve (HEAD/GET) a file, with the headers and `X-Error-Code`s the
client turns into its typed errors. Repos live in memory as git-like commits.

Model repos and Space repos are kept apart, as on the Hub (`repos` and `spaces`).
A Space is created with the Hub's first commit (.gitattributes and a README), is
reached under /api/spaces/ and /spaces/, and keeps its variables
(`add_space_variable`), which `variables()` reads back.

It runs uvicorn in a background thread on 127.0.0.1 and a free port. Knobs let a test
break it on purpose: fail requests with a status, cut a download short, flip bytes in
transit, stream a file for ever, or store arbitrary files (a truncated weights file, a mismatched config).
Tokens: `token` may write, `read_token` may only read; any other token gets 401.

This file holds the server's life cycle, its knobs and its storage; the routes are in
tests/hub_routes.py and the repo data and card check in tests/hub_repos.py.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import socket
import threading
import time

import uvicorn
from hub_repos import GITATTRIBUTES, Commit, Repo, git_blob_sha1
from hub_routes import HubRoutes


class HubServer(HubRoutes):
    """In-memory Hub. Use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.token = "hf_localtest_" + secrets.token_hex(16)
        self.read_token = "hf_localread_" + secrets.token_hex(16)
        self.repos: dict[str, Repo] = {}  # model repos
        self.spaces: dict[str, Repo] = {}  # Space repos: the same id may name a model and a Space
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self._faults: list[dict] = []
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle -------------------------------------------------------------
    def start(self) -> HubServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local Hub server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Knobs for tests -------------------------------------------------------
    def fail(self, path_contains: str, status: int = 500, times: int | None = None) -> None:
        """Answer `status` to requests whose path contains `path_contains` (`times` of them, or all)."""
        with self._lock:
            self._faults.append({"kind": "status", "match": path_contains, "status": status, "times": times})

    def short_read(self, repo_id: str, path: str, nbytes: int) -> None:
        """Send only the first `nbytes` of a file on GET while HEAD still announces its full size."""
        with self._lock:
            self._faults.append(
                {"kind": "short", "match": f"/{repo_id}/resolve/", "file": path, "n": nbytes, "times": None}
            )

    def corrupt_in_transit(self, repo_id: str, path: str) -> None:
        """Flip bytes of a file on GET (same length, same ETag), as a broken proxy would."""
        with self._lock:
            self._faults.append({"kind": "flip", "match": f"/{repo_id}/resolve/", "file": path, "times": None})

    def endless_download(self, repo_id: str, path: str, bytes_per_second: int) -> None:
        """Stream a file on GET, then zeros, for ever, at about `bytes_per_second`, while HEAD and the
        listing still announce its real size (no Content-Length on the stream: it is chunked)."""
        with self._lock:
            self._faults.append(
                {
                    "kind": "endless",
                    "match": f"/{repo_id}/resolve/",
                    "file": path,
                    "rate": bytes_per_second,
                    "times": None,
                }
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def put_files(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        branch: str = "main",
        private: bool = False,
        message: str = "test setup",
        repo_type: str = "model",
    ) -> str:
        """Commit `files` directly (creating the repo, a gradio Space for repo_type="space", if needed)."""
        with self._lock:
            repo = self._store(repo_type).get(repo_id) or self._create(
                repo_id, private, sdk="gradio" if repo_type == "space" else None
            )
            return self._commit(repo, branch, message, dict(files))

    def head(self, repo_id: str, branch: str = "main", *, repo_type: str = "model") -> str:
        return self._store(repo_type)[repo_id].branches[branch]

    def files(self, repo_id: str, revision: str = "main", *, repo_type: str = "model") -> dict[str, bytes]:
        return dict(self._store(repo_type)[repo_id].resolve(revision).files)

    def variables(self, repo_id: str) -> dict[str, str]:
        """A Space's variables as the Space would see them in its environment."""
        return {key: entry["value"] for key, entry in self.spaces[repo_id].variables.items()}

    def history(self, repo_id: str, branch: str = "main", *, repo_type: str = "model") -> list[Commit]:
        """Commits reachable from `branch`, newest first (the first is the repo's creation)."""
        repo = self._store(repo_type)[repo_id]
        out, sha = [], repo.branches[branch]
        while sha is not None:
            out.append(repo.commits[sha])
            sha = repo.commits[sha].parent
        return out

    def requests_for(self, text: str) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if text in r[1]]

    # Storage ---------------------------------------------------------------
    def _store(self, repo_type: str) -> dict[str, Repo]:
        return {"model": self.repos, "space": self.spaces}[repo_type]

    def _create(self, repo_id: str, private: bool, sdk: str | None = None) -> Repo:
        repo = Repo(repo_id, private, sdk=sdk)
        self._store("model" if sdk is None else "space")[repo_id] = repo
        # The Hub starts every repo with a commit holding .gitattributes; a Space's also holds a README.
        files = {".gitattributes": GITATTRIBUTES}
        if sdk is not None:
            files["README.md"] = (
                f"---\ntitle: {repo_id.split('/')[-1]}\nemoji: 🚀\ncolorFrom: blue\n"
                f"colorTo: red\nsdk: {sdk}\napp_file: app.py\npinned: false\n---\n"
            ).encode()
        self._commit(repo, "main", "initial commit", files, parent=None)
        return repo

    def _commit(
        self,
        repo: Repo,
        branch: str,
        message: str,
        files: dict[str, bytes],
        parent: str | None = "head",
        deleted: tuple[str, ...] = (),
    ) -> str:
        if parent == "head":
            parent = repo.branches.get(branch)
            files = {**(repo.commits[parent].files if parent else {}), **files}
        for path in deleted:
            files.pop(path, None)
        digest = hashlib.sha1(f"{repo.repo_id}|{parent}|{message}|{next(self._counter)}".encode())
        for path in sorted(files):
            digest.update(f"{path}:{git_blob_sha1(files[path])}".encode())
        sha = digest.hexdigest()
        repo.commits[sha] = Commit(sha, parent, message, files)
        repo.branches[branch] = sha
        return sha


try:  # the fixture is only defined where pytest is importable (always, in this project's tests)
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:
    # Registered as "hub_server"; a test module imports it as hub_server_fixture, so its tests' own
    # `hub_server` argument does not shadow an imported name.
    @pytest.fixture(scope="module", name="hub_server")
    def hub_server_fixture():
        """A running HubServer shared by a test module; faults are cleared after each use."""
        with HubServer() as server:
            yield server
