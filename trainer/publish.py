"""Publish a trained output folder to the Hugging Face Hub, in one commit.

    python -m trainer.publish OUTPUT_DIR REPO_ID [--private] [--message TEXT]
                              [--revision BRANCH] [--force] [--min-accuracy X]

What goes up: Keras's own files (so `keras.saving.load_model("hf://REPO_ID")`
works), task_config.json, network.json, train_settings.json, metrics.json,
history.json, training_curve.png, the analyses the app shows when present
(map.npz, learning.npz) and a generated model card
(README.md). Anything else in the folder stays local; the folder is only read,
never written. Only plain files go up, read once and uploaded as read: a
symbolic link, or a file (the card included) holding something shaped like a
token, stops the publish with a sentence naming it.

Before any upload the folder must load as the app loads it (checked, without
TensorFlow) and pass the quality gate: its headline accuracy (every question
when they were all asked, else held-out exact match; model.metrics.headline)
at least --min-accuracy (by default 0.999, or the run's own target accuracy or
pass mark when that is lower) unless --force.

The token is whatever huggingface_hub finds (the `token` argument, HF_TOKEN, or
`hf auth login`); it is never printed or written anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from model.storage import KERAS_FILES, MODEL_FOLDER_FILES, TASK_CONFIG_FILE

from .upload_safety import UploadRefused, checked_bytes, read_for_upload

REQUIRED_FILES = (*KERAS_FILES, TASK_CONFIG_FILE)  # what `keras.saving.load_model("hf://...")` and the app need
DEFAULT_MIN_ACCURACY = 0.999
NO_TOKEN_MESSAGE = (
    "No Hugging Face token found: set HF_TOKEN to a token with write access or run "
    "`hf auth login`, then run the same command again."
)


class PublishError(RuntimeError):
    """Publishing was refused or failed; the message says why and what to do, for a person."""


def publish(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    revision: str | None = None,
    force: bool = False,
    min_accuracy: float | None = None,
) -> tuple[str, str]:
    """Upload a trained model folder to `repo_id` (on `revision`, a branch) in one commit.

    Returns (url, commit sha). Raises PublishError, whose message is meant to be shown as is.
    """
    folder = Path(folder)
    retry = retry_command(folder, repo_id, private=private, revision=revision, force=force, min_accuracy=min_accuracy)
    # Cheap checks first: they need neither TensorFlow nor the network.
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if not folder.is_dir() or missing:
        what = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        raise PublishError(f"Refusing to publish: {folder} {what}; point to a folder written by `python -m trainer`.")
    from model.storage import read_metrics

    metrics = read_metrics(folder)[0]  # schema-checked: only valid, finite figures
    check_quality(metrics, min_accuracy=min_accuracy, force=force)
    contents = read_uploads(folder)  # plain files only, none holding a token: read once, uploaded as read

    import huggingface_hub  # after the cheap checks: a refusal stays instant

    if not (token or huggingface_hub.get_token()):
        raise PublishError(NO_TOKEN_MESSAGE)
    stored = _validate(folder)

    from model.metrics import headline

    from .model_card import render_model_card

    card = render_model_card(
        repo_id,
        stored.task.to_dict(),
        metrics,
        _json_object(contents.get("history.json")) or None,
        has_curve="training_curve.png" in contents,
        net=stored.net.to_dict(),
    )
    try:
        card_bytes = checked_bytes(card.encode("utf-8"), "the generated model card (README.md)")
    except UploadRefused as err:
        raise PublishError(f"Refusing to publish: {err}.") from None
    accuracy, measured_on = headline(metrics)
    message = commit_message or (
        "Publish arithmetic model" + (f" ({_percent(accuracy)} right: {measured_on})" if accuracy is not None else "")
    )
    try:
        return _upload(
            huggingface_hub,
            contents,
            card_bytes,
            repo_id,
            token=token,
            private=private,
            message=message,
            branch=revision or "main",
        )
    except Exception as err:  # every failure becomes a sentence plus what to do next
        reason = explain_hub_error(err, repo_id, huggingface_hub.constants.ENDPOINT)
        text = (
            f"Publishing to {repo_id} failed: {reason}. Nothing was changed locally: {folder} is intact. "
            f"Retry with: {retry}"
        )
        raise PublishError(scrub_token(text, token or huggingface_hub.get_token())) from None


def check_quality(metrics: dict, *, min_accuracy: float | None = None, force: bool = False) -> None:
    """Raise PublishError if the headline accuracy (model.metrics.headline) is below the bar (unless forced)."""
    from model.metrics import headline

    if force:
        return
    training = metrics.get("training")
    training = training if isinstance(training, dict) else {}
    recorded = [training.get(key) for key in ("target_accuracy", "pass_accuracy")]
    goals = [g for g in recorded if isinstance(g, (int, float)) and not isinstance(g, bool)]
    # 99.9%, or the run's own goal when that is lower (a deliberately rough model)
    bar = min_accuracy if min_accuracy is not None else min([*goals, DEFAULT_MIN_ACCURACY])
    accuracy, measured_on = headline(metrics)
    if accuracy is None:
        raise PublishError(
            f"Refusing to publish: metrics.json records no accuracy to compare with the required "
            f"{_percent(bar)} (use --force, or force=True, to publish anyway)."
        )
    if accuracy < bar:
        raise PublishError(
            f"Refusing to publish: the model is {_percent(accuracy)} right ({measured_on}), below the "
            f"required {_percent(bar)}; train longer, or use --force (force=True) to publish anyway."
        )


def _percent(value: float) -> str:
    """99.95%, 99.999%: as many decimals as the number needs (at most 4), so a bar never reads as 100%."""
    return f"{value * 100:.4f}".rstrip("0").rstrip(".") + "%"


def retry_command(
    folder: Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    force: bool = False,
    min_accuracy: float | None = None,
) -> str:
    """The exact command line that repeats this publish (the commit message is left out)."""
    words = ["python", "-m", "trainer.publish", str(folder), repo_id]
    words += ["--private"] * private + ["--force"] * force
    words += ["--revision", revision] if revision else []
    words += ["--min-accuracy", str(min_accuracy)] if min_accuracy is not None else []
    return shlex.join(words)


def _json_object(data: bytes | None) -> dict:
    """A JSON object from bytes already read for upload; {} for none or anything else."""
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _validate(folder: Path):
    """Load the folder exactly as the app will (model.storage.StoredModel), or refuse."""
    from model.storage import ModelLoadError, load_model_dir

    try:
        return load_model_dir(folder)
    except ModelLoadError as err:
        raise PublishError(f"Refusing to publish a model that does not load: {err}.") from None


def read_uploads(folder: Path) -> dict[str, bytes]:
    """name -> bytes of every model folder file present; PublishError for a link or token-shaped content."""
    contents = {}
    for name in MODEL_FOLDER_FILES:
        path = folder / name
        if os.path.lexists(path):  # whatever it is (a link, a named pipe…): read_for_upload takes plain files only
            try:
                contents[name] = read_for_upload(path, name)
            except UploadRefused as err:
                raise PublishError(f"Refusing to publish: {err}.") from None
    return contents


def _upload(
    hub,
    contents: dict[str, bytes],
    card: bytes,
    repo_id: str,
    *,
    token: str | None,
    private: bool,
    message: str,
    branch: str,
) -> tuple[str, str]:
    api = hub.HfApi(token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if branch != "main":
        api.create_branch(repo_url.repo_id, branch=branch, exist_ok=True)
    operations = [hub.CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in contents.items()]
    operations.append(hub.CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card))
    info = api.create_commit(repo_url.repo_id, operations=operations, commit_message=message, revision=branch)
    url = str(repo_url).rstrip("/") + ("" if branch == "main" else f"/tree/{branch}")
    return url, info.oid


def explain_hub_error(err: Exception, repo_id: str, endpoint: str) -> str:
    """A failed Hub call as a clause for a person: what happened and what to do (shared with deploy_space)."""
    from huggingface_hub import errors

    status = getattr(getattr(err, "response", None), "status_code", None)
    if isinstance(err, errors.HFValidationError):
        return f"{repo_id!r} is not a valid repo id (expected 'owner/name')"
    if status == 401:
        return (
            "the Hub refused the token (HTTP 401); set HF_TOKEN to a valid token with write access "
            "or run `hf auth login`"
        )
    if status == 403:
        return f"the token may not write to {repo_id} (HTTP 403); use a token with write access to that namespace"
    if isinstance(err, errors.RepositoryNotFoundError):
        return f"the Hub has no repo {repo_id} that this token can write to"
    if status is not None and status >= 500:
        return f"the Hub answered with a server error (HTTP {status})"
    if status is not None:
        return f"the Hub answered HTTP {status}: {_first_line(err)}"
    if "Invalid metadata in README.md" in str(err):
        return f"the Hub rejected the generated model card ({_first_line(err, skip=1)})"
    if isinstance(err, (ConnectionError, TimeoutError)) or type(err).__module__.startswith(("httpx", "httpcore")):
        return f"could not reach the Hub at {endpoint}"
    return f"{type(err).__name__}: {_first_line(err)}"


def _first_line(err: Exception, skip: int = 0) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[skip:] or lines or [type(err).__name__])[0][:300]


def scrub_token(text: str, token: str | None) -> str:
    """Belt and braces: never let a token reach a message, whatever an error text contained."""
    return text.replace(token, "***") if token else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.publish",
        description="Publish a trained model folder (from `python -m trainer`) to the Hugging Face Hub in one "
        "commit, with a generated model card. The token comes from HF_TOKEN or `hf auth login`.",
        epilog="Example: python -m trainer.publish runs/default your-name/lstm-addition",
    )
    parser.add_argument("output_dir", metavar="OUTPUT_DIR", help="the trained model folder to upload")
    parser.add_argument("repo_id", metavar="REPO_ID", help="the Hub model repo, as owner/name (created if missing)")
    parser.add_argument(
        "--private", action="store_true", help="create the repo as private (an existing repo keeps its visibility)"
    )
    parser.add_argument("--message", metavar="TEXT", help="the commit message (default: names the measured accuracy)")
    parser.add_argument(
        "--revision", metavar="BRANCH", help="commit to this branch instead of main, creating it from main if missing"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="publish even if the headline accuracy is below the quality bar or unrecorded",
    )
    parser.add_argument(
        "--min-accuracy",
        metavar="X",
        type=_fraction,
        help=f"the quality bar, from 0 to 1, for the headline accuracy: every question when they "
        f"were all asked, else held-out exact match (default: {DEFAULT_MIN_ACCURACY}, or the "
        "run's target accuracy or pass mark when that is lower)",
    )
    return parser


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        url, sha = publish(
            args.output_dir,
            args.repo_id,
            private=args.private,
            commit_message=args.message,
            revision=args.revision,
            force=args.force,
            min_accuracy=args.min_accuracy,
        )
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Published {args.repo_id} @ {sha}")
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
