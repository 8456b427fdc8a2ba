"""The shared core of the arithmetic demo, imported by both `trainer/` and `app.py`.

config.py     TaskConfig (digits, terms, operators, reversal, alphabet) and NetworkConfig (cell, sizes), bounded
questions.py  questions as arrays: sampling, enumeration, exact answers, parsing a person's text
quoting.py    a visitor's text quoted in a sentence: long numbers and texts cut in the middle ("12345…789")
codec.py      questions and answers <-> the token rows the network reads and writes
network.py    the Keras builder (TensorFlow loads only when a network is built) and its weight layout
forward.py    the same network in numpy, with every state and gate (what the app serves with)
storage.py    model folders: atomic writes; checked, TensorFlow-free reads of untrusted folders
metrics.py    the schema of metrics.json and how figures are shown
predictor.py  answers with confidences, margins and runner-up characters for the app
hub.py        which models the app serves: local folders, Hub repos, the bundled zoo

Nothing here imports TensorFlow at import time, so validating a command line
or serving a question never waits for it.
"""

from .config import ConfigError, NetworkConfig, TaskConfig
from .questions import InputError, Questions, parse_question

__all__ = ["ConfigError", "InputError", "NetworkConfig", "Questions", "TaskConfig", "parse_question"]
