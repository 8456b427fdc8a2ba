"""Training time-to-accuracy: our default trainer vs the keras.io example, on the same machine.

Runs `python -m trainer --output-dir D1` (our defaults) and then
`python -m trainer --preset keras-io --output-dir D2 --time-budget CAP` one after
the other, as subprocesses, and reads each run's history.json (held-out
exact-match and elapsed training seconds after every epoch) and metrics.json.
Reported per run: seconds to first reach 99% and 99.5% held-out exact-match,
final exact-match, samples seen, wrong answers among all 1,000,000 questions.

The keras.io baseline needs ~30 epochs (~8.5 min on 2 cores) to reach 99%, so to
fit the whole benchmark in 10 minutes it is capped: by default it may train for
what is left of 600 s after our run (about 150-200 s), stopping after the epoch
that passes the cap. When the cap stops it before a threshold, its time is
reported as "> T" (T = the seconds it did train) and the speed-up as a lower
bound "> T / ours", which is honest: the true ratio can only be larger. A second
ratio always exists: the seconds keras-io needed for the best exact-match it
reached at all, over the seconds ours needed for the same.
Use --baseline-time-budget 0 to let it run its full 30 epochs.

Flags this script does not know are passed to both runs (e.g. --seed 7);
--ours-flags / --baseline-flags go to one run only (e.g. --ours-flags "--time-budget 200").
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUIET_ENV, ROOT, finish, header, parser

THRESHOLDS = (0.99, 0.995)
QUICK_OURS = [
    "--digits",
    "2",
    "--epochs",
    "2",
    "--train-size",
    "20000",
    "--samples-per-epoch",
    "10000",
    "--heldout-size",
    "500",
]
QUICK_BASELINE = ["--digits", "2", "--epochs", "2"]


def run_trainer(name: str, flags: list[str], out_dir: Path) -> float:
    """Run `python -m trainer FLAGS --output-dir out_dir`, echoing its epoch lines; return wall seconds."""
    command = [sys.executable, "-m", "trainer", "--show-samples", "0", *flags, "--output-dir", str(out_dir)]
    print(f"\n## {name}\n\n    {' '.join(shlex.quote(c) for c in command[1:])}\n", flush=True)
    log_path = out_dir.parent / f"{out_dir.name}.log"
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **QUIET_ENV},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in proc.stdout:
            log.write(line)
            if line.startswith(("epoch ", "Exhaustive", "Held-out", "Target", "Time budget")):
                print("    " + line.rstrip(), flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"{name} failed with exit status {proc.returncode}; see {log_path}")
    return time.perf_counter() - started


def summarize(name: str, out_dir: Path, wall: float) -> dict:
    history = json.loads((out_dir / "history.json").read_text())
    metrics = json.loads((out_dir / "metrics.json").read_text())
    accuracy, elapsed = history["val_exact_match"], history["elapsed_seconds"]
    row = {"run": name, "epochs": len(accuracy), "history": (accuracy, elapsed)}
    for threshold in THRESHOLDS:
        hit = next((t for a, t in zip(accuracy, elapsed, strict=True) if a >= threshold), None)
        row[f"s to {threshold:.1%}"] = hit if hit is not None else f"not reached (> {elapsed[-1]:.0f})"
    row.update(
        {
            "trained s": elapsed[-1],
            "final exact-match": f"{metrics['heldout_exact_match']:.4%}",
            "held-out size": metrics["heldout_size"],
            "samples seen": int(history["samples_seen"][-1]),
            "exhaustive wrong": metrics.get("exhaustive_wrong"),
            "wall s": wall,
        }
    )
    return row


def speedup(ours: dict, base: dict, threshold: float) -> str:
    key = f"s to {threshold:.1%}"
    if isinstance(ours[key], str):
        return "n/a (ours did not reach it)"
    if isinstance(base[key], str):
        return f"> {base['trained s'] / ours[key]:.2f}x (keras-io did not reach it in {base['trained s']:.0f} s)"
    return f"{base[key] / ours[key]:.2f}x"


def main() -> None:
    p = parser(__doc__, model=False)
    p.add_argument(
        "--baseline-time-budget",
        type=float,
        help="cap on the keras-io run's training seconds (stops after the epoch that passes it); "
        "0 = no cap (default: what --total-seconds leaves after our run; quick: none)",
    )
    p.add_argument(
        "--total-seconds",
        type=float,
        default=600,
        help="wall-clock target for the whole benchmark, used to size the default cap (default 600)",
    )
    p.add_argument("--baseline-epochs", type=int, help="cap on the keras-io run's epochs (default: its own 30)")
    p.add_argument("--ours-flags", default="", help="extra trainer flags for our run only (one quoted string)")
    p.add_argument("--baseline-flags", default="", help="extra trainer flags for the keras-io run only")
    p.add_argument("--keep", type=Path, help="write the two model folders and logs here (default: a temp dir)")
    args, shared = p.parse_known_args()
    meta = header("Training time-to-accuracy: default trainer vs --preset keras-io")

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    ours_flags = (QUICK_OURS if args.quick else []) + shared + shlex.split(args.ours_flags)
    base_flags = ["--preset", "keras-io"] + (QUICK_BASELINE if args.quick else []) + shared
    if args.baseline_epochs:
        base_flags += ["--epochs", str(args.baseline_epochs)]

    started = time.perf_counter()
    ours = summarize("ours (default)", work / "ours", run_trainer("ours (default)", ours_flags, work / "ours"))
    budget = args.baseline_time_budget
    if budget is None and not args.quick:
        # What is left of --total-seconds, less the start-up and final checks (as long as ours took) and
        # one keras-io epoch (~20 s on 2 cores), since the trainer stops after the epoch that passes the cap.
        left = args.total_seconds - (time.perf_counter() - started)
        budget = max(60.0, left - (ours["wall s"] - ours["trained s"]) - 30)
    if budget:
        base_flags += ["--time-budget", f"{budget:.0f}"]
    base_flags += shlex.split(args.baseline_flags)  # last, so they win over the caps above
    base = summarize(
        "keras-io (baseline)", work / "keras-io", run_trainer("keras-io (baseline)", base_flags, work / "keras-io")
    )
    rows = [ours, base]
    lines = [
        f"Speed-up to {t:.1%} held-out exact-match (keras-io seconds / ours): **{speedup(ours, base, t)}**"
        for t in THRESHOLDS
    ]
    # A ratio that exists even when the capped baseline reached neither threshold: how long ours took
    # to reach the best held-out exact-match keras-io reached at all.
    best = max(base["history"][0])
    ours_time = next((t for a, t in zip(*ours["history"], strict=True) if a >= best), None)
    base_time = next(t for a, t in zip(*base["history"], strict=True) if a >= best)
    if ours_time and best > 0:
        lines.append(
            f"Speed-up to keras-io's best ({best:.2%}, reached at {base_time:.0f} s): "
            f"**{base_time / ours_time:.2f}x** (ours got there at {ours_time:.0f} s)"
        )
    for row in rows:
        del row["history"]
    lines.append(
        "Seconds are training time from history.json (after data generation, including the per-epoch "
        f"held-out checks); wall s also counts start-up and the final checks. Runs kept in {work}."
    )
    print()
    finish(meta, rows, "\n".join(lines), args.out, commands={"ours": ours_flags, "baseline": base_flags})


if __name__ == "__main__":
    main()
