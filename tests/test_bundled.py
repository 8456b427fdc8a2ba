"""The default model, model/zoo/add3: loadable offline, checked, accurate on fresh sums, and its count of
wrong answers over all 1,000,000 questions checked again (tests/test_zoo.py checks the rest of the zoo)."""

import json
import shutil

import numpy as np
import pytest

from model.config import TaskConfig
from model.predictor import Predictor
from model.questions import sample_questions
from model.storage import BUNDLED_DIR, ModelLoadError, load_model_dir


@pytest.fixture(scope="module")
def bundled():
    return load_model_dir(BUNDLED_DIR)


def test_bundled_model_is_the_default_task(bundled):
    assert bundled.task == TaskConfig() and bundled.net.cell == "lstm" and not bundled.notes
    assert sum(p.stat().st_size for p in BUNDLED_DIR.iterdir() if p.is_file()) < 1_500_000


def test_bundled_model_adds_fresh_random_sums(bundled):
    seed = int(np.random.SeedSequence().entropy % 2**32)  # new questions every run; printed on failure
    q = sample_questions(TaskConfig(sampling="uniform"), 20_000, np.random.default_rng(seed))
    explained = Predictor(bundled.task, bundled.network()).explain(q)  # the numpy network the app serves
    right = np.mean([e.correct and e.answer == e.true_answer for e in explained])
    assert right >= 0.999, f"seed {seed}: {right:.4%}"


def test_bundled_metrics_record_how_it_was_made():
    metrics = json.loads((BUNDLED_DIR / "metrics.json").read_text())
    assert metrics["heldout_exact_match"] >= 0.999
    assert metrics["exhaustive_total"] == 1_000_000 and metrics["exhaustive_wrong"] == 0  # the zoo's target
    assert metrics["training"]["preset"] == "add3"


@pytest.mark.slow  # answers all 1,000,000 questions
def test_every_question_checked_again_gives_the_recorded_count(bundled):
    """The exhaustive check in CI: all 1,000,000 questions through the fast verifier (seconds), and the
    wrong count is the one the model folder records and the map shows."""
    from model.question_map import load_map
    from model.questions import all_questions
    from trainer.verify import Checker, keras_model

    _predicted, margins = Checker(bundled.task, all_questions(bundled.task)).run(keras_model(bundled))
    wrong = int((margins <= 0).sum())
    metrics = json.loads((BUNDLED_DIR / "metrics.json").read_text())
    assert len(margins) == 1_000_000 and wrong == metrics["exhaustive_wrong"]
    assert len(load_map(BUNDLED_DIR / "map.npz", bundled.task).wrong) == wrong


def test_mismatched_config_is_refused_with_the_reason(tmp_path):
    shutil.copytree(BUNDLED_DIR, tmp_path / "m")
    TaskConfig(operators="+-").save(tmp_path / "m" / "task_config.json")
    with pytest.raises(ModelLoadError, match=r"does not match the network .* alphabet of 13"):
        load_model_dir(tmp_path / "m")
    (tmp_path / "m" / "task_config.json").write_text('{"digits": 3, "terms": 2, "reverse": "yes"}')
    with pytest.raises(ModelLoadError, match="reverse must be true or false"):
        load_model_dir(tmp_path / "m")


def test_truncated_weights_are_refused(tmp_path):
    shutil.copytree(BUNDLED_DIR, tmp_path / "m")
    weights = tmp_path / "m" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ModelLoadError, match="could not be read"):
        load_model_dir(tmp_path / "m")


@pytest.mark.parametrize("dtype,words", [(">f4", "big-endian 32-bit floats"), ("<f8", "little-endian 64-bit floats")])
def test_weights_of_another_type_are_refused_for_that_reason(tmp_path, dtype, words):
    """A weights file of another byte order or width is refused for its type, not for a shape that reads the same."""
    import h5py

    shutil.copytree(BUNDLED_DIR, tmp_path / "m")
    with h5py.File(tmp_path / "m" / "model.weights.h5", "r+") as f:
        names: list[str] = []
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        values = f[names[-1]][()]
        del f[names[-1]]
        f.create_dataset(names[-1], data=values.astype(dtype))
    with pytest.raises(ModelLoadError, match=f"stores .* as {words}, not the little-endian 32-bit floats Keras writes"):
        load_model_dir(tmp_path / "m")
