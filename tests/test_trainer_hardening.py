"""What a new user and a hostile user could break in the trainer, one section each:

retraining into an existing absolute --output-dir; a killed run never leaves a mixed folder; default
output folders and no silent overwrite; --resume refuses a different task or edited settings, and a full
disk is one sentence; the exit status tells the truth (missed target, divergence); every value bounded
before any work; a held-out set that cannot be held out says so.

Every run is the real `python -m trainer` in its own process, on real files; a full disk is a real
file-size limit (RLIMIT_FSIZE) in the child, so writes fail with EFBIG as on a full disk.
"""

import json
import resource
import shutil
import signal
import subprocess

import pytest
from trainer_runs import SMALL, digests, run_trainer, start_trainer, stderr_sentence, wait_for_epoch, work_folder

from model.storage import load_model_dir

pytestmark = pytest.mark.slow  # trainings


def trained(out, *extra: str) -> subprocess.CompletedProcess:
    result = run_trainer(*SMALL, "--epochs", "1", *extra, "--output-dir", out)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def earlier_model(tmp_path_factory):
    """A finished model folder (1-digit sums), copied by each test that needs one already in place."""
    out = tmp_path_factory.mktemp("earlier") / "model"
    trained(out, "--seed", "1")
    return out


def copy_of(model, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(model, out)
    return out


def file_size_limit(limit: int):
    """preexec_fn for a child whose every file write stops at `limit` bytes with EFBIG, as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


# Retraining into an existing folder ----------------------------------------------------------------
def test_retraining_into_an_existing_absolute_folder_succeeds(tmp_path):
    out = (tmp_path / "abs" / "model").resolve()
    trained(out, "--seed", "1")
    first = digests(out)
    second = trained(out, "--seed", "2", "--overwrite")
    assert "Saved to " + str(out) in second.stdout
    assert digests(out) != first and set(digests(out)) == set(first)  # a whole new model, same files
    assert not (out / "assets").exists() and sorted(p.name for p in out.parent.iterdir()) == ["model"]
    assert load_model_dir(out).metrics["training"]["seed"] == 2


# A killed run --------------------------------------------------------------------------------------
def test_a_run_killed_after_its_first_epoch_leaves_the_earlier_model_untouched(earlier_model, tmp_path):
    out = copy_of(earlier_model, tmp_path)
    before = digests(out)
    proc = start_trainer(
        *SMALL,
        "--epochs",
        "50",
        "--seed",
        "3",
        "--overwrite",
        "--output-dir",
        out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_epoch(out, proc, 1)
    finally:
        proc.kill()
        proc.wait()
    assert digests(out) == before  # byte-identical: the run only ever wrote to model.partial
    assert (work_folder(out) / "checkpoint.keras").is_file()
    stored = load_model_dir(out)
    assert stored.metrics["training"]["seed"] == 1 and not stored.notes


# Output folders and overwriting --------------------------------------------------------------------
def test_default_folders_are_named_after_the_preset_and_the_flags_given():
    from trainer.cli import build_parser, default_output

    named = {
        (): "runs/add3",
        ("--preset", "sub3"): "runs/sub3",
        ("--preset", "add3", "--digits", "2", "--terms", "3"): "runs/add3-d2-t3",
        ("--digits", "2", "--cell", "gru"): "runs/add3-d2-gru",
        ("--operators", "+-*", "--min-terms", "2", "--terms", "4"): "runs/add3-t4-min2-add-sub-mul",
        ("--no-reverse", "--encoder-layers", "2"): "runs/add3-noreverse-el2",
    }
    for flags, folder in named.items():
        assert str(default_output(build_parser().parse_args(list(flags)))) == folder


@pytest.mark.parametrize("flags,folder", [((), "runs/add3"), (("--digits", "2", "--cell", "gru"), "runs/add3-d2-gru")])
def test_a_finished_model_is_not_overwritten_without_overwrite(earlier_model, tmp_path, flags, folder):
    shutil.copytree(earlier_model, tmp_path / folder)
    before = digests(tmp_path / folder)
    result = run_trainer(*flags, cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"python -m trainer: error: {folder} already holds a finished model; add "
        "--overwrite to replace it (it is kept until the new one is complete), or "
        "choose another --output-dir"
    )
    assert result.stdout == "" and digests(tmp_path / folder) == before  # refused before any work


def test_a_folder_of_other_files_is_never_replaced(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.txt").write_text("years of work")
    result = run_trainer(*SMALL, "--output-dir", tmp_path / "notes", "--overwrite", timeout=60)
    assert result.returncode == 2 and "exists and is not a model folder" in result.stderr
    assert (tmp_path / "notes" / "thesis.txt").read_text() == "years of work"


# Resume and a full disk ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The work folder of a real 2-digit run killed after its first epoch."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    proc = start_trainer(
        *SMALL,
        "--digits",
        "2",
        "--epochs",
        "50",
        "--output-dir",
        out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_epoch(out, proc, 1)
    finally:
        proc.kill()
        proc.wait()
    return work_folder(out)


def interrupted_copy(interrupted, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(interrupted, work_folder(out))
    return out


def refused(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-1000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert fragment in result.stderr, result.stderr


def test_resume_refuses_flags_that_differ_from_the_checkpoint(interrupted, tmp_path):
    out = interrupted_copy(interrupted, tmp_path)
    refused(
        run_trainer("--resume", "--digits", "3", "--output-dir", out, timeout=60),
        "it was not started with --digits as given now",
    )
    refused(
        run_trainer("--resume", "--preset", "sub3", "--batch-size", "64", "--output-dir", out, timeout=60),
        "it was not started with --preset, --batch-size as given now",
    )


@pytest.mark.parametrize(
    "file,change",
    [
        ("task_config.json", {"digits": 3}),
        ("train_settings.json", {"batch_size": 0}),
        ("network.json", {"encoder_units": 16}),
    ],
)
def test_resume_refuses_an_edited_work_folder(interrupted, tmp_path, file, change):
    out = interrupted_copy(interrupted, tmp_path)
    path = work_folder(out) / file
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    refused(run_trainer("--resume", "--output-dir", out, timeout=60), "was made for a different task or settings")


@pytest.mark.parametrize("batch_size", [0, "64", 10**12, None])
def test_resume_refuses_invalid_settings_even_with_a_matching_fingerprint(interrupted, tmp_path, batch_size):
    """A hostile edit that also rewrites the fingerprint still meets the settings' bounds."""
    from model.config import NetworkConfig, TaskConfig
    from trainer.settings import TrainSettings, fingerprint

    out = interrupted_copy(interrupted, tmp_path)
    work = work_folder(out)
    data = json.loads((work / "train_settings.json").read_text())
    settings = TrainSettings(**{**data, "batch_size": batch_size})
    (work / "train_settings.json").write_text(json.dumps({**data, "batch_size": batch_size}))
    made = fingerprint(TaskConfig.load(work / "task_config.json"), NetworkConfig.load(work / "network.json"), settings)
    (work / "fingerprint").write_text(made)
    state = json.loads((work / "state.json").read_text())
    (work / "state.json").write_text(json.dumps({**state, "fingerprint": made}))
    refused(
        run_trainer("--resume", "--output-dir", out, timeout=60),
        "its train_settings.json is invalid (--batch-size must be a whole number from 1 to 65,536",
    )


def test_full_disk_at_a_checkpoint_is_one_sentence_and_keeps_the_earlier_model(earlier_model, tmp_path):
    out = copy_of(earlier_model, tmp_path)
    before = digests(out)
    # 20 kB: the run's small files fit, its first checkpoint (about 50 kB) does not.
    result = run_trainer(
        *SMALL, "--epochs", "3", "--overwrite", "--output-dir", out, preexec_fn=file_size_limit(20_000)
    )
    assert result.returncode == 1, result.stdout[-1000:] + result.stderr[-1000:]
    assert "Traceback" not in result.stderr and "Segmentation" not in result.stderr
    assert stderr_sentence(result) == (
        f"python -m trainer: error: could not write {work_folder(out)}/"
        "checkpoint.keras: the disk is full (or a file-size limit or quota was "
        f"reached); the earlier model in {out} is intact"
    )
    assert digests(out) == before
    assert not list(work_folder(out).glob("*.tmp"))  # no half-written files left behind


def test_full_disk_at_the_final_save_keeps_the_earlier_model_and_the_run_resumes(earlier_model, tmp_path):
    out = copy_of(earlier_model, tmp_path)
    before = digests(out)
    proc = start_trainer(
        *SMALL,
        "--epochs",
        "2",
        "--overwrite",
        "--output-dir",
        out,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:  # training and every checkpoint are done once it says it verifies
            if line.startswith("Verifying"):
                # From now on every write stops at 1 kB (Python ignores SIGXFSZ, so writes fail with EFBIG).
                resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1_000, 1_000))
                break
        stdout, stderr = proc.communicate(timeout=240)
    finally:
        proc.kill()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert stderr_sentence(result) == (
        f"python -m trainer: error: could not write {out}: the disk is full (or a "
        f"file-size limit or quota was reached); the earlier model in {out} is "
        "intact; free some space, then continue with --resume"
    )
    assert digests(out) == before and not list(out.parent.glob(".model.*"))  # no temporary folder left
    finished = run_trainer("--resume", "--output-dir", out)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Resuming after epoch 2" in finished.stdout and digests(out) != before
    assert not work_folder(out).exists() and load_model_dir(out).metrics["epochs"] == 2


# The exit status -----------------------------------------------------------------------------------
def test_missed_target_exits_1_and_never_replaces_a_model(earlier_model, tmp_path):
    out = tmp_path / "model"
    missing = [
        "--digits",
        "2",
        "--train-size",
        "10",
        "--unique",
        "--samples-per-epoch",
        "2048",
        "--epochs",
        "1",
        "--encoder-units",
        "8",
        "--decoder-units",
        "8",
        "--show-samples",
        "0",
        "--output-dir",
        out,
    ]
    first = run_trainer(*missing)
    assert first.returncode == 1 and "Traceback" not in first.stderr
    assert stderr_sentence(first).startswith("error: the run missed its target (")
    assert stderr_sentence(first).endswith(f"); the model is in {out}, for a look")
    assert load_model_dir(out).metrics["exhaustive_wrong"] > 9000  # ten questions teach nothing

    shutil.rmtree(out)
    shutil.copytree(earlier_model, out)
    before = digests(out)
    again = run_trainer(*missing, "--overwrite")
    below = tmp_path / "model.below-target"
    assert again.returncode == 1
    assert stderr_sentence(again).endswith(f"the model is in {below}, beside the earlier model in {out}, for a look")
    assert digests(out) == before and load_model_dir(below).task.digits == 2


def test_a_diverging_run_exits_1_and_saves_no_model(earlier_model, tmp_path):
    out = copy_of(earlier_model, tmp_path)
    before = digests(out)
    result = run_trainer(
        *SMALL, "--epochs", "3", "--learning-rate", "1e30", "--schedule", "constant", "--overwrite", "--output-dir", out
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    sentence = stderr_sentence(result)
    assert sentence.startswith("python -m trainer: error: the run diverged (the loss became ")
    assert sentence.endswith("in epoch 1); no model was saved: try a lower --learning-rate")
    assert digests(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no .below-target, no work folder


# Bounds before any work ----------------------------------------------------------------------------
BAD_VALUES = [
    (["--seed", "-1"], "--seed must be a whole number from 0 to 4,294,967,295, got -1"),
    (["--seed", str(2**32)], "--seed must be a whole number from 0 to 4,294,967,295"),
    (["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    (["--train-size", "50000000"], "GiB of question arrays, more than the 2 GiB this trainer allows"),
    (["--train-size", "-1"], "--train-size must be a whole number from 0"),
    (["--digits", "2", "--train-size", "6000"], "asks for more distinct questions than the task has"),
    (["--heldout-size", "1000001"], "--heldout-size must be a whole number from 1 to 1,000,000"),
    (["--heldout-size", "0"], "--heldout-size must be a whole number from 1 to 1,000,000"),
    (["--polish-samples", "0"], "--polish-samples must be a whole number from 1 to 100,000,000"),
    (["--polish-repeats", "-3"], "--polish-repeats must be a whole number from 1 to 100,000,000 (0 = no limit)"),
    (["--polish-ema", "1.5"], "--polish-ema must be from 0.5 to 0.9999 (0 = off), got 1.5"),
    (["--polish-ema", "nan"], "--polish-ema must be from 0.5 to 0.9999 (0 = off), got nan"),
    (["--pool-size", "999999999"], "--pool-size must be a whole number from 1,000 to 10,000,000"),
    (["--encoder-units", "513"], "--encoder-units must be a whole number from 1 to 512"),
    (["--decoder-units", "0"], "--decoder-units must be a whole number from 1 to 512"),
    (["--encoder-layers", "5"], "--encoder-layers must be a whole number from 1 to 4"),
    (["--cell", "transformer"], "argument --cell: invalid choice"),
    (["--batch-size", "0"], "--batch-size must be a whole number from 1 to 65,536, got 0"),
    (["--batch-size", "65537"], "--batch-size must be a whole number from 1 to 65,536"),
    (["--batch-size", "4096", "--samples-per-epoch", "1000"], "--batch-size (4,096) must not exceed"),
    (["--samples-per-epoch", "0"], "--samples-per-epoch must be a whole number from 1 to 100,000,000"),
    (["--samples-per-epoch", "1000000000"], "--samples-per-epoch must be a whole number from 1 to 100,000,000"),
    (["--epochs", "0"], "--epochs must be a whole number from 1 to 10,000"),
    (["--epochs", "100000"], "--epochs must be a whole number from 1 to 10,000"),
    (["--time-budget", "-5"], "--time-budget must be a number of seconds above 0"),
    (["--time-budget", "1e9"], "--time-budget must be a number of seconds above 0 and at most 7 days"),
    (["--time-budget", "nan"], "--time-budget must be a number of seconds above 0"),
    (["--learning-rate", "inf"], "--learning-rate must be a number above 0 and at most 1e+30, got inf"),
    (["--learning-rate", "nan"], "--learning-rate must be a number above 0 and at most 1e+30, got nan"),
    (["--learning-rate", "0"], "--learning-rate must be a number above 0"),
    (["--learning-rate", "-1"], "--learning-rate must be a number above 0"),
    (["--clipnorm", "inf"], "--clipnorm must be a number above 0 and at most 1e6"),
    (["--clipnorm", "nan"], "--clipnorm must be a number above 0"),
    (["--target-accuracy", "1.5"], "--target-accuracy must be above 0 and at most 1"),
    (["--target-margin", "nan"], "--target-margin must be from 0 to 0.999"),
    (["--pass-accuracy", "2"], "--pass-accuracy must be from 0 to 1"),
    (["--show-samples", "1001"], "--show-samples must be a whole number from 0 to 1,000"),
    (["--show-samples", "-1"], "--show-samples must be a whole number from 0 to 1,000"),
    (["--digits", "0"], "--digits must be a whole number from 1 to 9"),
    (["--terms", "1"], "--terms must be a whole number from 2 to 18"),
    (["--min-terms", "3"], "--min-terms must be a whole number from 2 to terms (2)"),
    (["--operators", "/"], "--operators must be some of + - *"),
    (["--digits", "9", "--terms", "3"], "larger than this project handles"),
    (["--output-dir", "/proc/nope"], "cannot write to /proc"),
    (["--resume", "--output-dir", "/tmp/never-trained-here"], "nothing to resume for /tmp/never-trained-here"),
]


@pytest.mark.parametrize("flags,fragment", BAD_VALUES, ids=[" ".join(f) for f, _ in BAD_VALUES])
def test_every_value_is_bounded_before_any_work(flags, fragment):
    result = run_trainer(*flags, timeout=60)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("python -m trainer: error: ")
    assert fragment in result.stderr, result.stderr


# The held-out set ----------------------------------------------------------------------------------
def test_a_heldout_set_that_cannot_be_held_out_says_so(tmp_path):
    out = tmp_path / "model"
    result = run_trainer(*SMALL, "--digits", "2", "--heldout-size", "20000", "--epochs", "1", "--output-dir", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Note: the task has 5,050 distinct questions, too few to hold 20,000 out" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout_disjoint"] is False and metrics["heldout_size"] == 20_000
    # The headline is every question, printed last (and what publish and the model card lead with).
    from model.metrics import headline

    _accuracy, what = headline(metrics)
    assert what == f"{metrics['exhaustive_wrong']:,} wrong of all 10,000 questions"
    assert result.stdout.rstrip().splitlines()[-1] == f"{metrics['headline']}."
    assert "(not held out" in result.stdout
