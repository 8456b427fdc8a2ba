"""The numpy network the app serves with is Keras' network: same outputs, same states, same gates.

For every cell type and for stacked layers, a Keras model built by our builder
(random weights, saved and read back through model/storage.py) is compared
with the numpy forward pass: probabilities and every hidden and cell state to
1e-5, and the LSTM gates against the gates recomputed from Keras' own layer
outputs. The weights file layout our loader checks is the one Keras writes.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from model.codec import encode_questions, one_hot
from model.config import NetworkConfig, TaskConfig
from model.network import build_model, weight_layout
from model.questions import sample_questions
from model.storage import ModelLoadError, load_model_dir, write_keras_files

TASK = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*")
CASES = [
    NetworkConfig(cell=c, encoder_units=24, decoder_units=20, encoder_layers=layers, decoder_layers=layers)
    for c in ("lstm", "gru", "simple_rnn")
    for layers in (1, 2)
]


def save_random_model(net: NetworkConfig, folder, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(TASK, net)
    # Larger than the default initialisation, so gates saturate and differences would show.
    model.set_weights([w * 1.5 for w in model.get_weights()])
    folder.mkdir()
    write_keras_files(model, folder)
    TASK.save(folder / "task_config.json")
    net.save(folder / "network.json")
    return model


def keras_states(model, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    """Each recurrent layer's per-step hidden (and LSTM cell) states, by running Keras layers one at a time."""
    import keras

    out, states = x, []
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)):
            copy = type(layer).from_config({**config, "return_sequences": True, "return_state": True})
            copy.build(out.shape)
            copy.set_weights(layer.get_weights())
            result = copy(out)
            sequence = np.asarray(result[0])
            entry = {"hidden": sequence}
            if isinstance(layer, keras.layers.LSTM):  # the cell state after every step: run step by step
                cells = []
                for t in range(1, out.shape[1] + 1):
                    cells.append(np.asarray(copy(out[:, :t])[2]))
                entry["cell"] = np.stack(cells, axis=1)
            states.append(entry)
            out = sequence if config["return_sequences"] else sequence[:, -1]
        else:
            out = np.asarray(layer(out))
    return states


@pytest.mark.parametrize("net", CASES, ids=lambda n: f"{n.cell}-{n.encoder_layers}layers")
def test_numpy_network_equals_keras(net, tmp_path):
    model = save_random_model(net, tmp_path / "m")
    stored = load_model_dir(tmp_path / "m")
    network = stored.network()
    q = sample_questions(TASK, 64, np.random.default_rng(1))
    tokens = encode_questions(q, TASK)
    x = one_hot(tokens, TASK)

    expected = np.asarray(model(x, training=False))
    probs, traces = network.trace(tokens)
    assert np.abs(probs - expected).max() < 1e-5
    assert np.abs(network.probabilities(tokens) - expected).max() < 1e-5

    reference = keras_states(model, x)
    assert len(traces) == len(reference) == net.encoder_layers + net.decoder_layers
    for trace, ref in zip(traces, reference, strict=True):
        assert np.abs(trace.hidden - ref["hidden"]).max() < 1e-5, trace.name
        if net.cell == "lstm":
            assert np.abs(trace.cell - ref["cell"]).max() < 1e-5, trace.name
            # The output gate, recomputed from Keras' own h and c: h = o * tanh(c).
            recovered = ref["hidden"] / np.tanh(ref["cell"])
            usable = np.abs(np.tanh(ref["cell"])) > 0.05
            assert np.abs(trace.gates["output"][usable] - recovered[usable]).max() < 1e-4, trace.name
        else:
            assert trace.cell is None
    assert (
        set(traces[0].gates)
        == {
            "lstm": {"input", "forget", "output", "candidate"},
            "gru": {"update", "reset", "candidate"},
            "simple_rnn": set(),
        }[net.cell]
    )


@pytest.mark.parametrize("net", CASES[::2], ids=lambda n: n.cell)
def test_weight_layout_is_what_keras_writes(net, tmp_path):
    save_random_model(net, tmp_path / "m")
    found = {}
    with h5py.File(tmp_path / "m" / "model.weights.h5") as f:
        f.visititems(lambda name, item: found.update({name: item.shape}) if isinstance(item, h5py.Dataset) else None)
    assert found == weight_layout(TASK, net)


@pytest.fixture(scope="module")
def lstm_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lstm") / "m"
    save_random_model(CASES[0], folder)
    return folder


def copy_folder(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_bigger_network_description_than_the_weights_is_refused(lstm_folder, tmp_path):
    folder = copy_folder(lstm_folder, tmp_path / "m")
    NetworkConfig(encoder_units=48, decoder_units=20).save(folder / "network.json")
    with pytest.raises(ModelLoadError, match="does not match the network"):
        load_model_dir(folder)


def test_a_weights_file_far_larger_than_the_network_is_refused_unread(lstm_folder, tmp_path):
    folder = copy_folder(lstm_folder, tmp_path / "m")
    with open(folder / "model.weights.h5", "ab") as f:
        f.truncate(50_000_000)  # a sparse 50 MB file: refused by its size before h5py opens it
    with pytest.raises(ModelLoadError, match="it is not this model's weights file"):
        load_model_dir(folder)


def test_a_small_file_declaring_huge_arrays_is_refused_unread(lstm_folder, tmp_path):
    """A compressed dataset of declared shape (100000, 100000) would need 40 GB once read."""
    folder = copy_folder(lstm_folder, tmp_path / "m")
    path = folder / "model.weights.h5"
    with h5py.File(path, "a") as f:
        name = "layers/lstm/cell/vars/0"
        del f[name]
        f.create_dataset(name, shape=(100_000, 100_000), dtype="float32", compression="gzip", chunks=(1000, 1000))
    assert path.stat().st_size < 2_000_000
    with pytest.raises(ModelLoadError, match=r"expected layers/lstm/cell/vars/0 of shape|stored through a filter"):
        load_model_dir(folder)


def test_nan_weights_and_unknown_cells_are_refused(lstm_folder, tmp_path):
    folder = copy_folder(lstm_folder, tmp_path / "m")
    with h5py.File(folder / "model.weights.h5", "a") as f:
        f["layers/dense/vars/1"][0] = np.nan
    with pytest.raises(ModelLoadError, match="NaN"):
        load_model_dir(folder)
    other = copy_folder(lstm_folder, tmp_path / "n")
    (other / "network.json").write_text('{"cell": "transformer"}')
    with pytest.raises(ModelLoadError, match="cell must be one of"):
        load_model_dir(other)
    (other / "network.json").write_text('{"encoder_units": 8000}')
    with pytest.raises(ModelLoadError, match="from 1 to 512"):
        load_model_dir(other)
