"""Shared test set-up: a private Hugging Face home, no telemetry, quiet TensorFlow.

These variables are read by huggingface_hub and gradio at import time, so they
are set here, before any test module imports them. Nothing heavy is imported
here: `python -m pytest -m "not slow"` (the fast tier) must start in moments.
A module that needs the local Hub-compatible server imports its fixture from
tests/hub_server.py itself.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_HF_HOME = tempfile.mkdtemp(prefix="addition-tests-hf-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("HF_TOKEN", None)  # tests never see a real token
for name in ("ADDITION_MODEL", "ADDITION_MODEL_REVISION"):
    os.environ.pop(name, None)
