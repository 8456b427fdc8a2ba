"""Write the model card (README.md) that goes to the Hub with a trained model.

The YAML front matter makes the Hub show the model as a Keras model with its
measured accuracy (`model-index`); the body says what the model does (digits,
terms, operators, cell), how to use it with nothing but Keras and numpy (the
snippet is character-based, so it works for any task), how it was trained and
how well it did, leading with the headline figure (model.metrics.headline:
every question when they were all asked, else held-out). Everything is read
from plain dicts (task_config.json, network.json, metrics.json, history.json),
so rendering needs no TensorFlow.
"""

from __future__ import annotations

import json

from huggingface_hub import EvalResult, ModelCardData

from model.config import NetworkConfig, TaskConfig
from model.metrics import headline, not_held_out, percent
from model.questions import answers, example_questions, parse_question

from .card_steps import DESIGN, step_lines, steps_snippet

TASK_TYPE = "text2text-generation"
CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
CELL_WITH_ARTICLE = {"lstm": "an LSTM", "gru": "a GRU", "simple_rnn": "a SimpleRNN"}
OPERATOR_WORDS = {"+": ("addition", "add"), "-": ("subtraction", "subtract"), "*": ("multiplication", "multiply")}


def describe_task(task: dict) -> dict:
    """The sizes a user needs to encode a question, as the TaskConfig derives them."""
    config = TaskConfig.from_dict(task)
    return {
        "digits": config.digits,
        "terms": config.terms,
        "fewest_terms": config.fewest_terms,
        "operators": config.operators,
        "max_term": config.max_term,
        "smallest": config.smallest,
        "question_length": config.question_length,
        "answer_length": config.answer_length,
        "negative_answers": config.negative_answers,
    }


def example_question(task: dict) -> str:
    """A question this model can answer, e.g. "535+61" for 3-digit sums, "5+1" for 1 digit."""
    return example_questions(TaskConfig.from_dict(task), 1)[0]


def example_answer(task: dict) -> int:
    config = TaskConfig.from_dict(task)
    return int(answers(parse_question(example_question(task), config))[0])


def skill(task: dict) -> str:
    """What the model learned, in words: "to add", "to subtract", "arithmetic (+ - *)"."""
    operators = TaskConfig.from_dict(task).operators
    if len(operators) == 1:
        return "to " + OPERATOR_WORDS[operators][1]
    return f"arithmetic ({' '.join(operators)})"


def dataset_name(task: dict) -> str:
    """What the questions are, e.g. "2-digit sums", "2-digit 2-to-4-term questions (+ - *)"."""
    sizes = describe_task(task)
    terms = (
        ""
        if sizes["terms"] == 2 and sizes["fewest_terms"] == 2
        else (
            f" {sizes['terms']}-term"
            if sizes["fewest_terms"] == sizes["terms"]
            else f" {sizes['fewest_terms']}-to-{sizes['terms']}-term"
        )
    )
    kind = "sums" if sizes["operators"] == "+" else f"questions ({' '.join(sizes['operators'])})"
    return f"{sizes['digits']}-digit{terms} {kind}"


def _tags(task: dict, net: dict) -> list[str]:
    operators = TaskConfig.from_dict(task).operators
    cell = net.get("cell", "lstm")
    return [
        "keras",
        cell.replace("_", "-"),
        "seq2seq",
        "arithmetic",
        *(OPERATOR_WORDS[op][0] for op in operators),
        "tensorflow",
    ]


def _card_data(repo_id: str, task: dict, net: dict, metrics: dict) -> ModelCardData:
    accuracy, _ = headline(metrics)  # the exhaustive figure whenever every question was asked
    every = isinstance(metrics.get("exhaustive_total"), int) and metrics["exhaustive_total"] > 0
    results = []

    def result(name: str, split: str, metric_type: str, metric_name: str, value: float) -> EvalResult:
        return EvalResult(
            task_type=TASK_TYPE,
            task_name="Arithmetic",
            dataset_type="synthetic-arithmetic",
            dataset_name=name,
            dataset_split=split,
            metric_type=metric_type,
            metric_name=metric_name,
            metric_value=round(float(value), 6),
        )

    if every and accuracy is not None:
        results.append(
            result(
                f"all {dataset_name(task)}", "every question", "exact_match", "Exact match on every question", accuracy
            )
        )
    held = "held-out" if metrics.get("heldout_disjoint", True) else "random, not held out"
    name = f"random {dataset_name(task)} ({held})"
    if isinstance(metrics.get("heldout_exact_match"), (int, float)):
        results.append(result(name, held, "exact_match", "Held-out exact match", metrics["heldout_exact_match"]))
        if isinstance(metrics.get("heldout_char_accuracy"), (int, float)):
            results.append(
                result(name, held, "accuracy", "Held-out character accuracy", metrics["heldout_char_accuracy"])
            )
    # model_name only names the model-index entry; without results it would be a stray key.
    return ModelCardData(
        library_name="keras",
        license="apache-2.0",
        tags=_tags(task, net),
        model_name=repo_id if results else None,
        eval_results=results or None,
    )


def _usage(repo_id: str, task: dict, net: dict) -> str:
    """The Hub card's snippet: the model and its task_config.json fetched from the Hub, then `codec`."""
    load = f"""import json
import keras
import numpy as np
from huggingface_hub import hf_hub_download

model = keras.saving.load_model("hf://{repo_id}")
with open(hf_hub_download("{repo_id}", "task_config.json")) as f:
    task = json.load(f)
"""
    return codec(load, task, net)


def codec(load: str, task: dict, net: dict) -> str:
    """A Python snippet, after the `load` lines (which set `model` and `task`): one question encoded exactly
    as in training, the answer decoded, and printed."""
    sizes = describe_task(task)
    if TaskConfig.from_dict(task).rewrites:
        from model.step_predictor import max_passes

        config = TaskConfig.from_dict(task)
        return steps_snippet(
            load, example_question(task), config.question_length, config.answer_length, max_passes(config)
        )
    attention = NetworkConfig.from_dict(net).decoder == "attention"
    lsb = TaskConfig.from_dict(task).answer_order == "lsb"
    if attention:
        decode = f"""# Decode greedily: at each step the decoder reads the character it wrote at the step before.
steps = {sizes["answer_length"]}
previous = np.zeros((1, steps, len(alphabet)), dtype="float32")
for step in range(steps):
    probabilities = model.predict([x, previous], verbose=0)[0]
    if step + 1 < steps:
        previous[0, step + 1, probabilities[step].argmax()] = 1.0
"""
    else:
        decode = """# Decode: the most likely character at each answer position.
probabilities = model.predict(x, verbose=0)[0]
"""
    written = 'written = "".join(alphabet[i] for i in probabilities.argmax(axis=-1))\n'
    if lsb:
        written += "answer = written[::-1].strip()  # it writes the units first (and a minus sign last)\n"
    else:
        written += "answer = written.strip()  # a minus sign leads a negative answer\n"
    return f'''```python
{load}
# Encode a question exactly as in training: pad to a fixed length, maybe reverse, one-hot.
question = "{example_question(task)}"
length = {sizes["question_length"]}  # characters in the longest question ({sizes["terms"]} numbers)
text = question.ljust(length) if task["padding"] == "right" else question.rjust(length)
if task["reverse"]:
    text = text[::-1]
alphabet = task["alphabet"]
x = np.zeros((1, length, len(alphabet)), dtype="float32")
for position, char in enumerate(text):
    x[0, position, alphabet.index(char)] = 1.0

{decode}{written}print(question, "=", answer)
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
    accuracy, measured_on = headline(metrics)
    if accuracy is not None:
        lines.append(f"- **Headline:** {percent(accuracy)} right ({measured_on})")
    if isinstance(metrics.get("heldout_exact_match"), (int, float)):
        size = metrics.get("heldout_size")
        of = f" of {size:,}" if isinstance(size, int) else ""
        if metrics.get("heldout_disjoint", True):
            lines.append(f"- **Held-out exact match:** {percent(metrics['heldout_exact_match'])}{of} unseen questions")
        else:
            lines.append(
                f"- **Exact match on random questions:** {percent(metrics['heldout_exact_match'])}{of} "
                f"({not_held_out(metrics.get('polish_rounds'))})"
            )
    if isinstance(metrics.get("heldout_char_accuracy"), (int, float)):
        lines.append(f"- **Held-out character accuracy:** {percent(metrics['heldout_char_accuracy'])}")
    per_position = metrics.get("heldout_per_position_accuracy")
    if isinstance(per_position, list) and per_position:
        lines.append("- **Per answer position:** " + ", ".join(percent(p) for p in per_position))
    per_terms = metrics.get("per_term_count")
    if isinstance(per_terms, dict) and per_terms:
        lines.append(
            "- **By number of terms:** "
            + "; ".join(f"{k} terms {percent(v['exact_match'])} of {v['size']:,}" for k, v in sorted(per_terms.items()))
        )
    lines += step_lines(metrics)
    total = metrics.get("exhaustive_total")
    if isinstance(total, int) and total > 0:
        wrong = metrics.get("exhaustive_wrong", 0) or 0
        sizes = describe_task(task)
        lines.append(
            f"- **Exhaustive verification:** {wrong:,} wrong out of all {total:,} questions "
            f"with numbers from {sizes['smallest']} to {sizes['max_term']} "
            f"({percent((total - wrong) / total)} exact)"
        )
    elif isinstance(metrics.get("sample_size"), int) and metrics["sample_size"] > 0:
        lines.append(
            f"- **Random pool:** {metrics.get('sample_wrong', 0):,} wrong of {metrics['sample_size']:,} "
            "questions (the task has too many to ask them all)"
        )
    for key, label in (
        ("epochs", "Epochs"),
        ("samples_seen", "Training samples seen"),
        ("train_seconds", "Training time (seconds)"),
    ):
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
    last = {
        k: v[-1]
        for k, v in history.items()
        if ("loss" in k or "acc" in k or "exact" in k) and isinstance(v, list) and v and isinstance(v[-1], (int, float))
    }
    if not last:
        return []
    # Accuracies as percentages with enough decimals that 99.998% never reads as 100%.
    shown = [f"{k} {v * 100:.4f}%" if ("acc" in k or "exact" in k) else f"{k} {v:.4g}" for k, v in sorted(last.items())]
    return ["", "Last epoch: " + ", ".join(shown) + "."]


def _what_it_does(task: dict, net: dict) -> str:
    sizes = describe_task(task)
    network = NetworkConfig.from_dict(net)
    cell = CELL_NAMES[network.cell]
    layers = (
        ""
        if network.encoder_layers == network.decoder_layers == 1
        else f", {network.encoder_layers} encoder and {network.decoder_layers} decoder layers"
    )
    count = (
        f"exactly {sizes['terms']}"
        if sizes["fewest_terms"] == sizes["terms"]
        else f"{sizes['fewest_terms']} to {sizes['terms']}"
    )
    ops = " ".join(f"`{op}`" for op in sizes["operators"])
    precedence = " (`*` before `+` and `-`)" if "*" in sizes["operators"] and len(sizes["operators"]) > 1 else ""
    negative = " Answers may be negative." if sizes["negative_answers"] else ""
    if network.decoder == "attention":
        kind = "Luong (dot-product)" if network.attention == "dot" else "Bahdanau (additive)"
        between = (
            f"; the decoder reads the character it wrote before and attends over every encoder state with "
            f"{kind} attention"
        )
    else:
        between = ", with `RepeatVector` between them"
    order = (
        " It writes the answer units first (a minus sign last); shown the usual way round."
        if TaskConfig.from_dict(task).answer_order == "lsb"
        else ""
    )
    brackets = " Brackets group numbers, as in `(12+7)*3`." if TaskConfig.from_dict(task).brackets else ""
    if TaskConfig.from_dict(task).rewrites:
        order = DESIGN
    return (
        f"A sequence-to-sequence {cell} ({network.encoder_units} units in the encoder, "
        f"{network.decoder_units} in the decoder{layers}{between}), grown from the "
        f"keras.io [addition example](https://keras.io/examples/nlp/addition_rnn/). It reads a question such as "
        f"`{example_question(task)}` character by character and writes the answer (`{example_answer(task)}`), "
        f"one character per step. A question is {count} whole numbers from {sizes['smallest']} to "
        f"{sizes['max_term']}, joined by {ops}{precedence}.{brackets}{negative}{order} Anything else is outside "
        "what it learned."
    )


def render_model_card(
    repo_id: str,
    task: dict,
    metrics: dict,
    history: dict | None = None,
    has_curve: bool = False,
    net: dict | None = None,
) -> str:
    """The full README.md text for `repo_id`."""
    net = net if net is not None else NetworkConfig().to_dict()
    training = metrics.get("training") if isinstance(metrics.get("training"), dict) else {}
    versions = ", ".join(
        f"{name} {metrics[key]}"
        for key, name in (("keras_version", "Keras"), ("tensorflow_version", "TensorFlow"))
        if metrics.get(key)
    )
    cell = CELL_WITH_ARTICLE[NetworkConfig.from_dict(net).cell]
    parts = [
        "---",
        _card_data(repo_id, task, net, metrics).to_yaml(),
        "---",
        "",
        f"# {repo_id.split('/')[-1]}: {cell} that learned {skill(task)}",
        "",
        _what_it_does(task, net),
        "",
        "## Use it",
        "",
        "The weights are Keras 3's own format, so Keras loads them directly. `task_config.json` says how "
        "a question is written for the network:",
        "",
        _usage(repo_id, task, net),
        "",
        "## Results",
        "",
        *_results(metrics, task),
        *_final_epoch(history),
        "",
    ]
    if has_curve:
        parts += ["![Training curve](training_curve.png)", ""]
    parts += ["## Task configuration", "", *_table(task), "", "## Network", "", *_table(net), ""]
    if training:
        parts += ["## Training configuration", "", *_table(training), ""]
    if versions:
        parts += [f"Trained with {versions}.", ""]
    return "\n".join(parts)


def render_folder_readme(folder: str, task: dict, metrics: dict, net: dict | None = None) -> str:
    """A short README.md for a model folder handed out on its own (Train your own's download): what the model
    is, how well it did and on what, and how to load it with plain Keras from the unpacked `folder`."""
    net = net if net is not None else NetworkConfig().to_dict()
    accuracy, measured_on = headline(metrics)
    seconds = metrics.get("train_seconds")
    epochs = metrics.get("epochs")
    trained = (
        f"It trained for {_fmt(seconds)} seconds" + (f" ({_fmt(epochs)} epochs)" if epochs is not None else "") + "."
        if isinstance(seconds, (int, float))
        else ""
    )
    scored = f"{percent(accuracy)} right ({measured_on})." if accuracy is not None else "No accuracy was recorded."
    load = f"""import json
import keras
import numpy as np

model = keras.saving.load_model("{folder}")  # this folder: config.json and model.weights.h5
with open("{folder}/task_config.json") as f:
    task = json.load(f)
"""
    return "\n".join(
        [
            f"# {folder}: {CELL_WITH_ARTICLE[NetworkConfig.from_dict(net).cell]} that learned {skill(task)}",
            "",
            _what_it_does(task, net),
            "",
            " ".join(part for part in (f"Task: {dataset_name(task)}.", trained, f"Accuracy: {scored}") if part),
            "",
            "## Load it with plain Keras",
            "",
            "The weights are Keras 3's own format, so Keras loads the folder directly (run this where the zip was "
            "unpacked). "
            "`task_config.json` says how a question is written for the network:",
            "",
            codec(load, task, net),
            "",
        ]
    )
