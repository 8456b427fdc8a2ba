"""The shared core of the addition demo: task config, codec, network, storage, predictor.

Both `trainer/` and `app.py` import from here; nothing here imports them.
"""

from .codec import InputError, parse_question
from .config import ConfigError, TaskConfig
from .storage import BUNDLED_DIR, ModelLoadError, load_model_dir, save_model_dir

__all__ = [
    "BUNDLED_DIR",
    "ConfigError",
    "InputError",
    "ModelLoadError",
    "TaskConfig",
    "load_model_dir",
    "parse_question",
    "save_model_dir",
]
