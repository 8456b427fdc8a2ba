"""The training engine used as a library (as the app's "Train your own" uses it): settings given as keyword
arguments, a per-epoch callback with the history's keys, a stop from outside that keeps what was trained,
the same seed giving the same weights, and the budget and ETA rules. Each test trains a real tiny model
in this process (1-digit sums, 8-unit LSTMs: about a second an epoch)."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from model.config import NetworkConfig, TaskConfig
from model.storage import load_model_dir
from trainer.final_check import final_check
from trainer.presets import PRESETS
from trainer.rundir import RunFolder
from trainer.saving import save_model
from trainer.settings import TrainSettings, check_settings
from trainer.train import ASKED_TO_STOP, Training

pytestmark = pytest.mark.slow  # trainings

TASK = TaskConfig(digits=1)
NET = NetworkConfig(encoder_units=8, decoder_units=8)
HISTORY_KEYS = {
    "loss",
    "val_exact_match",
    "val_char_accuracy",
    "elapsed_seconds",
    "samples_seen",
    "space_wrong",
    "min_margin",
    "per_position",
}


def settings(**changes) -> TrainSettings:
    made = TrainSettings(
        preset="engine-test",
        heldout_size=200,
        samples_per_epoch=640,
        batch_size=32,
        epochs=3,
        time_budget=None,
        target_margin=None,
        show_samples=2,
        seed=3,
    )
    made = dataclasses.replace(made, **changes)
    check_settings(made, TASK)
    return made


def check_and_save(outcome, s: TrainSettings, folder: RunFolder, log=lambda _: None) -> bool:
    """The steps after training, as trainer/run.py takes them: True when the run met its target."""
    check = final_check(outcome, TASK, NET, s, folder, log=log)
    save_model(outcome, check, TASK, NET, s, folder, log=log)
    return check.reached


def start(out, s: TrainSettings) -> RunFolder:
    folder = RunFolder(out)
    folder.start(TASK, NET, s, overwrite=True)
    return folder


def test_each_epoch_reaches_the_callback_with_the_history_keys_and_one_folder_is_written(tmp_path):
    s = settings()
    folder = start(tmp_path / "run", s)
    records, lines = [], []
    outcome = Training(TASK, NET, s, folder, on_epoch=records.append, log=lines.append).fit()
    reached = check_and_save(outcome, s, folder, log=lines.append)
    assert reached and [r["epoch"] for r in records] == [1, 2, 3]
    assert all(set(r) >= HISTORY_KEYS for r in records)
    assert [r["samples_seen"] for r in records] == [640, 1280, 1920]
    assert records[-1]["probe_margin"].dtype == np.uint8 and len(records[-1]["sample_lines"]) == 2
    assert [r["stop_reason"] for r in records] == ["", "", ""]  # the epochs ran out: no stop was decided
    history = json.loads((folder.out / "history.json").read_text())
    assert history["loss"] == [r["loss"] for r in records]  # the callback saw what the folder records
    assert any(line.startswith("epoch 3/3") for line in lines)  # the log went to the caller, not stdout
    assert load_model_dir(folder.out).task.digits == 1 and not folder.work.exists()


def test_a_stop_from_outside_ends_the_epoch_and_saves_what_was_trained(tmp_path):
    s = settings(epochs=50)
    folder = start(tmp_path / "run", s)
    records: list[dict] = []
    asked_in_second_epoch = 0

    def should_stop() -> bool:  # asked after every batch: stop after the tenth batch of the second epoch
        nonlocal asked_in_second_epoch
        asked_in_second_epoch += len(records) == 1
        return asked_in_second_epoch >= 10

    outcome = Training(TASK, NET, s, folder, on_epoch=records.append, should_stop=should_stop, log=lambda _: None)
    result = outcome.fit()
    assert result.stopped == ASKED_TO_STOP and len(result.history["loss"]) == 2
    assert records[-1]["stop_reason"] == ASKED_TO_STOP
    assert result.history["samples_seen"] == [640, 640 + 10 * 32]  # 20 batches, then 10 of the second
    assert check_and_save(result, s, folder)
    assert json.loads((folder.out / "metrics.json").read_text())["epochs"] == 2


def test_polishing_with_an_average_ends_each_round_on_the_averaged_weights(tmp_path):
    """--polish-ema: the polishing rounds' Adam keeps a moving average of the weights and overwrites the
    weights with it at the end of every round, so what each round's checks measure is the average."""
    s = settings(epochs=3, decay_epochs=1, polish_samples=320, polish_ema=0.9, polish_repeats=4, floor=0.1)
    folder = start(tmp_path / "run", s)
    lines: list[str] = []
    measured: list[bool] = []  # per polishing round: were the weights it measured the average?

    def after_each_epoch(record: dict) -> None:
        optimizer = run.model.optimizer
        if record["epoch"] > s.decay_epochs:
            assert optimizer.use_ema and optimizer.ema_overwrite_frequency == 320 // 32
            averages = [v.numpy() for v in optimizer._model_variables_moving_average]
            weights = [v.numpy() for v in run.model.trainable_variables]
            measured.append(all(np.array_equal(a, w) for a, w in zip(averages, weights, strict=True)))

    run = Training(TASK, NET, s, folder, on_epoch=after_each_epoch, log=lines.append)
    outcome = run.fit()
    assert measured == [True, True] and outcome.polish_rounds == 2
    assert any("each hard one at most 4 times, each ending on the weights' moving average (0.9)" in x for x in lines)
    assert check_and_save(outcome, s, folder)


def test_the_same_seed_gives_identical_weights_and_metrics(tmp_path):
    s = settings(epochs=2)
    runs = []
    for name in ("a", "b"):
        folder = start(tmp_path / name, s)
        outcome = Training(TASK, NET, s, folder, log=lambda _: None).fit()
        check_and_save(outcome, s, folder)
        metrics = json.loads((folder.out / "metrics.json").read_text())
        metrics.pop("train_seconds")
        runs.append((load_model_dir(folder.out).weights, metrics))
    (weights_a, metrics_a), (weights_b, metrics_b) = runs
    assert weights_a.keys() == weights_b.keys()
    assert all(np.array_equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert metrics_a == metrics_b


def test_a_time_budget_ends_the_run_within_it_and_the_eta_never_passes_it(tmp_path):
    s = settings(epochs=10_000, samples_per_epoch=64_000, time_budget=4.0, show_samples=0)
    folder = start(tmp_path / "run", s)
    lines: list[str] = []
    run = Training(TASK, NET, s, folder, log=lines.append)
    started = time.time()
    outcome = run.fit()
    seconds = time.time() - started
    assert outcome.stopped == "the time budget of 4s is spent"
    # The epoch that reached the budget ended at its next batch; its checks came after.
    assert outcome.history["elapsed_seconds"][-1] < 4.0 + 3.0 and seconds < 4.0 + 10.0, (outcome.history, seconds)
    etas = [float(line.split("ETA ")[1].rstrip("s")) for line in lines if line.startswith("epoch ")]
    assert etas and all(eta <= 4.0 for eta in etas), lines  # 10,000 epochs left, but only the budget


def test_the_default_is_bounded_by_epochs_not_by_the_clock():
    """The same seed gives the same add3 on a machine of any speed: the run ends at its margin target or its
    60 epochs; its time budget is only a cap that a machine several times slower than the zoo's does not
    reach (all 60 epochs would take about 300 s on the zoo's 2 cores)."""
    _, _, default = PRESETS["add3"]
    assert default.epochs == 60 and default.time_budget is not None and default.time_budget >= 3600


def test_the_bundled_add3_is_the_default_presets_run():
    """model/zoo/add3 was made by the default: its settings are the preset's (but for the time budget, a cap
    which that run did not reach), and its recorded schedule is the preset's plan epoch for epoch."""
    from model.storage import ZOO_DIR
    from trainer.epochs import questions_before

    zoo = ZOO_DIR / "add3"
    recorded = TrainSettings.from_json((zoo / "train_settings.json").read_text())
    metrics = json.loads((zoo / "metrics.json").read_text())
    _, _, preset = PRESETS["add3"]
    assert dataclasses.replace(recorded, time_budget=preset.time_budget) == preset
    assert recorded.time_budget is not None and metrics["train_seconds"] < recorded.time_budget
    assert metrics["exhaustive_wrong"] == 0 and metrics["min_margin"] >= preset.target_margin  # stopped at target
    epochs = metrics["epochs"]
    assert metrics["polish_rounds"] == epochs - preset.decay_epochs
    assert metrics["samples_seen"] == questions_before(preset, epochs) == 1_600_000


def test_a_changed_task_drops_the_presets_pass_mark_and_names_the_curve():
    from trainer.cli import build_parser, resolve
    from trainer.saving import task_title

    parse = build_parser().parse_args
    assert resolve(parse([]))[2].pass_accuracy == 0.999996  # add3's own task keeps add3's pass mark
    assert resolve(parse(["--digits", "3"]))[2].pass_accuracy == 0.999996  # the same task, typed out
    two_digit, _, s = resolve(parse(["--digits", "2"]))
    assert s.pass_accuracy is None and s.target_margin == 0.5  # judged by its margin target alone
    assert resolve(parse(["--digits", "2", "--pass-accuracy", "0.99"]))[2].pass_accuracy == 0.99
    assert task_title(two_digit, s) == "2 numbers of up to 2 digits, sums"
    assert task_title(TaskConfig(), s) == "add3"
    mixed = TaskConfig(digits=1, terms=3, min_terms=2, operators="+-")
    assert task_title(mixed, s) == "2-3 numbers of up to 1 digit, '+-' questions"


def test_the_folder_records_which_epochs_weights_it_holds(tmp_path):
    """metrics.json names the served epoch (the trainer keeps the best epoch's weights, not always the last),
    and it is the epoch whose held-out figure the final check measured again."""
    from model.learning_record import load_learning, served_epoch

    s = settings(epochs=4)
    folder = start(tmp_path / "run", s)
    outcome = Training(TASK, NET, s, folder, log=lambda _: None).fit()
    check_and_save(outcome, s, folder)
    metrics = json.loads((folder.out / "metrics.json").read_text())
    stored = load_model_dir(folder.out)
    assert 1 <= metrics["served_epoch"] <= 4 and stored.metrics["served_epoch"] == metrics["served_epoch"]
    history = json.loads((folder.out / "history.json").read_text())
    assert history["val_exact_match"][metrics["served_epoch"] - 1] == metrics["heldout_exact_match"]
    unrecorded = {k: v for k, v in metrics.items() if k != "served_epoch"}  # as a folder from before it was kept
    record = load_learning(folder.out / "learning.npz", TASK)
    assert served_epoch(record, unrecorded) == metrics["served_epoch"]
