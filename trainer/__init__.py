"""Turns random questions into a verified, published arithmetic model: `python -m trainer` (run.py, the story
of one run top to bottom).

run.py         one training run: settings, folder, devices, training, final check, saving, exit status
cli.py         the parser; flags plus preset become a checked task, network and settings
flags.py       the flags and the limits tables, made from the settings' declarations (model/bounds.py)
presets/       one TOML file per preset (the model zoo), each value with why
settings.py    TrainSettings, each field declared with its bounds and help; the checks across fields
data.py        the questions: held-out set, every question or a pool, unique draws, each epoch's mix
rundir.py      the work folder (<output-dir>.partial), checkpoints, fingerprints, atomic install, full disks
workers.py     the workers of a multi-worker run (distribute.py, rejoin.py, tf_config.py behind it)
train.py       the training engine: the loop, with held-out, whole-space and probe measurements each epoch
outcome.py     what the engine hands on: the trained model, its history and its check sets
final_check.py every question (or a pool) and the held-out set after training; target met or not
saving.py      the model folder (weights, configs, metrics, map, learning record, curve) in one atomic step
verify.py      exact match, per-position accuracy and margins of a Keras model (through fast_verify.py)
fast_verify.py every question's answer and margin, fast enough to steer training (a prefix trie, XLA)
report.py      the training-curve picture
evaluate.py    `python -m trainer.evaluate`: check any model folder
zoo.py         `python -m trainer.zoo`: rebuild the bundled models, each verified against its target
live.py        `python -m trainer.live`: the short training behind the app's "Train your own" tab
publish.py, model_card.py, deploy_space.py   the Hugging Face Hub: model repo with its card, and the Space
"""
