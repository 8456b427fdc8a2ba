"""HTML from templates that escape every value they print: the one way the views write markup.

Each view's markup is a Jinja2 template with autoescape on. A value printed in
a template is escaped (`escape`) unless it is markupsafe.Markup, and only a
rendered template is Markup: so one template's output can be put inside
another's without being escaped twice, and anything else (a visitor's text,
a model repo's strings, a number) is always shown as text, never as markup.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

# Gradio's gr.HTML fills its own templates with ${…}, {{…}} and backquoted strings: these characters in a
# value must stay text there too.
_GRADIO_TEMPLATE_CHARS = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"})


def escape(value: object) -> Markup:
    """A value as HTML text: markup characters and the characters Gradio's HTML templates treat specially
    escaped; a rendered template (Markup) as it is."""
    if isinstance(value, Markup):
        return value
    # Markup: the text was escaped on this line, so it is safe to print as it is.
    return Markup(html.escape(str(value), quote=True).translate(_GRADIO_TEMPLATE_CHARS))


# finalize runs on every value a template prints, before autoescape: escape() also neutralises the characters
# Gradio's templates read, which autoescape alone would leave, and leaves nothing for autoescape to change.
_ENVIRONMENT = Environment(autoescape=True, finalize=escape, undefined=StrictUndefined, keep_trailing_newline=False)
# A template cannot mark a value safe (no |safe): only Python code can, with Markup and a comment saying why.
del _ENVIRONMENT.filters["safe"]
# Jinja's join escapes with markupsafe's spelling; this one escapes each value as every other value is.
_ENVIRONMENT.filters["join"] = lambda values, separator="": escape(separator).join(escape(v) for v in values)


def template(source: str) -> Callable[..., Markup]:
    """A renderer for `source`: call it with the template's values as keyword arguments."""
    compiled = _ENVIRONMENT.from_string(source)

    def render(**values: Any) -> Markup:
        # Markup: the template escaped every value it printed (escape, above) and the rest is its own text.
        return Markup(compiled.render(**values))

    return render
