"""Data generation: right sums, no repeated questions, held-out never trained on."""

import numpy as np
import pytest

from model.config import TaskConfig
from trainer.data import all_questions, count_distinct_questions, make_questions, sample_terms, unordered_keys
from trainer.train import make_splits
from trainer.settings import TrainSettings


@pytest.mark.parametrize("sampling", ["digits", "uniform", "mixed"])
def test_terms_stay_in_range(sampling):
    config = TaskConfig(sampling=sampling)
    terms = sample_terms(config, 20_000, np.random.default_rng(0))
    assert terms.shape == (20_000, 2)
    assert terms.min() >= 0 and terms.max() <= 999
    lengths = np.char.str_len(terms.astype(str))
    short = (lengths == 1).mean()
    # keras.io-style draws pick the length first, so a third of numbers have one digit.
    assert (0.25 < short < 0.40) if sampling == "digits" else (short < 0.02 if sampling == "uniform" else 0.1 < short < 0.25)


def test_unique_questions_have_no_duplicate_unordered_pairs():
    config = TaskConfig(digits=2)
    terms = make_questions(config, 4_000, np.random.default_rng(1))
    keys = unordered_keys(terms, config)
    assert len(np.unique(keys)) == len(terms) == 4_000
    assert unordered_keys(np.array([[12, 34]]), config) == unordered_keys(np.array([[34, 12]]), config)


def test_heldout_is_disjoint_from_training():
    config = TaskConfig(digits=2, terms=3)
    settings = TrainSettings(train_size=20_000, heldout_size=2_000)
    heldout, train = make_splits(config, settings, np.random.default_rng(2))
    assert len(heldout) == 2_000 and len(train) == 20_000
    assert not np.isin(unordered_keys(heldout, config), unordered_keys(train, config)).any()


def test_whole_task_can_be_drawn_and_counts_are_exact():
    config = TaskConfig(digits=1, terms=3)
    assert count_distinct_questions(config) == 220  # multisets of 3 from 10 digits
    everything = make_questions(config, 220, np.random.default_rng(3))
    assert len(np.unique(unordered_keys(everything, config))) == 220
    with pytest.raises(ValueError, match="only"):
        make_questions(config, 221, np.random.default_rng(3))
    assert all_questions(config).shape == (1000, 3)
