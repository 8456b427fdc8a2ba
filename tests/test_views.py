"""What the page shows is true of the chosen model, in words a person reads: the views as pure functions.

Everything here runs on the bundled zoo through the real service (no server,
no browser); tests/test_browser_tabs.py checks the same things on the page.
"""

from __future__ import annotations

import gc
import re

import numpy as np
import pandas as pd
import pytest

from model.question_map import QuestionMap
from model.questions import InputError, parse_question
from model.serving import load_catalogue
from web import about, chart, compare, controls, inside, learning, many, map_picture, one_sum, question_map
from web.html import margin_palette
from web.service import Service


@pytest.fixture(scope="module")
def service():
    return Service(load_catalogue(extra=[]))


# Wording and numbers ------------------------------------------------------------------------------
def wrong_result(service: Service, question: str, model: str, answer: str) -> dict:
    """A real /predict result with the model's answer replaced, so the verdict has positions to mark."""
    result = service.predict(question, model)
    for position, char in zip(result["positions"], answer, strict=True):
        position["char"], position["wrong"] = char, char != position["true_char"]
    result.update(answer_text=answer, answer=int(answer), correct=False)
    return result


def test_the_verdict_says_position_or_positions_as_the_count_needs(service):
    one = one_sum.verdict_html(wrong_result(service, "535+61", "add3", "586 "))
    two = one_sum.verdict_html(wrong_result(service, "535+61", "add3", "486 "))
    assert "(position 2 differs)" in one
    assert "(positions 1, 2 differ)" in two
    assert "(s)" not in one + two


def test_no_view_writes_a_bracketed_plural(service):
    info = service.model_info("add3")
    assert info["network"]["encoder_layers"] == 1
    panel = about.model_html(info)
    assert "1 encoder layer of" in panel and "1 decoder layer of" in panel
    summary = many.table_summary(service.predict_batch("535+61\nabc", "add3"))
    assert "1 line not accepted" in summary
    assert "2 lines not accepted" in many.table_summary(service.predict_batch("535+61\nabc\nx", "add3"))
    with pytest.raises(InputError, match=r"\(3 digits at most\)"):
        parse_question("1000+1", service.resolve("add3").task)
    with pytest.raises(InputError, match="the character 'a';"):
        parse_question("5+a", service.resolve("add3").task)
    with pytest.raises(InputError, match="the characters 'a' 'b';"):
        parse_question("b+a", service.resolve("add3").task)
    for html in (panel, summary):
        assert "(s)" not in html


def test_inside_the_network_rounds_confidence_as_one_question_does(service):
    served, result, traces = service.trace("535+61", "add3")
    sure = 0.99991  # 99.991%: "100.0%" rounded up, which the One question tab never writes
    result["positions"][0]["confidence"] = sure
    read, written = result["network_input"], result["answer_text"]
    step = inside.step_text(traces, read, written, [sure] * len(written), len(read), served.name)
    positions = one_sum.positions_html(result)
    assert "99.99% sure" in step and "99.99%" in positions
    assert "100.0%" not in step and ">100.0%<" not in positions.split("</tr>")[1]


def test_examples_fit_every_model(service):
    for name in service.names():
        task = service.resolve(name).task
        examples = service.examples(name)
        for question in examples:
            parse_question(question, task)  # each is a question this model answers
        widest = max(len(t) for t in re.split(r"[+*-]", examples[0]))
        assert widest == task.digits, (name, examples)  # add5 leads with 5 digits, not 535+61
    assert service.examples("add5")[0] != "535+61"


# Views that follow the model -----------------------------------------------------------------------
def test_each_answer_names_the_model_that_gave_it(service):
    assert 'data-model="add5"' in one_sum.verdict_html(service.predict("535+61", "add5"))
    refused = service.predict("535+61", "mul2")
    assert refused["error"] and 'data-model="mul2"' in one_sum.verdict_html(refused, "mul2")
    summary = many.table_summary(service.random_sums(5, 1, "gru3"))
    assert 'data-model="gru3"' in summary and "answered by <b>gru3</b>" in summary
    assert "mul2" in many.cleared("mul2")[0] and many.cleared("mul2")[1] == ""
    assert "Model B is now sub3" in compare.cleared("B", "sub3")


# Compare ----------------------------------------------------------------------------------------
def test_compare_counts_refused_questions_apart_from_disagreements(service):
    html = compare.compare_random_html(service.compare_random(200, 1, "add3", "sub3"), "add3", "sub3")
    counts = re.search(r'id="compare-counts">(.*?)</div>', html)[1]
    assert "sub3 cannot answer these: 200" in counts
    assert "disagree on 0 of the 0 questions both answered" in counts
    assert 'class="refused"' in html and 'class="differ"' not in html


def test_compare_lists_the_differing_rows_first_under_a_sticky_header(service):
    data = service.compare_random(100, 0, "add3", "keras-io")
    kinds = [compare.row_kind(a, b) for a, b in zip(data["a"]["rows"], data["b"]["rows"], strict=True)]
    assert kinds.index("differ") > 0 and "agree" in kinds  # keras-io misses 2 of these 100 (seed 0)
    html = compare.compare_random_html(data, "add3", "keras-io")
    shown = re.findall(r'<tr class="(differ|refused|agree)">', html)
    assert shown == sorted(kinds, key=("differ", "refused", "agree").index)
    assert f"they disagree on {kinds.count('differ')} of the 100 questions both answered" in html
    assert "<thead>" in html and "position: sticky" in compare.COMPARE_CSS


# The map --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "block", "phrase"),
    [
        (-5, 0, 100, "goes from 0 to 999, so -5 is outside"),
        (0, 1000, 100, "second number goes from 0 to 999, so 1,000 is outside"),
        (2.5, 0, 100, "whole number from 0 to 999, not 2.5"),
        (None, 0, 100, "Type where the first number should start"),
        ("abc", 0, 100, "not abc"),
        (float("nan"), 0, 100, "not nan"),
        (float("inf"), 0, 100, "not inf"),
        (True, 0, 100, "not True"),
        (0, 0, 7, "block size is one of 25, 50, 100, 200"),
        (0, 0, "x" * 5000, "block size is one of"),
    ],
)
def test_a_bad_zoom_gets_one_sentence(service, a, b, block, phrase):
    why = question_map.zoom_request(service.resolve("add3").question_map, a, b, block)
    assert isinstance(why, str) and phrase in why and why.count(". ") == 0


def test_the_zoom_caption_says_which_block_is_shown_and_both_maps_have_ticks(service):
    served = service.resolve("add3")
    block = question_map.zoom_request(served.question_map, 900, 0, 100)
    assert block == (0, 900, 100)
    html = question_map.map_html(served.question_map, served.task, block)
    assert "first number 900–999, second 0–99" in html
    assert re.findall(r'class="xticks"[^>]*>(.*?)</div>', html)[0].count("<span") >= 3
    whole = question_map.map_html(served.question_map, served.task)
    xticks = re.findall(r">(\d+)</span>", re.search(r'class="xticks"[^>]*>(.*?)</div>', whole)[1])
    yticks = re.findall(r">(\d+)</span>", re.search(r'class="yticks"[^>]*>(.*?)</div>', whole)[1])
    assert xticks == yticks == ["0", "250", "500", "750"]
    # A block at the edge is shown whole, ending at the edge, and the caption says where.
    edge = question_map.map_html(
        served.question_map, served.task, question_map.zoom_request(served.question_map, 950, 0, 100)
    )
    assert "first number 900–999" in edge


def test_the_map_colours_show_structure_among_right_answers(service):
    space = service.resolve("add3").question_map
    assert len(space.wrong) == 0
    palette = margin_palette()
    colours = {tuple(c) for c in palette[np.unique(space.margin)]}
    assert len(colours) > 20  # a linear scale painted nearly all of them one teal
    # The two commonest margins (0.992 and 1.0 once quantised) get visibly different colours.
    assert np.abs(palette[254].astype(int) - palette[255].astype(int)).sum() > 40
    assert "log scale of 1 − margin" in question_map.map_html(space, service.resolve("add3").task)


def test_a_slider_value_out_of_range_reaches_the_view_which_says_so():
    controls.install_patches()  # as app.build_demo does
    step = controls.lenient_slider(1, 11, value=1, step=1)
    assert step.preprocess(50) == 50  # gr.Slider itself raises here, which the page shows as a bare "Error"
    assert controls.in_range(50, 1, 11, "step") == (11, "The step is a whole number from 1 to 11, not 50: showing 11.")
    assert controls.in_range(2.5, 1, 11, "step")[0] == 1 and controls.in_range(4.0, 1, 11, "step") == (4, "")


def tiny_map(value: int) -> QuestionMap:
    axis = np.arange(4)
    return QuestionMap(
        axis,
        axis.copy(),
        np.full((4, 4), value, np.uint8),
        np.zeros((0, 2), np.int32),
        np.zeros((0, 3), np.float32),
        np.zeros((4, 4, 0), np.int64),
        np.zeros((4, 4, 1), np.int8),
        True,
    )


def test_the_map_picture_cache_is_keyed_by_content_and_bounded():
    map_picture._PICTURES.items.clear()
    first = tiny_map(255)
    old_id, old_picture = id(first), map_picture.whole_picture(first)[0]
    del first
    gc.collect()
    # A new map often lands at a freed one's address; an id-keyed cache then showed the dropped map.
    for _ in range(200):
        second = tiny_map(130)
        if id(second) == old_id:
            break
    assert map_picture.whole_picture(second)[0] != old_picture
    assert map_picture.whole_picture(tiny_map(255))[0] == old_picture  # the same content draws the same picture
    for value in range(128, 128 + 3 * map_picture.PICTURES_KEPT):
        map_picture.whole_picture(tiny_map(value))
    assert len(map_picture._PICTURES) == map_picture.PICTURES_KEPT


# Charts ---------------------------------------------------------------------------------------------
def y_positions(html: str) -> list[float]:
    return [float(y) for path in re.findall(r'<path d="([^"]+)"', html) for y in re.findall(r",([0-9.]+)", path)]


def test_each_learning_chart_has_one_quantity_its_series_named_in_full_and_whole_epochs(service):
    record = service.resolve("add3").learning
    drawn = learning.charts(record)
    assert [c.y_title for c in drawn] == [
        "loss (log scale)",
        "% wrong (log scale)",
        "count (log scale)",
        "% right (held-out)",
    ]
    for c in drawn:
        html = chart.chart_html(c)
        for line in c.series:  # every series named in full under its chart
            assert f"</i>{line.name}</span>" in html
        epochs = re.findall(r'text-anchor="middle">(\d+)</text>', html)
        assert epochs and all(1 <= int(e) <= record.epochs for e in epochs)
        assert all(chart.TOP - 0.01 <= y <= chart.HEIGHT - chart.BOTTOM + 0.01 for y in y_positions(html))  # inside
    counts = chart.chart_html(drawn[2])
    labels = re.findall(r'text-anchor="end">([0-9,.]+)</text>', counts)
    assert labels[0] == "0" and "1,000" in labels  # a log axis that reaches 0: the count falls from 447 to 0
    digits = [s.name for s in drawn[3].series]
    assert digits == ["answer digit 1 (leftmost)", "answer digit 2", "answer digit 3", "answer digit 4 (rightmost)"]


def test_a_model_that_writes_units_first_has_its_answer_digits_named_by_column(service):
    """Its per-position accuracies are in the order it writes: units first, so "leftmost" would be wrong."""
    record = service.resolve("add3").learning  # a real record; only the order the positions were written in differs
    digits = [s.name for s in learning.charts(record, answer_order="lsb")[3].series]
    assert digits == [
        "answer units (written first)",
        "answer tens",
        "answer hundreds",
        "answer thousands (written last)",
    ]


def test_a_chart_of_a_model_that_was_not_measured_says_so(service):
    record = service.resolve("mixed3").learning
    count = learning.charts(record)[2]
    assert count.series == [] and "Not measured" in chart.chart_html(count)


def test_the_shared_epoch_plot_draws_a_long_table_as_train_your_own_yields_it():
    learning.install_patches()  # as app.build_demo does
    plot = learning.epoch_plot("Held-out exact match and wrong on the map", "%", "own-test")
    rows = pd.DataFrame(
        {"epoch": [1, 1, 2, 2], "value": [40.0, 60.0, 80.0, 20.0], "series": ["held-out exact %", "wrong %"] * 2}
    )
    rebuilt = type(plot)(**{**plot.constructor_args, "render": False})  # as Gradio rebuilds a session's copy
    for component in (plot, rebuilt):
        html = component.postprocess(rows)
        assert "<svg" in html and "</i>held-out exact %</span>" in html and "</i>wrong %</span>" in html
        assert "Held-out exact match and wrong on the map" in html
    assert plot.postprocess("<b>text</b>") == "<b>text</b>"


def test_every_cell_is_spelled_as_keras_spells_it_in_the_header_and_the_model_tab(service):
    """The header spells a cell as the picker and Train your own do: SimpleRNN, not SIMPLE_RNN."""
    info = service.model_info("rnn3")
    line = about.model_line(info, "3-digit sums")
    page = about.model_html(info)
    assert "SimpleRNN 128/128" in line and "SimpleRNN:" in page
    assert "SIMPLE_RNN" not in line + page and "simple_rnn" not in line + page
    assert "LSTM 128/128" in about.model_line(service.model_info("add3"), "3-digit sums")


def test_the_replay_marks_the_epoch_whose_weights_are_served(service):
    """keras-io trains 30 epochs and keeps epoch 26's weights (its best held-out figure): the charts mark 26
    and the probe panel says which epoch is served, not the last one."""
    from model.learning_record import served_epoch

    keras_io = service.resolve("keras-io")
    assert served_epoch(keras_io.learning, keras_io.stored.metrics) == 26
    add3_attention = service.resolve("add3-attention")  # ties on held-out: the every-question count decides
    assert served_epoch(add3_attention.learning, add3_attention.stored.metrics) == 59
    drawn = learning.charts(keras_io.learning, served=26)
    for c in drawn:  # every chart with a line (keras-io's count was not taken after each epoch)
        html = chart.chart_html(c)
        assert ('class="marked"' in html and "epoch 26: the weights served" in html) == bool(c.series)
    assert "These are the weights the model serves." in learning.probe_html(keras_io.learning, 26, served=26)
    assert "serves epoch 26&#x27;s weights" in learning.probe_html(keras_io.learning, 30, served=26)


def test_the_count_chart_says_what_it_counted_and_what_the_final_check_found(service):
    keras_io = service.resolve("keras-io")  # every question listable, but not counted after each epoch
    note = chart.chart_html(
        learning.charts(keras_io.learning, counted=learning.Counted.from_metrics(keras_io.stored.metrics))[2]
    )
    assert "only when every question can be asked" not in note  # keras-io's can be: that was the untrue reason
    assert "only when it has a margin target or draws hard questions" in note
    assert "found 3,431 wrong of every question" in note
    add5 = service.resolve("add5")  # a pool stands for its 10**10 questions: the count is the pool's
    counted = learning.Counted.from_metrics(add5.stored.metrics)
    count = learning.charts(add5.learning, counted=counted)[2]
    assert count.title == "How many pool questions are wrong"
    assert count.series and "pool of 500,000" in count.series[0].name


def test_random_questions_are_drawn_uniformly_and_the_accuracy_says_so(service):
    """A random draw is every number equally likely, not the training mix (half of it a random length,
    which leans to short numbers): about 1% of add3's numbers have one digit, not about 17%."""
    drawn = service.random_sums(500, 3, "add3")
    numbers = [int(n) for row in drawn["rows"] for n in row["question"].split("+")]
    assert sum(n < 10 for n in numbers) / len(numbers) < 0.05
    assert "valid questions right; drawn uniformly at random, every number equally likely" in many.table_summary(drawn)
    assert "drawn uniformly" not in many.table_summary(service.predict_batch("1+2\n3+4", "add3"))
