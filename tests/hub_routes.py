"""The local Hub's HTTP side: the routes the `huggingface_hub` client calls, fault injection and the request log.

HubRoutes is a mixin of tests/hub_server.py's HubServer: it uses the server's tokens, lock,
fault list, request log, storage (`_store`, `_create`, `_commit`) and uvicorn server (to end endless streams).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

from hub_repos import DATE, SPACE_SDKS, VARIABLE_KEY, Commit, HttpError, Repo, card_metadata_errors, git_blob_sha1
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class HubRoutes:
    """The Hub's endpoints; HubServer supplies the state they read and change."""

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
        errors = card_metadata_errors(body.get("content", ""), body.get("repoType") or "model")
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
        if (fault := self._take_fault(route, "endless", path)) is not None:
            return StreamingResponse(self._endless(data, fault["rate"]), status_code=200, headers=headers)
        if (fault := self._take_fault(route, "short", path)) is not None:
            data = data[: fault["n"]]
        if self._take_fault(route, "flip", path) is not None:
            middle = len(data) // 2
            data = data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
        return Response(content=data, status_code=200, headers=headers)

    async def _endless(self, data: bytes, rate: int):
        """`data`, then zeros, 64 KiB at a time at about `rate` bytes a second, until the server stops."""
        chunk, sent = 1 << 16, 0
        while self._server is None or not self._server.should_exit:
            yield data[sent : sent + chunk].ljust(chunk, b"\0")
            sent += chunk
            await asyncio.sleep(chunk / rate)
