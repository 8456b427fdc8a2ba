"""The trainer's command line: its parser, and flags plus preset turned into a checked run (trainer/run.py).

Flags left unset take their values from the chosen preset; every value is
checked before any work starts (and before TensorFlow loads), and a bad one
is one sentence naming the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

from model.bounds import bounds
from model.config import ConfigError, NetworkConfig, TaskConfig, distinct_count

from .flags import OneLineParser, add_flags, as_config_values, flag_names, given_flags, off_to_none
from .presets import PRESET_NOTES, PRESETS
from .rundir import RunError, RunFolder
from .settings import TrainSettings, check_settings

# The order of a default folder name's parts (runs/add3-d2-t3-…).
FOLDER_PARTS: tuple[str, ...] = (
    "digits",
    "terms",
    "min_terms",
    "operators",
    "reverse",
    "sampling",
    "smallest",
    "largest",
    "answer_order",
    "brackets",
)
FOLDER_PARTS += ("cell", "encoder_units", "decoder_units", "encoder_layers", "decoder_layers", "decoder", "attention")
NAMED_VALUES = ("cell", "sampling", "answer_order", "decoder", "attention")  # a folder-name part is the value
SHORT = {
    "digits": "d",
    "terms": "t",
    "min_terms": "min",
    "smallest": "from",
    "largest": "to",
    "encoder_units": "enc",
    "decoder_units": "dec",
    "encoder_layers": "el",
    "decoder_layers": "dl",
}
OPERATOR_NAMES = {"+": "add", "-": "sub", "*": "mul"}
MAX_CPU_REPLICAS = 16  # logical CPU devices for --distribute without a GPU
MAX_CONNECT_SECONDS = 3600


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m trainer",
        description="Train a seq2seq recurrent network to do arithmetic ('535+61' -> '596'), verify it on every "
        "question (when they can be listed) or a large pool, and write a model folder that the app "
        "and `keras.saving.load_model` load. Exit status: 0 target met, 1 missed/diverged/could not "
        "write, 2 bad flags, 130 interrupted.",
        epilog="Presets (the model zoo; 'default' is add3):\n"
        + "".join(f"  {name:<10} {note}\n" for name, note in PRESET_NOTES.items())
        + "Examples:\n  python -m trainer                        # add3: 3-digit sums, checked on all 1,000,000\n"
        "  python -m trainer --preset sub3          # 3-digit subtraction, negative answers\n"
        "  python -m trainer --digits 2 --operators '+-*' --terms 3   # a custom task\n"
        "  python -m trainer --cell gru             # the same task with a GRU\n"
        "  python -m trainer --decoder attention --answer-order lsb   # attention, units digit first\n"
        "  python -m trainer --output-dir runs/add3 --resume   # continue an interrupted run\n"
        "  python -m trainer --push-to-hub you/addition-lstm   # train, then publish\n"
        "Output folder: runs/<preset>, plus one part per task or network flag given, e.g.\n"
        "  --preset add3 --digits 2 --cell gru  ->  runs/add3-d2-gru\n"
        "A finished model there is replaced only with --overwrite, and only by a run that meets its\n"
        "target (one that misses it goes to <output-dir>.below-target/). The run works in\n"
        "<output-dir>.partial/ (checkpoint, settings, history) until the model is complete.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="starting values for every flag below (see the list under Presets). Default: add3",
    )
    add3_task, add3_net, add3_settings = PRESETS["add3"]
    add_flags(p.add_argument_group("task (what the model learns)"), TaskConfig, add3_task)
    add_flags(
        p.add_argument_group("network (defaults: the keras.io architecture, LSTM 128 -> RepeatVector -> LSTM 128)"),
        NetworkConfig,
        add3_net,
    )
    add_flags(p.add_argument_group("training"), TrainSettings, add3_settings)
    out = p.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, help="where the model folder goes (default runs/<preset>...)")
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished model in --output-dir (kept until the new one is complete)",
    )
    out.add_argument("--resume", action="store_true", help="continue the interrupted run for --output-dir")
    scale = p.add_argument_group("devices (a GPU, when present, is used without flags)")
    scale.add_argument(
        "--distribute",
        action="store_true",
        help="train on several devices with tf.distribute, each global batch split across them: every GPU of "
        "this machine (MirroredStrategy), several machines when TF_CONFIG is set (MultiWorkerMirroredStrategy), "
        "or, with no GPU, --cpu-replicas logical CPU devices",
    )
    scale.add_argument(
        "--cpu-replicas",
        type=int,
        default=2,
        help=f"with --distribute and no GPU: logical CPU devices, 2 to {MAX_CPU_REPLICAS} (default 2)",
    )
    scale.add_argument(
        "--connect-timeout",
        type=float,
        default=60,
        help="with --distribute and TF_CONFIG: seconds a worker waits for the others to join (at the start, "
        "and after losing one) before it stops with exit status 1 (default 60)",
    )
    hub = p.add_argument_group("publishing (token from HF_TOKEN or `hf auth login`)")
    hub.add_argument("--push-to-hub", metavar="REPO_ID", help="after training, publish the model to this Hub repo")
    hub.add_argument("--private", action="store_true", help="create the Hub repo as private")
    hub.add_argument("--commit-message", help="commit message for the Hub upload")
    hub.add_argument("--revision", help="Hub branch to publish to (default main)")
    hub.add_argument("--force-push", action="store_true", help="publish even below the quality gate")
    return p


def preset_name(args: argparse.Namespace) -> str:
    return args.preset or "add3"


def as_flag(err: Exception) -> ValueError:
    """A config's one-sentence error in the words of the command line: its field becomes the flag."""
    text, field = str(err), getattr(err, "field", None)
    if field in flag_names(TaskConfig) + flag_names(NetworkConfig) and text.startswith(field):
        text = "--" + field.replace("_", "-") + text[len(field) :]
    return ValueError(text)


def typed_values(args: argparse.Namespace) -> dict[str, Any]:
    """Every task, network and training flag given, an off value (0 or -1) as None."""
    values: dict[str, Any] = {}
    for config_class in (TaskConfig, NetworkConfig, TrainSettings):
        for name, value in given_flags(args, config_class).items():
            values[name] = off_to_none(name, value, bounds(config_class)[name])
    return values


def resolve(args: argparse.Namespace) -> tuple[TaskConfig, NetworkConfig, TrainSettings]:
    """Combine preset and flags into checked (task, network, settings); raise ValueError with one sentence."""
    base_task, base_net, base_settings = PRESETS[preset_name(args)]
    try:
        task = dataclasses.replace(base_task, **as_config_values(given_flags(args, TaskConfig), TaskConfig))
        net = dataclasses.replace(base_net, **as_config_values(given_flags(args, NetworkConfig), NetworkConfig))
    except (ConfigError, TypeError) as err:
        raise as_flag(err) from None
    changes = as_config_values(given_flags(args, TrainSettings), TrainSettings)
    if task != base_task and "pass_accuracy" not in changes:
        changes["pass_accuracy"] = None  # add3's 99.9996% is 4 wrong of its own 1,000,000: not another task's
    settings = dataclasses.replace(base_settings, **changes)
    chosen = "heldout_size" in changes or base_settings.heldout_size != TrainSettings().heldout_size
    settings.heldout_size = heldout_size(task, settings.heldout_size, chosen=chosen)
    check_settings(settings, task)
    return task, net, settings


def heldout_size(task: TaskConfig, size: int, *, chosen: bool) -> int:
    """Hold out at most a tenth of a small task, unless a flag or the preset chose the check set's size."""
    distinct = distinct_count(task)
    return size if chosen or distinct // 10 < 100 else min(size, distinct // 10)


def default_output(args: argparse.Namespace) -> Path:
    """runs/<preset>, and -d2-t3-… for every task or network flag given: tasks never share a folder."""
    parts = [preset_name(args) if preset_name(args) != "default" else "add3"]
    for name in FOLDER_PARTS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name == "operators":
            parts.append("-".join(OPERATOR_NAMES.get(op, "op") for op in value))
        elif name in ("reverse", "brackets"):
            parts.append(name if value else f"no{name}")
        elif name in NAMED_VALUES:
            parts.append(str(value))
        else:
            parts.append(f"{SHORT[name]}{value}")
    return Path("runs") / "-".join(parts)


def resume_run(args: argparse.Namespace, folder: RunFolder) -> tuple[TaskConfig, NetworkConfig, TrainSettings]:
    """The interrupted run's checked task, network and settings; RunError if the flags given now differ."""
    task, net, settings = folder.resume()
    try:
        check_settings(settings, task)
    except ValueError as err:
        raise RunError(
            f"the interrupted run in {folder.work} cannot be resumed: its train_settings.json is invalid ({err})"
        ) from None
    recorded = {**task.to_dict(), **net.to_dict(), **dataclasses.asdict(settings)}
    given = typed_values(args)
    differ = sorted(k for k, v in given.items() if recorded.get(k) != v)
    if args.preset is not None and args.preset != settings.preset:
        differ.insert(0, "preset")
    if differ:
        raise RunError(
            f"--resume continues the run as it was started, and it was not started with "
            f"{', '.join('--' + k.replace('_', '-') for k in differ)} as given now; drop those flags, "
            "or start afresh without --resume"
        )
    return task, net, settings


def run_options_problem(args: argparse.Namespace) -> str:
    """One sentence for a device flag out of bounds, else ""."""
    if not 2 <= args.cpu_replicas <= MAX_CPU_REPLICAS:
        return f"--cpu-replicas must be a whole number from 2 to {MAX_CPU_REPLICAS}"
    if not 1 <= args.connect_timeout <= MAX_CONNECT_SECONDS:
        return f"--connect-timeout must be from 1 to {MAX_CONNECT_SECONDS} seconds"
    return ""


def quiet_tensorflow() -> None:
    """Keep TensorFlow's chatter (CUDA probes, XLA notices, retracing warnings) out of the run's log."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def push(out_dir: Path, args: argparse.Namespace) -> bool:
    """Publish the model folder to --push-to-hub; False (and where the model is, and how to publish it
    later, on stderr) if that fails."""
    from .publish import PublishError, publish

    try:
        publish(
            out_dir,
            args.push_to_hub,
            private=args.private,
            commit_message=args.commit_message,
            revision=args.revision,
            force=args.force_push,
        )
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        print(
            f"The trained model is safe in {out_dir}. Publish it later with "
            f"`python -m trainer.publish {out_dir} {args.push_to_hub}` (add --force to skip the accuracy "
            f"gate; from this command that flag is --force-push).",
            file=sys.stderr,
        )
        return False
    return True
