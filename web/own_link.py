"""A visitor's model reached by its link: the ?model=<name> address a finished training shows, and what a
page opened with it chooses (web/train_own.py wires both into the tab)."""

from __future__ import annotations

import os
import re

import gradio as gr
from markupsafe import Markup

from .html import message
from .own_models import OwnModels
from .picker import picker_choices
from .service import Service
from .templates import template

_LINK = template(
    'a page opened with <a id="own-link" href="{{ url }}"{% if space %} target="_blank" rel="noopener"{% endif %}>'
    "?model={{ model }}</a> shows it for {{ minutes }} minutes from its training"
)
SPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")  # owner/name


def reopen_url(name: str) -> str:
    """The address that reopens a visitor's model: on a Hugging Face Space (which sets SPACE_ID) the Space's
    own page, which hands its query to the app; the app's address inside the Space's frame would leave the
    page a visitor shares. Elsewhere this page, with ?model=<name>."""
    space = os.environ.get("SPACE_ID", "")
    return f"https://huggingface.co/spaces/{space}?model={name}" if SPACE_ID.fullmatch(space) else f"?model={name}"


def reopen_link(name: str) -> Markup:
    """The words and the link that reopen a visitor's model."""
    space = SPACE_ID.fullmatch(os.environ.get("SPACE_ID", "")) is not None
    return _LINK(url=reopen_url(name), space=space, model=name, minutes=OwnModels.OWN_SECONDS // 60)


OWN_NAME = re.compile(r"yours-[0-9a-f]{12}")  # the names web/own_models.py gives
_OPENED = template('<div class="panel" id="own-opened"><b>{{ model }}</b>, trained here: {{ link }}.</div>')


def open_link(service: Service, name: object, session: str) -> tuple:
    """A page's ?model=<name>: that model chosen in the picker (every tab follows it) and in Compare's A, and
    offered in B, and kept there after the session trains its own; an own model's status line shows its link.
    Updates for (picker, A, B, status, note).

    A name the server does not have gets one sentence in `note` and the default model; it is never shown."""
    if name is None:
        return (gr.skip(),) * 5
    names = service.names()
    if isinstance(name, str) and name in names:
        return gr.Dropdown(value=name), gr.Dropdown(value=name), gr.skip(), gr.skip(), gr.skip()
    if isinstance(name, str) and OWN_NAME.fullmatch(name) and service.own.get(name) is not None:
        service.own.open(name, session)
        choices = [*names, name]
        return (
            gr.Dropdown(choices=picker_choices(service, [name]), value=name),
            gr.Dropdown(choices=choices, value=name),
            gr.Dropdown(choices=choices),
            _OPENED(model=name, link=reopen_link(name)),
            gr.skip(),
        )
    why = (
        f"The link names no model on this server (a model trained here is kept {OwnModels.OWN_SECONDS // 60} "
        f"minutes), so this page shows {service.default}."
    )
    return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.HTML(message(why, "warn"), visible=True)
