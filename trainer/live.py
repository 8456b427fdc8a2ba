"""`python -m trainer.live`: a small training for the app's "Train your own" tab, reported as JSON lines.

The app keeps one of these warm (`--warm`): TensorFlow imported, niced and on
one thread, waiting for one line of settings on stdin; it trains once and
exits, and the app starts the next. Each line on stdout is one event: `ready`
(warm and waiting), `start` (the task and the map's axes), `epoch` (loss,
held-out exact match, per-position accuracy, keras.io-style sample lines, the
margins of every question on the map), then `done` or `error`. Anything else
the process prints goes to stderr.

The training itself is trainer/live_training.py (the project's one engine,
final check and folder writer, with a budget the final checks fit inside);
what a visitor may ask for is trainer/live_settings.py. It stops when every
question on the map is right with a clear margin, when the budget is spent, or
when told to stop (a `stop` line on stdin, or the stop file); the model
trained so far is saved as a folder `python app.py --model` and
`keras.saving.load_model` accept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from .flags import add_flags, given_flags
from .live_settings import LiveSettings, visitor_settings
from .live_training import Events, TrainingFailed, prepare_tensorflow, run

MAX_REQUEST_BYTES = 4096  # the settings line a warm trainer reads
WARM_NICENESS = 10  # a warm trainer runs below the app's own threads, so visitors' answers stay fast


def stdin_stop(stop: threading.Event) -> None:
    """Watch stdin after the settings: a `stop` line asks for a stop; end of input means the app is gone."""

    def watch() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                stop.set()
        os._exit(0)  # the app closed our stdin: it is gone or killing us; nobody reads the result

    threading.Thread(target=watch, daemon=True, name="stdin-stop").start()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.live", description=__doc__.split("\n\n")[0])
    p.add_argument("--warm", action="store_true", help="import TensorFlow, then wait for one JSON request on stdin")
    add_flags(p, LiveSettings, LiveSettings(), example_name="default")
    p.add_argument("--output", type=Path, help="the model folder to write")
    p.add_argument("--stop-file", type=Path, help="stop (and save) once this file exists")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    events = Events.on_stdout()
    stop = threading.Event()
    if args.warm:
        os.nice(WARM_NICENESS)  # the app starts us without a fork, so we lower our own priority
        prepare_tensorflow(rehearse=True)
        events.emit("ready")
        line = sys.stdin.readline(MAX_REQUEST_BYTES)
        if not line:
            return 0  # the app closed before it needed us
        if line.strip() == "stop":  # the visitor pressed Stop before the app had handed us the settings
            events.emit("error", message="The training was stopped before it started; nothing was trained.")
            return 0
        try:
            request = json.loads(line)
            settings = visitor_settings(request["settings"])
            output = Path(request["output"])
        except (ValueError, KeyError, TypeError) as err:
            message = str(err) if isinstance(err, ValueError) and not isinstance(err, json.JSONDecodeError) else ""
            events.emit("error", message=message or "The training request could not be read.")
            return 2
        stdin_stop(stop)
        should_stop = stop.is_set
    else:
        if args.output is None:
            build_parser().error("--output is required without --warm")
        raw = given_flags(args, LiveSettings)
        try:
            settings = visitor_settings(raw)
        except ValueError as err:
            events.emit("error", message=str(err))
            return 2
        output, stop_file = args.output, args.stop_file
        should_stop = (lambda: stop_file.exists()) if stop_file else stop.is_set
        prepare_tensorflow()
    try:
        run(settings, output, should_stop, events)
    except TrainingFailed as err:
        events.emit("error", message=str(err))
        return 1
    except Exception:  # the traceback goes to stderr, which the app logs; the page gets one sentence, no paths
        import traceback

        traceback.print_exc()
        events.emit("error", message="The training failed on the server; nothing was saved.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
