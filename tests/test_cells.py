"""Each row of the cell table (model/cells.py) is Keras' own cell: its parameter count, its weight shapes and its step.

The step is checked directly against Keras' cell class (`keras.layers.LSTMCell` etc.), one step from a
random state and one from zeros, run both ways the project runs it: with numpy (the app's forward pass)
and with TensorFlow inside XLA (the fast verifier). Whole networks are compared in test_forward.py and
test_fast_verify.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.cells import CELLS, Cell
from model.config import NetworkConfig, TaskConfig, parameter_count
from model.forward import NUMPY
from model.network import build_model, weight_layout

TASK = TaskConfig(digits=2, terms=3, min_terms=2, operators="+-*")
INPUTS, UNITS, ROWS = 7, 5, 16


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
def test_parameter_count_from_the_table_is_keras_count_params(cell, layers):
    net = NetworkConfig(cell=cell, encoder_units=24, decoder_units=20, encoder_layers=layers, decoder_layers=layers)
    model = build_model(TASK, net)
    assert parameter_count(TASK, net) == model.count_params()
    assert parameter_count(TASK, net) == sum(int(np.prod(shape)) for shape in weight_layout(TASK, net).values())
    assert [w.shape for w in model.get_weights()] == list(weight_layout(TASK, net).values())


def keras_cell(cell: Cell, rng: np.random.Generator):
    """A built Keras cell of this kind with random weights (1.5x so gates saturate), and its weights."""
    import keras

    layer = getattr(keras.layers, cell.keras_class + "Cell")(UNITS)
    layer.build((ROWS, INPUTS))
    weights = [rng.normal(0, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    assert [w.shape for w in weights] == list(cell.weight_shapes(INPUTS, UNITS))
    return layer, weights


def keras_step(layer, cell: Cell, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    states = [h, c] if cell.has_cell_state else [h]
    output, new_states = layer(x, states)
    new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
    return np.asarray(output), np.asarray(new_states[-1])


def table_step(cell: Cell, ops, arrays, x, h, c):
    """One step through the table: project x with the input bias, advance from (h, c) (None: from zeros)."""
    layer = cell.layer(*arrays)
    h_new, c_new, gates = cell.advance(ops, layer, x @ layer.kernel + layer.input_bias, h, c)
    assert set(gates) <= set(cell.blocks), gates
    return h_new, c_new


@pytest.mark.parametrize("from_zeros", [False, True], ids=["from-a-state", "from-zeros"])
@pytest.mark.parametrize("cell", list(CELLS.values()), ids=lambda c: c.name)
def test_one_step_with_numpy_and_with_xla_is_keras_step(cell, from_zeros):
    import tensorflow as tf

    from trainer.fast_verify import TENSORFLOW

    rng = np.random.default_rng(7)
    layer, weights = keras_cell(cell, rng)
    x = rng.normal(0, 1, (ROWS, INPUTS)).astype(np.float32)
    h = np.zeros((ROWS, UNITS), np.float32) if from_zeros else rng.normal(0, 0.8, (ROWS, UNITS)).astype(np.float32)
    c = np.zeros((ROWS, UNITS), np.float32) if from_zeros else rng.normal(0, 0.8, (ROWS, UNITS)).astype(np.float32)
    expected_h, expected_c = keras_step(layer, cell, x, h, c)
    start = (None, None) if from_zeros else (h, c)  # None: the table's own first step, which skips h @ U

    @tf.function(jit_compile=True, autograph=False)  # as trainer/fast_verify.py compiles it
    def xla(x, h, c, *arrays):
        return table_step(cell, TENSORFLOW, arrays, x, h, c)

    results = {
        "numpy": table_step(cell, NUMPY, weights, x, *start),
        "xla": xla(tf.constant(x), *start, *(tf.constant(w) for w in weights)),
    }
    for name, (got_h, got_c) in results.items():
        assert np.abs(np.asarray(got_h) - expected_h).max() < 1e-5, name
        if cell.has_cell_state:
            assert np.abs(np.asarray(got_c) - expected_c).max() < 1e-5, name
    assert np.abs(expected_h).max() > 0.5  # saturating enough that a wrong gate order would show
