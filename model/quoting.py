"""How a visitor's text is quoted in a sentence or a heading: long numbers and long texts cut in the middle.

A 20-digit number or a pasted paragraph quoted in full stretches a line past a
phone's screen and buries the sentence around it, while cutting only its end
hides how it ends (the last digits of a number are often what matters). So a
quote keeps both ends around an ellipsis, "12345…789"; the full value stays
where it came from (the input box, the API's own fields, a title attribute).
"""

from __future__ import annotations

import re

LONG_NUMBER = 12  # digits: a longer run of digits is quoted as its first and last few
NUMBER_ENDS = (5, 3)  # digits kept before and after the ellipsis: "12345…789"
LONG_TEXT = 40  # characters: a longer text is quoted as its start and its end
ELLIPSIS = "…"

_DIGIT_RUN = re.compile(rf"[0-9]{{{LONG_NUMBER + 1},}}")


def cut_middle(text: str, head: int, tail: int) -> str:
    """`text` as its first `head` and last `tail` characters around an ellipsis (as it is if that is no shorter)."""
    if len(text) <= head + tail + len(ELLIPSIS):
        return text
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def quoted(text: object, limit: int = LONG_TEXT, numbers: bool = True) -> str:
    """`text` as a sentence quotes it: every number longer than LONG_NUMBER digits cut to its ends (unless not
    `numbers`: an API field echoing a question keeps its numbers whole), then the whole cut to at most
    `limit` characters, keeping about two thirds from its start and the rest from its end. Anything but a
    string is quoted as its repr."""
    text = text if isinstance(text, str) else repr(text)
    if len(text) > 50 * limit:  # only the ends are kept: don't scan megabytes for them
        text = text[: 25 * limit] + ELLIPSIS + text[-25 * limit :]
    if numbers:
        text = _DIGIT_RUN.sub(lambda run: cut_middle(run[0], *NUMBER_ENDS), text)
    if len(text) <= limit:
        return text
    head = (2 * (limit - len(ELLIPSIS))) // 3
    return cut_middle(text, head, limit - len(ELLIPSIS) - head)
