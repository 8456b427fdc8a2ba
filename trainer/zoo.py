"""`python -m trainer.zoo`: rebuild the bundled model zoo, each model verified against its target.

For each entry: `python -m trainer --preset NAME` into runs/zoo/NAME, then
`python -m trainer.evaluate` on fresh questions (every question when they can
be listed), then the model's files are copied into model/zoo/NAME and listed in
model/zoo/index.json (the app serves what is listed there, the first as the
default). A table of what each model measured, against its target, is written
to bench/results/zoo.md for the README. Run by hand (each training takes
minutes); `python -m trainer.zoo add2 mul2` rebuilds only those.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZOO_DIR = ROOT / "model" / "zoo"
RUNS = ROOT / "runs" / "zoo"
RESULTS = ROOT / "bench" / "results" / "zoo.json"  # each model's last measured row, kept with the table


@dataclass(frozen=True)
class Entry:
    name: str
    task: str  # in words, for the table
    target: str  # the target, in words
    samples: int  # fresh random questions for trainer.evaluate
    min_accuracy: float  # the target as a headline accuracy (every question when listed, else random)
    pattern_accuracy: float | None = None  # and for each operator (or bracket) pattern of the random questions


ZOO = [
    Entry("add3", "3 digits, 2 terms, +", "0 wrong of all 1,000,000, every margin >= 0.5", 100_000, 1.0),
    Entry(
        "add3-attention",
        "as add3, attention decoder, units first",
        "0 wrong of all 1,000,000 (a comparison with add3)",
        100_000,
        1.0,
    ),
    Entry("add2", "2 digits, 2 terms, +", "0 wrong of all 10,000", 10_000, 1.0),
    Entry("add5", "5 digits, 2 terms, +", ">= 99.99% on 1,000,000 random", 1_000_000, 0.9999),
    Entry("add-terms", "2 digits, 2-4 terms, +", ">= 99.9% on 100,000 random", 100_000, 0.999),
    Entry("sub3", "3 digits, 2 terms, - (negative answers)", "0 wrong of all 1,000,000", 100_000, 1.0),
    Entry(
        "mixed3",
        "2 digits, 3 terms, + - x mixed",
        ">= 99% on 200,000 random, each operator pattern >= 97%",
        200_000,
        0.99,
        pattern_accuracy=0.97,
    ),
    Entry("mul2", "2 digits, 2 terms, x", "0 wrong of all 10,000", 10_000, 1.0),
    Entry(
        "brackets3",
        "as mixed3, with brackets",
        ">= 99% on 200,000 random, each bracket pattern >= 97%",
        200_000,
        0.99,
        pattern_accuracy=0.97,
    ),
    Entry("gru3", "as add3, GRU cells", "(comparison: same budget)", 100_000, 0.0),
    Entry("rnn3", "as add3, SimpleRNN cells", "(comparison: same budget)", 100_000, 0.0),
    Entry("keras-io", "the keras.io example's recipe", "(reference)", 100_000, 0.0),
]


def train(entry: Entry) -> tuple[int, float]:
    """Train one preset; return (exit status, wall seconds). The trainer's own output goes to a log."""
    RUNS.mkdir(parents=True, exist_ok=True)
    for stale in (RUNS / entry.name, RUNS / f"{entry.name}.partial", RUNS / f"{entry.name}.below-target"):
        shutil.rmtree(stale, ignore_errors=True)  # a fresh folder: the result lands there, met or missed
    log = RUNS / f"{entry.name}.log"
    started = time.time()
    with open(log, "w") as out:
        status = subprocess.call(
            [sys.executable, "-m", "trainer", "--preset", entry.name, "--output-dir", str(RUNS / entry.name)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return status, time.time() - started


def evaluate(entry: Entry) -> tuple[int, str]:
    """trainer.evaluate on fresh questions; (exit status, its report)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainer.evaluate",
            str(RUNS / entry.name),
            "--samples",
            str(entry.samples),
            "--seed",
            "99",
            "--min-accuracy",
            str(entry.min_accuracy),
            "--show-failures",
            "3",
            *(["--min-pattern-accuracy", str(entry.pattern_accuracy)] if entry.pattern_accuracy is not None else []),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return done.returncode, done.stdout + done.stderr


def ship(entry: Entry) -> int:
    """Copy the model's files into model/zoo/NAME (atomically replacing an earlier copy); return its bytes."""
    from model.storage import MODEL_FOLDER_FILES, write_model_folder

    source = RUNS / entry.name

    def write(tmp: Path) -> None:
        for name in MODEL_FOLDER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, tmp / name)

    write_model_folder(ZOO_DIR / entry.name, write)
    return sum(p.stat().st_size for p in (ZOO_DIR / entry.name).iterdir())


def summary_line(report: str) -> str:
    """The headline of an evaluate report: the every-question line when there is one, else the random one."""
    every = re.search(r"^Every question: ([^\n]*?) in [0-9.]+s", report, re.MULTILINE)
    random = re.search(r"^Random questions: ([^;\n]*)", report, re.MULTILINE)
    return (every.group(1) if every else "") or (random.group(1) if random else report.strip()[:120])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.zoo", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="rebuild only these (default: all)")
    parser.add_argument("--skip-training", action="store_true", help="verify and ship what runs/zoo holds")
    args = parser.parse_args(argv)
    wanted = [e for e in ZOO if not args.names or e.name in args.names]
    unknown = set(args.names) - {e.name for e in ZOO}
    if unknown:
        parser.exit(2, f"{parser.prog}: error: no zoo entry called {', '.join(sorted(unknown))}\n")
    for entry in wanted:
        print(f"== {entry.name}: {entry.task}", flush=True)
        status, _seconds = train(entry) if not args.skip_training else (0, 0.0)
        if not (RUNS / entry.name / "model.weights.h5").is_file():
            print(f"   training failed (exit {status}); see {RUNS / entry.name}.log", flush=True)
            continue
        verdict, report = evaluate(entry)
        # Shipped met or missed (the table says which): a row is never dropped, a miss is reported.
        size = ship(entry)
        metrics = json.loads((RUNS / entry.name / "metrics.json").read_text())
        row = {
            "task": entry.task,
            "target": entry.target,
            "measured": summary_line(report),
            "met": verdict == 0 and entry.min_accuracy > 0,
            "trainer_exit": status,
            "train_seconds": metrics.get("train_seconds"),
            "cell": json.loads((RUNS / entry.name / "network.json").read_text())["cell"],
            "design": design(RUNS / entry.name),
        }
        results = record(entry.name, row)
        print(
            f"   {row['measured']} (target {entry.target}); trained {row['train_seconds']}s; "
            + f"{size / 1e3:,.0f} kB"
            + ("" if verdict == 0 else "; MISSED its target"),
            flush=True,
        )
        write_table(results)
    order = [e.name for e in ZOO if (ZOO_DIR / e.name / "model.weights.h5").is_file()]
    (ZOO_DIR / "index.json").write_text(json.dumps({"default": "add3", "models": order}, indent=2) + "\n")
    write_table(record())
    return 0


def record(name: str | None = None, row: dict | None = None) -> dict:
    """Every model's last measured row (bench/results/zoo.json), with `name`'s replaced by `row`. Locked, so
    several `python -m trainer.zoo NAME` runs side by side keep each other's rows."""
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        if name is not None:
            results[name] = row
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def design(folder: Path) -> str:
    """The network's design in words: its decoder and the order it writes answers in."""
    network = json.loads((folder / "network.json").read_text())
    task = json.loads((folder / "task_config.json").read_text())
    decoder = network.get("decoder", "repeat")
    words = "keras.io (RepeatVector)" if decoder == "repeat" else f"attention ({network.get('attention', 'dot')})"
    return words + (", units first" if task.get("answer_order", "msb") == "lsb" else "")


def write_table(results: dict) -> None:
    lines = [
        "# The model zoo",
        "",
        "    python -m trainer.zoo",
        "",
        "| model | task | design | cell | target | measured (python -m trainer.evaluate) | met | trained s | size |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total = 0
    for entry in ZOO:
        r = results.get(entry.name)
        if not r:
            continue
        folder = ZOO_DIR / entry.name
        size = sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0
        total += size
        met = "yes" if r["met"] else ("-" if entry.min_accuracy == 0 else "no")
        lines.append(
            f"| `{entry.name}` | {entry.task} | {r.get('design') or design(folder)} | {r['cell']} | {entry.target} | "
            f"{r['measured']} | {met} | {r['train_seconds']} | {size / 1e3:,.0f} kB |"
        )
    lines += ["", f"Total size of model/zoo: {total / 1e6:.1f} MB."]
    out = ROOT / "bench" / "results" / "zoo.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
