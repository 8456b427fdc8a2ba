"""`python -m trainer`: the command line for training (and optionally publishing) a model.

Flags left unset take their values from the chosen preset; every value is
checked before any work starts (and before TensorFlow loads), and a bad one
stops the run with one sentence. Exit status: 0 the model met its target or
pass mark; 1 it missed them (the model is kept, never over an earlier one),
diverged (no model is saved) or could not be written; 2 a bad flag or an
unusable folder, nothing done; 130 interrupted (resume with --resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from model.config import (
    ANSWER_ORDERS,
    ATTENTIONS,
    CELLS,
    DECODERS,
    SAMPLINGS,
    ConfigError,
    NetworkConfig,
    TaskConfig,
    distinct_count,
)

from . import rejoin
from .rundir import RunError, RunFolder
from .settings import PRESET_NOTES, PRESETS, SCHEDULES, TrainSettings, check_settings
from .tf_config import cluster_spec

TASK_FLAGS = (
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
NET_FLAGS = ("cell", "encoder_units", "decoder_units", "encoder_layers", "decoder_layers", "decoder", "attention")
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


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
    task = p.add_argument_group("task (what the model learns)")
    task.add_argument("--digits", type=int, help="most digits per number, 1 to 9 (add3: 3)")
    task.add_argument("--terms", type=int, help="most numbers in a question, 2 to 18 (add3: 2)")
    task.add_argument(
        "--min-terms",
        type=int,
        help="fewest numbers in a question: one model answers --min-terms "
        "to --terms numbers (default: exactly --terms)",
    )
    task.add_argument(
        "--operators",
        help="operators, one per gap, drawn at random: any of '+', '-', '*' (e.g. '+-*'); * before + and - (add3: '+')",
    )
    task.add_argument(
        "--reverse",
        action=argparse.BooleanOptionalAction,
        help="feed the question reversed, as keras.io does (add3: on)",
    )
    task.add_argument(
        "--sampling",
        choices=SAMPLINGS,
        help="how numbers are drawn: 'digits' = random length then digits (keras.io), 'uniform', "
        "or 'mixed' = half each (add3)",
    )
    task.add_argument("--smallest", type=int, help="least value of a number (default 0)")
    task.add_argument("--largest", type=int, help="greatest value of a number (default 10**digits - 1)")
    task.add_argument(
        "--answer-order",
        choices=ANSWER_ORDERS,
        help="the order the network writes an answer: 'msb' most significant digit first, as people do "
        "(keras.io, add3), or 'lsb' units first, so each digit comes after the carry it needs",
    )
    task.add_argument(
        "--brackets",
        action=argparse.BooleanOptionalAction,
        help="questions may bracket their numbers, e.g. (12+7)*3, every pattern equally often; 2 to 5 numbers "
        "(default off)",
    )
    net = p.add_argument_group("network (defaults: the keras.io architecture, LSTM 128 -> RepeatVector -> LSTM 128)")
    net.add_argument("--cell", choices=CELLS, help="recurrent cell (default lstm)")
    net.add_argument("--encoder-units", type=int, help="units per encoder layer, 1 to 512 (default 128)")
    net.add_argument("--decoder-units", type=int, help="units per decoder layer, 1 to 512 (default 128)")
    net.add_argument("--encoder-layers", type=int, help="stacked encoder layers, 1 to 4 (default 1)")
    net.add_argument("--decoder-layers", type=int, help="stacked decoder layers, 1 to 4 (default 1)")
    net.add_argument(
        "--decoder",
        choices=DECODERS,
        help="'repeat': the decoder reads the question's one summary vector at every step (keras.io, the "
        "default); 'attention': it reads its own last answer character and attends over every encoder state "
        "(needs equal --encoder-units and --decoder-units)",
    )
    net.add_argument(
        "--attention",
        choices=ATTENTIONS,
        help="with --decoder attention: 'dot' (Luong, the default) or 'additive' (Bahdanau) scores",
    )
    fit = p.add_argument_group("training")
    fit.add_argument(
        "--samples-per-epoch", type=int, help="questions per epoch, 1 to 100,000,000; checks follow each epoch"
    )
    fit.add_argument("--epochs", type=int, help="most epochs, 1 to 10,000")
    fit.add_argument(
        "--decay-epochs",
        type=int,
        help="cosine schedule: epochs over which the rate decays, after "
        "which it stays at its floor (default: all epochs)",
    )
    fit.add_argument(
        "--floor", type=float, help="cosine schedule: the final rate as a fraction of the peak, 0 to 1 (default 0.1)"
    )
    fit.add_argument(
        "--polish-samples",
        type=int,
        help="after --decay-epochs, train in short rounds of this many questions, half of them the least sure "
        "ones, re-measuring those near the margin after each (add3: 50,000; default: off)",
    )
    fit.add_argument(
        "--polish-repeats",
        type=int,
        help="the most times a polishing round draws one hard question; the rest are fresh draws "
        "(add3: 32; 0 = no limit, the default)",
    )
    fit.add_argument(
        "--polish-ema",
        type=float,
        help="polishing: keep a moving average of the weights with this momentum and end each round on it, "
        "0.5 to 0.9999 (add3: 0.99; 0 = off, the default)",
    )
    fit.add_argument("--batch-size", type=int, help="questions per gradient step, 1 to 65,536")
    fit.add_argument(
        "--learning-rate", type=float, help="peak Adam learning rate: a finite number above 0 (at most 1e30)"
    )
    fit.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="learning-rate schedule: cosine (warm-up, then decay to a tenth) or constant",
    )
    fit.add_argument("--clipnorm", type=float, help="clip gradients to this norm; 0 = no clipping")
    fit.add_argument(
        "--time-budget",
        type=float,
        help="seconds of training, a cap: the run skips an epoch it expects to pass it and ends one that "
        "reaches it at the next batch; that epoch's checks and the final verification come after. "
        "0 = no limit (add3: 3600, a cap only: its 60 epochs or its margin end it)",
    )
    fit.add_argument(
        "--target-margin",
        type=float,
        help="stop once every question (or the pool) is right by this margin, p(right) - p(best wrong) "
        "at the weakest position; -1 = no margin target (add3: 0.5)",
    )
    fit.add_argument(
        "--target-accuracy",
        type=float,
        help="stop once held-out exact match reaches this fraction; 0 = none. Without a margin target "
        "or a pass mark, the run passes by reaching it (on every question when they are listed)",
    )
    fit.add_argument(
        "--pass-accuracy",
        type=float,
        help="the run passes (exit 0) when its headline accuracy (every question when they can be "
        "listed, else held-out) reaches this, whether or not it stopped at its target; -1 = pass "
        "only by reaching the target. Presets set it (add3: 0.999996, at most 4 wrong of 1,000,000); a "
        "--target-margin or --target-accuracy, or a task flag that changes the task, given without it "
        "drops the preset's",
    )
    fit.add_argument(
        "--hard-fraction",
        type=float,
        help="share of each epoch drawn from the questions with the smallest margins, 0 to 0.9 (add3: 0.3)",
    )
    fit.add_argument("--space-check-size", type=int, help="questions of the space re-measured after each epoch")
    fit.add_argument(
        "--pool-size",
        type=int,
        help="size of the random pool that stands for a space too large to list (default 500,000)",
    )
    fit.add_argument("--seed", type=int, help="random seed for data, weights and shuffling, 0 to 2**32-1")
    data = p.add_argument_group("data")
    data.add_argument(
        "--train-size",
        type=int,
        help="train on this many questions drawn once, as keras.io does "
        "(default 0: fresh random questions every epoch)",
    )
    data.add_argument(
        "--unique",
        action=argparse.BooleanOptionalAction,
        help="with --train-size: no question twice, as keras.io (default on); --no-unique lets draws repeat",
    )
    data.add_argument(
        "--heldout-size",
        type=int,
        help="held-out questions, never trained on, checked each epoch: 1 to 1,000,000 (only up to a "
        "tenth of the task's questions can really be held out; more are drawn and marked so)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--output-dir", type=Path, help="where the model folder goes (default runs/<preset>...)")
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished model in --output-dir (kept until the new one is complete)",
    )
    out.add_argument("--resume", action="store_true", help="continue the interrupted run for --output-dir")
    out.add_argument("--show-samples", type=int, help="held-out questions printed after each epoch, 0 to 1,000")
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


@dataclass(frozen=True)
class Override:
    """What giving one flag does to the preset's values, besides setting its own field."""

    off: float | None = None  # the value that switches the setting off (it is stored as None)
    resets: tuple[str, ...] = ()  # the preset's values that stop applying once the flag is given


OVERRIDES = {
    "digits": Override(resets=("largest",)),  # a preset's largest term belongs to its own digit count
    "operators": Override(resets=("alphabet",)),  # the alphabet is derived from the operators...
    "brackets": Override(resets=("alphabet",)),  # ...and the brackets
    "time_budget": Override(off=0),
    "clipnorm": Override(off=0),
    "polish_repeats": Override(off=0),
    "polish_ema": Override(off=0),
    # A target typed now says what success is: the preset's pass mark belonged to the preset's own target.
    "target_margin": Override(off=-1, resets=("pass_accuracy",)),
    "target_accuracy": Override(off=0, resets=("pass_accuracy",)),
    "pass_accuracy": Override(off=-1),
}
SETTING_FLAGS = tuple(f.name for f in dataclasses.fields(TrainSettings) if f.name != "preset")


def typed(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The values of these fields given on the command line, a switch-off value (0 or -1) as None."""
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    for name, value in values.items():
        off = OVERRIDES.get(name, Override()).off
        if off is not None and value == off:
            values[name] = None
    return values


def with_resets(given: dict[str, Any]) -> dict[str, Any]:
    """The changes to a preset: what was given, plus None for each value a given flag resets (unless that
    value was given too)."""
    resets = {field: None for name in given for field in OVERRIDES.get(name, Override()).resets}
    return {**resets, **given}


def as_flag(err: Exception) -> ValueError:
    """A config's one-sentence error in the words of the command line: its field becomes the flag."""
    text, field = str(err), getattr(err, "field", None)
    if field in TASK_FLAGS + NET_FLAGS and text.startswith(field):
        text = "--" + field.replace("_", "-") + text[len(field) :]
    return ValueError(text)


def resolve(args: argparse.Namespace) -> tuple[TaskConfig, NetworkConfig, TrainSettings]:
    """Combine preset and flags into checked (task, network, settings); raise ValueError with one sentence."""
    base_task, base_net, base_settings = PRESETS[preset_name(args)]
    try:
        task = dataclasses.replace(base_task, **with_resets(typed(args, TASK_FLAGS)))
        net = dataclasses.replace(base_net, **with_resets(typed(args, NET_FLAGS)))
    except (ConfigError, TypeError) as err:
        raise as_flag(err) from None
    changes = with_resets(typed(args, SETTING_FLAGS))
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
    for name in TASK_FLAGS + NET_FLAGS:
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
    given = typed(args, TASK_FLAGS + NET_FLAGS + SETTING_FLAGS)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 2 <= args.cpu_replicas <= MAX_CPU_REPLICAS:
        parser.exit(2, f"{parser.prog}: error: --cpu-replicas must be a whole number from 2 to {MAX_CPU_REPLICAS}\n")
    if not 1 <= args.connect_timeout <= MAX_CONNECT_SECONDS:
        parser.exit(2, f"{parser.prog}: error: --connect-timeout must be from 1 to {MAX_CONNECT_SECONDS} seconds\n")
    try:
        spec = cluster_spec() if args.distribute else None
        worker = spec[1] if spec is not None else 0
        folder = RunFolder(worker_folder(args.output_dir or default_output(args), worker))
        if args.resume:
            task, net, settings = resume_run(args, folder)
        else:
            task, net, settings = resolve(args)
            # A worker started again with the same command may continue the run: the workers decide together
            # once connected (distribute.agree_where_to_start); otherwise this is a fresh run.
            if spec is None or not folder.belongs_to(task, net, settings):
                folder.start(task, net, settings, overwrite=args.overwrite)
    except (ValueError, RunError) as err:  # ConfigError is a ValueError
        parser.exit(2, f"{parser.prog}: error: {err}\n")

    quiet_tensorflow()
    import tensorflow as tf  # loads here, after the flags are known to be good

    from .distribute import Cluster, ClusterError, agree_where_to_start, choose_strategy
    from .finish import finish
    from .train import Training

    if spec is not None:
        rejoin.start_clock()
    try:
        strategy = choose_strategy(
            args.distribute,
            args.cpu_replicas,
            connect_seconds=rejoin.seconds_left(args.connect_timeout),
            connect_total=args.connect_timeout,
        )
        resume = args.resume
        if spec is not None:
            resume = agree_where_to_start(Cluster(strategy), folder, task, net, settings)
            if not resume and folder.can_resume():
                folder.start(task, net, settings, overwrite=args.overwrite)
        outcome = Training(task, net, settings, folder, resume=resume, strategy=strategy).fit()
        status = finish(outcome, task, net, settings, folder, chief=worker == 0)
        if spec is not None:
            print(f"Final weights: sha256 {weights_digest(outcome.model)} (the same on every worker)", flush=True)
    except KeyboardInterrupt:
        if folder.can_resume():
            print(
                f"\nInterrupted. The last finished epoch is saved; continue with:\n"
                f"  python -m trainer --output-dir {folder.out} --resume",
                flush=True,
            )
        else:
            print("\nInterrupted before the first epoch was saved; there is nothing to resume.", flush=True)
        return 130
    except ClusterError as err:
        if rejoin.seconds_left(args.connect_timeout) > 1:  # e.g. a peer still held by the old run: try again
            rejoin.again(f"could not join yet ({err.cause})", lost_worker=False)
        print(f"{parser.prog}: error: {err}", file=sys.stderr, flush=True)
        return 1
    except RunError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr, flush=True)
        return 1
    except tf.errors.OpError as err:
        if spec is None:
            raise
        # A worker was lost (killed, or its machine went away): TensorFlow cannot go on in this process.
        rejoin.again(f"lost contact with another worker ({type(err).__name__})", lost_worker=True)
        print(
            f"{parser.prog}: error: lost contact with another worker {rejoin.MAX_REJOINS} times; the last saved "
            "epoch is kept: start every worker again with the same command to continue",
            file=sys.stderr,
            flush=True,
        )
        return 1
    if args.push_to_hub and status == 0 and worker == 0:
        return push(folder.out, args)
    return status


def weights_digest(model: Any) -> str:
    import hashlib

    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(w.tobytes())
    return digest.hexdigest()[:16]


def worker_folder(out: Path, worker: int) -> Path:
    """Where a worker of a multi-worker run keeps its work: the chief (0) the output folder itself, the
    others a sibling of their own, whose model is written to a temporary folder and dropped (finish.py)."""
    return out if worker == 0 else out.with_name(f"{out.name}.worker-{worker}")


def quiet_tensorflow() -> None:
    """Keep TensorFlow's chatter (CUDA probes, XLA notices, retracing warnings) out of the run's log."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def push(out_dir: Path, args: argparse.Namespace) -> int:
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
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
