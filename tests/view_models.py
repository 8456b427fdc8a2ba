"""Small models of the newer designs written to a folder, for the view tests: an lsb repeat model, an
attention (dot) model and an additive-attention bracket-task model, with random weights (what the views
show must be true of whatever weights a model has; nothing here needs one that answers well). The bracket
model gets a whole-space map (map.npz) drawn by the app's own numpy network, as the trainer would store one."""

from __future__ import annotations

from pathlib import Path

from model.config import NetworkConfig, TaskConfig

DESIGNS: dict[str, tuple[TaskConfig, NetworkConfig]] = {
    "lsb-repeat": (
        TaskConfig(digits=2, answer_order="lsb"),
        NetworkConfig(encoder_units=12, decoder_units=12),
    ),
    "attention-dot": (
        TaskConfig(digits=2, answer_order="lsb"),
        NetworkConfig(encoder_units=12, decoder_units=12, decoder="attention", attention="dot"),
    ),
    "brackets-additive": (
        TaskConfig(digits=1, terms=3, min_terms=2, operators="+-*", brackets=True),
        NetworkConfig(cell="gru", encoder_units=10, decoder_units=10, decoder="attention", attention="additive"),
    ),
}


def write_models(root: Path, seed: int = 0) -> list[Path]:
    """One folder per design under `root` (named after it): task_config.json, network.json, Keras' files."""
    import keras

    from model.network import build_model
    from model.storage import write_keras_files

    folders = []
    for i, (name, (task, net)) in enumerate(DESIGNS.items()):
        keras.utils.set_random_seed(seed + i)
        model = build_model(task, net)
        model.set_weights([w * 2.0 for w in model.get_weights()])  # sharper than initial weights: varied answers
        folder = root / name
        folder.mkdir(parents=True)
        task.save(folder / "task_config.json")
        net.save(folder / "network.json")
        write_keras_files(model, folder)
        if task.brackets:
            write_map(folder)
        folders.append(folder)
    return folders


def write_map(folder: Path) -> None:
    from model.question_map import build_map, network_margins, save_map
    from model.storage import MAP_FILE, load_model_dir

    stored = load_model_dir(folder)
    save_map(build_map(stored.task, network_margins(stored.network(), stored.task)), folder / MAP_FILE)


FITTED = (  # 2-digit sums written lowest digit first, read through dot attention
    TaskConfig(digits=2, answer_order="lsb"),
    NetworkConfig(encoder_units=32, decoder_units=32, decoder="attention", attention="dot"),
)


def write_fitted_attention_model(folder: Path, epochs: int = 12, seed: int = 0) -> Path:
    """An attention model fitted for a few seconds (about 99% exact on 2-digit sums), so a screenshot shows
    the weights of a model that answers; the test never relies on how well it answers."""
    import keras
    import numpy as np

    from model.codec import encode_answers, encode_questions, one_hot, shifted_answers
    from model.network import build_model
    from model.questions import answers, sample_questions
    from model.storage import write_keras_files

    task, net = FITTED
    keras.utils.set_random_seed(seed)
    model = build_model(task, net)
    q = sample_questions(task, 20_000, np.random.default_rng(seed))
    truth = encode_answers(answers(q), task)
    inputs = [one_hot(encode_questions(q, task), task), shifted_answers(truth, task)]  # teacher forcing
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    model.fit(inputs, one_hot(truth, task), batch_size=256, epochs=epochs, verbose=0)
    folder.mkdir(parents=True)
    task.save(folder / "task_config.json")
    net.save(folder / "network.json")
    write_keras_files(model, folder)
    return folder
