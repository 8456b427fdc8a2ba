"""Turns random questions into a verified, published arithmetic model: `python -m trainer` (cli.py).

settings.py    TrainSettings, the presets (the model zoo) and the bounds every value is checked against
data.py        the questions: held-out set, the whole space or a pool, unique draws, each epoch's mix
rundir.py      the work folder (<output-dir>.partial), checkpoints, fingerprints, atomic install, full disks
train.py       the fit, with held-out, whole-space and probe measurements after each epoch
verify.py      exact match, per-position accuracy and margins of a Keras model (through fast_verify.py)
fast_verify.py every question's answer and margin, fast enough to steer training (a prefix trie, XLA)
finish.py      final verification, metrics, map and learning record, the model folder, the exit status
report.py      the training-curve picture
evaluate.py    `python -m trainer.evaluate`: check any model folder
zoo.py         `python -m trainer.zoo`: rebuild the bundled models, each verified against its target
live.py        `python -m trainer.live`: the short training behind the app's "Train your own" tab
publish.py, model_card.py, deploy_space.py   the Hugging Face Hub: model repo with its card, and the Space
"""
