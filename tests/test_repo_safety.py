"""A model folder is untrusted data: its weights file may not read other files, and a bad analysis file is dropped.

Weights files here are rebuilt from a bundled model's arrays with one dataset
stored the way HDF5 allows but Keras never writes (external storage, a virtual
dataset, soft and external links, filters, chunks). The decoy that external
storage points at is a named pipe watched by a writer thread: a reader opening
it (as HDF5 does to read external bytes) is recorded, so "not a byte was read"
is observed, not assumed. Loading goes through the real loader, the catalogue
and the service, as the app does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from model.learning_record import LearningRecord, load_learning, save_learning
from model.question_map import QuestionMap, load_map, save_map
from model.serving import load_catalogue
from model.storage import LEARNING_FILE, MAP_FILE, WEIGHTS_FILE, ZOO_DIR, ModelLoadError, load_model_dir
from web.service import Service

SOURCE = ZOO_DIR / "add2"  # the smallest bundled model
TARGET = "layers/dense/vars/1"  # the output bias: 12 float32 values, 48 bytes
DECOY = b"hf_DECOYsecretTOKEN_0123456789abcdefghijkl" * 4


def original_arrays() -> dict[str, np.ndarray]:
    with h5py.File(SOURCE / WEIGHTS_FILE, "r") as f:
        found: dict[str, np.ndarray] = {}
        f.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def model_copy(tmp_path: Path, write_target: Callable[[h5py.File, np.ndarray], None] | None = None) -> Path:
    """A copy of the bundled model whose weights file is rewritten; `write_target` writes TARGET its own way."""
    folder = tmp_path / "model"
    shutil.copytree(SOURCE, folder)
    with h5py.File(folder / WEIGHTS_FILE, "w") as f:
        for name, array in original_arrays().items():
            if name == TARGET and write_target is not None:
                f.require_group(name.rsplit("/", 1)[0])
                write_target(f, array)
            else:
                f.create_dataset(name, data=array)
    return folder


class WatchedPipe:
    """A named pipe holding DECOY; records whether any reader ever opened it."""

    def __init__(self, path: Path):
        self.path = path
        os.mkfifo(path)
        self.readers = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.wait(0.002):
            try:  # succeeds only while a reader has the pipe open (or is blocked opening it)
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as err:
                assert err.errno == errno.ENXIO
                continue
            self.readers += 1
            with contextlib.suppress(OSError):  # the reader may close first
                os.write(fd, DECOY)
            os.close(fd)

    def close(self) -> int:
        self.stop.set()
        self.thread.join(5)
        return self.readers


# HDF5 features Keras never writes -----------------------------------------------------------------
def external(path: str) -> Callable[[h5py.File, np.ndarray], None]:
    def write(f: h5py.File, array: np.ndarray) -> None:
        f.create_dataset(TARGET, shape=array.shape, dtype=array.dtype, external=[(path, 0, array.nbytes)])

    return write


def soft_link(f: h5py.File, array: np.ndarray) -> None:
    f.create_dataset("stash", data=array)
    f[TARGET] = h5py.SoftLink("/stash")


def external_link(decoy: Path) -> Callable[[h5py.File, np.ndarray], None]:
    def write(f: h5py.File, array: np.ndarray) -> None:
        with h5py.File(decoy, "w") as other:
            other.create_dataset("data", data=array)
        f[TARGET] = h5py.ExternalLink(str(decoy), "/data")

    return write


def virtual(decoy: Path) -> Callable[[h5py.File, np.ndarray], None]:
    def write(f: h5py.File, array: np.ndarray) -> None:
        with h5py.File(decoy, "w") as other:
            other.create_dataset("data", data=array)
        layout = h5py.VirtualLayout(shape=array.shape, dtype=array.dtype)
        layout[:] = h5py.VirtualSource(str(decoy), "data", shape=array.shape)
        f.create_virtual_dataset(TARGET, layout)

    return write


def with_attribute(f: h5py.File, array: np.ndarray) -> None:
    f.create_dataset(TARGET, data=array).attrs["note"] = "x"


UNSAFE = {
    "external storage from /dev/zero": (lambda tmp: external("/dev/zero"), "keeps its bytes in another file"),
    "soft link": (lambda tmp: soft_link, "is a soft link (to '/stash')"),
    "external link": (lambda tmp: external_link(tmp / "decoy.h5"), "is a link to another file"),
    "virtual dataset": (lambda tmp: virtual(tmp / "decoy.h5"), "is a virtual dataset"),
    "gzip": (lambda tmp: lambda f, a: f.create_dataset(TARGET, data=a, compression="gzip"), "through a filter"),
    "shuffle": (lambda tmp: lambda f, a: f.create_dataset(TARGET, data=a, shuffle=True), "through a filter"),
    "chunked": (lambda tmp: lambda f, a: f.create_dataset(TARGET, data=a, chunks=(4,)), "stored chunked"),
    "attribute": (lambda tmp: with_attribute, "carries attributes"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_weights_stored_in_ways_keras_never_writes_are_refused(tmp_path, case):
    make, says = UNSAFE[case]
    folder = model_copy(tmp_path, make(tmp_path))
    with pytest.raises(ModelLoadError) as refused:
        load_model_dir(folder)
    message = str(refused.value)
    assert message.startswith(f"{WEIGHTS_FILE} is refused: /{TARGET} ") and says in message, message
    assert "\n" not in message


def test_a_keras_written_file_still_loads(tmp_path):
    """The rewritten copy with nothing changed loads, so the refusals above are the features, not the copying."""
    stored = load_model_dir(model_copy(tmp_path))
    np.testing.assert_array_equal(stored.weights[TARGET], original_arrays()[TARGET])


def test_external_storage_reads_no_byte_of_the_decoy_and_the_app_serves_the_rest(tmp_path):
    pipe = WatchedPipe(tmp_path / "decoy")
    bad = model_copy(tmp_path, external(str(pipe.path)))
    try:
        catalogue = load_catalogue(extra=[str(bad)], seconds=5)
    finally:
        readers = pipe.close()
    assert readers == 0  # HDF5 never opened the decoy
    [note] = [n for n in catalogue.notes if str(bad) in n]
    assert note == (
        f"Could not use {bad}: {WEIGHTS_FILE} is refused: /{TARGET} keeps its bytes in another file "
        "(HDF5 external storage)."
    )
    assert "model" not in catalogue.models and "add2" in catalogue.models
    answer = Service(catalogue).predict("12+34", "add2")
    assert (answer["error"], answer["answer"]) == (None, 46)
    assert not any(DECOY[:20].decode() in n for n in catalogue.notes)


def test_the_watched_pipe_sees_a_reader(tmp_path):
    """The detector works: plain h5py reading the same file opens the pipe (then fails to seek in it)."""
    pipe = WatchedPipe(tmp_path / "decoy")
    bad = model_copy(tmp_path, external(str(pipe.path)))
    try:
        with h5py.File(bad / WEIGHTS_FILE, "r") as f, pytest.raises(OSError, match="external raw data file"):
            f[TARGET][()]
    finally:
        readers = pipe.close()
    assert readers >= 1


def test_evaluate_and_publish_refuse_the_same_file_before_reading_it(tmp_path, capsys):
    from trainer.evaluate import main as evaluate_main
    from trainer.publish import PublishError, publish

    pipe = WatchedPipe(tmp_path / "decoy")
    bad = model_copy(tmp_path, external(str(pipe.path)))
    try:
        with pytest.raises(SystemExit) as exited:
            evaluate_main([str(bad), "--no-exhaustive", "--samples", "10"])
        with pytest.raises(PublishError) as refused:  # refused before any Hub request: none is reachable here
            publish(bad, "org/never", token="hf_" + "x" * 34, force=True)
    finally:
        readers = pipe.close()
    assert readers == 0 and exited.value.code == 2
    assert "keeps its bytes in another file" in capsys.readouterr().err
    assert str(refused.value).startswith("Refusing to publish a model that does not load: model.weights.h5 is refused")


# Analysis files: checked when the model loads; a bad one is dropped with a note ---------------------------
def bad_map(change: Callable[[QuestionMap], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        space = load_map(SOURCE / MAP_FILE, load_model_dir(SOURCE).task)
        change(space)
        save_map(space, folder / MAP_FILE)

    return write


def bad_learning(change: Callable[[LearningRecord], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        record = load_learning(SOURCE / LEARNING_FILE, load_model_dir(SOURCE).task)
        change(record)
        save_learning(record, folder / LEARNING_FILE)

    return write


def _set(name: str, index: object, value: object) -> Callable[[object], None]:
    """Set one value of one array (a copy: arrays read from a file are read-only)."""

    def change(analysis: object) -> None:
        array = getattr(analysis, name).copy()
        array[index] = value
        setattr(analysis, name, array)

    return change


BAD_ANALYSES = {
    "operator code past the table": (MAP_FILE, bad_map(_set("ops", (0, 0, 0), 9)), "holds operator codes"),
    "another task's operator": (MAP_FILE, bad_map(_set("ops", (5, 5, 0), 2)), "holds operator codes"),
    "axis not the task's": (MAP_FILE, bad_map(_set("a_values", 3, 7000)), "has axes that are not this task's"),
    "weakest cell outside": (MAP_FILE, bad_map(_set("weakest", (0, 0), 1e6)), "lists weakest cells outside"),
    "weakest margin NaN": (MAP_FILE, bad_map(_set("weakest", (0, 2), np.nan)), "lists weakest margins outside"),
    "wrong cell outside": (
        MAP_FILE,
        bad_map(lambda s: setattr(s, "wrong", np.array([[0, 100]], np.int32))),
        "lists wrong cells outside",
    ),
    "not a zip": (MAP_FILE, lambda folder: (folder / MAP_FILE).write_bytes(b"PK\x03\x04 nonsense"), "map.npz"),
    "loss NaN": (LEARNING_FILE, bad_learning(_set("loss", 0, np.nan)), "holds infinite or missing (NaN) figures"),
    "accuracy above 1": (LEARNING_FILE, bad_learning(_set("exact_match", 1, 3.0)), "holds accuracies above"),
    "probe axis": (LEARNING_FILE, bad_learning(_set("probe_b", 0, -5)), "has probe axes"),
}


@pytest.mark.parametrize("case", list(BAD_ANALYSES))
def test_a_bad_analysis_file_is_dropped_with_a_note_and_the_model_still_answers(tmp_path, case):
    from web import learning, question_map
    from web.chart import chart_html

    name, spoil, says = BAD_ANALYSES[case]
    folder = tmp_path / "spoilt"
    shutil.copytree(SOURCE, folder)
    spoil(folder)
    catalogue = load_catalogue(extra=[str(folder)], seconds=5)
    service = Service(catalogue)
    served = service.served("spoilt")
    [note] = [n for n in catalogue.notes if n.startswith(f"{name} was ignored: ")]
    assert says in note and note.endswith(".") and "\n" not in note, note
    assert note in service.model_info("spoilt")["notes"]
    assert (served.question_map is None) == (name == MAP_FILE) and (served.learning is None) == (name == LEARNING_FILE)
    answer = service.predict("12+34", "spoilt")
    assert (answer["error"], answer["answer"], answer["model"]) == (None, 46, "spoilt")
    # What picking the model draws: the page's own functions, for the map and the learning record.
    assert "stored map" in question_map.map_html(served.question_map, served.task) or name != MAP_FILE
    question_map.lists_html(served.question_map)
    learning.probe_html(served.learning, 1)
    if served.learning is not None:
        [chart_html(chart) for chart in learning.charts(served.learning)]


def test_the_bundled_analyses_pass_the_checks():
    catalogue = load_catalogue(extra=[], seconds=1)
    assert catalogue.notes == [] and all(m.notes == [] for m in catalogue.models.values())
    assert all(m.question_map is not None and m.learning is not None for m in catalogue.models.values())
