"""The questions a run trains and checks on: terms in range, no repeated questions, held-out never trained on."""

import dataclasses

import numpy as np
import pytest

from model.config import TaskConfig, distinct_count
from model.questions import Questions, all_questions, question_keys, sample_questions
from trainer.data import epoch_questions, heldout_disjoint, heldout_set, the_space, unique_questions


@pytest.mark.parametrize("sampling", ["digits", "uniform", "mixed"])
def test_terms_stay_in_range(sampling):
    task = TaskConfig(sampling=sampling)
    q = sample_questions(task, 20_000, np.random.default_rng(0))
    assert q.terms.shape == (20_000, 2) and q.terms.min() >= 0 and q.terms.max() <= 999
    short = (np.char.str_len(q.terms.astype(str)) == 1).mean()
    # keras.io-style draws pick the length first, so a third of numbers have one digit.
    assert (
        (0.25 < short < 0.40)
        if sampling == "digits"
        else (short < 0.02 if sampling == "uniform" else 0.1 < short < 0.25)
    )


@pytest.mark.parametrize(
    "task",
    [
        TaskConfig(digits=2),
        TaskConfig(digits=2, operators="-"),
        TaskConfig(digits=1, terms=4, min_terms=2, operators="+*"),
    ],
    ids=["add", "subtract", "mixed-terms"],
)
def test_unique_questions_never_repeat_a_question(task):
    q = unique_questions(task, 3_000, np.random.default_rng(1))
    keys = question_keys(q, task)
    assert len(q) == 3_000 and len(np.unique(keys)) == 3_000
    # Checked without the keys too: no text twice and, where order does not matter, no reordering twice.
    texts = q.texts()
    assert len(set(texts)) == 3_000
    if task.commutative:
        assert len({tuple(sorted(t.split(task.operators))) for t in texts}) == 3_000


def test_order_does_not_make_a_new_question_for_plus_or_times_alone():
    add, sub = TaskConfig(digits=2), TaskConfig(digits=2, operators="-")
    pair = Questions(np.array([[12, 34], [34, 12]]), np.array([[0], [0]], dtype=np.int8))
    assert question_keys(pair, add)[0] == question_keys(pair, add)[1]
    minus = Questions(pair.terms, np.array([[1], [1]], dtype=np.int8))
    assert question_keys(minus, sub)[0] != question_keys(minus, sub)[1]  # 12-34 is not 34-12


@pytest.mark.parametrize(
    "task",
    [
        TaskConfig(digits=2, terms=3),
        TaskConfig(digits=2, operators="+-*", terms=3),
        TaskConfig(digits=2, terms=4, min_terms=2),
    ],
    ids=["add", "mixed", "term-range"],
)
def test_heldout_is_disjoint_from_training(task):
    rng = np.random.default_rng(2)
    heldout, disjoint = heldout_set(task, 2_000, rng)
    assert disjoint and len(heldout) == 2_000
    keys = question_keys(heldout, task)
    train = unique_questions(task, 20_000, rng, exclude=keys)
    fresh = epoch_questions(task, 20_000, heldout[:0], 0.0, rng, keys)
    for questions in (train, fresh):
        assert not np.isin(question_keys(questions, task), keys).any()


def test_a_range_of_term_counts_holds_out_at_most_a_tenth_of_each_count():
    """add-terms' check set: 50,000 questions uniform over 2, 3 and 4 terms. Drawn as one unique set it would
    take nearly all 5,050 distinct 2-term sums, so training would never see them and 2 terms would be the
    weakest count: each count gives a third of the set from at most a tenth of its own questions."""
    task = TaskConfig(digits=2, terms=4, min_terms=2)
    heldout, disjoint = heldout_set(task, 50_000, np.random.default_rng(1337))
    keys, counts = question_keys(heldout, task), heldout.counts
    assert disjoint and len(heldout) == 50_000
    for k in (2, 3, 4):
        distinct = distinct_count(dataclasses.replace(task, terms=k, min_terms=None))
        assert abs(int((counts == k).sum()) - 50_000 / 3) <= 1  # uniform over counts, as the task draws them
        assert len(np.unique(keys[counts == k])) <= distinct // 10
    fresh = epoch_questions(task, 60_000, heldout[:0], 0.0, np.random.default_rng(2), keys)
    two_terms = fresh[fresh.counts == 2]
    assert len(np.unique(question_keys(two_terms, task))) > 4_000  # training sees most 2-term sums
    assert not np.isin(question_keys(fresh, task), keys).any()


def test_a_heldout_set_too_large_for_the_task_is_marked_as_not_held_out():
    tutorial = TaskConfig(digits=2, terms=3, alphabet="0123456789+ ", smallest=1, largest=10)
    assert distinct_count(tutorial) == 220  # multisets of 3 from 1..10
    heldout, disjoint = heldout_set(tutorial, 1_000, np.random.default_rng(3))
    assert not disjoint and len(heldout) == 1_000
    assert heldout_disjoint(TaskConfig(digits=2), 505) and not heldout_disjoint(TaskConfig(digits=2), 506)


def test_the_whole_task_can_be_drawn_and_the_space_is_every_question():
    task = TaskConfig(digits=1, terms=3)
    assert distinct_count(task) == 220
    everything = unique_questions(task, 220, np.random.default_rng(3))
    assert len(np.unique(question_keys(everything, task))) == 220
    with pytest.raises(ValueError, match="only 220"):
        unique_questions(task, 221, np.random.default_rng(3))
    space, complete = the_space(task, 5_000, np.random.default_rng(4))
    assert complete and len(space) == 1_000 == len(all_questions(task))
    pool, complete = the_space(TaskConfig(digits=5), 5_000, np.random.default_rng(4))
    assert not complete and len(pool) == 5_000


def test_epoch_mixes_in_the_hard_share():
    task = TaskConfig(digits=3)
    hard = Questions(np.array([[999, 1]]), np.array([[0]], dtype=np.int8))
    q = epoch_questions(task, 10_000, hard, 0.3, np.random.default_rng(5), None)
    assert len(q) == 10_000
    assert 2_900 <= int(((q.terms[:, 0] == 999) & (q.terms[:, 1] == 1)).sum()) <= 3_100


def test_max_repeats_bounds_the_draws_of_a_few_hard_questions():
    """A polishing round's half of hard questions, when there are only two of them, is at most
    max_repeats draws of each; fresh draws fill the rest of the round."""
    task = TaskConfig(digits=3)
    hard = Questions(np.array([[999, 1], [500, 500]]), np.array([[0], [0]], dtype=np.int8))
    q = epoch_questions(task, 10_000, hard, 0.5, np.random.default_rng(5), None, max_repeats=16)
    is_hard = ((q.terms[:, 0] == 999) & (q.terms[:, 1] == 1)) | ((q.terms[:, 0] == 500) & (q.terms[:, 1] == 500))
    assert len(q) == 10_000 and 32 <= int(is_hard.sum()) <= 34  # 32 drawn, a fresh draw may repeat one
    unlimited = epoch_questions(task, 10_000, hard, 0.5, np.random.default_rng(5), None)
    assert int(((unlimited.terms[:, 0] == 999) | (unlimited.terms[:, 0] == 500)).sum()) >= 5_000


def test_a_bracket_tasks_held_out_set_keeps_each_questions_brackets():
    """The held-out set of a range of term counts is drawn count by count and widened: the bracket pattern
    of each question must survive, or its text, answer and key would be another question's."""
    task = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*", brackets=True)
    held, disjoint = heldout_set(task, 2_000, np.random.default_rng(0))
    assert disjoint and held.groups is not None
    three = held[held.counts == 3]
    assert len(np.unique(three.groups)) > 1  # several bracket patterns among the 3-number questions
    assert any("(" in text for text in three.texts())
    keys = question_keys(held, task)
    assert len(np.unique(keys)) == len(held)  # held out means distinct questions, brackets included
