"""The training engine: one run's questions, model and loop, on one device, several, or several machines.

Each epoch trains on fresh questions drawn as the task samples them, plus a
share of the questions the model is least sure of. After each epoch the run
measures: held-out exact match; a rotating slice of the whole space (every
question when they can be listed, else a fixed pool), whose margins pick the
next epoch's hard questions; and a coarse probe map for the learning record. It
stops when every question of the space is right by the target margin (confirmed
by re-measuring all of it), when held-out exact match reaches its target, when
the epochs are done, when the time budget is spent, or when asked to from
outside. A checkpoint after every epoch makes a resumed run lose at most one epoch.

The loop is our own (a `tf.function` step run through `strategy.run`), not
Keras' `fit`: Keras 3's `fit` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585), and one loop serves every strategy (distribute.py).

Used as a library (trainer/run.py and the app's "Train your own", trainer/live_training.py):

    run = Training(task, net, settings, folder, on_epoch=print_json, should_stop=stop_file.exists, log=to_stderr)
    outcome = run.fit()   # then final_check.final_check(outcome, ...) and saving.save_model(outcome, check, ...)

`on_epoch(record)` gets each epoch's record: the history keys (`loss`,
`val_exact_match`, `val_char_accuracy`, `elapsed_seconds`, `samples_seen`,
`space_wrong`, `min_margin`, `per_position`) as plain numbers, plus `epoch`,
`probe_margin` (the quantised probe map, uint8, see `probe_axis`), `sample_lines`
(keras.io-style lines, `show_samples` of them) and `stop_reason` ("" while it
goes on). `should_stop()` is asked after every batch; once it says yes the run
ends that epoch there, measures and checkpoints it, and `fit` returns what was
trained (stop_reason "asked to stop"). `log(line)` receives every human-readable
line (default: stdout).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model.config import NetworkConfig, TaskConfig
from model.learning_record import probe_questions
from model.network import build_model
from model.question_map import quantise

from .data import epoch_questions
from .distribute import Cluster, distributed_batches
from .epochs import POLISH_HARD_SHARE, epoch_size, polishing, questions_before, steps
from .gradient_step import compile_with, make_optimizer, make_step, polishing_optimizer, uses_xla
from .outcome import Log, Outcome, say
from .pattern_weights import parse_pattern_weights
from .question_sets import prepare_questions
from .rundir import RunError, RunFolder
from .settings import TrainSettings, fingerprint
from .verify import Checker, run_together, sample_lines

# A per-character cross-entropy above this means runaway weights: guessing uniformly scores about 2.6, and
# Keras computes the loss from the logits, so it can grow without bound while staying a finite number.
DIVERGED_LOSS = 1000.0
ASKED_TO_STOP = "asked to stop"

EpochCallback = Callable[[dict], None]


class Training:
    """One run: its questions, its model, and the state the loop carries from epoch to epoch (see the module
    docstring for its use as a library)."""

    def __init__(
        self,
        task: TaskConfig,
        net: NetworkConfig,
        settings: TrainSettings,
        folder: RunFolder,
        *,
        resume: bool = False,
        strategy: tf.distribute.Strategy | None = None,
        on_epoch: EpochCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        log: Log = say,
    ):
        self.task, self.net, self.s, self.folder = task, net, settings, folder
        self.strategy = strategy or tf.distribute.get_strategy()
        self.cluster = Cluster(self.strategy)
        self.on_epoch, self.should_stop, self.log = on_epoch, should_stop, log
        replicas = self.strategy.num_replicas_in_sync
        if settings.batch_size % replicas:
            raise RunError(f"--batch-size ({settings.batch_size:,}) must be a multiple of the {replicas} replicas")
        keras.utils.set_random_seed(settings.seed)
        self._prepare_questions(np.random.default_rng(settings.seed))
        probe, self.probe_axis = probe_questions(task)
        self.probe = Checker(task, probe)
        self.epoch, self.elapsed = 0, 0.0
        self.history: dict[str, list] = {}
        self.probes: list[np.ndarray] = []
        self.best = [-1.0]  # see _score
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch = 0  # the epoch whose weights are kept (0: none yet)
        self.stop_reason = ""
        self.diverged: str | None = None
        self.interrupted = False
        self.fingerprint = fingerprint(task, net, settings)
        with self.strategy.scope():  # variables made here are mirrored on every replica
            if resume:
                self.model = self.folder.load_checkpoint(build_model(task, net))
                self._restore()
            else:
                self.model = build_model(task, net)
                compile_with(self.model, make_optimizer(settings, steps(settings, 0)))
        self._step = make_step(self.model, self.strategy, self.s.batch_size, xla=self.xla)

    def _prepare_questions(self, rng: np.random.Generator) -> None:
        prepared = prepare_questions(self.task, self.s, rng, log=self.log)
        self.heldout, self.disjoint, self.heldout_keys = prepared.heldout, prepared.disjoint, prepared.heldout_keys
        self.fixed, self.watch = prepared.fixed, prepared.watch

    @property
    def xla(self) -> bool:
        return uses_xla(self.strategy, self.cluster.workers, self.s.batch_size)

    # The loop ---------------------------------------------------------------------------------
    def fit(self) -> Outcome:
        self.started = time.time() - self.elapsed
        previous = self._catch_ctrl_c()
        try:
            while self.epoch < self.s.epochs and not self.stop_reason:
                if polishing(self.s, self.epoch) and not polishing(self.s, self.epoch - 1):
                    self._start_polishing()
                loss, trained = self._train_epoch()
                self.after_epoch(loss, trained)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if self.history.get("loss") and not self.stop_reason:
            self.stop_reason = f"all {self.s.epochs} epochs done"
        if self.best_weights is not None and not self.diverged:
            self.model.set_weights(self.best_weights)
        return Outcome(
            model=self.model,
            history=self.history,
            heldout=self.heldout,
            heldout_disjoint=self.disjoint and self.polish_rounds == 0,  # polishing teaches held-out questions too
            space=self.watch.space,
            space_complete=self.watch.complete,
            train_seconds=self.elapsed,
            diverged=self.diverged,
            stopped=self.stop_reason,
            probes=self.probes,
            probe_axis=self.probe_axis,
            polish_rounds=self.polish_rounds,
            served_epoch=self.best_epoch if self.best_weights is not None and not self.diverged else self.epoch,
        )

    def _catch_ctrl_c(self) -> Any:
        """Ctrl-C ends the run between batches (signals can only be caught on the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigint(signum: int, frame: Any) -> None:
            self.interrupted = True

        return signal.signal(signal.SIGINT, on_sigint)

    def _train_epoch(self) -> tuple[float, int]:
        """Train one epoch; (mean loss, questions trained). It ends early, after a batch, when asked to stop
        or when the time budget is spent (on one machine: several stop only together, after an epoch)."""
        total = steps(self.s, self.epoch)
        iterator = iter(
            distributed_batches(
                self.strategy,
                self._questions(self.epoch),
                self.task,
                self.s.batch_size,
                teacher_forcing=self.net.decoder == "attention",
            )
        )
        bar = keras.utils.Progbar(total) if self.log is say and sys.stdout.isatty() else None
        loss_sum, done = tf.constant(0.0), 0
        while done < total:
            loss_sum += self._step(iterator)  # a tensor: reading it every step would wait for each step
            done += 1
            if bar is not None:
                bar.update(done, [("loss", float(loss_sum) / done)])
            if self.interrupted:
                raise KeyboardInterrupt
            if not self.cluster.several_workers and self._stop_requested(budget_now=True):
                break
        # Questions seen: the epoch's draw when it ran to its end (as the zoo's records count them, the
        # remainder short of a whole batch included), else the batches it trained.
        return float(loss_sum) / done, epoch_size(self.s, self.epoch) if done == total else done * self.s.batch_size

    def _stop_requested(self, budget_now: bool) -> bool:
        """Whether the caller asked to stop, or (budget_now) the time budget is already spent; sets the reason."""
        if self.should_stop is not None and self.should_stop():
            self.stop_reason = ASKED_TO_STOP
        elif budget_now and self.s.time_budget and time.time() - self.started >= self.s.time_budget:
            self.stop_reason = f"the time budget of {self.s.time_budget:.0f}s is spent"
        return bool(self.stop_reason)

    def _questions(self, epoch: int) -> Any:
        rng = np.random.default_rng([self.s.seed, epoch])
        if self.fixed is not None:  # keras.io: the same questions every epoch, reshuffled
            q = self.fixed[rng.permutation(len(self.fixed))]
            return q[np.resize(np.arange(len(q)), self.s.samples_per_epoch)]
        # Polishing teaches every question, held-out ones too: its target is every question right by the
        # margin, and a held-out one left below it could never be lifted. The run says so in its metrics.
        polish = polishing(self.s, epoch)
        return epoch_questions(
            self.task,
            epoch_size(self.s, epoch),
            self.watch.space.questions[self.watch.hard(teach_all=polish)],
            POLISH_HARD_SHARE if polish else self.s.hard_fraction,
            rng,
            None if polish else self.heldout_keys,
            max_repeats=self.s.polish_repeats if polish else None,
            pattern_weights=parse_pattern_weights(self.s.pattern_weights, self.task)
            if self.s.pattern_weights
            else None,
        )

    # After each epoch -------------------------------------------------------------------------
    def after_epoch(self, loss: float, trained: int) -> None:
        """Measure, record, report, decide, checkpoint and tell the caller, in that order."""
        self.epoch += 1
        self.elapsed = time.time() - self.started
        if self._diverged(loss):
            return
        held, space_rows = self._measure()
        self._record(loss, held, trained)
        self._keep_best(held["exact_match"])
        self._report(loss, held, space_rows)
        self._decide(held["exact_match"])
        self._checkpoint()
        self._tell(held)

    def _diverged(self, loss: float) -> bool:
        finite = all(np.isfinite(w).all() for w in self.model.get_weights())
        if np.isfinite(loss) and loss <= DIVERGED_LOSS and finite:
            return False
        what = f"the loss became {loss:.3g}" if finite else "the weights stopped being finite numbers"
        self.diverged = f"{what} in epoch {self.epoch}"
        self.stop_reason = "diverged"
        return True

    def _measure(self) -> tuple[dict, np.ndarray | None]:
        """Held-out set, probe map and the space's next rows in one call, so the weights compile once."""
        space_rows = self.watch.next_rows(self.history.get("val_exact_match", [0.0])[-1])
        parts = [(self.heldout, slice(None)), (self.probe, slice(None))]
        results = run_together(self.model, parts + ([(self.watch.space, space_rows)] if space_rows is not None else []))
        self.probes.append(quantise(results[1][1]).reshape(len(self.probe_axis), len(self.probe_axis)))
        if space_rows is not None:
            self.watch.record(space_rows, results[2][1], self.epoch)
        return self.heldout.summary(*results[0]), space_rows

    def _record(self, loss: float, held: dict, trained: int) -> None:
        seen = (self.history["samples_seen"][-1] if self.history.get("samples_seen") else 0) + trained
        for key, value in (
            ("loss", loss),
            ("val_exact_match", held["exact_match"]),
            ("val_char_accuracy", held["char_accuracy"]),
            ("elapsed_seconds", self.elapsed),
            ("samples_seen", seen),
            ("space_wrong", self.watch.wrong),
            ("min_margin", self.watch.smallest_margin),
        ):
            self.history.setdefault(key, []).append(float(value))
        self.history.setdefault("per_position", []).append(held["per_position_accuracy"])

    def _keep_best(self, heldout_exact: float) -> None:
        score = self._score(heldout_exact, self.watch.headline_wrong)
        if score >= self.best:  # ties go to the later epoch
            self.best, self.best_weights, self.best_epoch = score, self.model.get_weights(), self.epoch

    @staticmethod
    def _score(heldout_exact: float, space_wrong: int) -> list[float]:
        """How good an epoch's weights are, for keeping the best: once every question is measured, its wrong
        count (a million questions say more than 20,000 held out, and it is the headline), then held-out exact
        match. With no such count (-1: not yet measured, or a pool, see SpaceWatch.headline_wrong) held-out
        exact match alone decides."""
        return [1.0, -float(space_wrong), heldout_exact] if space_wrong >= 0 else [0.0, 0.0, heldout_exact]

    def _report(self, loss: float, held: dict, space_rows: np.ndarray | None) -> None:
        self.log(
            f"epoch {self.epoch}/{self.s.epochs}: loss {loss:.4f}  held-out exact {held['exact_match']:.4%}  "
            + (f"(final answer; every step {held['steps_exact_match']:.4%})  " if self.task.rewrites else "")
            + f"{self.watch.describe(space_rows)}  elapsed {self.elapsed:.0f}s  ETA {self.eta():.0f}s"
        )
        if self.s.show_samples:
            self.log("\n".join(self._sample_lines(held)))

    def _sample_lines(self, held: dict) -> list[str]:
        rng = np.random.default_rng([self.s.seed, self.epoch, 7])
        picks = rng.choice(len(self.heldout), min(self.s.show_samples, len(self.heldout)), replace=False)
        return sample_lines(self.task, self.heldout.questions[picks], held["predicted"][picks])

    def eta(self) -> float:
        """Seconds left: the epochs left at this run's pace, or the budget left when that comes first."""
        seen = self.history["samples_seen"][-1] if self.history.get("samples_seen") else 0
        left = questions_before(self.s, self.s.epochs) - questions_before(self.s, self.epoch)
        by_epochs = self.elapsed / max(seen, 1) * left
        return min(by_epochs, max(0.0, self.s.time_budget - self.elapsed)) if self.s.time_budget else by_epochs

    def _decide(self, heldout_exact: float) -> None:
        s = self.s
        if self.stop_reason:  # stopped during the epoch (asked to, or the budget)
            self.log(f"Stopping: {self.stop_reason}.")
        elif s.target_margin is not None and self.watch.all_right_by(s.target_margin, self.model, self.epoch):
            what = "every question" if self.watch.complete else f"the whole pool of {len(self.watch.space):,}"
            self.stop_reason = f"{what} is right with margin >= {s.target_margin}"
            self.log(f"Target reached: {self.stop_reason}; stopping.")
        elif s.target_accuracy is not None and heldout_exact >= s.target_accuracy:
            self.stop_reason = f"held-out exact match reached {s.target_accuracy:.4%}"
            self.log(f"Target reached: {self.stop_reason}; stopping.")
        elif self._stop_requested(budget_now=False):
            self.log(f"Stopping: {self.stop_reason}.")
        elif s.time_budget and self.epoch < s.epochs and self.elapsed + self._next_epoch_seconds() > s.time_budget:
            # Another epoch would pass the budget: stop now, not after it.
            self.stop_reason = f"the time budget of {s.time_budget:.0f}s is spent"
            self.log(f"Time budget of {s.time_budget:.0f}s spent (another epoch would pass it); stopping.")
        # Workers stop together, though each may see the clock (or a stop request) differently.
        if self.cluster.several_workers and self.cluster.any_worker(bool(self.stop_reason)) and not self.stop_reason:
            self.stop_reason = "another worker stopped"
            self.log("Stopping: another worker stopped.")

    def _next_epoch_seconds(self) -> float:
        """The next epoch's likely length: the average so far per question, times its questions."""
        return self.elapsed / max(self.history["samples_seen"][-1], 1) * epoch_size(self.s, self.epoch)

    def _checkpoint(self) -> None:
        progress = {**self.watch.progress(), "probes": np.array(self.probes, dtype=np.uint8)}
        self.folder.save_checkpoint(
            self.model, self._state(), progress, self.best_weights or [], keep_previous=self.cluster.several_workers
        )

    def _tell(self, held: dict) -> None:
        if self.on_epoch is None:
            return
        record: dict[str, Any] = {key: values[-1] for key, values in self.history.items()}
        record.update(
            epoch=self.epoch,
            probe_margin=self.probes[-1],
            sample_lines=self._sample_lines(held) if self.s.show_samples else [],
            stop_reason=self.stop_reason,
        )
        self.on_epoch(record)

    @property
    def polish_rounds(self) -> int:
        return sum(polishing(self.s, e) for e in range(self.epoch))

    def _start_polishing(self) -> None:
        """A fresh optimizer for the polishing rounds (gradient_step.polishing_optimizer says why)."""
        rate = self.s.learning_rate * self.s.floor
        repeats = f", each hard one at most {self.s.polish_repeats:,} times" if self.s.polish_repeats else ""
        average = f", each ending on the weights' moving average ({self.s.polish_ema:g})" if self.s.polish_ema else ""
        self.log(
            f"Polishing: rounds of {self.s.polish_samples:,} questions at a rate of {rate:.2g}{repeats}{average}, "
            "held-out ones included (from here the check set is not held out; the headline is every question)."
        )
        with self.strategy.scope():
            compile_with(self.model, polishing_optimizer(self.s, self.epoch))
        self._step = make_step(self.model, self.strategy, self.s.batch_size, xla=self.xla)

    # Resuming ---------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "epoch": self.epoch,
            "elapsed": self.elapsed,
            "history": self.history,
            "cursor": self.watch.cursor,
            "best": self.best,
            "best_epoch": self.best_epoch,
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
            self.best_epoch = int(state.get("best_epoch", self.epoch))
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
        self.log(f"Resuming after epoch {self.epoch} ({self.elapsed:.0f}s of training so far).")
