"""Find the model the app should serve: a local folder, a Hub repo, or the bundled one.

Order: an explicit source (a folder path or a Hub repo id, from a flag or the
ADDITION_MODEL environment variable, pinned with ADDITION_MODEL_REVISION) -> the
default repo id -> the model bundled in `model/bundled`. Whatever fails on the way
is recorded in `LoadedModel.notes` so the UI can say why it is serving what it
serves; the app never fails to start because of the network.

Hub downloads go through huggingface_hub's normal cache (HF_HOME), so a model
fetched once is served again when the Hub is down or HF_HUB_OFFLINE=1. Only the
model's data files are fetched (never code) and Keras safe_mode stays on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import TaskConfig
from .network import keras
from .storage import (BUNDLED_DIR, KERAS_FILES, METRICS_FILE, TASK_CONFIG_FILE, ModelLoadError,
                      load_model_dir, read_metrics)

MODEL_ENV = "ADDITION_MODEL"
REVISION_ENV = "ADDITION_MODEL_REVISION"
DEFAULT_REPO_ID = ""  # set once a model is published; empty means "bundled unless told otherwise"
REQUIRED_FILES = (*KERAS_FILES, TASK_CONFIG_FILE)
HUB_FILES = (*REQUIRED_FILES, METRICS_FILE)  # metrics are optional


@dataclass
class LoadedModel:
    """A usable model and where it came from."""

    model: keras.Model
    config: TaskConfig
    metrics: dict
    source: str                 # "bundled", a folder path, or a repo id
    revision: str | None = None  # the commit sha for a Hub repo
    notes: list[str] = field(default_factory=list)  # why earlier choices were skipped

    @property
    def description(self) -> str:
        if self.source == "bundled":
            return "bundled model (offline)"
        if self.revision:
            return f"{self.source} @ {self.revision[:12]}"
        return self.source

    @property
    def page_url(self) -> str | None:
        """The Hub page of exactly this commit (for a link in the UI); None unless from the Hub."""
        return repo_page_url(self.source, self.revision) if self.revision else None


def load_for_app(source: str | None = None, revision: str | None = None) -> LoadedModel:
    """Load the first model that works, in the order described above."""
    source = source or os.environ.get(MODEL_ENV) or DEFAULT_REPO_ID or None
    revision = revision or os.environ.get(REVISION_ENV) or None
    notes: list[str] = []
    if source:
        try:
            return _load_local(source) if Path(source).exists() else _load_repo(source, revision)
        except ModelLoadError as err:
            notes.append(f"Could not use {source}: {err}. Serving the bundled model instead.")
    model, config = load_model_dir(BUNDLED_DIR)
    return LoadedModel(model, config, read_metrics(BUNDLED_DIR), "bundled", notes=notes)


def repo_page_url(repo_id: str, revision: str | None = None) -> str:
    """The web page of a repo (at a revision), on the Hub the client is configured for."""
    from huggingface_hub import constants

    return f"{constants.ENDPOINT}/{repo_id}" + (f"/tree/{revision}" if revision else "")


def _load_local(folder: str) -> LoadedModel:
    model, config = load_model_dir(folder)
    return LoadedModel(model, config, read_metrics(folder), str(folder))


def _load_repo(repo_id: str, revision: str | None) -> LoadedModel:
    folder, sha = download_repo(repo_id, revision)
    try:
        model, config = load_model_dir(folder)
    except ModelLoadError as err:  # name the repo and commit, not a cache path
        raise ModelLoadError(str(err).replace(str(folder), f"{repo_id} @ {sha[:12]}")) from None
    return LoadedModel(model, config, read_metrics(folder), repo_id, revision=sha)


def download_repo(repo_id: str, revision: str | None = None) -> tuple[Path, str]:
    """Fetch a published model into the Hugging Face cache; return (folder, commit sha).

    Raises ModelLoadError with one sentence for every way this can fail.
    """
    try:
        import huggingface_hub  # here, not at import: only Hub users pay for it
    except ImportError:
        raise ModelLoadError("huggingface_hub is not installed (pip install huggingface_hub)") from None
    try:
        folder = Path(huggingface_hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_FILES)))
    except Exception as err:  # the client raises many kinds; each becomes one sentence
        raise ModelLoadError(explain_hub_error(err, repo_id, revision)) from None
    sha = folder.name  # the cache keeps each snapshot under its commit sha
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(f"{repo_id} @ {sha[:12]} has no {', '.join(missing)}, so it is not a model "
                             "published with `python -m trainer.publish`")
    _verify_checksums(huggingface_hub, repo_id, sha, folder)
    return folder, sha


def _verify_checksums(huggingface_hub, repo_id: str, sha: str, folder: Path) -> None:
    """Compare each file with the Hub's listing of the commit.

    Plain HTTP downloads are only checked for length, and a weights file with flipped
    bytes may still load, as silently wrong weights. A damaged file is removed from the
    cache so that the next attempt fetches it again.
    """
    try:
        listing = {f.path: f.blob_id for f in huggingface_hub.get_cached_repo_tree(repo_id, revision=sha)}
    except Exception:  # no listing cached (an older cache): nothing to compare against
        return
    for name in HUB_FILES:
        path = folder / name
        if name not in listing or not path.is_file():
            continue
        data = path.read_bytes()
        # A git blob id is the sha1 of the file, or of its LFS pointer for large files.
        pointer = (f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
                   f"size {len(data)}\n").encode()
        if listing[name] not in (_git_blob_sha1(data), _git_blob_sha1(pointer)):
            blob = path.resolve()
            path.unlink(missing_ok=True)
            blob.unlink(missing_ok=True)
            raise ModelLoadError(f"{name} of {repo_id} @ {sha[:12]} arrived damaged (its checksum does not match "
                                 "the Hub's); the bad copy was removed from the cache, so try again")


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def explain_hub_error(err: BaseException, repo_id: str, revision: str | None) -> str:
    """One sentence for a person, from whatever huggingface_hub raised."""
    from huggingface_hub import constants, errors

    where = repo_id + (f" @ {revision}" if revision else "")
    chain, seen = [], err
    while seen is not None and seen not in chain:  # the error and its causes
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__

    def find(kind):
        return next((e for e in chain if isinstance(e, kind)), None)

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
        return (f"there is no model repo {repo_id} on {constants.ENDPOINT} (if it is private, set HF_TOKEN "
                "to a token that can read it)")
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
    if any(type(e).__module__.startswith(("httpx", "httpcore")) or isinstance(e, (ConnectionError, TimeoutError))
           for e in chain):
        return f"could not reach the Hub at {constants.ENDPOINT} and {where} is not in the local cache"
    if "Consistency check failed" in str(err):
        return f"a file of {where} arrived truncated (the download was cut short); try again"
    first_line = (str(err).strip().splitlines() or [""])[0][:200]
    return f"downloading {where} failed ({type(err).__name__}: {first_line})"
