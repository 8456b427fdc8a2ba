"""The analyses the app shows: attribution makes the carry visible; the stored maps agree with verification.

Carry cases run on the bundled default model: its answers are known to be
right on these questions, so what the attribution shows is what the network
does, not noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.analysis import attribution, build_map, load_map, network_margins, probe_questions, save_map, unit_order
from model.codec import encode_questions
from model.config import TaskConfig
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
        space = served.space_map
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
