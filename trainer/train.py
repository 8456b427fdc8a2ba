"""Fit the network, with the whole question space as stopping rule and teacher.

Each epoch trains on fresh questions drawn as the task samples them, plus a
share of the questions the model is least sure of. After each epoch (inside
the fit, so the progress bar shows it) the run measures: held-out exact match;
a rotating slice of the whole space (every question when they can be listed,
else a fixed pool), whose margins pick the next epoch's hard questions; and a
coarse probe map for the learning record. It stops when every question of the
space is right by the target margin (confirmed by re-measuring all of it), when
held-out exact match reaches its target, or when the time budget is spent.
A checkpoint after every epoch makes `--resume` lose at most one epoch.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.analysis import probe_questions, quantise
from model.config import NetworkConfig, TaskConfig, distinct_count, enumerable
from model.network import build_model
from model.questions import question_keys

from .data import epoch_questions, heldout_set, the_space, unique_questions
from .epochs import POLISH_HARD_SHARE, batches, polishing, samples, samples_before, steps
from .rundir import RunError, RunFolder
from .settings import TrainSettings, fingerprint
from .space_watch import SpaceWatch
from .verify import Checker, run_together, sample_lines

MINING_MARGIN = 0.5  # the margin below which a question counts as hard when the run has no target margin
# A per-character cross-entropy above this means runaway weights: guessing uniformly scores about 2.6, and
# Keras computes the loss from the logits, so it can grow without bound while staying a finite number.
DIVERGED_LOSS = 1000.0


@dataclass
class Outcome:
    model: Any
    history: dict[str, list]
    heldout: Checker
    heldout_disjoint: bool
    space: Checker  # every question, or the fixed pool standing for them
    space_complete: bool
    train_seconds: float
    diverged: str | None = None  # why, if the loss or the weights stopped being numbers
    stopped: str = ""  # the stopping reason, for the log
    probes: list[np.ndarray] = field(default_factory=list)  # per epoch: quantised probe margins
    probe_axis: np.ndarray | None = None
    polish_rounds: int = 0  # how many of the epochs were polishing rounds


class CtrlC(keras.callbacks.Callback):
    """Acts on Ctrl-C between batches. Raised wherever the signal lands, a KeyboardInterrupt inside
    TensorFlow's input pipeline can be taken for the end of the data and ignored, and the run goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = False

    def on_sigint(self, signum: int, frame: Any) -> None:
        self.pending = True

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.pending:
            raise KeyboardInterrupt


class Steering(keras.callbacks.Callback):
    """After each epoch: measure, record, checkpoint, and decide whether to stop."""

    def __init__(self, run: Training):
        super().__init__()
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.run.after_epoch(epoch, logs if logs is not None else {})


class Training:
    """One run: its questions, its model, and the state the loop carries from epoch to epoch."""

    def __init__(
        self,
        task: TaskConfig,
        net: NetworkConfig,
        settings: TrainSettings,
        folder: RunFolder,
        resume: bool,
        strategy: tf.distribute.Strategy | None = None,
    ):
        self.task, self.net, self.s, self.folder = task, net, settings, folder
        self.strategy = strategy or tf.distribute.get_strategy()
        keras.utils.set_random_seed(settings.seed)
        rng = np.random.default_rng(settings.seed)
        fixed = "distinct" if settings.unique else "drawn once"
        print(
            f"Preparing questions: {settings.heldout_size:,} held out"
            + (f", {settings.train_size:,} {fixed} to train on" if settings.train_size else "")
            + "...",
            flush=True,
        )
        heldout, self.disjoint = heldout_set(task, settings.heldout_size, rng)
        self.heldout = Checker(task, heldout)
        self.heldout_keys = question_keys(heldout, task) if self.disjoint else None
        if not self.disjoint:
            print(
                f"Note: the task has {distinct_count(task):,} distinct questions, too few to hold "
                f"{settings.heldout_size:,} out (at most a tenth), so the check set is drawn at random and also "
                "trained on: it is not held out" + ("; the headline is every question." if enumerable(task) else "."),
                flush=True,
            )
        space, complete = the_space(task, settings.pool_size, rng)
        trainable = (
            np.ones(len(space), bool)
            if self.heldout_keys is None
            else ~np.isin(question_keys(space, task), self.heldout_keys)
        )
        order = rng.permutation(len(space))
        self.fixed = None  # keras.io: the same questions every epoch, drawn once
        if settings.train_size:
            self.fixed = (
                unique_questions(task, settings.train_size, rng, self.heldout_keys)
                if settings.unique
                else epoch_questions(task, settings.train_size, space[:0], 0.0, rng, self.heldout_keys)
            )
        # The space is measured after each epoch when something uses it: the margin target or hard questions.
        needs_space = settings.target_margin is not None or (settings.hard_fraction > 0 and self.fixed is None)
        threshold = settings.target_margin if settings.target_margin is not None else MINING_MARGIN
        self.watch = SpaceWatch(
            Checker(task, space), complete, trainable, order, settings.space_check_size, threshold, needs_space
        )
        probe, self.probe_axis = probe_questions(task)
        self.probe = Checker(task, probe)
        self.epoch, self.elapsed = 0, 0.0
        self.history: dict[str, list] = {}
        self.probes: list[np.ndarray] = []
        self.best = [-1.0]  # see _score
        self.best_weights: list[np.ndarray] | None = None
        self.stop_reason = ""
        self.diverged: str | None = None
        self.fingerprint = fingerprint(task, net, settings)
        with self.strategy.scope():  # variables made here are mirrored on every replica; Keras splits batches
            if resume:
                self.model = self.folder.load_checkpoint(build_model(task, net))
                self._restore()
            else:
                self.model = build_model(task, net)
                self._compile(self._optimizer(steps(settings, 0)))

    def _compile(self, optimizer: keras.optimizers.Optimizer) -> None:
        self.model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            # XLA pays off for large batches on one device; replicas run the plain graph
            jit_compile=self.s.batch_size >= 256 and self.strategy.num_replicas_in_sync == 1,
        )

    def _optimizer(self, steps_per_epoch: int) -> keras.optimizers.Optimizer:
        rate: Any = self.s.learning_rate
        if self.s.schedule == "cosine":
            total = steps_per_epoch * (self.s.decay_epochs or self.s.epochs)  # after this the rate stays at its floor
            warmup = max(1, total // 20)  # a short warm-up keeps Adam's first steps from saturating the gates
            rate = keras.optimizers.schedules.CosineDecay(
                0.0,
                decay_steps=max(1, total - warmup),
                alpha=self.s.floor,
                warmup_target=self.s.learning_rate,
                warmup_steps=warmup,
            )
        return keras.optimizers.Adam(rate, clipnorm=self.s.clipnorm)

    # The loop ---------------------------------------------------------------------------------
    def fit(self) -> Outcome:
        verbose = 1 if sys.stdout.isatty() else 0  # a live bar in a terminal; logs get our epoch line only
        started = time.time() - self.elapsed
        self.started = started
        ctrl_c = CtrlC()
        previous = signal.signal(signal.SIGINT, ctrl_c.on_sigint)
        try:
            while self.epoch < self.s.epochs and not self.stop_reason:
                if polishing(self.s, self.epoch) and not polishing(self.s, self.epoch - 1):
                    self._start_polishing()
                self.model.fit(
                    self._dataset(self.epoch),
                    initial_epoch=self.epoch,
                    epochs=self.epoch + 1,
                    steps_per_epoch=steps(self.s, self.epoch),
                    callbacks=[Steering(self), ctrl_c],
                    verbose=verbose,
                    shuffle=False,
                )
                if ctrl_c.pending:  # it came during the epoch's checks: stop before the next epoch
                    raise KeyboardInterrupt
        finally:
            signal.signal(signal.SIGINT, previous)
        if self.history.get("loss") and not self.stop_reason:
            self.stop_reason = f"all {self.s.epochs} epochs done"
        if self.best_weights is not None and not self.diverged:
            self.model.set_weights(self.best_weights)
        return Outcome(
            self.model,
            self.history,
            self.heldout,
            self.disjoint and self.polish_rounds == 0,  # polishing teaches held-out questions too
            self.watch.space,
            self.watch.complete,
            self.elapsed,
            self.diverged,
            self.stop_reason,
            self.probes,
            self.probe_axis,
            self.polish_rounds,
        )

    def _dataset(self, epoch: int) -> tf.data.Dataset:
        rng = np.random.default_rng([self.s.seed, epoch])
        if self.fixed is not None:  # keras.io: the same questions every epoch, reshuffled
            q = self.fixed[rng.permutation(len(self.fixed))]
            q = q[np.resize(np.arange(len(q)), self.s.samples_per_epoch)]
        else:
            # Polishing teaches every question, held-out ones too: its target is every question right by the
            # margin, and a held-out one left below it could never be lifted. The run says so in its metrics.
            polish = polishing(self.s, epoch)
            q = epoch_questions(
                self.task,
                samples(self.s, epoch),
                self.watch.space.questions[self.watch.hard(teach_all=polish)],
                POLISH_HARD_SHARE if polish else self.s.hard_fraction,
                rng,
                None if polish else self.heldout_keys,
            )
        return batches(q, self.task, self.s.batch_size)

    def after_epoch(self, epoch: int, logs: dict) -> None:
        self.epoch = epoch + 1
        loss = float(logs.get("loss", float("nan")))
        finite = all(np.isfinite(w).all() for w in self.model.get_weights())
        if not np.isfinite(loss) or loss > DIVERGED_LOSS or not finite:
            what = f"the loss became {loss:.3g}" if finite else "the weights stopped being finite numbers"
            self.diverged = f"{what} in epoch {self.epoch}"
            self.stop_reason = "diverged"
            self.model.stop_training = True
            return
        # Held-out set, probe map and a slice of the space: one call, so the weights compile once.
        space_rows = self.watch.rows_to_measure(self.history.get("val_exact_match", [0.0])[-1])
        parts = [(self.heldout, slice(None)), (self.probe, slice(None))]
        results = run_together(self.model, parts + ([(self.watch.space, space_rows)] if space_rows is not None else []))
        held = self.heldout.summary(*results[0])
        self.probes.append(quantise(results[1][1]).reshape(len(self.probe_axis), len(self.probe_axis)))
        if space_rows is not None:
            self.watch.record(space_rows, results[2][1], self.epoch)
        space_note = self.watch.describe(space_rows)
        self.elapsed = time.time() - self.started
        wrong_known = self.watch.wrong
        logs.update(heldout_exact=held["exact_match"], space_wrong=wrong_known)
        for key, value in (
            ("loss", loss),
            ("val_exact_match", held["exact_match"]),
            ("val_char_accuracy", held["char_accuracy"]),
            ("elapsed_seconds", self.elapsed),
            ("samples_seen", samples_before(self.s, self.epoch)),
            ("space_wrong", wrong_known),
            ("min_margin", self.watch.smallest_margin),
        ):
            self.history.setdefault(key, []).append(float(value))
        self.history.setdefault("per_position", []).append(held["per_position_accuracy"])
        score = self._score(held["exact_match"], self.watch.headline_wrong)
        if score >= self.best:  # ties go to the later epoch
            self.best, self.best_weights = score, self.model.get_weights()
        eta = self.elapsed / self.epoch * (self.s.epochs - self.epoch)
        print(
            f"epoch {self.epoch}/{self.s.epochs}: loss {loss:.4f}  held-out exact {held['exact_match']:.4%}  "
            f"{space_note}  elapsed {self.elapsed:.0f}s  ETA {eta:.0f}s",
            flush=True,
        )
        if self.s.show_samples:
            rng = np.random.default_rng([self.s.seed, self.epoch, 7])
            picks = rng.choice(len(self.heldout), min(self.s.show_samples, len(self.heldout)), replace=False)
            print(
                "\n".join(sample_lines(self.task, self.heldout.questions[picks], held["predicted"][picks])), flush=True
            )
        self._decide(held["exact_match"])
        progress = {**self.watch.progress(), "probes": np.array(self.probes, dtype=np.uint8)}
        self.folder.save_checkpoint(self.model, self._state(), progress, self.best_weights or [])
        if self.stop_reason:
            self.model.stop_training = True

    @staticmethod
    def _score(heldout_exact: float, space_wrong: int) -> list[float]:
        """How good an epoch's weights are, for keeping the best: once every question is measured, its wrong
        count (a million questions say more than 20,000 held out, and it is the headline), then held-out exact
        match. With no such count (-1: not yet measured, or a pool, see SpaceWatch.headline_wrong) held-out
        exact match alone decides."""
        return [1.0, -float(space_wrong), heldout_exact] if space_wrong >= 0 else [0.0, 0.0, heldout_exact]

    @property
    def polish_rounds(self) -> int:
        return sum(polishing(self.s, e) for e in range(self.epoch))

    def _start_polishing(self) -> None:
        """A fresh Adam at the floor rate for the polishing rounds. The decayed one's second-moment estimates
        trail the smaller gradients of the end of the decay, so the hard rounds' larger ones took steps
        several times the rate: right and wrong questions swapped places round after round."""
        rate = self.s.learning_rate * self.s.floor
        print(
            f"Polishing: rounds of {self.s.polish_samples:,} questions at a rate of {rate:.2g}, held-out ones "
            "included (from here the check set is not held out; the headline is every question).",
            flush=True,
        )
        with self.strategy.scope():
            self._compile(keras.optimizers.Adam(rate, clipnorm=self.s.clipnorm))

    def _decide(self, heldout_exact: float) -> None:
        s = self.s
        if s.target_margin is not None and self.watch.all_right_by(s.target_margin, self.model, self.epoch):
            what = "every question" if self.watch.complete else f"the whole pool of {len(self.watch.space):,}"
            self.stop_reason = f"{what} is right with margin >= {s.target_margin}"
            print(f"Target reached: {self.stop_reason}; stopping.", flush=True)
            return
        if s.target_accuracy is not None and heldout_exact >= s.target_accuracy:
            self.stop_reason = f"held-out exact match reached {s.target_accuracy:.4%}"
            print(f"Target reached: {self.stop_reason}; stopping.", flush=True)
        elif s.time_budget and self.elapsed + self._next_epoch_seconds() > s.time_budget:
            # Another epoch would pass the budget: stop now, not after it.
            self.stop_reason = f"the time budget of {s.time_budget:.0f}s is spent"
            print(f"Time budget of {s.time_budget:.0f}s spent (another epoch would pass it); stopping.", flush=True)

    def _next_epoch_seconds(self) -> float:
        """The next epoch's likely length: the average so far per question, times its questions."""
        return self.elapsed / samples_before(self.s, self.epoch) * samples(self.s, self.epoch)

    # Resuming ---------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "epoch": self.epoch,
            "elapsed": self.elapsed,
            "history": self.history,
            "cursor": self.watch.cursor,
            "best": self.best,
            "stop_reason": self.stop_reason,
            "fingerprint": self.fingerprint,
        }

    def _restore(self) -> None:
        """The loop's state after the last saved epoch; RunError if the work folder's files are damaged."""
        try:
            state = json.loads(self.folder.state.read_text(encoding="utf-8"))
            self.epoch, self.elapsed, self.history = int(state["epoch"]), float(state["elapsed"]), state["history"]
            self.watch.cursor = int(state["cursor"]) % len(self.watch.space)
            self.best = [float(v) for v in state["best"]]
            self.stop_reason = str(state.get("stop_reason", ""))
            assert 0 < self.epoch <= self.s.epochs and np.isfinite(self.elapsed) and self.elapsed >= 0
            assert isinstance(self.history, dict) and len(self.history.get("loss", [])) == self.epoch
            self.best_weights = self.folder.load_best()
            if self.best_weights is not None:
                assert [w.shape for w in self.best_weights] == [w.shape for w in self.model.get_weights()]
            progress = self.folder.work / "progress.npz"
            if progress.is_file():
                with np.load(progress) as saved:
                    self.watch.restore(saved)
                    self.probes = list(saved["probes"])
        except (AssertionError, KeyError, TypeError, ValueError, OSError, EOFError):
            raise RunError(f"the saved state in {self.folder.work} is damaged; start afresh without --resume") from None
        print(f"Resuming after epoch {self.epoch} ({self.elapsed:.0f}s of training so far).", flush=True)
