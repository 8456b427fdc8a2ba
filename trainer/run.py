"""`python -m trainer`: one training run, top to bottom.

1. settings   the flags and the preset become a checked task, network and training settings (cli.py)
2. folder     the run works in <output-dir>.partial/ until its model is complete (rundir.py)
3. devices    one device, several, or several machines (workers.py)
4. training   questions, network and loop: the training engine (train.py)
5. check      every question (or a pool) and the held-out set; did the run meet its target? (final_check.py)
6. saving     the model folder, written in one step where the check says it belongs (saving.py)
7. exit       the exit status, decided here alone
8. publish    with --push-to-hub, to the Hugging Face Hub (publish.py)

Exit status: 0 the model met its target or pass mark; 1 it missed them (the model is kept, never over an
earlier one), diverged (no model is saved) or could not be written; 2 a bad flag, an unusable folder, or
a worker that could not reach the others within --connect-timeout, nothing trained; 130 interrupted
(continue with --resume).
"""

from __future__ import annotations

import argparse
import sys

from .cli import build_parser, default_output, push, quiet_tensorflow, resolve, resume_run, run_options_problem
from .rundir import RunError, RunFolder
from .workers import Workers, weights_digest

OK, MISSED, BAD_FLAGS, INTERRUPTED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    # 1. Settings ---------------------------------------------------------------------------------------
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = run_options_problem(args)
    if problem:
        return refuse(parser, problem)
    try:
        workers = Workers.from_environment(args.distribute)
        folder = RunFolder(workers.folder(args.output_dir or default_output(args)))
        task, net, settings = resume_run(args, folder) if args.resume else resolve(args)
        # 2. The run folder -----------------------------------------------------------------------------
        # A worker started again with the same command may continue the run: the workers decide together
        # once connected (step 3); otherwise this is a fresh run.
        if not args.resume and not (workers.several and folder.belongs_to(task, net, settings)):
            folder.start(task, net, settings, overwrite=args.overwrite)
    except (ValueError, RunError) as err:  # ConfigError is a ValueError
        return refuse(parser, str(err))

    # 3. Devices ----------------------------------------------------------------------------------------
    quiet_tensorflow()
    import tensorflow as tf  # loads here, after the flags are known to be good

    from .distribute import UNREACHABLE, ClusterError
    from .final_check import final_check
    from .saving import save_model
    from .train import Training

    try:
        strategy = workers.strategy(args.distribute, args.cpu_replicas, args.connect_timeout)
        resume = workers.where_to_start(
            strategy, folder, task, net, settings, resume=args.resume, overwrite=args.overwrite
        )
        # 4. Training: questions, network and loop ------------------------------------------------------
        outcome = Training(task, net, settings, folder, resume=resume, strategy=strategy).fit()
        # 5. The final check ------------------------------------------------------------------------------
        check = final_check(outcome, task, net, settings, folder)
        # 6. Saving ------------------------------------------------------------------------------------
        saved_to = save_model(outcome, check, task, net, settings, folder, chief=workers.chief)
        if workers.several:
            print(f"Final weights: sha256 {weights_digest(outcome.model)} (the same on every worker)", flush=True)
    except KeyboardInterrupt:
        return interrupted(folder)
    except ClusterError as err:  # nothing was trained: the status the watchdog's end of the wait gives too
        workers.could_not_join(err.cause, args.connect_timeout)
        return fail(parser, str(err), UNREACHABLE)
    except RunError as err:
        return fail(parser, str(err))
    except tf.errors.OpError as err:
        if not workers.several:
            raise
        return fail(parser, workers.lost_another(err))

    # 7. Exit status ------------------------------------------------------------------------------------
    if not check.reached:
        where = f"{saved_to}, beside the earlier model in {folder.out}" if saved_to != folder.out else str(saved_to)
        print(f"{check.metrics['headline']}.", flush=True)
        print(
            f"error: the run missed its target ({check.why}); the model is in {where}, for a look",
            file=sys.stderr,
            flush=True,
        )
        return MISSED
    if workers.chief:
        print(f"Use it in the app:  python app.py --model {saved_to}", flush=True)
    print(f"{check.metrics['headline']}.", flush=True)

    # 8. Publish ----------------------------------------------------------------------------------------
    if args.push_to_hub and workers.chief:
        return OK if push(folder.out, args) else MISSED
    return OK


def refuse(parser: argparse.ArgumentParser, sentence: str) -> int:
    """A bad flag or an unusable folder: one line, nothing done."""
    print(f"{parser.prog}: error: {sentence}", file=sys.stderr, flush=True)
    return BAD_FLAGS


def fail(parser: argparse.ArgumentParser, sentence: str, status: int = MISSED) -> int:
    print(f"{parser.prog}: error: {sentence}", file=sys.stderr, flush=True)
    return status


def interrupted(folder: RunFolder) -> int:
    if folder.can_resume():
        print(
            f"\nInterrupted. The last finished epoch is saved; continue with:\n"
            f"  python -m trainer --output-dir {folder.out} --resume",
            flush=True,
        )
    else:
        print("\nInterrupted before the first epoch was saved; there is nothing to resume.", flush=True)
    return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
