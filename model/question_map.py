"""The whole question space as a picture: one cell per question, coloured by margin.

The margin is p(right) - p(best wrong) at the weakest answer position. The trainer
builds the map once, during verification (`build_map`), and stores it as `map.npz`
(`save_map`); the app only reads it (`load_map`, which checks every array against the
task). A bracket task gets one map per bracket pattern of its full term count (the same
cells, each asked with the pattern).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .codec import encode_questions
from .config import OPERATORS, TaskConfig, enumerable
from .forward import Network
from .questions import Questions, all_questions, sample_questions
from .storage import load_npz

MAX_MAP_SIDE = 1000  # at most 1000 x 1000 cells
SAMPLED_MAP_SIDE = 200  # cells per axis when the other terms are drawn at random
WEAKEST = 50  # the weakest right questions kept with the map
MarginFn = Callable[[Questions], np.ndarray]  # questions -> margins (negative where wrong)


# The whole-space map ----------------------------------------------------------------------------
@dataclass
class QuestionMap:
    """One cell per question: x = the first number, y = the second; margins coloured, wrong cells listed.

    A bracket task of three or more numbers has one map per bracket pattern of its full term count: the
    same cells (every one a question of that many numbers), each asked with the pattern. This map is the
    first pattern's (no brackets) and `others` holds the rest, in model.brackets.bracket_patterns order.
    Older map.npz files of a bracket task hold one map of questions without brackets (pattern None)."""

    a_values: np.ndarray  # (cols,) the first number of each column
    b_values: np.ndarray  # (rows,) the second number of each row
    margin: np.ndarray  # (rows, cols) uint8: 0 = margin -1 … 255 = margin +1
    wrong: np.ndarray  # (k, 2) int32 (row, col) of every wrong cell
    weakest: np.ndarray  # (m, 3) float32 (row, col, margin) of the weakest right cells
    rest_terms: np.ndarray  # (rows, cols, terms - 2) the other numbers of sampled questions (empty if none)
    ops: np.ndarray  # (rows, cols, terms - 1) operator codes of each cell's question, -1 = ended
    complete: bool  # True when the cells are every question of the task
    pattern: int | None = None  # the bracket pattern every cell is asked with (its index); None: no brackets
    others: tuple[QuestionMap, ...] = ()  # a bracket task's maps of its other patterns (1, 2, …), same cells

    def question(self, row: int, col: int) -> Questions:
        """The question in a cell (with this map's brackets)."""
        terms = [int(self.a_values[col]), int(self.b_values[row]), *self.rest_terms[row, col].tolist()]
        groups = None if self.pattern is None else np.array([self.pattern], np.int16)
        return Questions(np.array([terms], dtype=np.int64), self.ops[row, col][None].astype(np.int8), groups)

    @property
    def cells(self) -> int:
        return self.margin.size

    @property
    def by_pattern(self) -> list[QuestionMap]:
        """Every map of the same cells, one per bracket pattern in order (just this one when there are none)."""
        return [self, *self.others]


def map_axes(task: TaskConfig, most: int | None = None) -> tuple[np.ndarray, bool]:
    """The values along each axis (at most `most` of them), and whether the map holds every question of the task."""
    values = task.max_term - task.smallest + 1
    limit = most or (MAX_MAP_SIDE if task.terms == 2 else SAMPLED_MAP_SIDE)
    complete = (
        task.terms == 2 and task.fewest_terms == 2 and len(task.operators) == 1 and enumerable(task) and values <= limit
    )
    side = min(values, limit)
    axis = np.unique(np.round(np.linspace(task.smallest, task.max_term, side)).astype(np.int64))
    return axis, complete


def map_patterns(task: TaskConfig) -> int:
    """How many maps a task's map.npz holds: one per bracket pattern of its full term count (1 if none)."""
    return task.pattern_count(task.terms) if task.brackets else 1


def map_questions(task: TaskConfig, seed: int = 0, most: int | None = None) -> tuple[Questions, np.ndarray, bool]:
    """Every cell's question (row-major: row = second number, col = first), the axis values, completeness.

    The questions have no brackets (groups None): build_map asks a bracket task's cells with each pattern."""
    axis, complete = map_axes(task, most)
    rows = cols = len(axis)
    b_grid, a_grid = np.meshgrid(axis, axis, indexing="ij")
    drawn = sample_questions(task, rows * cols, np.random.default_rng(seed))
    terms = drawn.terms.copy()
    terms[:, 0], terms[:, 1] = a_grid.ravel(), b_grid.ravel()
    return Questions(terms, drawn.ops.copy()), axis, complete


def build_map(task: TaskConfig, margins_of: MarginFn, seed: int = 0) -> QuestionMap:
    """Ask every cell's question (through `margins_of`, e.g. the trainer's fast verifier) and keep the result.

    A bracket task with several patterns draws every cell with its full term count (a pattern brackets
    that many numbers) and asks each cell once per pattern: one map per pattern, the first one's `others`."""
    patterns = map_patterns(task)
    drawn_for = dataclasses.replace(task, min_terms=None) if patterns > 1 else task
    q, axis, complete = map_questions(drawn_for, seed)
    side = len(axis)
    maps = []
    for pattern in range(patterns):
        asked = q if patterns == 1 else Questions(q.terms, q.ops, np.full(len(q), pattern, np.int16))
        margins = np.asarray(margins_of(asked), dtype=np.float32).reshape(side, side)
        wrong = np.argwhere(margins <= 0).astype(np.int32)
        right = np.argwhere(margins > 0)
        order = np.argsort(margins[margins > 0], kind="stable")[:WEAKEST]
        weakest = np.column_stack([right[order], margins[margins > 0][order]]).astype(np.float32)
        maps.append(
            QuestionMap(
                axis,
                axis.copy(),
                quantise(margins),
                wrong,
                weakest,
                q.terms[:, 2:].reshape(side, side, -1).astype(np.int64),
                q.ops.reshape(side, side, -1),
                complete,
                pattern=None if patterns == 1 else pattern,
            )
        )
    maps[0].others = tuple(maps[1:])
    return maps[0]


def save_map(space: QuestionMap, path: Path) -> None:
    """map.npz: the first map's arrays as ever, and for a bracket task the other patterns' maps as
    pattern_margin (P-1, rows, cols), pattern_wrong (P-1, rows, cols) bool and pattern_weakest (m, 4)
    rows of (pattern, row, col, margin), pattern counted from 1 as in bracket_patterns."""
    arrays: dict[str, Any] = {  # Any: numpy types **kwds as if one could be allow_pickle
        "a_values": space.a_values,
        "b_values": space.b_values,
        "margin": space.margin,
        "wrong": space.wrong,
        "weakest": space.weakest,
        "rest_terms": space.rest_terms,
        "ops": space.ops,
        "complete": np.array(space.complete),
    }
    if space.others:
        arrays["pattern_margin"] = np.stack([other.margin for other in space.others])
        arrays["pattern_wrong"] = np.stack([_wrong_mask(other) for other in space.others])
        arrays["pattern_weakest"] = np.concatenate(
            [np.column_stack([np.full(len(o.weakest), p), o.weakest]) for p, o in enumerate(space.others, 1)]
        ).astype(np.float32)
    np.savez_compressed(path, **arrays)


def _wrong_mask(space: QuestionMap) -> np.ndarray:
    mask = np.zeros(space.margin.shape, dtype=bool)
    mask[space.wrong[:, 0], space.wrong[:, 1]] = True
    return mask


PATTERN_ARRAYS = frozenset({"pattern_margin", "pattern_wrong", "pattern_weakest"})


def load_map(path: Path, task: TaskConfig) -> QuestionMap:
    """Read map.npz, checking every array's shape and type against the task before reading it.

    The per-pattern arrays are all there or none (a file from before them: one map, pattern None), and
    only for a bracket task with several patterns, exactly one map for each of its other patterns."""
    axis, _ = map_axes(task)
    side = len(axis)
    others = map_patterns(task) - 1
    arrays = load_npz(
        path,
        {
            "a_values": ((side,), "int64"),
            "b_values": ((side,), "int64"),
            "margin": ((side, side), "uint8"),
            "wrong": ((None, 2), "int32"),
            "weakest": ((None, 3), "float32"),
            "rest_terms": ((side, side, task.terms - 2), "int64"),
            "ops": ((side, side, task.terms - 1), "int8"),
            "complete": ((), "bool"),
            "pattern_margin": ((others, side, side), "uint8"),
            "pattern_wrong": ((others, side, side), "bool"),
            "pattern_weakest": ((None, 4), "float32"),
        },
        optional=PATTERN_ARRAYS,
    )
    found = PATTERN_ARRAYS & arrays.keys()
    if found and not others:
        raise ValueError(f"{path.name} holds bracket-pattern maps for a task without bracket patterns")
    if found and found != PATTERN_ARRAYS:
        raise ValueError(f"{path.name} holds only some of the bracket-pattern maps")

    def one_map(margin: np.ndarray, wrong: np.ndarray, weakest: np.ndarray, pattern: int | None) -> QuestionMap:
        """A map of the file's cells (shared by every pattern's map)."""
        return QuestionMap(
            arrays["a_values"],
            arrays["b_values"],
            margin,
            wrong,
            weakest,
            arrays["rest_terms"],
            arrays["ops"],
            bool(arrays["complete"]),
            pattern,
        )

    space = one_map(arrays["margin"], arrays["wrong"], arrays["weakest"], 0 if found else None)
    if found:
        weakest = arrays["pattern_weakest"]
        problem = _pattern_weakest_problem(weakest, others)
        if problem:
            raise ValueError(f"{path.name} {problem}")
        space.others = tuple(
            one_map(
                arrays["pattern_margin"][p - 1],
                np.argwhere(arrays["pattern_wrong"][p - 1]).astype(np.int32),
                weakest[weakest[:, 0] == p][:, 1:],
                p,
            )
            for p in range(1, others + 1)
        )
    problem = map_problem(space, task)
    if problem:
        raise ValueError(f"{path.name} {problem}")
    return space


def _pattern_weakest_problem(weakest: np.ndarray, others: int) -> str | None:
    """What is wrong with the pattern column of pattern_weakest, as a clause; None when nothing."""
    column = weakest[:, 0]
    if not (np.isfinite(column).all() and (column == np.round(column)).all()):
        return "lists weakest cells of no bracket pattern"
    if not ((column >= 1) & (column <= others)).all():
        return "lists weakest cells of a bracket pattern the task does not have"
    return None


def map_problem(space: QuestionMap, task: TaskConfig) -> str | None:
    """What in a read map could not come from the trainer for this task (every value the page indexes or
    shows is checked), as a clause; None when nothing."""
    axis, complete = map_axes(task)
    if not (np.array_equal(space.a_values, axis) and np.array_equal(space.b_values, axis)):
        return "has axes that are not this task's"
    if space.complete != complete:
        return "says it holds every question when it does not, or the reverse"
    for one in space.by_pattern:
        problem = _lists_problem(one, len(axis))
        if problem:
            return problem if one.pattern is None else f"{problem} (bracket pattern {one.pattern + 1})"
    if space.others and (space.ops < 0).any():  # a pattern brackets the full term count
        return "holds bracket-pattern maps of questions with too few numbers for their brackets"
    for row in range(0, len(axis), 64):  # in blocks of rows: a million cells need no million-cell temporaries
        problem = _cells_problem(space.ops[row : row + 64], space.rest_terms[row : row + 64], task)
        if problem:
            return problem
    return None


def _lists_problem(space: QuestionMap, side: int) -> str | None:
    """What in one map's lists of wrong and weakest cells points outside the map, as a clause; None."""
    if not ((space.wrong >= 0).all() and (space.wrong < side).all()):
        return "lists wrong cells outside the map"
    cells, margins = space.weakest[:, :2], space.weakest[:, 2]
    cells_ok = np.isfinite(cells).all() and (cells == np.round(cells)).all() and ((cells >= 0) & (cells < side)).all()
    if len(space.weakest) > WEAKEST or not cells_ok:
        return "lists weakest cells outside the map"
    if not (np.isfinite(margins).all() and ((margins > 0) & (margins <= 1.01)).all()):  # float32 softmax may pass 1
        return "lists weakest margins outside 0 to 1"
    return None


def _cells_problem(ops: np.ndarray, rest_terms: np.ndarray, task: TaskConfig) -> str | None:
    """What in some cells' questions (operator codes, numbers) this task cannot ask, as a clause; None."""
    codes = [OPERATORS.index(op) for op in task.operators]
    if not np.isin(ops, [-1, *codes]).all():
        return f"holds operator codes this task does not have (it has {task.operators})"
    ended = ops < 0
    if ended[..., : task.fewest_terms - 1].any() or (ended[..., :-1] & ~ended[..., 1:]).any():
        return "holds questions with too few numbers"
    low, high = min(0, task.smallest), task.max_term  # 0 fills the slots of ended questions
    if rest_terms.size and not ((rest_terms >= low) & (rest_terms <= high)).all():
        return "holds numbers outside the task's range"
    return None


def quantise(margins: np.ndarray) -> np.ndarray:
    """Margins in [-1, 1] as 0..255, as QuestionMap.margin and the learning record's probe store them."""
    return np.clip(np.round((np.asarray(margins, np.float32) + 1) * 127.5), 0, 255).astype(np.uint8)


def network_margins(network: Network, task: TaskConfig, chunk: int = 4096) -> MarginFn:
    """A MarginFn from the numpy network (the trainer uses its faster TensorFlow verifier instead)."""
    from .codec import encode_answers
    from .predictor import margins
    from .questions import answers

    def margins_of(q: Questions) -> np.ndarray:
        out = []
        for i in range(0, len(q), chunk):
            part = q[i : i + chunk]
            probs = network.probabilities(encode_questions(part, task))
            out.append(margins(probs, encode_answers(answers(part), task)).min(axis=1))
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    return margins_of


def exhaustive_margins(task: TaskConfig, margins_of: MarginFn) -> tuple[int, int]:
    """(wrong, total) over every question, for tasks that `enumerable` allows."""
    q = all_questions(task)
    return int((margins_of(q) <= 0).sum()), len(q)
