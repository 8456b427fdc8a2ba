"""The analyses the app shows: attribution makes the carry visible; the stored maps agree with verification.

Carry cases run on the bundled default model: its answers are known to be
right on these questions, so what the attribution shows is what the network
does, not noise.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from model.analysis import attribution, unit_order
from model.codec import encode_questions
from model.config import TaskConfig
from model.learning_record import probe_questions
from model.question_map import build_map, load_map, network_margins, save_map
from model.questions import answers, parse_question
from model.serving import load_catalogue
from model.storage import MAP_FILE


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(extra=[])


@pytest.fixture(scope="module")
def add3(catalogue):
    return catalogue.models[catalogue.default]


def columns(task: TaskConfig, question: str) -> dict[str, int]:
    """Where each digit of a 2-term question sits in the network's (reversed, padded) input."""
    a, b = question.split("+")
    written = question.ljust(task.question_length)
    index = {f"a{len(a) - 1 - i}": i for i in range(len(a))}
    index.update({f"b{len(b) - 1 - i}": len(a) + 1 + i for i in range(len(b))})
    return {k: (task.question_length - 1 - v if task.reverse else v) for k, v in index.items()} | {"_text": written}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "question,answer_position,depends_on",
    [
        ("199+1", 0, ["a0", "a1"]),  # 200: the hundreds digit waits on the units and tens of 199
        ("999+1", 0, ["a0"]),  # 1000: the leading 1 exists only because of the carry chain
        ("455+545", 0, ["a0", "b0"]),  # 1000 again, carried from the units of both numbers
    ],
)
def test_attribution_shows_the_carry(add3, question, answer_position, depends_on):
    task = add3.task
    q = parse_question(question, task)
    assert add3.predictor.explain(q)[0].correct
    grid, _, _ = attribution(add3.network, task, q)
    where = columns(task, question)
    for digit in depends_on:
        assert grid[answer_position, where[digit]] > 0.5, (question, digit, np.round(grid, 2))


def test_attribution_shows_no_carry_where_there_is_none(add3):
    task = add3.task
    grid, read, answer = attribution(add3.network, task, parse_question("100+100", task))
    assert (read, answer) == ("001+001", "200 ")
    where = columns(task, "100+100")
    assert grid[0, where["a2"]] > 0.5 and grid[0, where["b2"]] > 0.5  # 200: hundreds from hundreds
    assert grid[0, where["a0"]] < 0.1 and grid[0, where["b0"]] < 0.1  # and nothing from the units
    assert (
        grid[
            :,
            [
                i
                for i, c in enumerate(encode_questions(parse_question("100+100", task), task)[0])
                if task.chars[c] == "+"
            ],
        ]
        == 0
    ).all()  # one operator only: it never varies


def test_unit_order_is_a_permutation_grouping_units_by_their_busiest_step(add3):
    rng = np.random.default_rng(0)
    states = rng.normal(size=(16, 5, 12)).astype(np.float32)
    states[:, 4, :6] *= 10  # units 0-5 peak at the last step
    states[:, 4, 6:] *= 0.01  # the others earlier
    order = unit_order(states)
    assert sorted(order.tolist()) == list(range(12))
    assert set(order[-6:].tolist()) == set(range(6))  # latest peak step last
    assert sorted(add3.unit_orders[0].tolist()) == list(range(add3.stored.net.encoder_units))


def test_map_of_a_small_task_counts_exactly_the_wrong_answers(add3, tmp_path):
    """A complete map holds one cell per question; its wrong cells are exactly the questions answered wrong."""
    task = TaskConfig(digits=1)
    from model.forward import Network
    from model.network import weight_layout

    rng = np.random.default_rng(3)  # a random (mostly wrong) network: the count must still agree exactly
    weights = {
        k: (rng.normal(size=s) * 0.3).astype(np.float32) for k, s in weight_layout(task, add3.stored.net).items()
    }
    network = Network(task, add3.stored.net, weights)
    margins_of = network_margins(network, task)
    space = build_map(task, margins_of)
    assert space.complete and space.margin.shape == (10, 10)
    every = space.question(0, 0)
    wrong = 0
    for row in range(10):
        for col in range(10):
            q = space.question(row, col)
            assert answers(q)[0] == col + row  # x = first number, y = second
            wrong += bool(margins_of(q)[0] <= 0)
    assert wrong == len(space.wrong)
    save_map(space, tmp_path / MAP_FILE)
    again = load_map(tmp_path / MAP_FILE, task)
    assert (again.margin == space.margin).all() and (again.wrong == space.wrong).all() and every.texts() == ["0+0"]


def test_every_stored_map_agrees_with_its_model_metrics(catalogue):
    """For every served model with a complete map, wrong cells == exhaustive_wrong in metrics.json."""
    checked = 0
    for served in catalogue.models.values():
        space = served.question_map
        total = served.stored.metrics.get("exhaustive_total")
        if space is None or not space.complete or total is None:
            continue
        assert space.cells == total, served.name
        assert len(space.wrong) == served.stored.metrics["exhaustive_wrong"], served.name
        checked += 1
    assert checked >= 1


def test_a_map_file_that_declares_more_than_it_should_is_refused(tmp_path):
    task = TaskConfig(digits=1)
    np.savez_compressed(
        tmp_path / MAP_FILE,
        a_values=np.arange(10),
        b_values=np.arange(10),
        margin=np.zeros((3000, 3000), np.uint8),
        wrong=np.zeros((0, 2), np.int32),
        weakest=np.zeros((0, 3), np.float32),
        rest_terms=np.zeros((10, 10, 0), np.int64),
        ops=np.zeros((10, 10, 1), np.int8),
        complete=np.array(True),
    )
    with pytest.raises(ValueError, match="margin has shape"):
        load_map(tmp_path / MAP_FILE, task)


def test_probe_questions_are_fixed_and_evenly_spaced():
    task = TaskConfig()
    q1, axis = probe_questions(task)
    q2, _ = probe_questions(task)
    assert len(axis) == 100 and axis[0] == 0 and axis[-1] == 999
    assert (q1.terms == q2.terms).all() and len(q1) == 100 * 100


# A bracket task's map: one per bracket pattern -----------------------------------------------------------
BRACKETS = TaskConfig(digits=1, terms=3, min_terms=2, operators="+-*", brackets=True)


def sign_margins(q):
    """A MarginFn that is right exactly where the answer is not negative: a pattern that moves a minus
    changes which cells are wrong, so each pattern's map differs, and every cell can be recounted."""
    return np.where(answers(q) >= 0, 0.5, -0.5).astype(np.float32)


def test_a_bracket_map_holds_one_map_per_pattern_each_cell_asked_with_its_brackets(tmp_path):
    from model.brackets import bracket_patterns

    space = build_map(BRACKETS, sign_margins)
    maps = space.by_pattern
    assert [m.pattern for m in maps] == [0, 1, 2] and not (space.ops < 0).any()  # every cell has 3 numbers
    assert len({tuple(map(tuple, m.wrong.tolist())) for m in maps}) == 3  # the wrong cells differ by pattern
    for m in maps:
        wrong = {tuple(cell) for cell in m.wrong.tolist()}
        for row in range(10):
            for col in range(10):
                q = m.question(row, col)
                assert q.groups is not None and q.groups.tolist() == [m.pattern]
                # The cell's text reads back as the same question with the same brackets.
                again = parse_question(q.texts()[0], BRACKETS)
                assert again.groups.tolist() == [m.pattern] and answers(again)[0] == answers(q)[0]
                assert ((row, col) in wrong) == (answers(q)[0] < 0)
    assert maps[1].question(0, 0).texts()[0].startswith("(")
    assert len(bracket_patterns(3)) == 3
    save_map(space, tmp_path / MAP_FILE)
    again = load_map(tmp_path / MAP_FILE, BRACKETS)
    for before, after in zip(maps, again.by_pattern, strict=True):
        assert after.pattern == before.pattern and (after.margin == before.margin).all()
        assert (after.wrong == before.wrong).all() and np.array_equal(after.weakest, before.weakest)
        assert after.question(4, 7).texts() == before.question(4, 7).texts()


def test_an_old_map_of_a_bracket_task_still_loads_as_one_map_without_brackets(tmp_path):
    """A map.npz from before the per-pattern maps: mixed term counts, no brackets, no pattern arrays."""
    from model.question_map import map_questions

    q, axis, _ = map_questions(BRACKETS)  # what the trainer asked then: the cells as drawn, no brackets
    assert (q.counts == 2).any() and q.groups is None
    margins = sign_margins(q).reshape(10, 10)
    np.savez_compressed(
        tmp_path / MAP_FILE,
        a_values=axis,
        b_values=axis.copy(),
        margin=np.clip(np.round((margins + 1) * 127.5), 0, 255).astype(np.uint8),
        wrong=np.argwhere(margins <= 0).astype(np.int32),
        weakest=np.zeros((0, 3), np.float32),
        rest_terms=q.terms[:, 2:].reshape(10, 10, 1),
        ops=q.ops.reshape(10, 10, 2),
        complete=np.array(False),
    )
    space = load_map(tmp_path / MAP_FILE, BRACKETS)
    assert space.pattern is None and space.others == () and space.by_pattern == [space]
    texts = [space.question(r, c).texts()[0] for r in range(10) for c in range(10)]
    assert texts == q.texts() and not any("(" in t for t in texts)


def _spoil(name: str, value: object):
    def spoil(arrays: dict) -> None:
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value(arrays[name]) if callable(value) else value

    return spoil


def _ended(arrays: dict) -> None:
    ops = arrays["ops"].copy()
    ops[2, 3, 1] = -1  # a cell of 2 numbers cannot be asked as (a·b)·c
    arrays["ops"], arrays["rest_terms"] = ops, arrays["rest_terms"].copy()
    arrays["rest_terms"][2, 3, 0] = 0


def _moved(column: int, by: float):
    """Add `by` to one column of pattern_weakest (pattern, row, col, margin)."""

    def move(weakest: np.ndarray) -> np.ndarray:
        weakest = weakest.copy()
        weakest[:, column] += by
        return weakest

    return move


MALFORMED_PATTERN_MAPS = {
    "one pattern map too few": (_spoil("pattern_margin", lambda a: a[:1]), "pattern_margin has shape"),
    "margin of another type": (_spoil("pattern_margin", lambda a: a.astype(np.int16)), "pattern_margin has shape"),
    "wrong cells not a mask": (_spoil("pattern_wrong", lambda a: a.astype(np.int8)), "pattern_wrong has shape"),
    "a pattern array missing": (_spoil("pattern_wrong", None), "holds only some of the bracket-pattern maps"),
    "weakest of pattern 0": (_spoil("pattern_weakest", _moved(0, -1)), "a bracket pattern the task does not have"),
    "weakest of pattern 7": (_spoil("pattern_weakest", _moved(0, 6)), "a bracket pattern the task does not have"),
    "weakest of pattern 1.5": (_spoil("pattern_weakest", _moved(0, 0.5)), "weakest cells of no bracket pattern"),
    "weakest pattern NaN": (_spoil("pattern_weakest", _moved(0, np.nan)), "weakest cells of no bracket pattern"),
    "weakest cell outside": (_spoil("pattern_weakest", _moved(1, 40)), "weakest cells outside the map"),
    "weakest margin above 1": (_spoil("pattern_weakest", _moved(3, 2)), "weakest margins outside 0 to 1"),
    "weakest of 3 columns": (_spoil("pattern_weakest", lambda a: a[:, :3]), "pattern_weakest has shape"),
    "a cell of fewer numbers": (_ended, "too few numbers for their brackets"),
}


@pytest.mark.parametrize("case", list(MALFORMED_PATTERN_MAPS))
def test_a_malformed_per_pattern_map_is_refused_at_load(tmp_path, case):
    spoil, says = MALFORMED_PATTERN_MAPS[case]
    save_map(build_map(BRACKETS, sign_margins), tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as good:
        arrays = {name: good[name] for name in good.files}
    assert len(arrays["pattern_weakest"]) > 0
    spoil(arrays)
    np.savez_compressed(tmp_path / MAP_FILE, **arrays)
    with pytest.raises(ValueError, match=re.escape(says)):
        load_map(tmp_path / MAP_FILE, BRACKETS)


def test_per_pattern_maps_in_the_map_of_a_task_without_patterns_are_refused(tmp_path):
    task = TaskConfig(digits=1)
    save_map(build_map(task, lambda q: np.full(len(q), 0.5, np.float32)), tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as good:
        arrays = {name: good[name] for name in good.files}
    arrays.update(
        pattern_margin=np.zeros((0, 10, 10), np.uint8),
        pattern_wrong=np.zeros((0, 10, 10), bool),
        pattern_weakest=np.zeros((0, 4), np.float32),
    )
    np.savez_compressed(tmp_path / MAP_FILE, **arrays)
    with pytest.raises(ValueError, match="for a task without bracket patterns"):
        load_map(tmp_path / MAP_FILE, task)
