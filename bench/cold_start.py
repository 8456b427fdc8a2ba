"""Cold start: seconds from launching `python app.py` to its first answered /predict request.

Each repetition launches `python app.py --host 127.0.0.1 --port FREE`, polls it with
gradio_client until a /predict call for 535+61 returns a result with no error,
and stops it. The baseline, measured in the same run, is just
`python -c "import tensorflow, gradio"`, timed from launch until the child says
it has imported them (its interpreter exit, slow with TensorFlow, is not
counted). The ratio says how much of the start is spent importing the two
libraries; the rest is loading the model, compiling the predictor, building the
UI and starting the server.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import QUIET_ENV, ROOT, finish, free_port, header, parser, start_app, stop


def first_answer(model: Path, log_path: Path, timeout: float = 300, root: Path = ROOT) -> float:
    from gradio_client import Client

    port = free_port()
    started = time.perf_counter()
    proc = start_app(model, port, log_path, root)
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                client = Client(f"http://127.0.0.1:{port}", verbose=False)
                result = client.predict("535+61", api_name="/predict")
            except Exception:  # not listening yet, or the API is not ready: poll again
                time.sleep(0.1)
                continue
            seconds = time.perf_counter() - started
            client.close()
            if result.get("error") is not None:
                raise SystemExit(f"/predict answered with an error: {result['error']}")
            return seconds
        raise SystemExit(f"app.py did not answer within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
    finally:
        stop(proc)


def import_seconds() -> float:
    """Launch -> the child has imported both (it says so on stdout); its slow interpreter exit is not counted."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import tensorflow, gradio; print('imported', flush=True)"],
        cwd=ROOT,
        env={**os.environ, **QUIET_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None  # stdout=PIPE above
    line = proc.stdout.readline()
    seconds = time.perf_counter() - started
    proc.wait()
    if line.strip() != "imported":
        raise SystemExit(f"importing tensorflow and gradio failed (exit status {proc.returncode})")
    return seconds


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--repeats", type=int, help="launches (and import runs) to take the median of (default 3; quick 1)")
    p.add_argument(
        "--against",
        type=Path,
        help="another checkout of this project (e.g. a worktree of an earlier commit): its app.py is started "
        "alternately with this one's, and the table gains its row and the ratio of the two",
    )
    args = p.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    meta = header(f"Cold start: python app.py to first /predict answer, median of {repeats}")

    log_dir = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    starts, imports, others = [], [], []
    for i in range(repeats):  # alternate, so both see the same disk cache and background load
        imports.append(import_seconds())
        starts.append(first_answer(args.model, log_dir / f"app-{i}.log"))
        if args.against:
            others.append(first_answer(args.model, log_dir / f"against-{i}.log", root=args.against.resolve()))
        print(f"  run {i + 1}: imports {imports[-1]:.1f} s, first answer {starts[-1]:.1f} s", flush=True)

    # The medians kept as floats: read back from the mixed-type rows, mypy could not tell they are numbers.
    start_median, import_median = statistics.median(starts), statistics.median(imports)
    rows = [
        {
            "what": "python app.py -> first /predict answer",
            "runs": repeats,
            "median s": start_median,
            "min s": min(starts),
            "max s": max(starts),
        },
        {
            "what": "python -c 'import tensorflow, gradio' (baseline)",
            "runs": repeats,
            "median s": import_median,
            "min s": min(imports),
            "max s": max(imports),
        },
    ]
    if others:
        rows.append(
            {
                "what": f"the same, the checkout in {args.against}",
                "runs": repeats,
                "median s": statistics.median(others),
                "min s": min(others),
                "max s": max(others),
            }
        )
    # The app serves a numpy copy of each network and never imports TensorFlow, so it can start sooner than
    # the bare imports of what a Keras app would load.
    summary = (
        f"Cold start {start_median:.1f} s = **{start_median / import_median:.2f}x** "
        f"the bare `import tensorflow, gradio` ({import_median:.1f} s) a Keras-serving app would pay first."
    )
    if others:
        summary += (
            f" Against {args.against}: {statistics.median(others):.1f} s, this checkout "
            f"**{start_median / statistics.median(others):.2f}x** it (medians, launched alternately)."
        )
    finish(meta, rows, summary, args.out, ratio=start_median / import_median)


if __name__ == "__main__":
    main()
