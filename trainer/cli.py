"""`python -m trainer`: the command line for training (and optionally publishing) a model.

Flags left unset take their values from the chosen preset; every value is
checked before any work starts, and a bad one stops the run with one sentence.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from pathlib import Path

from model.config import SAMPLINGS, ConfigError, TaskConfig

from .data import count_distinct_questions
from .settings import PRESETS, SCHEDULES, TrainSettings, check_settings

TASK_FLAGS = ("digits", "terms", "reverse", "sampling", "smallest", "largest")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer",
        description="Train the seq2seq LSTM that learns to add (e.g. '535+61' -> '596'), verify it on "
                    "held-out and (when feasible) all possible questions, and write a model folder "
                    "that the app and `keras.saving.load_model` can load.",
        epilog="Examples:\n  python -m trainer                       # default: 3-digit, 2 terms, ~5 min on 2 CPU cores\n"
               "  python -m trainer --preset keras-io      # the keras.io example, for comparison\n"
               "  python -m trainer --terms 3 --digits 2   # three 2-digit numbers\n"
               "  python -m trainer --output-dir runs/default --resume   # continue an interrupted run\n"
               "  python -m trainer --push-to-hub you/addition-lstm      # train, then publish",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="starting values for every flag below: 'default' (fast, near-perfect), 'keras-io' "
                        "(the keras.io example: 50k questions, batch 32, Adam 1e-3, 30 epochs) or 'brownlee' "
                        "(the tutorial: 3 terms from 1..10, no reversal, LSTM(100)->LSTM(50)). Default: default")
    task = p.add_argument_group("task (what the model learns)")
    task.add_argument("--digits", type=int, help="most digits per number (default 3)")
    task.add_argument("--terms", type=int, help="how many numbers are added, 2 to 18 (default 2; terms x digits at most 18)")
    task.add_argument("--reverse", action=argparse.BooleanOptionalAction,
                      help="feed the question reversed, as keras.io does (default: on)")
    task.add_argument("--sampling", choices=SAMPLINGS,
                      help="how training numbers are drawn: 'digits' = random length then digits (keras.io), "
                           "'uniform' = any value equally likely, 'mixed' = half each (default)")
    task.add_argument("--smallest", type=int, help="least value of a number (default 0)")
    task.add_argument("--largest", type=int, help="greatest value of a number (default 10**digits - 1)")
    data = p.add_argument_group("data")
    data.add_argument("--train-size", type=int,
                      help="training questions generated (default 2,400,000 random draws; with --unique, "
                           "distinct questions, capped by the task)")
    data.add_argument("--unique", action=argparse.BooleanOptionalAction,
                      help="never repeat a question in training, as keras.io does (default: off, "
                           "independent draws)")
    data.add_argument("--heldout-size", type=int, help="held-out questions never trained on (default 50,000, capped at a tenth of the task)")
    data.add_argument("--samples-per-epoch", type=int,
                      help="questions per epoch; each epoch ends with a held-out check (default 400,000; "
                           "with --unique, the training size)")
    fit = p.add_argument_group("training")
    fit.add_argument("--batch-size", type=int, help="questions per gradient step (default 512)")
    fit.add_argument("--learning-rate", type=float, help="peak Adam learning rate (default 1e-2)")
    fit.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default cosine: warm-up, decay to 0)")
    fit.add_argument("--clipnorm", type=float, help="clip each gradient to this norm; 0 = no clipping (default 1.0)")
    fit.add_argument("--epochs", type=int, help="most epochs to run (default 6)")
    fit.add_argument("--time-budget", type=float,
                     help="stop after the epoch that passes this many seconds; 0 = no limit (default 300)")
    fit.add_argument("--target-accuracy", type=float,
                     help="stop early once held-out exact-match reaches this fraction (default 1.0: all right)")
    fit.add_argument("--seed", type=int, help="random seed for data, weights and shuffling (default 1337)")
    net = p.add_argument_group("network (defaults: the keras.io architecture)")
    net.add_argument("--encoder-units", type=int, help="LSTM units per encoder layer (default 128)")
    net.add_argument("--decoder-units", type=int, help="LSTM units per decoder layer (default 128)")
    net.add_argument("--encoder-layers", type=int, help="stacked encoder LSTMs (default 1)")
    net.add_argument("--decoder-layers", type=int, help="stacked decoder LSTMs (default 1)")
    out = p.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, help="where the model folder is written (default runs/<preset>)")
    out.add_argument("--resume", action="store_true",
                     help="continue the interrupted run in --output-dir from its last finished epoch")
    out.add_argument("--show-samples", type=int, help="held-out questions printed after each epoch (default 10)")
    hub = p.add_argument_group("publishing (token from HF_TOKEN or `hf auth login`)")
    hub.add_argument("--push-to-hub", metavar="REPO_ID", help="after training, publish the model to this Hub repo")
    hub.add_argument("--private", action="store_true", help="create the Hub repo as private")
    hub.add_argument("--commit-message", help="commit message for the Hub upload")
    hub.add_argument("--revision", help="Hub branch to publish to (default main)")
    hub.add_argument("--force-push", action="store_true", help="publish even below the target accuracy")
    return p


def resolve(args: argparse.Namespace) -> tuple[TaskConfig, TrainSettings]:
    """Combine preset and flags into checked (task, settings); raise ValueError on bad values."""
    base_task, base_settings = PRESETS[args.preset]
    task_changes = {k: getattr(args, k) for k in TASK_FLAGS if getattr(args, k) is not None}
    if "digits" in task_changes and "largest" not in task_changes:
        task_changes["largest"] = None  # a preset's largest belongs to its own digit count
    try:
        task = dataclasses.replace(base_task, **task_changes)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    names = {f.name for f in dataclasses.fields(TrainSettings)}
    changes = {k: v for k, v in vars(args).items() if k in names and k != "preset" and v is not None}
    for off in ("time_budget", "clipnorm"):  # 0 switches these off
        if changes.get(off) == 0:
            changes[off] = None
    settings = dataclasses.replace(base_settings, **changes)
    distinct = count_distinct_questions(task)
    # Fit the defaults to small tasks; explicit sizes are checked, not changed. A
    # tenth of the task is held out at most; a task too small to spare 100
    # questions (the tutorial's 220) is checked on random draws it also trains on.
    if "heldout_size" not in changes and distinct // 10 >= 100:
        settings.heldout_size = min(settings.heldout_size, distinct // 10)
    if settings.unique and "train_size" not in changes:
        settings.train_size = max(1, min(settings.train_size, distinct - settings.heldout_size))
    if settings.unique and "samples_per_epoch" not in changes:
        settings.samples_per_epoch = max(settings.train_size, settings.batch_size)
    check_settings(settings, task, distinct)
    return task, settings


def prepare_output_dir(out_dir: Path, resume: bool) -> None:
    """Make sure `out_dir` is writable; a fresh run drops any stale checkpoint there."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"cannot write to output dir {out_dir}: {err.strerror or err}") from None
    if resume and not (out_dir / "checkpoint" / "backup").exists():
        raise ValueError(f"nothing to resume in {out_dir}: it holds no checkpoint of an interrupted run")
    if not resume:
        shutil.rmtree(out_dir / "checkpoint", ignore_errors=True)
        (out_dir / "history.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out_dir = args.output_dir or Path("runs") / args.preset
    try:
        if args.resume:
            prepare_output_dir(out_dir, resume=True)
            task = TaskConfig.load(out_dir / "task_config.json")
            settings = TrainSettings.from_json((out_dir / "train_settings.json").read_text(encoding="utf-8"))
            print(f"Resuming the run in {out_dir} with its saved settings.", flush=True)
        else:
            task, settings = resolve(args)
            prepare_output_dir(out_dir, resume=False)
    except (ValueError, OSError) as err:  # ConfigError is a ValueError
        parser.exit(2, f"{parser.prog}: error: {err}\n")

    from .train import train  # TensorFlow loads here, after the flags are known to be good

    metrics = train(task, settings, out_dir, resume=args.resume)
    if args.push_to_hub:
        return push(out_dir, args)
    print(f"Use it in the app:  ADDITION_MODEL={out_dir} python app.py")
    return 0 if metrics["heldout_exact_match"] >= 0 else 1


def push(out_dir: Path, args: argparse.Namespace) -> int:
    from .publish import PublishError, publish

    try:
        publish(out_dir, args.push_to_hub, private=args.private, commit_message=args.commit_message,
                revision=args.revision, force=args.force_push)
    except PublishError as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"The trained model is safe in {out_dir}. Publish it later with "
              f"`python -m trainer.publish {out_dir} {args.push_to_hub}` (add --force to skip the accuracy "
              f"gate; from this command that flag is --force-push).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
