"""Scaling: how the cost of learning n-digit sums grows with n, for the keras.io design and the best one.

For each digit count of --digits and each of two designs, one after the other on this machine, each as
its own process:

1. `python -m trainer --digits D --decoder ... --answer-order ...`: the default recipe (add3's: batch 512,
   fresh questions each epoch, a cosine rate with polishing, hard questions), with no margin target,
   stopping at 99.9% held-out exact match or when the --budget of seconds of training is spent;
2. `python -m trainer.evaluate FOLDER --samples 100000 --seed 7 --no-exhaustive`: the model it saved, on
   100,000 fresh questions drawn uniformly over the task.

The designs: keras.io's (one summary vector repeated to the decoder, answers written most significant
digit first: `--decoder repeat --answer-order msb`) and the best this project has (the attention decoder,
answers written units first: `--decoder attention --answer-order lsb`). Both get the same recipe, so
the difference is the design alone.

Reported for each run: seconds of training to 99% and 99.9% held-out exact match, samples seen to
99% and in all, seconds trained, and wrong of the 100,000. Then, per digit count, the ratio keras.io /
best of seconds to 99% ("> x" when keras.io never reached it within its budget), and for each design
how its seconds to 99% grow relative to the fewest digits. The held-out set is uniform over the task
and kept out of training (trainer/data.py heldout_set), except for 2-digit sums, whose 5,050 distinct
questions are too few to hold 20,000 out (the row says so). Times are at epoch ends, so they are as
fine as --samples-per-epoch, and include the trainer's per-epoch checks, since they steer it.

The default digit counts are the issue's, 2, 3, 5, 8 and 10, but the project refuses two of them
(model/config.py; the bounds stay): 10 is past MAX_DIGITS = 9, and two 9-digit numbers make 10**18
questions, whose indexes would not stay below 10**18 (int64). A refused count is left out, with the
trainer's own one-sentence reason in the output; 8 digits is the largest.

`--quick`: 2 and 3 digits, 20 s a run and short epochs (a smoke test of the benchmark itself).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import QUIET_ENV, ROOT, finish, header, parser
from train_speed import first_time, run

THRESHOLDS = (0.99, 0.999)
ISSUE_DIGITS = (2, 3, 5, 8, 10)  # the digit counts the issue asks for
EVAL_SAMPLES = 100_000
EVAL_SEED = 7
NOT_HELD_OUT = "it is not held out"  # the trainer's note when the task is too small to hold its check set out
DESIGNS = {  # name -> the trainer's flags
    "keras.io (repeat, msb)": ["--decoder", "repeat", "--answer-order", "msb"],
    "best (attention, lsb)": ["--decoder", "attention", "--answer-order", "lsb"],
}
BASE, BEST = DESIGNS
QUICK_DIGITS = (2, 3)
QUICK_BUDGET = 20.0


def digit_list(text: str) -> list[int]:
    """'2,3,5' -> [2, 3, 5]; argparse turns the ValueError into one line."""
    return [int(part) for part in text.split(",") if part.strip()]


def trainer_flags(digits: int, design: str, *, budget: float, samples_per_epoch: int, quick: bool = False) -> list[str]:
    """The trainer's flags for one run (--quick: short epochs and small checks, to smoke-test this script)."""
    heldout, samples = ("2000", "20000") if quick else ("20000", str(samples_per_epoch))
    return [
        "--digits",
        str(digits),
        *DESIGNS[design],
        "--time-budget",
        f"{budget:g}",
        "--target-margin",
        "-1",  # no margin target: held-out exact match alone ends the run
        "--target-accuracy",
        f"{THRESHOLDS[-1]}",
        "--heldout-size",
        heldout,
        "--samples-per-epoch",
        samples,
        "--batch-size",
        "512",
        *(["--space-check-size", "20000"] if quick else []),
    ]


def refusal(flags: list[str]) -> str | None:
    """The trainer's one sentence against these flags, or None; checked as the trainer checks them, no TF."""
    from trainer.cli import build_parser, resolve

    try:
        resolve(build_parser().parse_args(flags))
    except ValueError as err:
        return str(err)
    return None


def wrong_of(folder: Path, log_path: Path) -> int | None:
    """Wrong answers of the saved model on EVAL_SAMPLES uniform random questions (trainer.evaluate)."""
    command = [
        sys.executable,
        "-m",
        "trainer.evaluate",
        str(folder),
        "--samples",
        str(EVAL_SAMPLES),
        "--seed",
        str(EVAL_SEED),
        "--no-exhaustive",
        "--show-failures",
        "0",
    ]
    done = subprocess.run(command, cwd=ROOT, env={**QUIET_ENV, **os.environ}, capture_output=True)
    log_path.write_bytes(done.stdout + done.stderr)
    found = re.search(r"^Random questions: .*\(([\d,]+) wrong\)", done.stdout.decode(), re.MULTILINE)
    return int(found.group(1).replace(",", "")) if done.returncode == 0 and found else None


def scaling_run(digits: int, design: str, flags: list[str], out: Path) -> dict:
    """Train one model and evaluate it; a row of the table (a run that saved no model says so)."""
    for stale in (out, out.with_name(out.name + ".below-target"), out.with_name(out.name + ".partial")):
        shutil.rmtree(stale, ignore_errors=True)  # a --keep folder from an earlier run: never read its results
    command = [sys.executable, "-m", "trainer", "--show-samples", "0", *flags, "--output-dir", str(out)]
    log_path = out.with_suffix(".log")
    run(f"{digits} digits, {design}", command, log_path)
    row: dict = {"digits": digits, "design": design}
    if NOT_HELD_OUT in log_path.read_text():  # 2-digit sums: 5,050 distinct questions, too few to hold 20,000 out
        row["note"] = "the check set is not held out (too few distinct questions): it is also trained on"
    folder = next((f for f in (out, out.with_name(out.name + ".below-target")) if (f / "history.json").is_file()), None)
    if folder is None:
        return {**row, "trained s": None, "note": f"no model saved; see {log_path}"}
    h = json.loads((folder / "history.json").read_text())
    accuracy, seconds, samples = h["val_exact_match"], h["elapsed_seconds"], h["samples_seen"]
    for t in THRESHOLDS:
        row[f"s to {t:.1%}"] = first_time(accuracy, seconds, lambda a, t=t: a >= t)
    at_99 = first_time(accuracy, samples, lambda a: a >= THRESHOLDS[0])
    row.update(
        {
            "samples to 99.0%": int(at_99) if at_99 is not None else None,
            "samples seen": int(samples[-1]),
            "trained s": seconds[-1],
            "final held-out": f"{accuracy[-1]:.2%}",
            f"wrong of {EVAL_SAMPLES:,}": wrong_of(folder, out.with_name(out.name + "-evaluate.log")),
        }
    )
    return row


def speedup(base: dict, best: dict, key: str = "s to 99.0%") -> str:
    """keras.io / best of seconds to the threshold: "3.1x", "> 3.1x" when keras.io never got there, else words."""
    b, o = base.get(key), best.get(key)
    if o is None:
        return "neither reached it" if b is None else "best did not reach it"
    if b is None:
        return f"> {base['trained s'] / o:.1f}x" if base.get("trained s") else "n/a"
    return f"{b / o:.1f}x"


def growth(rows: list[dict], key: str = "s to 99.0%") -> list[str]:
    """Each run's seconds to the threshold relative to the first row's: "1.0x", "4.2x", "> 9.0x", "-"."""
    first = rows[0].get(key)
    out = []
    for r in rows:
        if first is None:
            out.append("-")
        elif r.get(key) is not None:
            out.append(f"{r[key] / first:.1f}x")
        else:
            out.append(f"> {r['trained s'] / first:.1f}x" if r.get("trained s") else "-")
    return out


def per_digit_factor(rows: list[dict], key: str = "s to 99.0%") -> float | None:
    """About how many times longer each extra digit takes: (t_last / t_first) ** (1 / extra digits), over the
    runs that reached the threshold (None if fewer than two did)."""
    reached = [r for r in rows if r.get(key)]
    if len(reached) < 2 or reached[-1]["digits"] == reached[0]["digits"]:
        return None
    return math.exp(math.log(reached[-1][key] / reached[0][key]) / (reached[-1]["digits"] - reached[0]["digits"]))


def summary(rows: list[dict], budget: float, left_out: list[str]) -> str:
    by = {(r["digits"], r["design"]): r for r in rows}
    digits = sorted({r["digits"] for r in rows})
    lines = [f"Budget: {budget:g} s of training a run. Ratios keras.io / best, seconds to 99.0%:"]
    for d in digits:
        if (d, BASE) in by and (d, BEST) in by:
            lines.append(f"- {d} digits: **{speedup(by[d, BASE], by[d, BEST])}**")
    lines.append(f"Growth: seconds to 99.0% relative to {digits[0]} digits ('>' never reached it in its budget):")
    for design in DESIGNS:
        mine = [by[d, design] for d in digits if (d, design) in by]
        parts = ", ".join(f"{r['digits']} digits {g}" for r, g in zip(mine, growth(mine), strict=True))
        factor = per_digit_factor(mine)
        each = f"; about {factor:.2f}x per extra digit where reached" if factor else ""
        lines.append(f"- {design}: {parts}{each}")
    notes = [f"- {r['digits']} digits, {r['design']}: {r['note']}" for r in rows if r.get("note")]
    lines += ["Notes:", *notes] if notes else []
    lines += [f"Left out: {note}" for note in left_out]
    return "\n".join(lines)


def main() -> None:
    p = parser(__doc__, model=False)
    p.add_argument(
        "--digits",
        type=digit_list,
        default=list(ISSUE_DIGITS),
        help="comma-separated digit counts (default 2,3,5,8,10, the issue's; those the project refuses are "
        "left out with the reason)",
    )
    p.add_argument("--budget", type=float, default=300.0, help="seconds of training a run, a cap (default 300)")
    p.add_argument("--samples-per-epoch", type=int, default=200_000, help="questions between checks (200,000)")
    p.add_argument("--keep", type=Path, help="keep the runs and logs in this folder (default: a temp folder)")
    args = p.parse_args()
    meta = header("Scaling: seconds to 99% exact match by digit count, keras.io design vs best")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    digits, budget = (QUICK_DIGITS, QUICK_BUDGET) if args.quick else (args.digits, args.budget)
    rows, left_out = [], []
    for d in digits:
        problem = refusal(trainer_flags(d, BASE, budget=budget, samples_per_epoch=args.samples_per_epoch))
        if problem:
            left_out.append(f"{d} digits: the trainer refuses it ({problem}).")
            print(f"\n{d} digits: left out, the trainer refuses it: {problem}", flush=True)
            continue
        for design in DESIGNS:
            flags = trainer_flags(d, design, budget=budget, samples_per_epoch=args.samples_per_epoch, quick=args.quick)
            name = f"d{d}-{design.split()[0].replace('.', '')}"
            rows.append(scaling_run(d, design, flags, work / name))
    if not rows:
        raise SystemExit("No digit count of --digits can be trained; " + " ".join(left_out))
    for r in rows:
        if r["design"] == BEST and any(b["digits"] == r["digits"] and b["design"] == BASE for b in rows):
            base = next(b for b in rows if b["digits"] == r["digits"] and b["design"] == BASE)
            r["keras.io / best, s to 99%"] = speedup(base, r)
    columns = [
        "digits",
        "design",
        "s to 99.0%",
        "s to 99.9%",
        "samples to 99.0%",
        "samples seen",
        "trained s",
        "final held-out",
        f"wrong of {EVAL_SAMPLES:,}",
        "keras.io / best, s to 99%",
    ]
    table_rows = [{c: r.get(c, "" if c.startswith("keras.io") else None) for c in columns} for r in rows]
    text = summary(rows, budget, left_out) + f"\nRuns and logs in {work}."
    finish(meta, table_rows, text, args.out, runs=rows, designs=DESIGNS, quick=args.quick)


if __name__ == "__main__":
    main()
