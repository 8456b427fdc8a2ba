"""The shared core of the addition demo, imported by both `trainer/` and `app.py`.

config.py   TaskConfig: digits, terms, reversal, alphabet, padding, sampling
codec.py    questions <-> padded, reversed, one-hot arrays (numpy only)
network.py  the seq2seq LSTM builder (loads TensorFlow)
storage.py  model folders: Keras files + task_config.json, checked on load
predictor.py  compiled batched inference and per-position explanations
hub.py      which model the app serves: local folder, Hub repo, or bundled

This package imports only the numpy-only parts eagerly, so validating a
command line or a question never waits for TensorFlow to load.
"""

from .codec import InputError, parse_question
from .config import ConfigError, TaskConfig

__all__ = ["ConfigError", "InputError", "TaskConfig", "parse_question"]
