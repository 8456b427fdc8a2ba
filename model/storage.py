"""Model folders: written whole or not at all, and read as untrusted data.

A model folder holds Keras 3's own files (`config.json`, `metadata.json`,
`model.weights.h5`, so `keras.saving.load_model(folder)` works for any Keras
user) beside ours: `task_config.json`, `network.json`, `metrics.json`, and the
analyses the trainer stores (the map, the learning record).

Writing (trainer): everything goes into a temporary sibling folder that is
swapped into place only when complete, so a folder is always either the old
complete model or the new complete one.

Reading (app, evaluate, publish): no Keras, no TensorFlow and no code from the
folder. Every JSON file is size-capped and schema-checked; the network is the
one our builder describes (`NetworkConfig`), and `model.weights.h5` must hold
exactly the arrays that network has, with exactly their shapes, stored as Keras
stores them (in the file itself: no external storage, links or filters), checked
before any of them is read. Keras' `config.json` is never parsed here.
"""

from __future__ import annotations

import ctypes
import errno
import glob
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import NetworkConfig, TaskConfig, parameter_count
from .config_files import ConfigError, parse_json, read_small_text
from .forward import Network
from .h5_safety import unsafe_structure
from .metrics import clean_metrics
from .network import weight_layout

TASK_CONFIG_FILE = "task_config.json"
NETWORK_FILE = "network.json"
METRICS_FILE = "metrics.json"
WEIGHTS_FILE = "model.weights.h5"
SETTINGS_FILE = "train_settings.json"
HISTORY_FILE = "history.json"
MAP_FILE = "map.npz"
LEARNING_FILE = "learning.npz"
CURVE_FILE = "training_curve.png"
KERAS_FILES = ("config.json", "metadata.json", WEIGHTS_FILE)
# Everything that travels with a model folder: to the Hub (trainer/publish.py) and into the zoo (trainer/zoo.py).
MODEL_FOLDER_FILES = (
    *KERAS_FILES,
    TASK_CONFIG_FILE,
    NETWORK_FILE,
    SETTINGS_FILE,
    METRICS_FILE,
    HISTORY_FILE,
    CURVE_FILE,
    MAP_FILE,
    LEARNING_FILE,
)
REQUIRED_FILES = (TASK_CONFIG_FILE, WEIGHTS_FILE)
MODEL_ROOT = Path(__file__).resolve().parent
ZOO_DIR = MODEL_ROOT / "zoo"
MAX_NPZ_BYTES = 8_000_000
MAX_NPZ_ELEMENTS = 4_000_000  # per array: a 1000 x 1000 map is 1,000,000
BUNDLED_DIR = ZOO_DIR / "add3"  # the default model; the app serves it when the zoo index is missing


class ModelLoadError(RuntimeError):
    """A model folder that cannot be used, with a sentence saying why."""


@dataclass
class StoredModel:
    """A checked model folder: what it does, what it is, its weights and its measurements."""

    task: TaskConfig
    net: NetworkConfig
    weights: dict[str, np.ndarray]
    metrics: dict[str, Any]
    folder: Path
    notes: list[str] = field(default_factory=list)  # what was ignored while reading it

    def network(self) -> Network:
        return Network(self.task, self.net, self.weights)


# Reading ---------------------------------------------------------------------------------------
def load_model_dir(folder: str | Path) -> StoredModel:
    """Read and check a model folder; raise ModelLoadError naming what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder} is not a model folder (it does not exist or is not a directory)")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(f"{folder} lacks {', '.join(missing)}")
    try:
        task = TaskConfig.load(folder / TASK_CONFIG_FILE)
    except (ConfigError, TypeError, OSError) as err:
        raise ModelLoadError(f"{TASK_CONFIG_FILE} in {folder} is invalid: {err}") from None
    net = read_network(folder)
    weights = read_weights(folder / WEIGHTS_FILE, task, net)
    metrics, notes = read_metrics(folder)
    return StoredModel(task, net, weights, metrics, folder, notes)


def read_network(folder: Path) -> NetworkConfig:
    """network.json, or for folders from before it existed, the sizes in train_settings.json."""
    try:
        if (folder / NETWORK_FILE).is_file():
            return NetworkConfig.load(folder / NETWORK_FILE)
        if (folder / SETTINGS_FILE).is_file():
            settings = parse_json(read_small_text(folder / SETTINGS_FILE), SETTINGS_FILE)
            if isinstance(settings, dict):
                known = ("cell", "encoder_units", "decoder_units", "encoder_layers", "decoder_layers")
                return NetworkConfig(**{k: settings[k] for k in known if k in settings})
        return NetworkConfig()
    except (ConfigError, TypeError, OSError) as err:
        raise ModelLoadError(f"the network description in {folder} is invalid: {err}") from None


def read_weights(path: Path, task: TaskConfig, net: NetworkConfig) -> dict[str, np.ndarray]:
    """The weight arrays of `net`, read from a Keras weights file only after its size and layout check out.

    Layout means both the arrays `net` has and how HDF5 stores them (model.h5_safety): a file that keeps
    bytes in another file, links elsewhere or filters its data is refused before anything is read.
    """
    import h5py  # a Keras dependency; reads the file's structure without reading its arrays

    expected_bytes = 4 * parameter_count(task, net)
    size = path.stat().st_size
    if size > expected_bytes * 1.1 + 256_000:  # the arrays plus HDF5's bookkeeping
        raise ModelLoadError(
            f"{path.name} is {size:,} bytes, but a {net.cell} network of this size needs about "
            f"{expected_bytes:,}: it is not this model's weights file"
        )
    layout = weight_layout(task, net)
    weights = {}
    try:
        with h5py.File(path, "r") as f:
            problem = unsafe_structure(f, size)  # before any array is read: no byte may come from elsewhere
            if problem:
                raise ModelLoadError(f"{path.name} is refused: {problem}")
            for name, shape in layout.items():
                item = f.get(name)
                if not isinstance(item, h5py.Dataset) or item.shape != shape:
                    found = f"shape {item.shape}" if isinstance(item, h5py.Dataset) else "nothing"
                    raise ModelLoadError(
                        f"{path.name} does not match the network in network.json and task_config.json "
                        f"({net.cell}, {net.encoder_units}/{net.decoder_units} units, alphabet of {task.num_chars}): "
                        f"expected {name} of shape {shape}, found {found}"
                    )
                if item.dtype != np.dtype("<f4"):  # Keras writes little-endian float32; no other type is read
                    raise ModelLoadError(
                        f"{path.name} stores {name} as {describe_dtype(item.dtype)}, not the little-endian 32-bit "
                        "floats Keras writes"
                    )
                weights[name] = item[()]
    except ModelLoadError:
        raise
    except Exception as err:  # h5py raises OSError, KeyError, ValueError… for damaged files
        raise ModelLoadError(f"{path.name} could not be read (truncated or corrupt): {str(err)[:160]}") from None
    if not all(np.isfinite(w).all() for w in weights.values()):
        raise ModelLoadError(f"{path.name} holds NaN or infinite weights")
    return weights


def read_metrics(folder: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The valid part of a folder's metrics.json (or {}), and notes about what was not valid."""
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        return {}, []
    try:
        data = parse_json(read_small_text(path), METRICS_FILE)
    except (ConfigError, OSError) as err:
        return {}, [f"metrics.json was ignored: {err}"]
    return clean_metrics(data)


def read_json_file(path: Path) -> Any:
    """A small JSON file written by the trainer, or None when it is missing or invalid."""
    try:
        return parse_json(read_small_text(path), path.name)
    except (ConfigError, OSError):
        return None


def load_npz(
    path: Path, spec: dict[str, tuple[tuple[int | None, ...], str]], optional: frozenset[str] = frozenset()
) -> dict[str, np.ndarray]:
    """Arrays from an .npz file, each checked against spec {name: (shape, None for any size; dtype)}.

    The header of each array is read and checked before its data, so a small file
    that declares a huge array is refused, never allocated. A name in `optional`
    may be missing (it is then left out of the result); any other missing name,
    like a bad header, raises ValueError.
    """
    if path.stat().st_size > MAX_NPZ_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_NPZ_BYTES:,} bytes")
    out = {}
    with zipfile.ZipFile(path) as archive:
        present = set(archive.namelist())
        for name, (shape, dtype) in spec.items():
            if name + ".npy" not in present:
                if name in optional:
                    continue
                raise ValueError(f"{path.name} has no {name} array")
            with archive.open(name + ".npy") as member:
                version = np.lib.format.read_magic(member)
                read_header = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0,
                }.get(version)
                if read_header is None:
                    raise ValueError(f"{path.name}: {name} has an unknown .npy version {version}")
                found_shape, fortran, found_dtype = read_header(member)
                ok = (
                    len(found_shape) == len(shape)
                    and found_dtype == np.dtype(dtype)
                    and int(np.prod(found_shape)) <= MAX_NPZ_ELEMENTS
                    and all(s is None or f == s for f, s in zip(found_shape, shape, strict=True))
                )
                if not ok:
                    raise ValueError(
                        f"{path.name}: {name} has shape {found_shape} and type {found_dtype}, expected {shape} {dtype}"
                    )
                data = member.read(int(np.prod(found_shape)) * found_dtype.itemsize)
                array = np.frombuffer(data, dtype=found_dtype).reshape(found_shape, order="F" if fortran else "C")
                out[name] = np.ascontiguousarray(array)
    return out


# Writing (the trainer; needs Keras) -----------------------------------------------------------
def keras_archive(model: Any) -> bytes:
    """The model as a zipped .keras archive, built in memory (with its optimizer state, if compiled)."""
    import io

    from keras.src.saving import saving_lib  # the public save_model wants a file name ending in .keras

    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    return buffer.getvalue()


def write_keras_files(model: Any, folder: Path) -> None:
    """Keras 3's own folder layout, weights only (no optimizer state: a third of the size, all users need).

    The three files are taken from an archive Keras builds in memory and written with plain writes: h5py
    writing straight to a full disk can crash the process instead of raising an error.
    """
    import io
    import zipfile

    inference_copy = type(model).from_config(model.get_config())  # Sequential, or the attention model
    inference_copy.set_weights(model.get_weights())
    with zipfile.ZipFile(io.BytesIO(keras_archive(inference_copy))) as archive:
        for name in KERAS_FILES:
            (Path(folder) / name).write_bytes(archive.read(name))


def describe_dtype(dtype: np.dtype) -> str:
    """A stored array's type in words: "big-endian 32-bit floats", "64-bit floats", "32-bit integers"…"""
    kinds = {"f": "floats", "i": "integers", "u": "unsigned integers", "b": "booleans", "c": "complex numbers"}
    order = {">": "big-endian ", "<": "little-endian ", "=": f"{sys.byteorder}-endian "}.get(dtype.byteorder, "")
    return f"{order}{8 * dtype.itemsize}-bit {kinds.get(dtype.kind, dtype.kind)}"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def write_model_folder(out_dir: Path, write: Callable[[Path], None]) -> Path:
    """Call write(tmp) to fill a fresh temporary folder, then swap it into `out_dir` in one step.

    If `write` fails (disk full, Ctrl-C…), the temporary folder is removed and
    `out_dir` is untouched.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_writes(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.writing-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        write(tmp)
        _sync_folder(tmp)
        swap_into_place(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after a swap this holds the old model
    return out_dir


def remove_abandoned_writes(out_dir: Path) -> None:
    """Remove the temporary folders that saves into `out_dir` left behind when they were killed (kill -9, a
    power cut: no `finally` ran), those whose process has gone; a save still running keeps its own."""
    for leftover in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.writing-*"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a process id we can ask about: leave its folder alone
    return True


def _sync_folder(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())


def swap_into_place(new: Path, target: Path) -> None:
    """Make `new` appear at `target` atomically; the old `target`, if any, ends up at `new`'s path."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        return
    # No atomic exchange on this system: two renames, with the old copy kept until the second is done.
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    os.rename(new, target)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Linux renameat2(RENAME_EXCHANGE): swap two paths in one atomic step. False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


def is_model_folder(folder: Path) -> bool:
    """Whether a folder holds a finished model (the files every model folder has)."""
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def zoo_folders() -> list[Path]:
    """The bundled models, in the order the zoo lists them (model/zoo/index.json)."""
    index = read_json_file(ZOO_DIR / "index.json")
    names = index.get("models", []) if isinstance(index, dict) else []
    return [ZOO_DIR / name for name in names if isinstance(name, str) and (ZOO_DIR / name).is_dir()]
