"""Labels a person reads: no header says a word twice, and a long number or text is quoted with an ellipsis.

Every view is rendered as the page renders it, through the real service on bundled models and on a
model served from a folder (whose name is its path's last part); every heading, table header, caption
and bold lead in that HTML, and every label, tab and Markdown heading of the app's Blocks, is read word by
word. The quoting helper (model/quoting.py) is checked on its own and where a visitor's text is quoted:
the parser's refusals, the verdict, the encoding panel. No server, no browser: tests/test_browser_fit.py
checks the same on the page.
"""

from __future__ import annotations

import re
import shutil
import time
from html.parser import HTMLParser
from itertools import pairwise

import pytest

from model.questions import InputError, parse_question, parse_whole_number
from model.quoting import ELLIPSIS, LONG_NUMBER, LONG_TEXT, quoted
from model.serving import load_catalogue
from web import about, compare, inside, learning, many, one_sum, question_map
from web.chart import chart_html
from web.results import task_summary
from web.service import Service

ZOO = "model/zoo"
# Words a header may use twice ("a question of the task, the answer"): only a content word said twice is a repeat.
FUNCTION_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "is", "it", "its", "of", "on", "or"}
FUNCTION_WORDS |= {"than", "the", "to", "with"}
HEADER_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "th", "figcaption", "caption", "b", "strong", "label"}


# Quoting ------------------------------------------------------------------------------------------
def test_a_long_number_is_quoted_by_its_ends():
    assert quoted("12345678901234567890") == f"12345{ELLIPSIS}890"
    assert quoted("12345678901234567890+7") == f"12345{ELLIPSIS}890+7"  # each number on its own
    assert quoted("9" * LONG_NUMBER) == "9" * LONG_NUMBER  # a number this long is still shown whole
    assert quoted("(12+345)*678") == "(12+345)*678"  # every question of the bundled tasks is short


def test_a_long_text_keeps_its_start_and_end_within_the_limit():
    text = "abc " * 50 + "END"
    shown = quoted(text)
    assert len(shown) == LONG_TEXT and shown.startswith("abc abc") and shown.endswith("END")
    assert ELLIPSIS in shown
    assert quoted("1" * 80, 60, numbers=False) == "1" * 39 + ELLIPSIS + "1" * 20  # an API field's numbers stay
    assert quoted(None) == "None" and quoted(2.5) == "2.5"  # anything else as its repr


def test_a_huge_text_is_quoted_quickly_and_short():
    start = time.perf_counter()
    shown = quoted("7" * 5_000_000 + "x" * 5_000_000)
    assert time.perf_counter() - start < 1.0
    assert len(shown) <= LONG_TEXT and shown.startswith("77777" + ELLIPSIS) and shown.endswith("xxx")


def test_the_parser_quotes_a_long_number_it_refuses_by_its_ends():
    task = load_catalogue(extra=[]).models["add3"].task
    with pytest.raises(InputError) as refused:
        parse_question("123456789012345678901234567+5", task)
    assert str(refused.value).startswith(f"12345{ELLIPSIS}567 is outside what this model learned")
    with pytest.raises(InputError) as refused:
        parse_whole_number("98765432109876543210987654321x", "The seed", 0, 9)
    assert f"98765{ELLIPSIS}321x" in str(refused.value)


def test_the_verdict_and_encoding_quote_a_long_question_and_keep_it_whole_in_a_title(service):
    result = service.predict("535+61", "add3")
    long = "12345678901234567890+61"  # as a model of long numbers would answer it: only the quoting differs
    result = {**result, "question": long, "true_answer": 12345678901234567951, "correct": False}
    verdict = one_sum.verdict_html(result)
    assert f'title="{long}">12345{ELLIPSIS}890+61 = </span>' in verdict
    assert f"the true answer is 12345{ELLIPSIS}951 (" in verdict
    assert f'title="{long}">12345{ELLIPSIS}890+61</b>' in one_sum.encoding_html(result, service.resolve("add3").task)
    assert '<span class="mono">535+61 = </span>' in one_sum.verdict_html(service.predict("535+61", "add3"))
    refused = service.predict("1" * 30 + "+1", "add3")
    assert f"11111{ELLIPSIS}111 is outside" in one_sum.verdict_html(refused)
    assert f'title="{"1" * 30}+1"' in one_sum.verdict_html(refused)  # the whole question, on the sentence


# Headers ------------------------------------------------------------------------------------------
class Headers(HTMLParser):
    """The text of every header element in a piece of HTML (nested ones are read with their parent)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = (dict(attrs).get("class") or "").split()
        legend = "keys" in classes  # a chart's legend is a list of names: each of them is read as one header
        if (tag in HEADER_TAGS and not legend) or {"title", "key"} & set(classes) or self.depth:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.found.append("".join(self.text).strip())
                self.text = []

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def headers_of(html: str) -> list[str]:
    parser = Headers()
    parser.feed(str(html))
    return [h for h in parser.found if h]


def repeated_words(header: str) -> list[str]:
    """The words a header says twice: any word twice in a row, or a content word anywhere twice. A path or
    a name is read part by part ("runs/add4" is "runs", "add4"), so a name said again inside a path counts."""
    words = [w for w in re.split(r"[\s,;:()/·=@.\[\]]+", header.lower()) if re.search(r"[a-z]", w)]
    twice = [a for a, b in pairwise(words) if a == b]
    content = [w for w in words if w not in FUNCTION_WORDS]
    return sorted(set(twice) | {w for w in content if content.count(w) > 1})


def test_the_repeat_check_finds_a_word_said_twice():
    assert repeated_words("What it answers, position by position") == ["position"]
    assert repeated_words("Model model") == ["model"]
    assert repeated_words("my-adder (/tmp/x/my-adder)") == ["my-adder"]
    assert repeated_words("the the") == ["the"]
    assert repeated_words("What each answer character depends on") == []
    assert repeated_words("After epoch 20 of 20") == []  # numbers are not words
    assert headers_of('<div><b>Step <i>1</i></b> text <th class="x">A B</th><div class="title">T</div></div>') == [
        "Step 1",
        "A B",
        "T",
    ]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The bundled zoo and one model served from a folder, named after the folder, as `app.py --models` does."""
    folder = tmp_path_factory.mktemp("runs") / "my-adder"
    shutil.copytree(f"{ZOO}/add3", folder)
    return Service(load_catalogue(extra=[str(folder)]))


def every_view(service: Service, name: str) -> list[str]:
    """Every view's HTML for one model, as its tab draws it."""
    served = service.resolve(name)
    question = service.examples(name)[0]
    result = service.predict(question, name)
    _, traced, traces = service.trace(question, name)
    read, written = traced["network_input"], traced["answer_text"]
    confidence = [p["confidence"] for p in traced["positions"]]
    info = service.model_info(name)
    views = [
        one_sum.verdict_html(result),
        one_sum.encoding_html(result, served.task),
        one_sum.positions_html(result),
        inside.depends_html(service.attribution(question, name)),
        inside.states_html(traces, served.unit_orders, read, written, 0, ["cell", "gates"], traced["attention"]),
        inside.step_text(traces, read, written, confidence, len(read), name, traced["attention"]),
        many.table_summary(table := service.random_sums(12, 7, name)),
        many.table_html(table),
        compare.compare_one_html(service.compare(question, name, "add3"), name, "add3"),
        compare.compare_random_html(service.compare_random(12, 1, name, "add3"), name, "add3"),
        about.model_line(info, task_summary(served)),
        about.model_html(info),
    ]
    if served.learning is not None:
        views += [chart_html(c) for c in learning.charts(served.learning)] + [
            learning.probe_html(served.learning, served.learning.epochs)
        ]
    if served.question_map is not None:
        views += [question_map.map_html(served.question_map, served.task), question_map.lists_html(served.question_map)]
    if served.task.brackets:
        views.append(question_map.patterns_html(service.patterns(name)))
    return [str(v) for v in views]


@pytest.mark.parametrize("name", ["add3", "add3-attention", "mixed3", "rnn3", "my-adder"])
def test_no_header_of_any_view_says_a_word_twice(service, name):
    headers = [h for html in every_view(service, name) for h in headers_of(html)]
    assert len(headers) > 20  # the views were read
    assert {h: repeated_words(h) for h in headers if repeated_words(h)} == {}


def test_a_folder_model_is_named_once_in_the_model_line(service):
    line = about.model_line(service.model_info("my-adder"), task_summary(service.resolve("my-adder")))
    assert line.count("my-adder") == 1 and "runs" in line  # its path, which ends in its name


def test_no_label_tab_or_heading_of_the_app_says_a_word_twice():
    import app

    texts = []
    for block in app.demo.blocks.values():
        label = getattr(block, "label", None)
        if isinstance(label, str):
            texts.append(label)
        value = getattr(block, "value", None)
        if type(block).__name__ == "Markdown" and isinstance(value, str):
            texts += [line.lstrip("#").strip() for line in value.splitlines() if line.startswith("#")]
    assert {"One question", "Model", "Model A", "What the network reads"} <= set(texts)  # tabs, labels, headings
    assert {t: repeated_words(t) for t in texts if repeated_words(t)} == {}
