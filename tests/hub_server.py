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
transit, or store arbitrary files (a truncated weights file, a mismatched config).
Tokens: `token` may write, `read_token` may only read; any other token gets 401.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


class HubServer:
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

    # HTTP ------------------------------------------------------------------
    def _app(self):
        routes = [
            Route("/api/repos/create", self._create_repo, methods=["POST"]),
            Route("/api/validate-yaml", self._validate_yaml, methods=["POST"]),
        ]
        for api in ("/api/models/{ns}/{name}", "/api/spaces/{ns}/{name}"):  # the same calls for both types
            routes += [
                Route(api, self._repo_info, methods=["GET"]),
                Route(api + "/revision/{rev}", self._repo_info, methods=["GET"]),
                Route(api + "/tree/{rev}", self._tree, methods=["GET"]),
                Route(api + "/tree/{rev}/{path:path}", self._tree, methods=["GET"]),
                Route(api + "/preupload/{rev}", self._preupload, methods=["POST"]),
                Route(api + "/commit/{rev}", self._commit_endpoint, methods=["POST"]),
                Route(api + "/branch/{branch}", self._create_branch, methods=["POST"]),
            ]
        routes += [
            Route("/api/spaces/{ns}/{name}/variables", self._space_variables, methods=["GET", "POST", "DELETE"]),
            Route("/spaces/{ns}/{name}/resolve/{rev}/{path:path}", self._resolve, methods=["GET", "HEAD"]),
            Route("/{ns}/{name}/resolve/{rev}/{path:path}", self._resolve, methods=["GET", "HEAD"]),
        ]
        app = Starlette(routes=routes)

        async def asgi(scope, receive, send):
            # Fault injection and the request log wrap every route.
            if scope["type"] != "http":
                return await app(scope, receive, send)
            method, path = scope["method"], scope["path"]
            fault = self._take_fault(path, kind="status")
            status_box = [0]

            async def logging_send(message):
                if message["type"] == "http.response.start":
                    status_box[0] = message["status"]
                await send(message)

            if fault:
                response = HttpError(fault["status"], "Injected failure from the test Hub").response()
                await response(scope, receive, logging_send)
            else:
                await app(scope, receive, logging_send)
            with self._lock:
                self.requests.append((method, path, status_box[0]))

        return asgi

    def _take_fault(self, path: str, kind: str, file: str | None = None) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["kind"] == kind and fault["match"] in path and fault.get("file", file) == file:
                    if fault["times"] is not None:
                        fault["times"] -= 1
                        if fault["times"] <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _access(self, request: Request) -> str | None:
        """'write', 'read' or None (anonymous); a token we do not know is refused with 401."""
        auth = request.headers.get("authorization", "")
        if not auth:
            return None
        token = auth.removeprefix("Bearer ").strip()
        if token == self.token:
            return "write"
        if token == self.read_token:
            return "read"
        raise HttpError(401, "Invalid credentials in Authorization header")

    @staticmethod
    def _type_of(request: Request) -> str:
        """'space' for the /api/spaces/ and /spaces/ routes, else 'model'."""
        return "space" if request.url.path.startswith(("/api/spaces/", "/spaces/")) else "model"

    def _url(self, repo: Repo) -> str:
        return f"{self.url}/{'spaces/' if repo.sdk else ''}{repo.repo_id}"

    def _repo(self, request: Request, write: bool = False) -> Repo:
        access = self._access(request)
        repo_id = f"{request.path_params['ns']}/{request.path_params['name']}"
        repo = self._store(self._type_of(request)).get(repo_id)
        if write and access is None:
            raise HttpError(401, "You must be authenticated to write to a repo", code="RepoNotFound")
        if repo is None or (repo.private and access is None):
            # Like the Hub, a private repo looks missing to anonymous callers.
            raise HttpError(401 if access is None else 404, "Repository not found", code="RepoNotFound")
        if write and access != "write":
            raise HttpError(403, "You don't have the rights to write to this repo")
        return repo

    def _revision(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HttpError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
        return commit

    @staticmethod
    def _handled(handler):
        async def wrapper(self, request: Request):
            try:
                return await handler(self, request)
            except HttpError as err:
                return err.response()

        return wrapper

    @_handled
    async def _create_repo(self, request: Request):
        access = self._access(request)
        if access is None:
            raise HttpError(401, "Invalid username or password.")
        if access != "write":
            raise HttpError(403, "You don't have the rights to create a model under this namespace")
        body = await request.json()
        repo_type = body.get("type") or "model"
        if repo_type not in ("model", "space"):
            raise HttpError(400, "this test Hub only hosts model and Space repos")
        sdk = body.get("sdk") if repo_type == "space" else None
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise HttpError(400, f"a Space needs an sdk, one of {', '.join(SPACE_SDKS)}")
        repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
        url = f"{self.url}/{'spaces/' if sdk else ''}{repo_id}"
        with self._lock:
            if repo_id in self._store(repo_type):
                return JSONResponse(
                    {"error": f"You already created this {repo_type} repo", "url": url}, status_code=409
                )
            self._create(repo_id, private=body.get("private") is True or body.get("visibility") == "private", sdk=sdk)
        return JSONResponse({"url": url, "name": repo_id, "id": repo_id})

    @_handled
    async def _repo_info(self, request: Request):
        repo = self._repo(request)
        commit = self._revision(repo, request.path_params.get("rev", "main"))
        blobs = request.query_params.get("blobs") in ("1", "true", "True")
        siblings = [
            {"rfilename": p, **({"size": len(d), "blobId": git_blob_sha1(d)} if blobs else {})}
            for p, d in sorted(commit.files.items())
        ]
        kind = {"sdk": repo.sdk} if repo.sdk else {"modelId": repo.repo_id, "downloads": 0}
        return JSONResponse(
            {
                "id": repo.repo_id,
                **kind,
                "author": repo.repo_id.split("/")[0],
                "sha": commit.sha,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "lastModified": DATE,
                "createdAt": DATE,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
            }
        )

    @_handled
    async def _tree(self, request: Request):
        repo = self._repo(request)
        commit = self._revision(repo, request.path_params["rev"])
        prefix = request.path_params.get("path", "").strip("/")
        recursive = request.query_params.get("recursive") in ("1", "true", "True")
        entries: dict[str, dict] = {}
        for path, data in sorted(commit.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            parts = rest.split("/")
            for depth in range(1, len(parts)):  # the folders on the way
                folder = "/".join(filter(None, [prefix, *parts[:depth]]))
                if recursive or depth == 1:
                    entries[folder] = {
                        "type": "directory",
                        "oid": hashlib.sha1(folder.encode()).hexdigest(),
                        "size": 0,
                        "path": folder,
                    }
            if recursive or len(parts) == 1:
                entries[path] = {"type": "file", "oid": git_blob_sha1(data), "size": len(data), "path": path}
        if prefix and not entries:
            raise HttpError(404, f"{prefix} does not exist on {commit.sha}", code="EntryNotFound")
        return JSONResponse(list(entries.values()))

    @_handled
    async def _validate_yaml(self, request: Request):
        body = await request.json()
        errors = _card_metadata_errors(body.get("content", ""), body.get("repoType") or "model")
        return JSONResponse(
            {"errors": [{"message": e} for e in errors], "warnings": []}, status_code=400 if errors else 200
        )

    @_handled
    async def _preupload(self, request: Request):
        repo = self._repo(request, write=True)
        commit = self._revision(repo, request.path_params["rev"])
        body = await request.json()
        files = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha1(commit.files[f["path"]]) if f["path"] in commit.files else None,
            }
            for f in body.get("files", [])
        ]
        return JSONResponse({"files": files, "commitOid": commit.sha})

    @_handled
    async def _commit_endpoint(self, request: Request):
        repo = self._repo(request, write=True)
        branch = request.path_params["rev"]
        if request.query_params.get("create_pr"):
            raise HttpError(400, "this test Hub does not do pull requests")
        if branch not in repo.branches:
            raise HttpError(404, f"Invalid rev id: {branch}", code="RevisionNotFound")
        header, added, deleted = {}, {}, []
        for line in (await request.body()).splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item["key"], item["value"]
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding") != "base64":
                    raise HttpError(400, "only base64 file content is supported")
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                deleted.append(value["path"])
            else:
                raise HttpError(422, f"operation {key!r} is not supported by this test Hub (LFS is off)")
        if not header.get("summary"):
            raise HttpError(400, "a commit needs a summary")
        with self._lock:
            parent = header.get("parentCommit")
            if parent and parent != repo.branches[branch]:
                raise HttpError(412, "the branch moved since parentCommit")
            sha = self._commit(repo, branch, header["summary"], added, deleted=tuple(deleted))
        return JSONResponse(
            {"success": True, "commitOid": sha, "commitUrl": f"{self._url(repo)}/commit/{sha}", "pullRequestUrl": None}
        )

    @_handled
    async def _create_branch(self, request: Request):
        repo = self._repo(request, write=True)
        branch = request.path_params["branch"]
        body = await request.json() if await request.body() else {}
        with self._lock:
            if branch in repo.branches:
                raise HttpError(409, f"Reference already exists: refs/heads/{branch}")
            start = self._revision(repo, body.get("startingPoint") or "main")
            repo.branches[branch] = start.sha
        return JSONResponse({})

    @_handled
    async def _space_variables(self, request: Request):
        """GET lists a Space's variables; POST adds or updates one ({key, value, description}); DELETE drops one."""
        repo = self._repo(request, write=request.method != "GET")
        if request.method != "GET":
            body = await request.json()
            key = body.get("key")
            if not isinstance(key, str) or not VARIABLE_KEY.fullmatch(key):
                raise HttpError(400, "a variable key is letters, digits and underscores, not starting with a digit")
            with self._lock:
                if request.method == "DELETE":
                    repo.variables.pop(key, None)
                elif not isinstance(body.get("value"), str):
                    raise HttpError(400, "a variable value must be a string")
                else:
                    repo.variables[key] = {
                        "value": body["value"],
                        "description": body.get("description"),
                        "updatedAt": DATE,
                    }
        with self._lock:
            return JSONResponse({key: dict(entry) for key, entry in repo.variables.items()})

    @_handled
    async def _resolve(self, request: Request):
        repo = self._repo(request)
        commit = self._revision(repo, request.path_params["rev"])
        path = request.path_params["path"]
        if path not in commit.files:
            raise HttpError(404, f"Entry not found: {path}", code="EntryNotFound", commit=commit.sha)
        data = commit.files[path]
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{git_blob_sha1(data)}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        if request.method == "HEAD":
            return Response(status_code=200, headers={**headers, "Content-Length": str(len(data))})
        route = request.url.path
        if (fault := self._take_fault(route, "short", path)) is not None:
            data = data[: fault["n"]]
        if self._take_fault(route, "flip", path) is not None:
            middle = len(data) // 2
            data = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
        return Response(content=data, status_code=200, headers=headers)


def _card_metadata_errors(content: str, repo_type: str = "model") -> list[str]:
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
