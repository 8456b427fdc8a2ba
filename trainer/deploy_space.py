"""Deploy the app as a Hugging Face Space, in one command and one commit.

    python -m trainer.deploy_space OWNER/SPACE [--private] [--model NAME_OR_REPO]
                                   [--models LIST] [--revision REV] [--message TEXT] [--dry-run]

Why a command rather than `git push`: the Space must hold exactly what the app
needs, not whatever happens to lie in a checkout (runs, caches, test
screenshots, a stray token file). So the files are chosen by an allow-list,
relative to the folder that holds app.py whatever the current directory:
app.py and every project module it runs, found from its imports
(trainer/app_code.py: the model/ and web/ code, and the trainer modules that
"Train your own" starts as `python -m trainer.live`), the bundled models
(model/zoo: .json .h5 .npz .png), requirements.txt, .gitattributes and README.md. The
README that goes up is the Space's own short card, not this repository's: the front matter of README.md
(the Space configuration) followed by trainer/space_card.md filled in from it (space_card). They go up
in one commit that also deletes whatever else the Space holds, so the Space mirrors the allow-list.
Symbolic links are never followed or uploaded, and a file holding something shaped like a token stops
the deploy (and the dry run) with a sentence naming it, whatever its name (README.md's whole text
included, not only the part the card keeps).

--model, --models and --revision set the Space variables that app.py reads
(ADDITION_MODEL, ADDITION_MODELS, ADDITION_MODEL_REVISION); variables not named
are left as they are. --dry-run lists the files and contacts nothing.

The token is whatever huggingface_hub finds (HF_TOKEN or `hf auth login`); it is
never printed or written anywhere. Failures are one sentence and exit status 1;
bad arguments, exit status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from string import Template

from .app_code import app_modules
from .flags import OneLineParser
from .publish import NO_TOKEN_MESSAGE, explain_hub_error, scrub_token
from .upload_safety import UploadRefused, checked_bytes, read_for_upload

ROOT = Path(__file__).resolve().parent.parent  # the folder holding app.py
TOP_FILES = ("app.py", "requirements.txt", "README.md", ".gitattributes")
REQUIRED = ("app.py", "requirements.txt", "README.md")
CARD_TEMPLATE = Path(__file__).with_name("space_card.md")  # the Space's README below the front matter
FRONT_MATTER = re.compile(r"---\n(.*?)\n---\n", re.DOTALL)
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}", re.ASCII)
MODEL_TREES = ("model/zoo",)  # bundled models: their data files
MODEL_SUFFIXES = (".json", ".h5", ".npz", ".png")
# Never uploaded, even inside an allowed tree: caches, local runs and resume state, tests and their output.
SKIPPED_DIRS = {
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".gradio",
    "runs",
    "tests",
    "bench",
    "docs",
    "test-artifacts",
    "checkpoint",
    "flagged",
}
SECRET_NAME = re.compile(
    r"secret|token|credential|passw|api[_-]?key|private[_-]?key|^\.env|^\.netrc$|^id_(rsa|dsa|"
    r"ecdsa|ed25519)|\.(pem|key|p12|pfx)$",
    re.IGNORECASE,
)
VARIABLES = {"model": "ADDITION_MODEL", "models": "ADDITION_MODELS", "revision": "ADDITION_MODEL_REVISION"}


class DeployError(RuntimeError):
    """The deploy was refused or failed; the message is one sentence for a person."""


def space_files(root: Path = ROOT) -> list[str]:
    """The allow-listed files under `root`, as sorted POSIX paths relative to it."""
    root = Path(root)
    missing = [name for name in REQUIRED if not _plain_file(root / name)]
    if missing:
        raise DeployError(
            f"{root} is not the app's folder: it lacks {', '.join(missing)} (as plain files: links are never uploaded)."
        )
    found = {name for name in TOP_FILES if _plain_file(root / name)}
    found |= app_modules(root, lambda part: _allowed(part) and _allowed(part + ".py"))
    for tree in MODEL_TREES:
        for folder, dirs, names in os.walk(root / tree):  # symlinked folders are not followed
            dirs[:] = sorted(d for d in dirs if _allowed(d) and not d.endswith(".partial"))
            for name in names:
                path = Path(folder, name)
                if name.endswith(MODEL_SUFFIXES) and _allowed(name) and _plain_file(path):
                    found.add(path.relative_to(root).as_posix())
    return sorted(found)


def space_contents(root: Path = ROOT) -> dict[str, bytes]:
    """path -> bytes of every allow-listed file, read once without following links; DeployError for a file
    holding something shaped like a token (whatever its name)."""
    try:
        contents = {path: read_for_upload(Path(root) / path, path) for path in space_files(root)}
        contents["README.md"] = checked_bytes(space_card(contents["README.md"]), "the Space's card (README.md)")
    except UploadRefused as err:
        raise DeployError(f"Refusing to deploy: {err}.") from None
    return contents


def space_card(readme: bytes) -> bytes:
    """The Space's own README: `readme`'s front matter as it is, then the card template filled in from it
    (its title, short description and a link to each model it names); DeployError without front matter."""
    import yaml

    match = FRONT_MATTER.match(readme.decode("utf-8", errors="replace"))
    if not match:
        raise DeployError("README.md must start with the Space's front matter between '---' lines.")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        meta = None
    if not isinstance(meta, dict):
        raise DeployError("README.md's front matter is not a YAML mapping.")
    models = [m for m in meta.get("models") or [] if isinstance(m, str) and REPO_ID.fullmatch(m)]
    lines = "".join(f"- Model: [{m}](https://huggingface.co/{m})\n" for m in models)
    body = Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=str(meta.get("title", "")).strip(),
        short_description=str(meta.get("short_description", "")).strip().rstrip("."),
        models=lines,
    )
    return (match.group(0) + "\n" + body).encode("utf-8")


def _allowed(name: str) -> bool:
    return not (name.startswith(".") or name in SKIPPED_DIRS or SECRET_NAME.search(name))


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def space_variables(model: str | None = None, models: str | None = None, revision: str | None = None) -> dict[str, str]:
    """The Space variables to set, from the flags that were given."""
    given = {"model": model, "models": models, "revision": revision}
    return {VARIABLES[flag]: value for flag, value in given.items() if value is not None}


def deploy(
    repo_id: str,
    *,
    root: Path = ROOT,
    token: str | None = None,
    private: bool = False,
    variables: dict[str, str] | None = None,
    message: str | None = None,
) -> tuple[str, str]:
    """Create the Space if needed, set `variables`, then make it hold exactly space_files(root), in one commit.

    Returns (Space URL, commit sha). Raises DeployError, whose message is meant to be shown as is.
    """
    root = Path(root)
    contents = space_contents(root)
    files = sorted(contents)
    import huggingface_hub as hub

    if not (token or hub.get_token()):
        raise DeployError(NO_TOKEN_MESSAGE)
    try:
        api = hub.HfApi(token=token)
        url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        # Variables first, so the build that the commit starts already serves the chosen model.
        for key, value in (variables or {}).items():
            api.add_space_variable(repo_id, key, value)
        stale = sorted(set(api.list_repo_files(repo_id, repo_type="space")) - set(files))
        operations: list[hub.CommitOperationAdd | hub.CommitOperationDelete] = [
            hub.CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in contents.items()
        ]
        operations += [hub.CommitOperationDelete(path_in_repo=path) for path in stale]
        info = api.create_commit(
            repo_id,
            operations=operations,
            repo_type="space",
            commit_message=message or f"Deploy the app ({len(files)} files)",
        )
    except Exception as err:  # every failure becomes one sentence
        if "Invalid metadata in README.md" in str(err):
            lines = [line.strip("- ") for line in str(err).splitlines()[1:] if line.strip()]
            reason = f"the Hub rejected README.md's front matter ({'; '.join(lines) or 'no reason given'})"
        else:
            reason = explain_hub_error(err, repo_id, hub.constants.ENDPOINT)
        raise DeployError(scrub_token(f"Deploying to {repo_id} failed: {reason}.", token or hub.get_token())) from None
    return str(url).rstrip("/"), info.oid


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m trainer.deploy_space",
        description="Deploy this app as a Gradio Space on the Hugging Face Hub: create the Space if needed and "
        "upload exactly the files it needs (app.py and the code it imports, the trainer modules Train your own runs, "
        "bundled models, "
        "requirements.txt, .gitattributes, and a short README card built from README.md's front matter) in one "
        "commit that also removes anything else. "
        "The token comes from HF_TOKEN or `hf auth login`.",
        epilog="Example: python -m trainer.deploy_space your-name/addition --model your-name/addition-lstm",
    )
    parser.add_argument("repo_id", metavar="OWNER/SPACE", help="the Space to deploy to (created if missing)")
    parser.add_argument(
        "--private", action="store_true", help="create the Space as private (an existing Space keeps its visibility)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_REPO",
        help="the model the Space serves by default: a Hub repo id (owner/name) or a folder in the "
        "Space such as model/zoo/NAME; sets the Space variable ADDITION_MODEL",
    )
    parser.add_argument(
        "--models",
        metavar="LIST",
        help="more models to offer, comma-separated repo ids or folders (a repo id optionally as "
        "repo@revision); sets ADDITION_MODELS",
    )
    parser.add_argument(
        "--revision", metavar="REV", help="pin --model to a branch, tag or commit sha; sets ADDITION_MODEL_REVISION"
    )
    parser.add_argument("--message", metavar="TEXT", help="the commit message (default: 'Deploy the app (N files)')")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the files (path and size) and variables that would go up; contact nothing",
    )
    return parser


def check_arguments(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, as one clause, or None."""
    if (
        not re.fullmatch(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}", args.repo_id, re.ASCII)
        or ".." in args.repo_id
    ):
        return f"{args.repo_id!r} is not a Space id; expected OWNER/SPACE, such as your-name/addition"
    for flag in ("model", "models", "revision"):
        value = getattr(args, flag)
        if value is not None and (not value.strip() or re.search(r"\s", value)):
            return f"--{flag} must be a non-empty value without spaces, got {value!r}"
    if args.models is not None and not all(args.models.split(",")):
        return f"--models must be names or repo ids separated by single commas, got {args.models!r}"
    if args.message is not None and not args.message.strip():
        return "--message must not be empty"
    return None


def dry_run(repo_id: str, variables: dict[str, str], root: Path = ROOT) -> None:
    contents = space_contents(root)  # the same checks as a deploy: a token-shaped file fails here too
    files = sorted(contents)
    sizes = [len(contents[path]) for path in files]
    width = max(len(path) for path in files)
    print(f"Would deploy {len(files)} files from {root} to the Space {repo_id} (dry run: nothing contacted):")
    for path, size in zip(files, sizes, strict=True):
        print(f"  {path:<{width}}  {size:>12,} bytes")
    print(f"Total: {sum(sizes):,} bytes in {len(files)} files")
    for key, value in variables.items():
        print(f"Would set the Space variable {key}={value}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (problem := check_arguments(args)) is not None:
        parser.error(problem)
    variables = space_variables(args.model, args.models, args.revision)
    try:
        if args.dry_run:
            dry_run(args.repo_id, variables)
            return 0
        url, sha = deploy(args.repo_id, private=args.private, variables=variables, message=args.message)
    except DeployError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Deployed {args.repo_id} @ {sha}")
    for key, value in variables.items():
        print(f"Space variable {key}={value}")
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
