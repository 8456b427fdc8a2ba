"""What each function of the page accepts, checked against every call's data before Gradio sees it.

Any visitor can POST any JSON as a call's `data`, for any function: by its
name (/gradio_api/run/…, /call/…) or by its `fn_index` (/queue/join), the
page's private events included. Gradio's own checks then answer badly: a
Radio or Dropdown sent a 90 kB string puts all of it into its error ("Value …
is not in the list of choices"), a Dataset sent an index past its samples, or
a handler sent a type it never gets from the page, raises inside the server.
So the guard (web/guard.py) checks each call here first, from the page's
config alone (its dependencies and their input components), and refuses a bad
one with one sentence that names the input and never repeats the value.

Per input component: a Textbox takes text up to its own max_length (the app
sets one on every box: 200 for a question, 20,000 for a batch); a Number or
Slider a finite number within its range (a slider whose handler checks the
value itself, web/controls.py's lenient ones, or whose range changes at
run time, only a finite number); a Dropdown, Radio or CheckboxGroup one of
its configured choices, except where a handler changes its choices at run
time (it is some event's output, like the model picker, which gains a
visitor's own model): then any short text, and the handler answers anything
else in one sentence; a Checkbox true or false; a Dataset the index of one
of its samples. Anything else (gr.State, the JSON API's inputs, which its
functions check themselves) is not checked here. Null is accepted for every
input: the guard pads a short call's data with nulls.

/call/v2/{name} takes keyword arguments, not `data`: there the name is checked
(it must be a public endpoint) and the arguments' names (each one the
endpoint's, none it needs missing); their values are API inputs, checked by
their functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .controls import LENIENT
from .service import MAX_BATCH_CHARS

Test = Callable[[Any, list | None], bool]  # (value, the choices the session's copy holds now) -> whether it passes
ChoicesNow = Callable[[int], list | None]  # component id -> its choices' values in the caller's session (None: none)

MAX_TEXT_CHARS = MAX_BATCH_CHARS  # a Textbox with no max_length of its own (none in this app)
MAX_CUSTOM_CHARS = 200  # a value typed into a Dropdown that takes custom values (Gradio checks nothing then)


def finite_number(value: Any) -> bool:
    """A JSON number a float can hold: not a bool, not NaN or infinite, not an integer past float's range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def plain(test: Callable[[Any], bool]) -> Test:
    """A test that does not depend on the session (every component's but a changing choice's)."""
    return lambda value, now: test(value)


@dataclass(frozen=True)
class InputCheck:
    """One input component's check: `test` passes its value (never null: null always passes, as `empty`)."""

    name: str  # what the refusal calls it, e.g. 'the "Model" input'
    wanted: str  # what it takes, e.g. "one of its listed choices"
    test: Test
    empty: Any = None  # what null stands for: Gradio itself fails on a null CheckboxGroup or checked Slider
    component: int | None = None  # the component's id, where its choices change at run time

    def problem(self, value: Any, choices_now: ChoicesNow) -> str | None:
        if value is None or self.test(value, None if self.component is None else choices_now(self.component)):
            return None
        return f"{self.name[0].upper()}{self.name[1:]} takes {self.wanted}."


def number_check(props: dict, *, ranged: bool) -> tuple[str, Test]:
    low, high = props.get("minimum"), props.get("maximum")
    if not ranged or (low is None and high is None):
        return "a finite number", plain(finite_number)

    def test(value: Any, now: list | None) -> bool:
        return finite_number(value) and (low is None or value >= low) and (high is None or value <= high)

    if low is not None and high is not None:
        return f"a number from {low:g} to {high:g}", test
    return (f"a number of at least {low:g}" if low is not None else f"a number of at most {high:g}"), test


def choice_values(props: dict) -> list[Any]:
    """The values (not the labels) of a component's configured choices: [[label, value], ...] in the config."""
    return [c[1] if isinstance(c, list | tuple) and len(c) == 2 else c for c in props.get("choices") or []]


def choices_check(props: dict, *, changing: bool, many: bool) -> tuple[str, Test]:
    """One choice (or, `many`, a list of them): among the configured ones or, where they change at run time,
    those the caller's session holds now: Gradio checks a value against the session's copy of the component,
    made from the configured one when the session starts, which a handler may replace."""
    values = choice_values(props)
    custom = bool(props.get("allow_custom_value"))

    def among(value: Any, choices: list) -> bool:
        # `value in choices` would match 1 to True and 1.0 to 1; a choice is what the page sends, type and all
        return any(type(value) is type(v) and value == v for v in choices)

    def one(value: Any, now: list | None) -> bool:
        custom_text = custom and isinstance(value, str) and len(value) <= MAX_CUSTOM_CHARS
        return among(value, values if now is None or not changing else now) or custom_text

    if not many:
        return "one of its choices", one

    def several(value: Any, now: list | None) -> bool:
        if not isinstance(value, list):
            return False
        held = values if now is None or not changing else now
        fits = custom or len(value) <= len(held)  # each choice at most once, as the page sends them
        return fits and all(one(v, now) for v in value)

    return "a list of its choices", several


def component_check(component: dict, *, changing: bool) -> InputCheck | None:
    """The check for one input component of the config, or None for one not checked here."""
    kind, props = component.get("type"), component.get("props") or {}
    label = props.get("label") or props.get("elem_id") or kind
    name = f'the "{label}" input'
    wanted: str
    test: Test
    empty: Any = None
    if kind == "textbox":
        most = props.get("max_length") or MAX_TEXT_CHARS
        wanted, test = f"text of at most {most:,} characters", plain(lambda v: isinstance(v, str) and len(v) <= most)
    elif kind == "number":
        wanted, test = number_check(props, ranged=not changing)
    elif kind == "slider":
        ranged = not (changing or LENIENT in (props.get("elem_classes") or []))
        wanted, test = number_check(props, ranged=ranged)
        if ranged:  # Gradio compares the value with the range itself; null stands for where the slider starts
            empty = props.get("value")
    elif kind in ("dropdown", "radio"):
        many = bool(props.get("multiselect"))
        wanted, test = choices_check(props, changing=changing, many=many)
        empty = [] if many else None
    elif kind == "checkboxgroup":
        wanted, test = choices_check(props, changing=changing, many=True)
        empty = []  # nothing ticked: Gradio iterates the value
    elif kind == "checkbox":
        wanted, test = "true or false", plain(lambda v: isinstance(v, bool))
    elif kind == "dataset":
        # Gradio indexes its samples with the value; the app's example sets keep their size across models
        count = len(props.get("samples") or [])
        wanted = f"the index of one of its {count} examples"
        test = plain(lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < count)
    else:
        return None
    choices_change = changing and kind in ("dropdown", "radio", "checkboxgroup")
    return InputCheck(name, wanted, test, empty, component.get("id") if choices_change else None)


@dataclass(frozen=True)
class FunctionSchema:
    """One function of the page: its name (None for an unnamed one), fn_index and a check per input."""

    name: str | None
    index: int
    inputs: tuple[InputCheck | None, ...]
    public: bool
    batch: bool = False  # Gradio's batch=True: a batched call's data holds a list of values per input
    keywords: tuple[str, ...] = ()  # a public endpoint's parameter names, in order (what /call/v2 takes)
    required: frozenset[str] = frozenset()  # ... those without a default

    def keyword_problem(self, arguments: dict) -> str | None:
        """One sentence saying what is wrong with a /call/v2 body's keyword arguments, else None (Gradio's own
        check raised, a 500, on an unknown or missing one)."""
        for key in arguments:
            if key not in self.keywords and key != "oauth_token":
                shown = key if len(key) <= 40 else key[:39] + "…"
                return f"This endpoint takes no argument named {shown!r}; it takes {', '.join(self.keywords)}."
        missing = [key for key in self.keywords if key in self.required and key not in arguments]
        if missing:
            return f"This endpoint needs the argument {missing[0]!r}."
        return None

    @property
    def arity(self) -> int:
        return len(self.inputs)

    def filled(self, data: list) -> list:
        """The data with each null (a short call's padding included) replaced by what it stands for."""
        empties = [None if check is None else check.empty for check in self.inputs]
        return [empties[i] if value is None and i < len(empties) else value for i, value in enumerate(data)]

    def problem(
        self, data: list, *, batched: bool = False, choices_now: ChoicesNow = lambda component: None
    ) -> str | None:
        """One sentence saying what is wrong with a call's data (already padded with nulls), else None;
        `choices_now` gives the choices the caller's session holds for a component whose choices change."""
        if len(data) > self.arity:
            return f"This function takes {self.arity} input{'' if self.arity == 1 else 's'}, not {len(data)}."
        batched = batched and self.batch  # Gradio ignores `batched` for a function that is not batched
        if batched and not all(isinstance(column, list) for column in data):
            return "A batched call's data holds a list of values for each input."
        for check, value in zip(self.inputs, data, strict=False):
            for one in value if batched else [value]:
                why = check.problem(one, choices_now) if check is not None else None
                if why:
                    return why
        return None


@dataclass(frozen=True)
class CallSchema:
    """Every function of the page, by fn_index and by name, with what each input accepts."""

    by_index: dict[int, FunctionSchema]
    by_name: dict[str, FunctionSchema]

    @classmethod
    def of_config(cls, config: dict) -> CallSchema:
        components = {c["id"]: c for c in config.get("components", [])}
        # A component some event outputs can be handed new choices or a new range for one session at run time.
        changing = {cid for dep in config.get("dependencies", []) for cid in dep.get("outputs", [])}
        by_index: dict[int, FunctionSchema] = {}
        for dep in config.get("dependencies", []):
            checks = tuple(
                component_check(components.get(cid, {}), changing=cid in changing) for cid in dep.get("inputs", [])
            )
            name = dep.get("api_name") or None
            public = dep.get("api_visibility", "public") == "public"
            by_index[dep["id"]] = FunctionSchema(name, dep["id"], checks, public, batch=bool(dep.get("batch")))
        return cls(by_index, {fn.name: fn for fn in by_index.values() if fn.name})

    @classmethod
    def of(cls, demo: Any) -> CallSchema:
        """From a built gr.Blocks: its config as the page receives it, and its API's parameter names."""
        schema = cls.of_config(demo.config or demo.get_config_file())
        endpoints = demo.get_api_info(all_endpoints=True)["named_endpoints"]
        for name, fn in list(schema.by_name.items()):
            parameters = endpoints.get("/" + name, {}).get("parameters", [])
            named = replace(
                fn,
                keywords=tuple(p["parameter_name"] for p in parameters),
                required=frozenset(p["parameter_name"] for p in parameters if not p.get("parameter_has_default")),
            )
            schema.by_name[name] = schema.by_index[fn.index] = named
        return schema

    def function(self, *, name: str | None, index: object) -> tuple[FunctionSchema | None, int, str | None]:
        """(the function a call is for, 200, None), or (None, status, one sentence) when it names none.
        A call's fn_index wins over the name in its path, as it does in Gradio."""
        if index is not None:
            fn = self.by_index.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
            if fn is None:
                return None, 400, "The call's fn_index names no function of this app."
            return fn, 200, None
        if name is None:
            return None, 400, "A queue join must name its function by fn_index."
        if name not in self.by_name:
            return None, 404, "This app has no API endpoint by that name."
        return self.by_name[name], 200, None
