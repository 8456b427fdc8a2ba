"""Training speed: the keras.io example's own script, the --preset keras-io recipe, and our default, side by side.

Runs, one after the other on this machine, each as its own process:

1. `bench/keras_io/addition_rnn.py`: the keras.io example's script as published
   (29 iterations of `model.fit` at batch 32 on 45,000 questions, ten
   `model.predict` sample lines each), adapted only for NumPy 2, with the
   held-out exact match measured after every epoch outside its clock;
2. `python -m trainer --preset keras-io`: that recipe in our trainer;
3. `python -m trainer` (the default, the zoo's add3: the keras.io network shape);
4. `python -m trainer --preset add3-attention`: the same task and recipe on the attention decoder, with
   answers written units first (the design of the issue "Beyond the keras.io architecture").

Reported for each: seconds of training to 99% and 99.9% held-out exact match
(the whole answer right), the wrong count over all 1,000,000 3-digit questions
at the end, seconds to 0 wrong (or "never"), and samples seen. Ratios are
against the original script (or, with --skip-original, the first run). Seconds are training time: question generation,
the per-epoch checks of the original and the final verification are left out
(our trainer's per-epoch checks are in its time, since they steer it).

`--quick` skips the original script and shortens the trainer runs to 2-digit
sums (a smoke test of the benchmark itself).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUIET_ENV, ROOT, finish, header, parser

THRESHOLDS = (0.99, 0.999)
ORIGINAL = ROOT / "bench" / "keras_io" / "addition_rnn.py"
QUICK = [
    "--digits",
    "2",
    "--epochs",
    "3",
    "--samples-per-epoch",
    "20000",
    "--heldout-size",
    "500",
    "--train-size",
    "4000",
]


def run(name: str, command: list[str], log_path: Path) -> float:
    """Run one command, echoing its epoch lines; return wall seconds. Exit on failure (it says where to look)."""
    print(f"\n## {name}\n\n    {shlex.join(command[1:])}\n", flush=True)
    started = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**QUIET_ENV, **os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if line.startswith(("epoch ", "Every question", "Target", "Time budget")):
                print("    " + line.rstrip(), flush=True)
    # Our trainer exits 1 when a run misses its pass mark: still a result to report, as long as it saved a model.
    if proc.wait() not in (0, 1):
        raise SystemExit(f"{name} failed with exit status {proc.returncode}; see {log_path}")
    return time.perf_counter() - started


def first_time(values: list[float], seconds: list[float], reached) -> float | None:
    return next((t for v, t in zip(values, seconds, strict=True) if reached(v)), None)


def row_for(
    name: str,
    accuracy: list[float],
    seconds: list[float],
    samples: int,
    wrong: int | None,
    zero_at: float | None,
    wall: float,
) -> dict:
    row: dict = {"run": name, "epochs": len(accuracy)}
    for t in THRESHOLDS:
        row[f"s to {t:.1%}"] = first_time(accuracy, seconds, lambda a, t=t: a >= t)
    row.update(
        {
            "trained s": seconds[-1],
            "final held-out": f"{accuracy[-1]:.4%}",
            "samples seen": samples,
            "wrong of 1,000,000": wrong,
            "s to 0 wrong": zero_at if zero_at is not None else "never",
            "wall s": wall,
        }
    )
    return row


def original(work: Path) -> dict:
    history_path = work / "original.json"
    wall = run(
        "keras.io script as published", [sys.executable, str(ORIGINAL), str(history_path)], work / "original.log"
    )
    h = json.loads(history_path.read_text())
    wrong = h["exhaustive_wrong"]
    zero = h["elapsed_seconds"][-1] if wrong == 0 else None  # measured once, at the end
    return row_for(
        "keras.io script (original)",
        h["val_exact_match"],
        h["elapsed_seconds"],
        h["samples_seen"][-1],
        wrong,
        zero,
        wall,
    )


def trainer_run(name: str, flags: list[str], out: Path) -> dict:
    for stale in (out, out.with_name(out.name + ".below-target"), out.with_name(out.name + ".partial")):
        shutil.rmtree(stale, ignore_errors=True)  # a --keep folder from an earlier run: never read its results
    command = [sys.executable, "-m", "trainer", "--show-samples", "0", *flags, "--output-dir", str(out)]
    wall = run(name, command, out.with_suffix(".log"))
    folder = out if out.is_dir() else out.with_name(out.name + ".below-target")
    h = json.loads((folder / "history.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    wrong = metrics.get("exhaustive_wrong")
    # The trainer stops at its margin target only after confirming every question right; otherwise the
    # final exhaustive count says whether the end of the run had 0 wrong.
    zero = h["elapsed_seconds"][-1] if wrong == 0 else None
    return row_for(name, h["val_exact_match"], h["elapsed_seconds"], int(h["samples_seen"][-1]), wrong, zero, wall)


def ratio(base: dict, ours: dict, key: str) -> str:
    b, o = base[key], ours[key]
    if o is None or o == "never":
        return f"{ours['run']} did not reach it"
    if b is None or b == "never":
        return f"> {base['trained s'] / o:.1f}x ({base['run']} never reached it in {base['trained s']:.0f} s)"
    return f"{b / o:.1f}x"


def main() -> None:
    p = parser(__doc__, model=False)
    p.add_argument("--keep", type=Path, help="keep the runs and logs in this folder (default: a temp folder)")
    p.add_argument("--skip-original", action="store_true", help="leave out the original script (~9 minutes)")
    p.add_argument("--skip-keras-io", action="store_true", help="leave out --preset keras-io (~5 minutes)")
    p.add_argument(
        "--skip-attention", action="store_true", help="leave out --preset add3-attention (up to ~17 minutes)"
    )
    args = p.parse_args()
    meta = header("Training speed: keras.io script vs --preset keras-io vs our default")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    quick = QUICK if args.quick else []
    rows = []
    if not (args.quick or args.skip_original):
        rows.append(original(work))
    if not args.skip_keras_io:
        rows.append(trainer_run("--preset keras-io", ["--preset", "keras-io", *quick], work / "keras-io"))
    rows.append(trainer_run("ours (default: add3)", quick, work / "ours"))
    if not args.skip_attention:
        attention = ["--preset", "add3-attention", *quick]
        rows.append(trainer_run("ours (add3-attention: attention, units first)", attention, work / "attention"))
    base = rows[0]
    lines = []
    for ours in rows[1:]:
        lines.append(f"Ratios {base['run']} / {ours['run']}:")
        for key in [f"s to {t:.1%}" for t in THRESHOLDS] + ["s to 0 wrong"]:
            lines.append(f"- {key.replace('s to', 'time to')}: **{ratio(base, ours, key)}**")
        lines.append(f"- samples seen: {base['samples seen']:,} vs {ours['samples seen']:,}")
    lines.append(f"Runs and logs in {work}.")
    finish(meta, rows, "\n".join(lines), args.out, commands={"original": str(ORIGINAL), "quick": quick})


if __name__ == "__main__":
    main()
