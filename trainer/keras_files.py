"""Keras 3's own model files (config.json, metadata.json, model.weights.h5), made in memory, written plainly.

`model.storage.write_keras_files` lets Keras write the folder itself, and Keras
writes `model.weights.h5` through h5py straight to disk: when the disk fills up
(or a file-size limit or quota is reached) h5py can crash the process with a
segmentation fault instead of raising an error. Here Keras builds its zipped
`.keras` archive in memory, and the three files inside it, which are exactly
the files of Keras' folder layout, are written with plain file writes, so a
full disk is an OSError that the trainer turns into one sentence.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from model.storage import KERAS_FILES


def keras_archive(model: Any) -> bytes:
    """The model as a zipped .keras archive, built in memory (optimizer state included, if compiled)."""
    from keras.src.saving import saving_lib  # the public save_model wants a file name ending in .keras

    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    return buffer.getvalue()


def write_keras_files(model: Any, folder: Path) -> None:
    """Keras' folder layout, weights only (no optimizer state: what users load, a third of the size)."""
    import keras

    inference_copy = keras.Sequential.from_config(model.get_config())
    inference_copy.set_weights(model.get_weights())
    with zipfile.ZipFile(io.BytesIO(keras_archive(inference_copy))) as archive:
        for name in KERAS_FILES:
            (Path(folder) / name).write_bytes(archive.read(name))
