"""The trainer for real: a short run that must learn, resume after a kill, and CLI errors.

The tiny task (2-digit sums, small LSTMs) trains in seconds on a CPU, so these
tests exercise the same code path as the 5-minute default run.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--digits", "2", "--encoder-units", "64", "--decoder-units", "64", "--batch-size", "64",
        "--learning-rate", "0.01", "--train-size", "50000", "--samples-per-epoch", "5000",
        "--show-samples", "2", "--time-budget", "0", "--seed", "7"]


def run_trainer(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "run"
    result = run_trainer(*TINY, "--epochs", "30", "--output-dir", str(out))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


def test_short_run_learns_two_digit_addition(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    # All 10,000 ordered 2-digit pairs are checked; a model that has not learned gets ~0%.
    assert metrics["exhaustive_total"] == 10_000
    assert metrics["exhaustive_wrong"] < 300, metrics
    assert metrics["heldout_exact_match"] > 0.95
    history = json.loads((tiny_run / "history.json").read_text())
    assert history["val_exact_match"][-1] > history["val_exact_match"][0]


def test_output_folder_is_complete_and_loadable(tiny_run):
    from model.storage import load_model_dir
    names = {p.name for p in tiny_run.iterdir()}
    assert {"config.json", "metadata.json", "model.weights.h5", "task_config.json", "metrics.json",
            "history.json", "training_curve.png", "train_settings.json"} <= names
    assert "checkpoint" not in names  # cleaned up after a finished run
    model, config = load_model_dir(tiny_run)
    assert config.digits == 2 and model.output_shape[1:] == (3, 12)
    assert (tiny_run / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_gives_the_same_run(tmp_path):
    quick = [*TINY, "--epochs", "2", "--train-size", "20000", "--samples-per-epoch", "10000"]
    histories = []
    for name in ("a", "b"):
        result = run_trainer(*quick, "--output-dir", str(tmp_path / name))
        assert result.returncode == 0, result.stderr[-2000:]
        histories.append(json.loads((tmp_path / name / "history.json").read_text()))
    assert histories[0]["loss"] == histories[1]["loss"]
    assert histories[0]["val_exact_match"] == histories[1]["val_exact_match"]
    other = run_trainer(*quick, "--seed", "8", "--output-dir", str(tmp_path / "c"))
    assert json.loads((tmp_path / "c" / "history.json").read_text())["loss"] != histories[0]["loss"], other.stderr


def test_killed_run_resumes_from_its_last_epoch(tmp_path):
    out = tmp_path / "run"
    # A slow learning rate, so no early stop on a perfect held-out set can end the run first.
    args = [sys.executable, "-m", "trainer", *TINY, "--learning-rate", "0.001", "--epochs", "12",
            "--output-dir", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "checkpoint" / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if marker.exists() and json.loads(marker.read_text() or "{}").get("epoch", 0) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = json.loads(marker.read_text())["epoch"]

    result = run_trainer("--output-dir", str(out), "--resume")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Resuming" in result.stdout
    first_epoch_after = int(result.stdout.split("epoch ")[1].split("/")[0])
    assert first_epoch_after == done_before + 1  # nothing redone but the interrupted epoch
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 12
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 12


def test_ctrl_c_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", *TINY, "--epochs", "50", "--output-dir", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marker = out / "checkpoint" / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while time.time() < deadline and not marker.exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in output and "Traceback" not in output


@pytest.mark.parametrize("flags,fragment", [
    (["--digits", "0"], "digits must be"),
    (["--terms", "1"], "terms must be"),
    (["--learning-rate", "-1"], "learning-rate must be positive"),
    (["--digits", "2", "--unique", "--train-size", "6000"], "distinct questions"),
    (["--batch-size", "0"], "batch-size must be at least 1"),
    (["--output-dir", "/proc/nope"], "cannot write to output dir"),
    (["--resume", "--output-dir", "/tmp/never-trained-here"], "nothing to resume"),
])
def test_bad_flags_stop_with_one_clear_sentence(flags, fragment):
    result = run_trainer(*flags, timeout=60)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_explains_every_flag():
    result = run_trainer("--help", timeout=60)
    assert result.returncode == 0
    for flag in ["--digits", "--terms", "--train-size", "--reverse", "--encoder-units", "--decoder-layers",
                 "--batch-size", "--learning-rate", "--epochs", "--time-budget", "--target-accuracy", "--seed",
                 "--output-dir", "--resume", "--preset", "--push-to-hub"]:
        assert flag in result.stdout


def test_presets_reproduce_the_two_seed_documents():
    from trainer.cli import build_parser, resolve
    keras_io, k = resolve(build_parser().parse_args(["--preset", "keras-io"]))
    assert (keras_io.digits, keras_io.terms, keras_io.reverse, keras_io.sampling) == (3, 2, True, "digits")
    assert (k.train_size, k.unique, k.batch_size, k.learning_rate, k.schedule, k.epochs) == (45_000, True, 32, 1e-3,
                                                                                           "constant", 30)
    assert (k.encoder_units, k.decoder_units) == (128, 128)
    brownlee, b = resolve(build_parser().parse_args(["--preset", "brownlee"]))
    assert (brownlee.terms, brownlee.smallest, brownlee.largest, brownlee.reverse, brownlee.padding) == (3, 1, 10, False,
                                                                                                        "left")
    assert brownlee.alphabet == "0123456789+ " and (brownlee.question_length, brownlee.answer_length) == (8, 2)
    assert (b.train_size, b.unique, b.epochs, b.batch_size, b.encoder_units, b.decoder_units) == (75_000, False, 1, 32,
                                                                                               100, 50)
    assert b.heldout_size == 1_000  # a 220-question task is checked on fresh draws, not a tenth of itself
    _, three_terms = resolve(build_parser().parse_args(["--terms", "3", "--digits", "2"]))
    # 171,700 distinct 3-term questions: at most a tenth is held out.
    assert three_terms.heldout_size == 17_170 and three_terms.train_size == 2_400_000


def test_brownlee_preset_trains_like_the_tutorial(tmp_path):
    out = tmp_path / "brownlee"
    result = run_trainer("--preset", "brownlee", "--show-samples", "3", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"^Q \d+\+\d+\+\d+ +T \d+ +[☑☒] \d+$", result.stdout, re.MULTILINE), result.stdout[-1000:]
    metrics = json.loads((out / "metrics.json").read_text())
    # One pass over 75,000 random sums, as in the tutorial: most of the 1,000 possible questions right.
    assert metrics["exhaustive_total"] == 1_000 and metrics["exhaustive_wrong"] < 150, metrics
    assert metrics["samples_seen"] == 75_000 and metrics["epochs"] == 1


def test_evaluate_command_checks_a_model_folder(tiny_run):
    result = subprocess.run([sys.executable, "-m", "trainer.evaluate", str(tiny_run), "--samples", "3000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    wrong = json.loads((tiny_run / "metrics.json").read_text())["exhaustive_wrong"]
    assert f"Every question: {wrong:,} wrong of 10,000" in result.stdout
    assert "Random questions:" in result.stdout and "exact-match on 3,000" in result.stdout
    strict = subprocess.run([sys.executable, "-m", "trainer.evaluate", str(tiny_run), "--min-accuracy", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert strict.returncode == (0 if wrong == 0 else 1)
    missing = subprocess.run([sys.executable, "-m", "trainer.evaluate", str(tiny_run / "nope")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "is not a model folder" in missing.stderr and "Traceback" not in missing.stderr
