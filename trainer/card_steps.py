"""What a model card says about a model with written steps (steps "rewrite", model/steps.py): one sentence
on the design, its step figures, and the snippet that answers with plain Keras by feeding the network's
own output back, as the app does (model/step_predictor.py)."""

from __future__ import annotations

from model.metrics import percent

DESIGN = (
    " It shows its work: each pass maps an expression to the expression after one operation (the bracket "
    "first, then a `*`, then left to right; a product of two 2+-digit numbers first as the sum of its "
    "partial products), and its own output is fed back until it writes a plain number. Every number is "
    "written units first, its sign in front; shown the usual way round."
)


def step_lines(metrics: dict) -> list[str]:
    """The model card's lines for the written steps' figures, when metrics.json has them."""
    lines = []
    if isinstance(metrics.get("heldout_steps_exact_match"), (int, float)):
        lines.append(
            f"- **Held-out, every written step right:** {percent(metrics['heldout_steps_exact_match'])} "
            "(exact match above is the final answer reached by feeding back)"
        )
    if isinstance(metrics.get("steps_wrong"), int):
        lines.append(f"- **Questions with a written step wrong:** {metrics['steps_wrong']:,} (the check above)")
    return lines


def steps_snippet(load: str, question: str, length: int, answer_length: int, passes: int) -> str:
    """A Python snippet, after the `load` lines (which set `model` and `task`): one question worked step by
    step, each step encoded, answered greedily and fed back, exactly as in training."""
    return f'''```python
{load}
import re

alphabet = task["alphabet"]
length = {length}  # characters in the longest expression it reads (and writes: {answer_length})


def units_first(text):  # every number's digits reversed: "12*34-56" -> "21*43-65" (and back)
    return re.sub(r"[0-9]+", lambda m: m.group(0)[::-1], text)


def one_pass(text):
    x = np.zeros((1, length, len(alphabet)), dtype="float32")
    for position, char in enumerate(text.ljust(length)):
        x[0, position, alphabet.index(char)] = 1.0
    previous = np.zeros((1, {answer_length}, len(alphabet)), dtype="float32")
    for step in range({answer_length}):  # greedy: the decoder reads the character it wrote before
        probabilities = model.predict([x, previous], verbose=0)[0]
        if step + 1 < {answer_length}:
            previous[0, step + 1, probabilities[step].argmax()] = 1.0
    return "".join(alphabet[i] for i in probabilities.argmax(axis=-1)).rstrip()


question = "{question}"
text = units_first(question)
for _ in range({passes}):  # one operation per pass, fed back until a plain number is written
    text = one_pass(text)
    print(units_first(text))
    if re.fullmatch(r"-?[0-9]+", text):
        break
```'''
