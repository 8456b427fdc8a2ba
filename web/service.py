"""What the app answers, as plain JSON-able dicts: the API behind every tab.

Every public method returns one dict with an "error" field (null on success,
else one sentence) and never raises, whatever it is sent. Each takes an
optional model name; empty means the default model, so a call need not name
one. The UI turns these same dicts into
HTML (web/*.py), so the page and the API can never disagree.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from model.analysis import attribution, pattern_scores
from model.codec import encode_questions
from model.forward import LayerTrace
from model.metrics import headline
from model.questions import (
    MAX_QUESTION_CHARS,
    InputError,
    Questions,
    concat,
    example_questions,
    parse_question,
    parse_whole_number,
    sample_questions,
)
from model.quoting import quoted
from model.serving import Catalogue, ServedModel

from .own_models import OwnModels
from .results import (
    INTERNAL_ERROR,
    attention_grid,
    finite,
    guarded,
    plain_error,
    result_dict,
    table_error,
    task_summary,
)

log = logging.getLogger("app")

MAX_LINES = 500  # questions per /predict_batch request
MAX_BATCH_CHARS = 20_000  # characters per /predict_batch request (500 lines of 40), checked before splitting
MAX_RANDOM = 500  # questions per /random_sums request
PER_PATTERN = 200  # questions per bracket pattern in the Map tab's table


class Service:
    """The catalogue of served models behind a JSON API."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.own = OwnModels()

    # Models -----------------------------------------------------------------
    @property
    def default(self) -> str:
        return self.catalogue.default

    def names(self) -> list[str]:
        return list(self.catalogue.models)

    def resolve(self, name: object) -> ServedModel:
        """The model called `name` (a visitor's own included), else the default; never raises (for the page)."""
        return self.catalogue.get(name) or self.own.get(name) or self.catalogue.models[self.default]

    def served(self, name: object) -> ServedModel:
        served = self.catalogue.get(name) or self.own.get(name)
        if served is None:
            raise InputError(f"There is no model called {quoted(name, 40)}; choose one of {', '.join(self.names())}.")
        return served

    def examples(self, name: object) -> list[str]:
        """Questions the model accepts, for examples and hints."""
        return example_questions(self.resolve(name).task, 4)

    # One question --------------------------------------------------------------
    def predict_many(self, questions: Sequence[object], models: Sequence[object] | None = None) -> list[dict]:
        """Many /predict calls at once (Gradio batches concurrent callers); questions per model share a pass."""
        models = models if models is not None else [None] * len(questions)
        results: list[dict | None] = [None] * len(questions)
        groups: dict[str, list[tuple[int, Questions]]] = {}
        for i, (text, name) in enumerate(zip(questions, models, strict=True)):
            try:
                served = self.served(name)
                parsed = parse_question(text, served.task)
                groups.setdefault(served.name, []).append((i, parsed))
            except InputError as err:
                results[i] = self.error_result(text, str(err))
        for name, accepted in groups.items():
            try:
                batch = concat([q for _, q in accepted])  # keeps each question's brackets
                for (i, _), explanation in zip(accepted, self.served(name).predictor.explain(batch), strict=True):
                    results[i] = {**result_dict(explanation), "model": name}
            except Exception:
                log.exception("predict failed")
                for i, _ in accepted:
                    results[i] = self.error_result(questions[i], INTERNAL_ERROR)
        filled = [r for r in results if r is not None]
        assert len(filled) == len(results)  # every question got its answer or its error above
        return filled

    def predict(self, question: str, model: str | None = None) -> dict:
        """/predict: one question such as "535+61" (and optionally a model name) -> the answer, the true
        result, and per-position confidences, margins and runners-up.

        Args:
            question: the question as typed, e.g. "535+61" (at most 200 characters).
            model: a model name from /models; empty or null for the default model.
        """
        return self.predict_many([question], [model])[0]

    @staticmethod
    def error_result(question: object, message: str) -> dict:
        empty = dict.fromkeys(
            [
                "network_input",
                "answer",
                "answer_text",
                "answer_as_read",
                "written",
                "true_answer",
                "true_text",
                "true_as_read",
                "correct",
                "min_confidence",
                "min_margin",
                "positions",
                "model",
            ]
        )
        return {**empty, "question": quoted(question, 60, numbers=False), "error": message}

    # Many questions ------------------------------------------------------------
    @guarded(table_error)
    def predict_batch(self, text: str, model: str | None = None) -> dict:
        """/predict_batch: one question per line (blank lines skipped) -> table rows and exact-match accuracy.

        Args:
            text: questions, one per line (at most 500 lines and 20,000 characters).
            model: a model name from /models; empty or null for the default model.
        """
        served = self.served(model)
        if not isinstance(text, str):
            return table_error(f"Expected text with one question per line, got {type(text).__name__}.")
        if len(text) > MAX_BATCH_CHARS:
            return table_error(f"That is {len(text):,} characters; paste at most {MAX_BATCH_CHARS:,} at once.")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return table_error(f"Paste one question per line, such as {self.examples(model)[0]}.")
        if len(lines) > MAX_LINES:
            return table_error(f"That is {len(lines):,} questions; paste at most {MAX_LINES:,} at once.")
        return self._table(lines, served)

    @guarded(table_error)
    def random_sums(self, n: int | str, seed: int | str | None = None, model: str | None = None) -> dict:
        """/random_sums: N questions drawn uniformly (every number the model takes equally likely; seeded, so a
        draw can be repeated).

        Args:
            n: how many questions, 1 to 500.
            seed: a whole number 0 to 2**32-1 to repeat a draw; empty or null for a fresh one.
            model: a model name from /models; empty or null for the default model.
        """
        served = self.served(model)
        count = parse_whole_number(n, "The number of questions", 1, MAX_RANDOM)
        if seed in (None, ""):
            entropy = np.random.SeedSequence().entropy
            assert isinstance(entropy, int)  # fresh entropy is one int; only a seed passed in can be a sequence
            chosen = int(entropy % 2**32)
        else:
            chosen = parse_whole_number(seed, "The seed", 0, 2**32 - 1)
        # Uniform, not the training mix (which leans to short numbers): an accuracy over every question.
        uniform = dataclasses.replace(served.task, sampling="uniform")
        q = sample_questions(uniform, count, np.random.default_rng(chosen))
        return {**self._table(q.texts(), served), "seed": chosen, "drawn": "uniform"}

    def _table(self, questions: list[str], served: ServedModel) -> dict:
        results = self.predict_many(questions, [served.name] * len(questions))
        if any(r["error"] == INTERNAL_ERROR for r in results):
            return table_error(INTERNAL_ERROR)
        rows = []
        for q, r in zip(questions, results, strict=True):
            ok = r["error"] is None
            rows.append(
                {
                    "question": r["question"] if ok else quoted(q, 60, numbers=False),
                    "error": r["error"],
                    "true_answer": r["true_answer"],
                    "correct": r["correct"],
                    "min_confidence": r["min_confidence"],
                    "min_margin": r["min_margin"],
                    "prediction": r["answer_as_read"].strip() if ok else None,
                }
            )
        valid = [r for r in rows if r["error"] is None]
        correct = sum(r["correct"] for r in valid)
        return {
            "rows": rows,
            "total": len(rows),
            "valid": len(valid),
            "correct": correct,
            "accuracy": correct / len(valid) if valid else None,
            "seed": None,
            "drawn": None,  # the questions were given, not drawn
            "model": served.name,
            "error": None,
        }

    # The models ----------------------------------------------------------------
    @guarded(plain_error)
    def model_info(self, model: str | None = None) -> dict:
        """/model_info: where a model came from, its task and network, its measured accuracy, load notes.

        Args:
            model: a model name from /models; empty or null for the default model.
        """
        served = self.served(model)
        t, n, metrics = served.task, served.stored.net, served.stored.metrics
        accuracy, measured_on = headline(metrics)
        return finite(
            {
                "name": served.name,
                "source": served.source,
                "revision": served.revision,
                "description": served.description,
                "offline": served.source == "bundled",
                "page_url": served.page_url,
                "task": {
                    **t.to_dict(),
                    "max_term": t.max_term,
                    "fewest_terms": t.fewest_terms,
                    "question_length": t.question_length,
                    "answer_length": t.answer_length,
                },
                "network": n.to_dict(),
                "design": {  # the options a model's files may leave out, spelled out (model/config.py)
                    "decoder": n.decoder,
                    "attention": n.attention if n.decoder == "attention" else None,
                    "answer_order": t.answer_order,
                    "brackets": t.brackets,
                },
                "examples": example_questions(t, 4),
                "accuracy": accuracy,
                "accuracy_measured_on": measured_on,
                "heldout_exact_match": metrics.get("heldout_exact_match"),
                "exhaustive_wrong": metrics.get("exhaustive_wrong"),
                "exhaustive_total": metrics.get("exhaustive_total"),
                "metrics": metrics,
                "notes": served.notes + served.stored.notes + self.catalogue.notes,
                "limits": {
                    "question_chars": MAX_QUESTION_CHARS,
                    "batch_lines": MAX_LINES,
                    "batch_chars": MAX_BATCH_CHARS,
                    "random_sums": MAX_RANDOM,
                },
                "error": None,
            }
        )

    # Inside a prediction -----------------------------------------------------
    def trace(self, question: object, model: object = None) -> tuple[ServedModel, dict, list[LayerTrace]]:
        """The /predict result and every layer's states and gates for one question; raises InputError."""
        served = self.served(model)
        q = parse_question(question, served.task)
        result = {**result_dict(served.predictor.explain(q)[0]), "model": served.name}
        tokens = encode_questions(q, served.task)
        _, traces = served.network.trace(tokens)
        result["attention"] = attention_grid(served, tokens)
        return served, result, traces

    @guarded(plain_error)
    def attribution(self, question: str, model: str | None = None) -> dict:
        """/attribution: how strongly each input character drives each answer character (see the method),
        and for an attention model its own attention weights (answer character x input character).

        Args:
            question: the question as typed, e.g. "535+61".
            model: a model name from /models; empty or null for the default model.
        """
        served = self.served(model)
        q = parse_question(question, served.task)
        grid, read, answer = attribution(served.network, served.task, q)
        return {
            "question": q.texts()[0],
            "network_input": read,
            "answer_text": answer,
            "grid": np.round(grid, 4).tolist(),
            "method": "occlusion",
            "attention": attention_grid(served, encode_questions(q, served.task)),
            "model": served.name,
            "error": None,
        }

    @guarded(plain_error)
    def states(self, question: str, model: str | None = None) -> dict:
        """/states: each layer's hidden state (and cell state and gates) after every step, units x steps.

        Args:
            question: the question as typed, e.g. "535+61".
            model: a model name from /models; empty or null for the default model.
        """
        served, result, traces = self.trace(question, model)
        layers = [
            {
                "name": t.name,
                "hidden": np.round(t.hidden[0].T, 4).tolist(),
                "cell": None if t.cell is None else np.round(t.cell[0].T, 4).tolist(),
                "gates": {k: np.round(v[0].T, 4).tolist() for k, v in t.gates.items()},
            }
            for t in traces
        ]
        return {
            "question": result["question"],
            "network_input": result["network_input"],
            "answer_text": result["answer_text"],
            "cell": served.stored.net.cell,
            "layers": layers,
            "attention": result["attention"],
            "model": served.name,
            "error": None,
        }

    @guarded(plain_error)
    def patterns(self, model: str | None = None) -> dict:
        """A bracket task's share right per bracket pattern (PER_PATTERN questions each, the same numbers
        for every pattern of a term count); `patterns` is empty for a task without brackets."""
        served = self.served(model)
        scores = pattern_scores(served.network, served.task, PER_PATTERN) if served.task.brackets else []
        return {
            "patterns": [{"pattern": s.label, "right": s.right, "asked": s.asked} for s in scores],
            "model": served.name,
            "error": None,
        }

    # Two models side by side ----------------------------------------------------
    @guarded(plain_error)
    def compare(self, question: str, model_a: str | None = None, model_b: str | None = None) -> dict:
        """/compare: the same question answered by two models.

        Args:
            question: the question as typed, e.g. "535+61"; both models must accept it.
            model_a: the first model's name from /models; empty or null for the default model.
            model_b: the second model's name from /models; empty or null for the default model.
        """
        a, b = self.served(model_a), self.served(model_b)
        return {"a": self.predict(question, a.name), "b": self.predict(question, b.name), "error": None}

    @guarded(plain_error)
    def compare_random(
        self, n: int | str, seed: int | str | None = None, model_a: str | None = None, model_b: str | None = None
    ) -> dict:
        """/compare_random: N questions drawn from model A's task, answered by both models.

        Args:
            n: how many questions, 1 to 500.
            seed: a whole number 0 to 2**32-1 to repeat a draw; empty or null for a fresh one.
            model_a: the model whose task the questions are drawn from (a name from /models; null: the default).
            model_b: the model they are compared with (a name from /models; null: the default).
        """
        a, b = self.served(model_a), self.served(model_b)
        first = self.random_sums(n, seed, a.name)
        if first["error"]:
            return {"a": first, "b": None, "error": first["error"]}
        second = self._table([row["question"] for row in first["rows"]], b)
        return {"a": first, "b": {**second, "seed": first["seed"]}, "error": None}

    @guarded(plain_error)
    def models(self) -> dict:
        """/models: every served model with its task, source and headline accuracy."""
        rows = []
        for served in self.catalogue.models.values():
            accuracy, measured_on = headline(served.stored.metrics)
            rows.append(
                finite(
                    {
                        "name": served.name,
                        "description": served.description,
                        "source": served.source,
                        "revision": served.revision,
                        "task": task_summary(served),
                        "cell": served.stored.net.cell,
                        "accuracy": accuracy,
                        "accuracy_measured_on": measured_on,
                    }
                )
            )
        return {"models": rows, "default": self.default, "notes": list(self.catalogue.notes), "error": None}
