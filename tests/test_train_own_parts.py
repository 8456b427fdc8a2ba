"""Train your own's parts, checked without a served app: its limits, whose models are pushed out, and an early Stop.

The sliders and the tab's check come from trainer.live's LIMITS; a visitor's (or an address's)
new models push out only their own oldest; Stop before the warm trainer has its settings ends in
one sentence.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from model.config import ANSWER_ORDERS, DECODERS
from model.serving import ServedModel
from model.storage import ZOO_DIR, load_model_dir
from trainer.live_settings import LIMITS
from web.service import OwnModels

pytestmark = pytest.mark.slow  # the tier of the Train-your-own tests


def test_the_limits_are_defined_once():
    """The tab's controls are built from trainer.live's LIMITS (each setting's declaration), one for every number
    a visitor may choose, and the tab's check is trainer.live's: every slider spans its setting's bounds, the
    learning rates offered run from its low bound to its high one, and the seed's words give its bounds."""
    import gradio as gr

    from model.bounds import bounds
    from model.serving import load_catalogue
    from trainer.live_settings import LiveSettings
    from web import train_own
    from web.service import Service

    with gr.Blocks() as demo:
        train_own.tab(Service(load_catalogue(None, None, [])), gr.Dropdown(), (gr.Dropdown(), gr.Dropdown()), gr.HTML())
    controls = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    default = LiveSettings()
    numeric = [name for name, bound in bounds(LiveSettings).items() if bound.kind in ("whole", "number")]
    assert list(LIMITS) == numeric  # every number a visitor may choose has its limits, and a control below
    for name, (low, high) in LIMITS.items():
        control = controls[f"own-{name.replace('_', '-')}"]
        assert control.value == getattr(default, name), name  # the control starts at the declared default
        if isinstance(control, gr.Slider):
            assert (control.minimum, control.maximum) == (low, high), name
        elif isinstance(control, gr.Dropdown):
            offered = [value for _, value in control.choices]
            assert (min(offered), max(offered)) == (low, high) and default.learning_rate in offered, offered
        else:  # a number box: no range of Gradio's own (it would answer a bad value with a bare "Error")
            assert isinstance(control, gr.Number) and bounds(LiveSettings)[name].range_text() in control.info.lower()
        assert _error(**{name: high * 2 + 1}) is not None, name  # past the high bound (0.1 * 2 + 1 for a rate)
        assert _error(**{name: low}) is None and _error(**{name: high}) is None, name
    radios = {block.elem_id: block for block in demo.blocks.values() if isinstance(block, gr.Radio)}
    for name, choices in (("decoder", DECODERS), ("answer_order", ANSWER_ORDERS)):
        offered = [value for _, value in radios[f"own-{name.replace('_', '-')}"].choices]
        assert offered == list(choices)  # every choice the trainer takes, and only those
        assert all(_error(**{name: value}) is None for value in offered)
        assert _error(**{name: "other"}) is not None


FIRST = ("digits", "operators", "terms", "cell", "units", "seconds")  # settings_error's positional arguments


def _error(**given) -> str | None:
    """web/training_run.py's check of a small training with `given` changed (the later settings as keywords)."""
    from web import training_run

    values = {"digits": 1, "operators": ["+"], "terms": 2, "cell": "lstm", "units": 8, "seconds": 5, **given}
    first = [values.pop(name) for name in FIRST]
    return training_run.settings_error(*first, **values)


def fresh_model(runs: list[Path], tmp_path: Path) -> ServedModel:
    """A served copy of add2 in its own run folder (OwnModels deletes a dropped model's run folder)."""
    runs.append(Path(tempfile.mkdtemp(dir=tmp_path)))
    shutil.copytree(ZOO_DIR / "add2", runs[-1] / "model")
    return ServedModel("yours", load_model_dir(runs[-1] / "model"), "trained here")


def test_one_visitors_trainings_push_out_only_their_own_models(tmp_path):
    """8 new models from one session leave another session's model in place."""

    runs: list[Path] = []

    def served() -> ServedModel:
        return fresh_model(runs, tmp_path)

    own = OwnModels()
    theirs = own.add(served(), owner="them")
    mine = [own.add(served(), owner="me") for _ in range(8)]
    assert own.get(theirs) is not None and runs[0].exists(), "another visitor's model was pushed out"
    kept = OwnModels.PER_OWNER
    assert all(own.get(name) is not None for name in mine[-kept:])
    assert all(own.get(name) is None for name in mine[:-kept]) and not any(r.exists() for r in runs[1:-kept])
    assert len(own.models) == 1 + kept


def test_one_address_with_many_sessions_pushes_out_only_its_own_models(tmp_path):
    """Trainings from one address, each from a fresh session, push out none of another visitor's models:
    an address keeps PER_ADDRESS models and pushes out its own oldest."""
    runs: list[Path] = []
    own = OwnModels()
    theirs = own.add(fresh_model(runs, tmp_path), owner="them", address="127.0.0.2")
    mine = [
        own.add(fresh_model(runs, tmp_path), owner=f"tab-{i}", address="127.0.0.3") for i in range(OwnModels.MAX_OWN)
    ]
    assert own.get(theirs) is not None and runs[0].exists(), "another address's model was pushed out"
    kept = OwnModels.PER_ADDRESS
    assert [own.get(name) is not None for name in mine] == [False] * (len(mine) - kept) + [True] * kept
    assert len(own.models) == 1 + kept


def test_stop_before_the_trainer_has_its_settings_says_it_was_stopped():
    """Stop pressed before the warm trainer has its settings says the training was stopped (not that the
    request could not be read): the trainer reads the stop line where it waits for the settings."""
    from web.trainer_process import spawn

    trainer = spawn([sys.executable, "-m", "trainer.live", "--warm"])
    try:
        assert trainer.stdout is not None and trainer.stdin is not None
        assert json.loads(trainer.stdout.readline())["event"] == "ready"
        trainer.stdin.write("stop\n")
        trainer.stdin.flush()
        last = json.loads(trainer.stdout.readline())
        assert trainer.wait(60) == 0
    finally:
        trainer.kill()
        trainer.wait()
    assert last == {"event": "error", "message": "The training was stopped before it started; nothing was trained."}


def test_a_model_opened_by_its_link_stays_in_the_sessions_pickers(tmp_path, monkeypatch):
    """A page opened with someone's ?model= link keeps that model in its pickers after it trains its own
    (the done line lists names_of(session)); the remembered sessions are bounded; on a Space the link is the
    Space's own page, elsewhere this page."""
    from model.serving import load_catalogue
    from web import own_link
    from web.service import Service

    runs: list[Path] = []
    service = Service(load_catalogue(None, None, []))
    theirs = service.own.add(fresh_model(runs, tmp_path), owner="them", address="127.0.0.2")
    picker, *_ = own_link.open_link(service, theirs, "visitor")
    assert picker.value == theirs
    mine = service.own.add(fresh_model(runs, tmp_path), owner="visitor", address="127.0.0.3")
    assert service.own.names_of("visitor") == [theirs, mine]
    assert service.own.names_of("them") == [theirs]
    monkeypatch.setattr(OwnModels, "MAX_OPENED", 3)
    for i in range(5):
        service.own.open(theirs, f"other-{i}")
    assert len(service.own.opened) == 3 and "visitor" not in service.own.opened  # the oldest forgotten first

    assert own_link.reopen_url(mine) == f"?model={mine}"
    monkeypatch.setenv("SPACE_ID", "someone/arithmetic")
    assert own_link.reopen_url(mine) == f"https://huggingface.co/spaces/someone/arithmetic?model={mine}"
    assert 'target="_blank"' in str(own_link.reopen_link(mine))
    monkeypatch.setenv("SPACE_ID", 'x"/><script>')  # not an owner/name: the page's own link
    assert own_link.reopen_url(mine) == f"?model={mine}"
