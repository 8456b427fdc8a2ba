"""What the app shows beyond the answer, as plain functions returning arrays.

- `attribution`: which input characters each answer character depends on, by
  occlusion: replace one input digit at a time by every other digit that keeps
  the question valid, and measure how far the probability of the character the
  model chose moves. The carry shows: in 199+1 the hundreds digit of 200
  depends on the units digits.
- `unit_order`: an order of a layer's units that makes structure visible in a
  heatmap (by the step where each unit is most active, then by its sign).
- `build_map` / `load_map`: the whole question space as a picture, one cell per
  question, coloured by margin (p(right) - p(best wrong) at the weakest answer
  position). The trainer builds it once, during verification, and stores it as
  `map.npz`; the app only reads it. A bracket task gets one map per bracket
  pattern of its full term count (the same cells, each asked with the pattern).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .codec import encode_questions
from .config import DIGITS, OPERATORS, PAD, TaskConfig, enumerable
from .forward import Network
from .questions import Questions, all_questions, sample_questions
from .storage import load_npz

MAX_MAP_SIDE = 1000  # at most 1000 x 1000 cells
SAMPLED_MAP_SIDE = 200  # cells per axis when the other terms are drawn at random
WEAKEST = 50  # the weakest right questions kept with the map
MarginFn = Callable[[Questions], np.ndarray]  # questions -> margins (negative where wrong)


# Attribution ------------------------------------------------------------------------------------
def attribution(network: Network, task: TaskConfig, q: Questions) -> tuple[np.ndarray, str, str]:
    """(grid, what the network reads, what it answers): the grid is (answer_length, question_length), the
    mean |change| of p(chosen character) when one input character varies. The answer and the grid's rows
    are in the order the network writes (task.answer_order; model.codec.answer_texts reads it back).

    Digits vary over the other digits (1-9 for a leading digit, so every variant
    is a question the model was trained on); operators vary over the task's other
    operators; padding never varies, so its columns are 0.
    """
    text = "".join(task.chars[t] for t in encode_questions(q[:1], task)[0])
    base = network.probabilities(encode_questions(q[:1], task))[0]
    chosen = base.argmax(-1)
    reading = text[::-1] if task.reverse else text  # the question as written, left to right
    variants, owners = [], []
    for position, _char in enumerate(text):
        written = len(text) - 1 - position if task.reverse else position
        for alt in _alternatives(reading, written, task):
            variant = list(text)
            variant[position] = alt
            variants.append([task.chars.index(c) for c in variant])
            owners.append(position)
    grid = np.zeros((task.answer_length, task.question_length), dtype=np.float32)
    answer = "".join(task.chars[t] for t in chosen)
    if not variants:
        return grid, text, answer
    probs = network.probabilities(np.array(variants, dtype=np.int32))
    rows = np.arange(task.answer_length)
    moved = np.abs(probs[:, rows, chosen] - base[rows, chosen])  # (variants, answer positions)
    owners_arr = np.array(owners)
    for position in np.unique(owners_arr):
        grid[:, position] = moved[owners_arr == position].mean(axis=0)
    return grid, text, answer


def _alternatives(reading: str, i: int, task: TaskConfig) -> list[str]:
    char = reading[i]
    if char in DIGITS:
        leading = (i == 0 or reading[i - 1] not in DIGITS) and i + 1 < len(reading) and reading[i + 1] in DIGITS
        return [d for d in (DIGITS[1:] if leading else DIGITS) if d != char]
    if char in OPERATORS and char != PAD:
        return [op for op in task.operators if op != char]
    return []


# Unit order for state heatmaps ------------------------------------------------------------------
def unit_order(states: np.ndarray) -> np.ndarray:
    """(N, steps, units) activations -> an order of the units: by the step of largest mean |value|, then sign."""
    magnitude = np.abs(states).mean(axis=0)  # (steps, units)
    peak_step = magnitude.argmax(axis=0)
    sign = np.sign(states.mean(axis=(0, 1)))
    strength = magnitude.max(axis=0)
    return np.lexsort((-strength, -sign, peak_step))


# The whole-space map ----------------------------------------------------------------------------
@dataclass
class SpaceMap:
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
    others: tuple[SpaceMap, ...] = ()  # a bracket task's maps of its other patterns (1, 2, …), same cells

    def question(self, row: int, col: int) -> Questions:
        """The question in a cell (with this map's brackets)."""
        terms = [int(self.a_values[col]), int(self.b_values[row]), *self.rest_terms[row, col].tolist()]
        groups = None if self.pattern is None else np.array([self.pattern], np.int16)
        return Questions(np.array([terms], dtype=np.int64), self.ops[row, col][None].astype(np.int8), groups)

    @property
    def cells(self) -> int:
        return self.margin.size

    @property
    def by_pattern(self) -> list[SpaceMap]:
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


def build_map(task: TaskConfig, margins_of: MarginFn, seed: int = 0) -> SpaceMap:
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
            SpaceMap(
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


def save_map(space: SpaceMap, path: Path) -> None:
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


def _wrong_mask(space: SpaceMap) -> np.ndarray:
    mask = np.zeros(space.margin.shape, dtype=bool)
    mask[space.wrong[:, 0], space.wrong[:, 1]] = True
    return mask


PATTERN_ARRAYS = frozenset({"pattern_margin", "pattern_wrong", "pattern_weakest"})


def load_map(path: Path, task: TaskConfig) -> SpaceMap:
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

    def one_map(margin: np.ndarray, wrong: np.ndarray, weakest: np.ndarray, pattern: int | None) -> SpaceMap:
        """A map of the file's cells (shared by every pattern's map)."""
        return SpaceMap(
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


def map_problem(space: SpaceMap, task: TaskConfig) -> str | None:
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


def _lists_problem(space: SpaceMap, side: int) -> str | None:
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


# The learning record ----------------------------------------------------------------------------
PROBE_SIDE = 100  # the probe is a coarse map: at most 100 x 100 evenly spaced questions
MAX_EPOCHS_KEPT = 500


@dataclass
class LearningRecord:
    """How a model learned, one entry per epoch (written by the trainer as learning.npz)."""

    samples_seen: np.ndarray  # (E,) int64
    seconds: np.ndarray  # (E,) float32 training time so far
    loss: np.ndarray  # (E,) float32
    exact_match: np.ndarray  # (E,) float32 held-out exact match
    per_position: np.ndarray  # (E, answer_length) float32 held-out accuracy of each answer position
    space_wrong: np.ndarray  # (E,) int64 wrong answers over the whole space (-1 where not measured)
    probe_margin: np.ndarray  # (E, side, side) uint8 margins of the probe questions, as in SpaceMap.margin
    probe_a: np.ndarray  # (side,) first numbers of the probe columns
    probe_b: np.ndarray  # (side,) second numbers of the probe rows

    @property
    def epochs(self) -> int:
        return len(self.loss)


def probe_questions(task: TaskConfig) -> tuple[Questions, np.ndarray]:
    """The fixed questions whose answers are recorded after every epoch (a coarse map)."""
    q, axis, _ = map_questions(task, seed=1, most=PROBE_SIDE)
    return q, axis


def quantise(margins: np.ndarray) -> np.ndarray:
    return np.clip(np.round((np.asarray(margins, np.float32) + 1) * 127.5), 0, 255).astype(np.uint8)


def save_learning(record: LearningRecord, path: Path) -> None:
    np.savez_compressed(path, **{name: getattr(record, name) for name in LearningRecord.__dataclass_fields__})


def load_learning(path: Path, task: TaskConfig) -> LearningRecord:
    """Read learning.npz, checking each array's shape and type against the task before reading it."""
    side = len(map_axes(task, PROBE_SIDE)[0])
    epochs = None
    spec = {
        "samples_seen": ((epochs,), "int64"),
        "seconds": ((epochs,), "float32"),
        "loss": ((epochs,), "float32"),
        "exact_match": ((epochs,), "float32"),
        "per_position": ((epochs, task.answer_length), "float32"),
        "space_wrong": ((epochs,), "int64"),
        "probe_margin": ((epochs, side, side), "uint8"),
        "probe_a": ((side,), "int64"),
        "probe_b": ((side,), "int64"),
    }
    arrays = load_npz(path, spec)
    counts = {
        len(arrays[k])
        for k in ("samples_seen", "seconds", "loss", "exact_match", "per_position", "space_wrong", "probe_margin")
    }
    if len(counts) != 1 or counts.pop() > MAX_EPOCHS_KEPT:
        raise ValueError(f"{path.name} has arrays of different lengths or too many epochs")
    record = LearningRecord(**arrays)
    problem = learning_problem(record, task)
    if problem:
        raise ValueError(f"{path.name} {problem}")
    return record


def learning_problem(record: LearningRecord, task: TaskConfig) -> str | None:
    """What in a read learning record could not come from the trainer for this task, as a clause; None."""
    axis = map_axes(task, PROBE_SIDE)[0]
    if not (np.array_equal(record.probe_a, axis) and np.array_equal(record.probe_b, axis)):
        return "has probe axes that are not this task's"
    if not all(np.isfinite(a).all() for a in (record.seconds, record.loss, record.exact_match, record.per_position)):
        return "holds infinite or missing (NaN) figures"
    if (record.seconds < 0).any() or (record.exact_match < 0).any() or (record.per_position < 0).any():
        return "holds negative times or accuracies"
    if (record.exact_match > 1).any() or (record.per_position > 1).any():
        return "holds accuracies above 100%"
    if (record.samples_seen < 0).any() or (record.space_wrong < -1).any():
        return "holds negative counts"
    return None


# A bracket task, pattern by pattern ---------------------------------------------------------------
@dataclass
class PatternScore:
    """How often a model is right on questions of one bracket pattern (the same numbers for every pattern)."""

    label: str  # e.g. "(a·b)·c" (model.brackets.pattern_labels)
    right: int
    asked: int


def pattern_scores(network: Network, task: TaskConfig, per_pattern: int = 200, seed: int = 0) -> list[PatternScore]:
    """For a bracket task, the share right for every bracket pattern of every term count: per term count,
    one draw of `per_pattern` questions asked with each pattern in turn (so only the brackets differ)."""
    from .brackets import pattern_labels
    from .codec import encode_answers
    from .questions import answers

    drawn = sample_questions(task, 3 * per_pattern * (task.terms - task.fewest_terms + 1), np.random.default_rng(seed))
    scores = []
    for k in range(task.fewest_terms, task.terms + 1):
        rows = np.flatnonzero(drawn.counts == k)[:per_pattern]
        for pattern, label in enumerate(pattern_labels(k)):
            q = Questions(drawn.terms[rows], drawn.ops[rows], np.full(len(rows), pattern, np.int16))
            predicted = network.probabilities(encode_questions(q, task)).argmax(-1)
            right = int((predicted == encode_answers(answers(q), task)).all(axis=1).sum())
            scores.append(PatternScore(label, right, len(rows)))
    return scores
