"""Shared helpers for the benchmarks: machine info, the app as a subprocess, percentiles, tables.

Every benchmark prints the exact command line and the machine it ran on first,
so a pasted result always says how to reproduce it, and writes its results as
JSON (``--out x.json``) or markdown (``--out x.md``) when asked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "model" / "zoo" / "add3"
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere can import model/, trainer/, app
    sys.path.insert(0, str(ROOT))

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "PYTHONUNBUFFERED": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
os.environ.update({k: v for k, v in QUIET_ENV.items() if k not in os.environ})


# Command line and machine ----------------------------------------------------------------------
def parser(doc: str, model: bool = True) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has: --quick, --out and (usually) --model."""
    first, _, rest = doc.strip().partition("\n")
    p = argparse.ArgumentParser(
        description=first, epilog=rest.strip(), allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of well under a minute (numbers are rough)")
    p.add_argument("--out", type=Path, help="also write the results to this file (.json, else markdown)")
    if model:
        p.add_argument("--model", type=Path, default=BUNDLED, help="model folder (default model/zoo/add3)")
    return p


def machine_info() -> dict:
    versions: dict[str, str | None] = {}  # None: not installed
    for name in ("tensorflow", "keras", "gradio", "gradio_client", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    usable: int | None  # os.cpu_count() may not know
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cores": usable,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1min": round(load, 2) if load is not None else None,
        **versions,
    }


def header(title: str) -> dict:
    """Print the benchmark's title, exact command line and machine; return them for the --out file."""
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    info = machine_info()
    print(f"# {title}\n")
    print(f"    {command}\n")
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + "\n", flush=True)
    if info["load_1min"] and info["load_1min"] > 0.5 * (info["cores"] or 1):
        print(
            f"Warning: the load average is {info['load_1min']} on {info['cores']} cores; "
            "something else is running, so timings will be noisy.\n",
            flush=True,
        )
    return {"title": title, "command": command, "machine": info, "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}


# Numbers and tables ---------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, like numpy's default."""
    data = sorted(values)
    if not data:
        return float("nan")
    k = (len(data) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (k - low)


def fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.{digits}g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """A markdown table of dicts (columns in first-row order unless given)."""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def ratio_text(numerator: float | None, denominator: float | None, lower_bound: bool = False) -> str:
    if not numerator or not denominator:
        return "n/a"
    return f"{'> ' if lower_bound else ''}{numerator / denominator:.2f}x"


def finish(meta: dict, rows: list[dict], summary: str, out: Path | None, **extra) -> None:
    """Print the table and the ratio line; write both (plus the header) to --out if given."""
    text = table(rows)
    print(text + "\n\n" + summary, flush=True)
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps({**meta, "rows": rows, "summary": summary, **extra}, indent=2) + "\n")
    else:
        machine = ", ".join(f"{k} {v}" for k, v in meta["machine"].items())
        out.write_text(
            f"# {meta['title']}\n\n    {meta['command']}\n\nMachine: {machine} "
            f"({meta['started']})\n\n{text}\n\n{summary}\n"
        )
    print(f"\nWrote {out}")


# The app as a subprocess -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_command(model: Path | None, port: int) -> list[str]:
    command = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)]
    return command + (["--model", str(model)] if model else [])


def start_app(model: Path | None, port: int, log_path: Path, root: Path = ROOT) -> subprocess.Popen:
    """`python app.py` of the checkout at `root` on 127.0.0.1:port, its output to log_path; returns at once."""
    env = {**os.environ, **QUIET_ENV}
    env.pop("ADDITION_MODEL", None)  # --model decides
    with open(log_path, "w") as log:
        return subprocess.Popen(app_command(model, port), cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_up(proc: subprocess.Popen, url: str, log_path: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                stop(proc)
                raise SystemExit(
                    f"app.py did not answer within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)


@contextmanager
def running_app(model: Path | None, log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """The launched app, up and answering; yields (url, process) and stops it afterwards."""
    port = free_port()
    proc = start_app(model, port, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, url, log_path)
        yield url, proc
    finally:
        stop(proc)


def loopback_source(i: int) -> str:
    """The i-th distinct client address on this machine (127.0.1.2, 127.0.1.3, …: all loopback on Linux).

    The server limits what one client address may hold (web/guard.py), so a benchmark of many users
    gives each its own source address, as real users have: bind the client socket to it."""
    return f"127.0.{1 + i // 250}.{2 + i % 250}"


def rss_mib(pid: int) -> float:
    """Resident memory of a process (VmRSS from /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
