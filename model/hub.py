"""Fetch a published model from the Hugging Face Hub as untrusted data, in bounded time.

Only the model's data files are fetched (never code), through huggingface_hub's
normal cache (HF_HOME), so a model fetched once is served again offline. Before
a request: the repo id and revision are checked (a revision such as
"../../x" never reaches the cache). Before a download: each file's size on the
Hub is checked against what a servable model can need. During it: each file
stops once it passes the size the Hub declared, and every file stops at the
deadline (what was being written is removed). After it: each file is compared,
streaming, with the Hub's checksum. A Hub that is silent, slow or failing falls
back to the complete cached snapshot when there is one. URLs are shown without
credentials.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .config_files import MAX_CONFIG_BYTES
from .storage import (
    LEARNING_FILE,
    MAP_FILE,
    MAX_NPZ_BYTES,
    METRICS_FILE,
    NETWORK_FILE,
    SETTINGS_FILE,
    TASK_CONFIG_FILE,
    WEIGHTS_FILE,
    ModelLoadError,
)

MAX_WEIGHTS_BYTES = 70_000_000  # the largest network the builder allows (512 units, 4+4 layers) is ~63 MB
HUB_FILES = {
    TASK_CONFIG_FILE: MAX_CONFIG_BYTES,
    NETWORK_FILE: MAX_CONFIG_BYTES,
    SETTINGS_FILE: MAX_CONFIG_BYTES,
    METRICS_FILE: MAX_CONFIG_BYTES,
    WEIGHTS_FILE: MAX_WEIGHTS_BYTES,
    MAP_FILE: MAX_NPZ_BYTES,
    LEARNING_FILE: MAX_NPZ_BYTES,
}
REQUIRED = (TASK_CONFIG_FILE, WEIGHTS_FILE)
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,127}")
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")

T = TypeVar("T")


class HubFailed(ModelLoadError):
    """The Hub misbehaved while sending a model: a complete cached copy may stand in."""


class HubTimeout(HubFailed):
    """The Hub did not answer within the time allowed."""


def is_repo_id(text: str) -> bool:
    return bool(_REPO_ID.fullmatch(text)) and ".." not in text


def check_revision(revision: str) -> None:
    """Raise ModelLoadError unless `revision` is a 40-hex commit sha or a plain branch/tag name."""
    ok = _SHA.fullmatch(revision) or (
        _REF.fullmatch(revision)
        and ".." not in revision
        and "//" not in revision
        and not revision.endswith(("/", ".", ".lock"))
        and "/." not in revision
    )
    if not ok:
        raise ModelLoadError(
            f"{revision[:60]!r} is not a valid revision (a branch or tag name, or a 40-character commit sha)"
        )


def safe_url(url: str) -> str:
    """A URL without any user:password part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str) -> str:
    """Remove credentials from every URL inside a text (error messages quote URLs)."""
    return _CREDENTIALS.sub(r"\1", text)


def endpoint() -> str:
    from huggingface_hub import constants

    return safe_url(constants.ENDPOINT)


def repo_page_url(repo_id: str, revision: str | None = None) -> str:
    """The web page of a repo (at a revision), on the Hub the client is configured for, without credentials."""
    return f"{endpoint()}/{repo_id}" + (f"/tree/{revision}" if revision else "")


def run_with_deadline(fn: Callable[[threading.Event], T], seconds: float, what: str) -> T:
    """fn(stop) in a daemon thread; HubTimeout if it has not finished within `seconds`, and then `stop` is set.

    A thread blocked on a silent server cannot be stopped, but as a daemon it
    never keeps the process alive, and nobody waits for it; fn stops its work
    at the next chance once `stop` is set (a download, at its next chunk).
    """
    box: dict[str, Any] = {}
    stop = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn(stop)
        except BaseException as err:  # handed to the caller below
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True, name=f"hub: {what}")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        stop.set()
        raise HubTimeout(f"the Hub at {endpoint()} did not answer within {seconds:.0f} s for {what}")
    if "error" in box:
        raise box["error"]
    return box["value"]


def download_repo(repo_id: str, revision: str | None, seconds: float) -> tuple[Path, str, list[str]]:
    """Fetch a model repo's data files; return (folder, commit sha, notes). Raises ModelLoadError.

    If the Hub fails in any way (silent, unreachable, erroring) and a complete
    snapshot of that revision is cached, the cached one is used, with a note.
    """
    if not is_repo_id(repo_id):
        raise ModelLoadError(f"{repo_id[:80]!r} is not a Hub repo id (expected owner/name)")
    if revision is not None:
        check_revision(revision)
    import huggingface_hub
    from huggingface_hub import constants

    where = repo_id + (f" @ {revision}" if revision else "")
    if constants.HF_HUB_OFFLINE:  # no request at all: the cache or nothing
        folder, _ = _cached(
            huggingface_hub,
            repo_id,
            revision,
            f"HF_HUB_OFFLINE is set and no complete copy of {where} is in the local Hugging Face cache",
        )
        notes = [f"HF_HUB_OFFLINE is set: serving the cached copy of {repo_id} @ {folder.name[:12]}."]
    else:
        folder, notes = _fetch_or_cached(huggingface_hub, repo_id, revision, seconds, where)
    sha = folder.name  # the cache keeps each snapshot under its commit sha
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"{repo_id} @ {sha[:12]} has no {', '.join(missing)}, so it is not a model "
            "published with `python -m trainer.publish`"
        )
    _verify_checksums(huggingface_hub, repo_id, sha, folder)
    return folder, sha, notes


def _fetch_or_cached(
    hub: Any, repo_id: str, revision: str | None, seconds: float, where: str
) -> tuple[Path, list[str]]:
    """The fetched snapshot; or, if the Hub fails in any way but a size limit, the complete cached one."""
    try:
        return run_with_deadline(lambda stop: _fetch(hub, repo_id, revision, stop), seconds, where), []
    except HubFailed as err:
        return _cached(hub, repo_id, revision, str(err))
    except ModelLoadError:  # the repo's files are over the size limits: no cached copy is better
        raise
    except Exception as err:  # the client raises many kinds; each becomes one sentence
        return _cached(hub, repo_id, revision, explain_hub_error(err, repo_id, revision))


def _fetch(hub: Any, repo_id: str, revision: str | None, stop: threading.Event) -> Path:
    """Check the files' sizes on the Hub, then download only those a model needs, each within its size.

    Files come one at a time, by the name asked for (so the cache records the branch and can serve it
    offline later), and must all come from the commit whose sizes were checked. Then snapshot_download,
    with every file cached, records that commit's file listing, which the checksums are compared with.
    """
    info = hub.HfApi().model_info(repo_id, revision=revision, files_metadata=True)
    files = [s for s in info.siblings or [] if s.rfilename in HUB_FILES]
    sizes = {s.rfilename: _allowed_size(s.rfilename, s.size, repo_id) for s in files}
    for name, size in sizes.items():
        if stop.is_set():
            raise HubTimeout(f"the Hub at {endpoint()} ran out of time for {repo_id}")
        bar = _bounded_download(f"{name} of {repo_id}", size, stop)
        pointer = Path(hub.hf_hub_download(repo_id, name, revision=revision, etag_timeout=10, tqdm_class=bar))
        if pointer.parent.name != info.sha:
            raise HubFailed(f"{repo_id} changed while it was being downloaded; try again")
    return Path(hub.snapshot_download(repo_id, revision=info.sha, allow_patterns=list(sizes), etag_timeout=10))


def _allowed_size(name: str, size: object, repo_id: str) -> int:
    """The most bytes `name` may take: the size the Hub declares, which must be within what a model needs."""
    limit = HUB_FILES[name]
    if not isinstance(size, int):
        return limit
    if size > limit:
        raise ModelLoadError(f"{name} in {repo_id} is {size:,} bytes; a model this app serves has at most {limit:,}")
    return size


def _bounded_download(what: str, size: int, stop: threading.Event) -> type:
    """A progress bar for hf_hub_download that ends the download past `size` bytes or once `stop` is set.

    huggingface_hub counts each chunk on the bar (`update`) before writing it, and removes its partial
    file when the download raises: so no file larger than `size` is written, and nothing is left behind.
    Bytes as received (`update_transfer`, compressed for a Xet download) are not what is written, so
    they are not counted.
    """
    from huggingface_hub.utils import tqdm

    class Bounded(tqdm):
        received = 0

        def update(self, n: float | None = 1) -> bool | None:
            self.update_transfer(0)
            self.received += int(n or 0)
            if self.received > size:
                raise HubFailed(f"{what} sent more than the {size:,} bytes the Hub declared for it")
            return super().update(n)

        def update_transfer(self, n: float | None = 1) -> None:
            if stop.is_set():
                raise HubTimeout(f"the download of {what} was stopped at the start-up deadline")

        def set_transfer_postfix_str(self, *args: Any, **kwargs: Any) -> None:
            pass

    return Bounded


def _cached(hub: Any, repo_id: str, revision: str | None, reason: str) -> tuple[Path, list[str]]:
    """The complete cached snapshot after a failed fetch, or ModelLoadError with the fetch's reason."""
    try:
        folder = Path(
            hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_FILES), local_files_only=True)
        )
    except Exception:
        raise ModelLoadError(scrub(reason)) from None
    if not all((folder / name).is_file() for name in REQUIRED):
        raise ModelLoadError(scrub(reason)) from None
    return folder, [f"The Hub failed ({scrub(reason)}); serving the cached copy of {repo_id} @ {folder.name[:12]}."]


def _verify_checksums(hub: Any, repo_id: str, sha: str, folder: Path) -> None:
    """Compare each file with the Hub's listing of the commit, reading files in chunks.

    Plain HTTP downloads are only checked for length, and a weights file with
    flipped bytes may still load, as silently wrong weights. A damaged file is
    removed from the cache so that the next attempt fetches it again.
    """
    try:
        listing = {f.path: f.blob_id for f in hub.get_cached_repo_tree(repo_id, revision=sha)}
    except Exception:  # no listing cached (an older cache): nothing to compare against
        return
    for name in HUB_FILES:
        path = folder / name
        if name not in listing or not path.is_file():
            continue
        if listing[name] not in file_blob_ids(path):
            blob = path.resolve()
            path.unlink(missing_ok=True)
            blob.unlink(missing_ok=True)
            raise ModelLoadError(
                f"{name} of {repo_id} @ {sha[:12]} arrived damaged (its checksum does not match "
                "the Hub's); the bad copy was removed from the cache, so try again"
            )


def file_blob_ids(path: Path) -> tuple[str, str]:
    """The git blob id of a file and of its LFS pointer (the Hub lists one or the other), streaming."""
    size = path.stat().st_size
    blob, sha256 = hashlib.sha1(b"blob %d\0" % size), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            blob.update(chunk)
            sha256.update(chunk)
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256.hexdigest()}\nsize {size}\n".encode()
    return blob.hexdigest(), hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()


def explain_hub_error(err: BaseException, repo_id: str, revision: str | None) -> str:
    """One sentence for a person, from whatever huggingface_hub raised."""
    from huggingface_hub import constants, errors

    where = repo_id + (f" @ {revision}" if revision else "")
    chain: list[BaseException] = []
    seen: BaseException | None = err
    while seen is not None and seen not in chain:  # the error and its causes
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__

    def find(kind: type) -> Any:
        return next((e for e in chain if isinstance(e, kind)), None)

    if isinstance(err, ModelLoadError):
        return str(err)
    if isinstance(err, errors.HFValidationError):
        return f"{repo_id!r} is neither a model folder nor a valid Hub repo id (expected 'owner/name')"
    offline_miss = constants.HF_HUB_OFFLINE and isinstance(err, errors.LocalEntryNotFoundError)
    if find(errors.OfflineModeIsEnabled) or offline_miss:
        return f"HF_HUB_OFFLINE is set and no complete copy of {where} is in the local Hugging Face cache"
    if find(errors.RevisionNotFoundError):
        return f"{repo_id} has no branch, tag or commit named {revision!r}"
    if find(errors.GatedRepoError):
        return f"{repo_id} is gated: accept its terms on the Hub and use a token that has access"
    if find(errors.RepositoryNotFoundError):
        return (
            f"there is no model repo {repo_id} on {endpoint()} (if it is private, set HF_TOKEN "
            "to a token that can read it)"
        )
    if find(errors.RemoteEntryNotFoundError):
        return f"a file the model needs is missing from {where}"
    http = find(errors.HfHubHTTPError)
    status = http.response.status_code if http is not None and http.response is not None else None
    if status == 401:
        return "the Hub refused the token (HTTP 401): check HF_TOKEN or run `hf auth login` again"
    if status == 403:
        return f"the token is not allowed to read {repo_id} (HTTP 403)"
    if status is not None and status >= 500:
        return f"the Hub answered with a server error (HTTP {status}) and {where} is not cached; try again later"
    if status is not None:
        return f"the Hub answered HTTP {status} for {where}"
    if isinstance(err, errors.IncompleteSnapshotError):
        return f"the cached copy of {where} is incomplete and the Hub could not be reached to complete it"
    # Connection failures: the HTTP client's own errors (httpx/httpx2/httpcore) or the builtin kinds.
    if any(
        type(e).__module__.startswith(("httpx", "httpcore")) or isinstance(e, (ConnectionError, TimeoutError))
        for e in chain
    ):
        return f"could not reach the Hub at {endpoint()} and {where} is not in the local cache"
    if "Consistency check failed" in str(err):
        return f"a file of {where} arrived truncated (the download was cut short); try again"
    first_line = (str(err).strip().splitlines() or [""])[0][:200]
    return scrub(f"downloading {where} failed ({type(err).__name__}: {first_line})")
