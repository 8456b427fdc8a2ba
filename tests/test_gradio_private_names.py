"""The private Gradio names web/gradio_internals.py reads, checked on the installed Gradio without a server.

tests/test_gradio_internals.py checks the version and drives the queue; these
check the shapes the guard's call checks and a session's choices rely on, so
an upgrade that renames one fails here, in moments, not in production.
"""

from __future__ import annotations

import gradio as gr
from gradio.data_classes import PredictBody
from gradio.queueing import Queue
from gradio.state_holder import SessionState

from web import gradio_internals as gi


def test_the_call_fields_the_guard_checks_are_gradios_own():
    fields = PredictBody.model_fields
    assert set(gi.CALL_FIELDS) <= set(fields), set(gi.CALL_FIELDS) - set(fields)
    assert PredictBody(data=["535+61"], fn_index=3, session_hash="s").fn_index == 3


def test_a_sessions_copy_of_a_component_holds_its_choices_where_session_choices_reads_them():
    with gr.Blocks() as demo:
        picker = gr.Dropdown(choices=[("Model A", "a"), "b"], value="a")
    assert isinstance(demo.state_holder.session_data, dict)
    state = SessionState(demo)
    demo.state_holder.session_data["s"] = state
    assert gi.session_choices(demo, "s", picker._id) == ["a", "b"]
    assert gi.session_choices(demo, "unknown", picker._id) is None and gi.session_choices(demo, None, 0) is None


def test_the_queue_keeps_undelivered_event_ids_per_session_where_parked_sessions_drops_them():
    queue = Queue(False, 1, 1, 4, gr.Blocks())
    assert isinstance(queue.pending_event_ids_session, dict)
