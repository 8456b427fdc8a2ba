"""--pattern-weights: hard operator patterns drawn more often in training, and refused in one sentence when
they are not patterns of the task."""

from __future__ import annotations

import numpy as np
import pytest

from model.config import TaskConfig
from model.questions import question_keys, sample_questions
from trainer.data import epoch_questions
from trainer.pattern_weights import parse_pattern_weights

MIXED3 = TaskConfig(digits=2, terms=3, operators="+-*", steps="rewrite")


def test_a_weighted_pattern_is_drawn_that_many_times_as_often_and_held_out_questions_never():
    rng = np.random.default_rng(0)
    held = sample_questions(MIXED3, 2000, rng)
    keys = question_keys(held, MIXED3)
    weights = parse_pattern_weights("**=8", MIXED3)
    drawn = epoch_questions(MIXED3, 40_000, held[:0], 0.0, rng, keys, pattern_weights=weights)
    assert len(drawn) == 40_000 and not np.isin(question_keys(drawn, MIXED3), keys).any()
    share = ((drawn.ops[:, 0] == 2) & (drawn.ops[:, 1] == 2)).mean()
    assert share == pytest.approx(8 / 16, abs=0.02)  # 8 against 1 for each of the 8 other patterns
    plain = epoch_questions(MIXED3, 40_000, held[:0], 0.0, rng, keys)
    assert ((plain.ops[:, 0] == 2) & (plain.ops[:, 1] == 2)).mean() == pytest.approx(1 / 9, abs=0.01)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("*/=8", "not an operator pattern"),
        ("***=2", "not an operator pattern"),
        ("**=0", "from 0.01 to 100"),
        ("**=x", "from 0.01 to 100"),
        ("**", "from 0.01 to 100"),
    ],
)
def test_a_weight_that_is_not_one_of_the_tasks_patterns_is_refused(text, says):
    with pytest.raises(ValueError, match=says):
        parse_pattern_weights(text, MIXED3)
    assert parse_pattern_weights("**=8, +*=2", MIXED3) == {"**": 8.0, "+*": 2.0}
