"""TaskConfig and NetworkConfig: every zoo file loads unchanged, every bad field gets its one sentence
(the trainer's command line turns "encoder_units must be…" into "--encoder-units must be…", so each
message starts with the field's name), and importing the configs stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from model.config import ConfigError, NetworkConfig, TaskConfig, parameter_count
from model.storage import ZOO_DIR

ZOO = sorted(path.parent for path in ZOO_DIR.glob("*/network.json"))


@pytest.mark.parametrize("folder", ZOO, ids=lambda p: p.name)
def test_every_zoo_config_loads_unchanged(folder):
    for cls, name in ((TaskConfig, "task_config.json"), (NetworkConfig, "network.json")):
        written = json.loads((folder / name).read_text())
        assert cls.load(folder / name).to_dict() == written


NETWORK_ERRORS = [
    ({"cell": "transformer"}, "cell must be one of lstm, gru, simple_rnn, got 'transformer'"),
    ({"cell": ["lstm"]}, "cell must be one of lstm, gru, simple_rnn, got ['lstm']"),
    ({"encoder_units": 513}, "encoder_units must be a whole number from 1 to 512, got 513"),
    ({"decoder_units": 0}, "decoder_units must be a whole number from 1 to 512, got 0"),
    ({"decoder_units": 64.0}, "decoder_units must be a whole number from 1 to 512, got 64.0"),
    ({"encoder_layers": True}, "encoder_layers must be a whole number from 1 to 4, got True"),
    ({"decoder_layers": 5}, "decoder_layers must be a whole number from 1 to 4, got 5"),
]

TASK_ERRORS = [
    ({"digits": 0}, "digits must be a whole number from 1 to 9, got 0"),
    ({"digits": "3"}, "digits must be a whole number from 1 to 9, got '3'"),
    ({"terms": 19}, "terms must be a whole number from 2 to 18, got 19"),
    ({"min_terms": 3}, "min_terms must be a whole number from 2 to terms (2), got 3"),
    ({"padding": "middle"}, "padding must be one of right, left, got 'middle'"),
    ({"sampling": "x" * 100}, "sampling must be one of digits, uniform, mixed, got '" + "x" * 39),
    ({"smallest": 1000}, "smallest must be a whole number from 0 to 999, got 1000"),
    ({"largest": 0}, "largest must be a whole number from 1 to 999, got 0"),
    ({"reverse": 1}, "reverse must be true or false, got 1"),
    ({"smallest": 5, "largest": 5}, "smallest (5) must be below the largest term (5)"),
]


@pytest.mark.parametrize(("change", "message"), NETWORK_ERRORS, ids=lambda v: str(v)[:30])
def test_a_bad_network_field_gets_its_sentence(change, message):
    with pytest.raises(ConfigError) as caught:
        NetworkConfig.from_dict({**NetworkConfig().to_dict(), **change})
    assert str(caught.value) == message


@pytest.mark.parametrize(("change", "message"), TASK_ERRORS, ids=lambda v: str(v)[:30])
def test_a_bad_task_field_gets_its_sentence(change, message):
    with pytest.raises(ConfigError) as caught:
        TaskConfig.from_dict({**TaskConfig().to_dict(), **change})
    assert str(caught.value).startswith(message)


def test_the_keras_io_network_has_its_known_parameter_count():
    # keras.io "Sequence to sequence learning for performing number addition": 3-digit sums, 12 characters,
    # LSTM(128) -> RepeatVector(4) -> LSTM(128) -> Dense(12): 72,192 + 131,584 + 1,548 = 205,324.
    assert parameter_count(TaskConfig(), NetworkConfig()) == 205_324


def test_importing_the_configs_loads_neither_tensorflow_nor_pydantic():
    """The command line validates before anything heavy loads (pydantic alone is ~0.1 s; TensorFlow seconds)."""
    code = "import sys, model.config; print(sorted({'tensorflow', 'keras', 'pydantic'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
