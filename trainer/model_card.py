"""Write the model card (README.md) that goes to the Hub with a trained model.

The YAML front matter makes the Hub show the model as a Keras model with its
measured accuracy (`model-index`); the body says what the model does, how to use
it with nothing but Keras and numpy, how it was trained and how well it did.
Everything is read from plain dicts (task_config.json, metrics.json,
history.json), so rendering needs no TensorFlow.
"""

from __future__ import annotations

import json

from huggingface_hub import EvalResult, ModelCardData

from model.config import TaskConfig

TAGS = ["keras", "lstm", "seq2seq", "addition", "arithmetic", "tensorflow"]
TASK_TYPE = "text2text-generation"


def describe_task(task: dict) -> dict:
    """The sizes a user needs to encode a question, as the TaskConfig derives them."""
    config = TaskConfig.from_dict(task)
    return {"digits": config.digits, "terms": config.terms, "max_term": config.max_term,
            "smallest": config.smallest, "question_length": config.question_length,
            "answer_length": config.answer_length}


def example_question(task: dict) -> str:
    """A question this model can answer, e.g. "535+61" for 3 digits, "5+1" for 1 digit."""
    sizes = describe_task(task)
    picks = [535, 61, 7, 98, 4, 26, 3, 80, 9][:sizes["terms"]]
    return "+".join(str(max(sizes["smallest"], p % (sizes["max_term"] + 1))) for p in picks)


def dataset_name(task: dict) -> str:
    sizes = describe_task(task)
    numbers = "" if sizes["terms"] == 2 else f" {sizes['terms']}-term"
    return f"random {sizes['digits']}-digit{numbers} sums (held-out)"


def _card_data(repo_id: str, task: dict, metrics: dict) -> ModelCardData:
    common = dict(task_type=TASK_TYPE, task_name="Addition", dataset_type="synthetic-addition",
                  dataset_name=dataset_name(task), dataset_split="held-out")
    results = []
    if isinstance(metrics.get("heldout_exact_match"), (int, float)):
        results.append(EvalResult(**common, metric_type="exact_match", metric_name="Held-out exact match",
                                  metric_value=round(float(metrics["heldout_exact_match"]), 6)))
        if isinstance(metrics.get("heldout_char_accuracy"), (int, float)):
            results.append(EvalResult(**common, metric_type="accuracy", metric_name="Held-out character accuracy",
                                      metric_value=round(float(metrics["heldout_char_accuracy"]), 6)))
    # model_name only names the model-index entry; without results it would be a stray key.
    return ModelCardData(library_name="keras", license="apache-2.0", tags=TAGS,
                         model_name=repo_id if results else None, eval_results=results or None)


def _usage(repo_id: str, task: dict) -> str:
    sizes = describe_task(task)
    example = example_question(task)
    return f'''```python
import json
import keras
import numpy as np
from huggingface_hub import hf_hub_download

model = keras.saving.load_model("hf://{repo_id}")
with open(hf_hub_download("{repo_id}", "task_config.json")) as f:
    task = json.load(f)

# Encode a question exactly as in training: pad to a fixed length, maybe reverse, one-hot.
question = "{example}"
length = {sizes["question_length"]}  # terms * digits of the largest term + the "+" signs
text = question.ljust(length) if task["padding"] == "right" else question.rjust(length)
if task["reverse"]:
    text = text[::-1]
alphabet = task["alphabet"]
x = np.zeros((1, length, len(alphabet)), dtype="float32")
for position, char in enumerate(text):
    x[0, position, alphabet.index(char)] = 1.0

# Decode: the most likely character at each answer position.
probabilities = model.predict(x, verbose=0)[0]
answer = "".join(alphabet[i] for i in probabilities.argmax(axis=-1)).strip()
print(question, "=", answer)
```'''


def _fmt(value) -> str:
    if value is None or isinstance(value, bool) or (isinstance(value, str) and value != value.strip()):
        return json.dumps(value)  # as in the JSON files: null, true, " +0123456789"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _results(metrics: dict, task: dict) -> list[str]:
    lines = []
    if isinstance(metrics.get("heldout_exact_match"), (int, float)):
        size = metrics.get("heldout_size")
        of = f" of {size:,} unseen questions" if isinstance(size, int) else " on unseen questions"
        lines.append(f"- **Held-out exact match:** {metrics['heldout_exact_match']:.4%}{of}")
    if isinstance(metrics.get("heldout_char_accuracy"), (int, float)):
        lines.append(f"- **Held-out character accuracy:** {metrics['heldout_char_accuracy']:.4%}")
    per_position = metrics.get("heldout_per_position_accuracy")
    if isinstance(per_position, list) and per_position:
        lines.append("- **Per answer position:** " + ", ".join(f"{p:.2%}" for p in per_position))
    total = metrics.get("exhaustive_total")
    if isinstance(total, int) and total > 0:
        wrong = metrics.get("exhaustive_wrong", 0) or 0
        sizes = describe_task(task)
        lines.append(f"- **Exhaustive verification:** {wrong:,} wrong out of all {total:,} questions "
                     f"with terms from {sizes['smallest']} to {sizes['max_term']} "
                     f"({(total - wrong) / total:.4%} exact)")
    for key, label in (("epochs", "Epochs"), ("samples_seen", "Training samples seen"),
                       ("train_seconds", "Training time (seconds)")):
        if metrics.get(key) is not None:
            lines.append(f"- **{label}:** {_fmt(metrics[key])}")
    return lines or ["No measurements were recorded with this model."]


def _table(rows: dict) -> list[str]:
    out = ["| Setting | Value |", "|---|---|"]
    out += [f"| {key} | {_fmt(value)} |" for key, value in rows.items() if not isinstance(value, (dict, list))]
    return out


def _final_epoch(history: dict | None) -> list[str]:
    if not isinstance(history, dict):
        return []
    # Losses and accuracies only: the history also tracks e.g. samples seen and elapsed time.
    last = {k: v[-1] for k, v in history.items() if ("loss" in k or "acc" in k or "exact" in k)
            and isinstance(v, list) and v and isinstance(v[-1], (int, float))}
    if not last:
        return []
    # Accuracies as percentages with enough decimals that 99.998% never reads as 100%.
    shown = [f"{k} {v * 100:.4f}%" if ("acc" in k or "exact" in k) else f"{k} {v:.4g}" for k, v in sorted(last.items())]
    return ["", "Last epoch: " + ", ".join(shown) + "."]


def render_model_card(repo_id: str, task: dict, metrics: dict, history: dict | None = None,
                      has_curve: bool = False) -> str:
    """The full README.md text for `repo_id`."""
    sizes = describe_task(task)
    example = example_question(task)
    answer = sum(int(t) for t in example.split("+"))
    training = metrics.get("training") if isinstance(metrics.get("training"), dict) else {}
    versions = ", ".join(f"{name} {metrics[key]}" for key, name in
                         (("keras_version", "Keras"), ("tensorflow_version", "TensorFlow")) if metrics.get(key))
    parts = [
        "---", _card_data(repo_id, task, metrics).to_yaml(), "---", "",
        f"# {repo_id.split('/')[-1]}: an LSTM that learned to add", "",
        f"A sequence-to-sequence LSTM (encoder, `RepeatVector`, decoder) in the style of the keras.io "
        f"[addition example](https://keras.io/examples/nlp/addition_rnn/). It reads a question such as "
        f"`{example}` character by character and writes the sum (`{answer}`), one character per step. It adds "
        f"{sizes['terms']} whole numbers from {sizes['smallest']} to {sizes['max_term']}; anything else "
        "is outside what it learned.", "",
        "## Use it", "",
        "The weights are Keras 3's own format, so Keras loads them directly. `task_config.json` says how "
        "a question is written for the network:", "",
        _usage(repo_id, task), "",
        "## Results", "", *_results(metrics, task), *_final_epoch(history), "",
    ]
    if has_curve:
        parts += ["![Training curve](training_curve.png)", ""]
    parts += ["## Task configuration", "", *_table(task), ""]
    if training:
        parts += ["## Training configuration", "", *_table(training), ""]
    if versions:
        parts += [f"Trained with {versions}.", ""]
    return "\n".join(parts)
