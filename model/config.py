"""What a model does and what it is made of: TaskConfig and NetworkConfig, with bounds.

One `TaskConfig` travels with every trained model (`task_config.json`) so the
trainer, the Hub loader and the app agree on exactly what the network reads and
writes: how many digits and terms, which operators, reversal, padding, alphabet.
One `NetworkConfig` (`network.json`) says which network our own builder makes:
the recurrent cell, units and layers. Both are plain data with a JSON round trip
and one-sentence validation, and every size is bounded, because a model folder
may come from a stranger's Hub repo: nothing here may describe a network or a
question space too large for the machine that serves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from . import brackets as bracketing
from . import cells
from . import steps as stepping
from .bounds import Bound, bounds, declared, first_problem, problem
from .config_files import ConfigError, JsonFile

PAD = " "
OPERATORS = "+-*"  # the operators a task may use; op codes in arrays index this string
DIGITS = "0123456789"
BRACKETS = "()"
ALLOWED_CHARS = PAD + OPERATORS + DIGITS + BRACKETS
SAMPLINGS = ("digits", "uniform", "mixed")
PADDINGS = ("right", "left")
STEPS = ("none", "rewrite")  # how the network answers: in one pass, or one operation per pass (model/steps.py)
ANSWER_ORDERS = ("msb", "lsb")  # the order the network writes an answer's digits: most or least significant first
CELLS = tuple(cells.CELLS)  # "lstm", "gru", "simple_rnn"
DECODERS = cells.DECODERS  # "repeat", "attention"
ATTENTIONS = tuple(cells.ATTENTIONS)  # "dot" (Luong), "additive" (Bahdanau)

MAX_DIGITS = 9
MAX_TERMS = 18
MAX_UNITS = 512
MAX_LAYERS = 4
MAX_VALUE = 10**18  # every answer and every question index must stay below this (int64-safe)


def _check(condition: bool, message: str, field: str | None = None) -> None:
    if not condition:
        raise ConfigError(message, field)


def _whole(name: str, value: object, low: int, high: int, high_text: str = "") -> None:
    """`name` must be an int (not a bool) from low to high: for bounds that depend on other fields."""
    sentence = problem(name, value, Bound("", low=low, high=high, high_text=high_text))
    _check(sentence is None, sentence or "", name)


def _declared_fields_fit(config: TaskConfig | NetworkConfig, names: tuple[str, ...]) -> None:
    found = first_problem(config, type(config), names)
    if found is not None:
        raise ConfigError(found[1], found[0])


def default_alphabet(operators: str, brackets: bool = False) -> str:
    """Pad, the task's operators (and '-' for negative answers), then the digits (then the brackets)."""
    return PAD + "".join(op for op in OPERATORS if op in operators) + DIGITS + (BRACKETS if brackets else "")


@dataclass(frozen=True)
class TaskConfig(JsonFile):
    """What one model learned to do: each field's meaning and bounds are declared with it (model/bounds.py).

    The question is fed reversed when `reverse` ("535+61 " is read as " 16+535"), which shortens the path
    from a digit to its column's answer. With answer_order "lsb" the answer is written units first and the
    sign after the digits ("-42" is written "24-"), so each digit comes after the carry it depends on.
    Folders from before `answer_order` and `brackets` existed mean "msb" and no brackets.

    With steps "rewrite" the network writes its work: each pass maps an expression to the expression
    after one operation (`12*34-56` -> `(84+063)-65`), its own output is fed back until it writes a plain
    number (model/steps.py). The design writes its own text, fixed as part of it: every number units
    first with its sign in front, products of two 2+-digit numbers as partial products, right padding,
    the alphabet `steps.ALPHABET`; `reverse`, `answer_order` and `padding` do not apply. Folders from
    before `steps` existed mean "none".
    """

    WHAT: ClassVar[str] = "task config"
    digits: int = declared(3, Bound("most digits per number", low=1, high=MAX_DIGITS))
    terms: int = declared(2, Bound("most numbers in a question", low=2, high=MAX_TERMS))
    reverse: bool = declared(True, Bound("feed the question reversed, as keras.io does", kind="switch"))
    alphabet: str | None = declared(
        None, Bound("the characters in one-hot order; None: the default for the operators", kind="text")
    )
    padding: str = declared(
        "right",
        Bound(
            "'right' pads with trailing spaces (keras.io), 'left' with leading ones", kind="choice", choices=PADDINGS
        ),
    )
    sampling: str = declared(
        "mixed",
        Bound(
            "how numbers are drawn: 'digits' = random length then digits (keras.io), 'uniform', or 'mixed' = half each",
            kind="choice",
            choices=SAMPLINGS,
        ),
    )
    smallest: int = declared(0, Bound("least value of a number", low=0, high_text="10**digits - 1"))
    largest: int | None = declared(
        None, Bound("greatest value of a number (default 10**digits - 1)", low=1, high_text="10**digits - 1")
    )
    operators: str = declared(
        "+",
        Bound(
            "operators, one per gap, drawn at random: any of '+', '-', '*' (e.g. '+-*'); * before + and -",
            kind="text",
        ),
    )
    min_terms: int | None = declared(
        None,
        Bound(
            "fewest numbers in a question: one model answers --min-terms to --terms numbers (default: exactly --terms)",
            low=2,
            high_text="--terms",
        ),
    )
    answer_order: str = declared(
        "msb",
        Bound(
            "the order the network writes an answer: 'msb' most significant digit first, as people do "
            "(keras.io), or 'lsb' units first, so each digit comes after the carry it needs",
            kind="choice",
            choices=ANSWER_ORDERS,
        ),
    )
    brackets: bool = declared(
        False,
        Bound(
            "questions may bracket their numbers, e.g. (12+7)*3, every pattern equally often; 2 to 5 numbers",
            kind="switch",
        ),
    )
    steps: str = declared(
        "none",
        Bound(
            "'none': the network writes the answer in one pass; 'rewrite': it writes one operation per pass "
            "(bracket, then *, then left to right; products as partial products; numbers units first), its "
            f"own output fed back until a number is left; for {stepping.MAX_TERMS} numbers of up to "
            f"{stepping.MAX_DIGITS} digits",
            kind="choice",
            choices=STEPS,
        ),
    )

    def __post_init__(self) -> None:
        if self.alphabet is None and isinstance(self.operators, str):
            chosen = stepping.ALPHABET if self.steps == "rewrite" else None
            object.__setattr__(self, "alphabet", chosen or default_alphabet(self.operators, self.brackets is True))
        validate_task(self)

    # Derived sizes -------------------------------------------------------
    @property
    def chars(self) -> str:
        """The alphabet, never None (it is filled in when the config is made)."""
        assert self.alphabet is not None
        return self.alphabet

    @property
    def fewest_terms(self) -> int:
        return self.terms if self.min_terms is None else self.min_terms

    @property
    def max_term(self) -> int:
        return 10**self.digits - 1 if self.largest is None else self.largest

    @property
    def term_width(self) -> int:
        """Characters the largest term needs."""
        return len(str(self.max_term))

    @property
    def rewrites(self) -> bool:
        """Whether the network answers one operation per pass (steps "rewrite")."""
        return self.steps == "rewrite"

    def _step_lengths(self) -> tuple[int, int]:
        return stepping.longest(
            self.fewest_terms, self.terms, self.operators, self.brackets, self.smallest, self.max_term
        )

    @property
    def question_length(self) -> int:
        if self.rewrites:  # the longest expression it reads: the question or a step
            return self._step_lengths()[0]
        pairs = bracketing.max_pairs(self.terms) if self.brackets else 0
        return self.terms * self.term_width + (self.terms - 1) + 2 * pairs

    @property
    def largest_answer(self) -> int:
        """An upper bound of every answer (exact for + alone and for * alone, and with brackets)."""
        if self.brackets:
            return self._bracket_extremes()[1]
        m, t = self.max_term, self.terms
        if "*" in self.operators:
            return max(m**t, t * m if "+" in self.operators else m)
        if "+" in self.operators:
            return t * m
        return m - (self.fewest_terms - 1) * self.smallest  # "-" alone

    @property
    def smallest_answer(self) -> int:
        """A lower bound of every answer; negative only when "-" is an operator."""
        if self.brackets:
            return min(0, self._bracket_extremes()[0])
        if "-" not in self.operators:
            return 0
        rest = self.max_term ** (self.terms - 1) if "*" in self.operators else (self.terms - 1) * self.max_term
        return self.smallest - rest

    def _bracket_extremes(self) -> tuple[int, int]:
        return bracketing.answer_extremes(self.fewest_terms, self.terms, self.operators, self.smallest, self.max_term)

    @property
    def negative_answers(self) -> bool:
        return self.smallest_answer < 0

    @property
    def answer_length(self) -> int:
        if self.rewrites:  # the longest expression it writes: a step or the answer
            return self._step_lengths()[1]
        return max(len(str(self.largest_answer)), len(str(self.smallest_answer)))

    @property
    def num_chars(self) -> int:
        return len(self.chars)

    @property
    def commutative(self) -> bool:
        """True when the order of terms never matters (+ alone or * alone; not with brackets, which are
        placed by position, nor with written steps, which follow the order)."""
        return self.operators in ("+", "*") and not self.brackets and not self.rewrites

    @property
    def question_count(self) -> int:
        """How many different ordered questions the task has."""
        values = self.max_term - self.smallest + 1
        ops = len(self.operators)
        return sum(values**k * ops ** (k - 1) * self.pattern_count(k) for k in range(self.fewest_terms, self.terms + 1))

    def pattern_count(self, k: int) -> int:
        """How many bracket patterns a question of k terms may have (1 without brackets)."""
        return len(bracketing.bracket_patterns(k)) if self.brackets else 1


@dataclass(frozen=True)
class NetworkConfig(JsonFile):
    """The network our builder makes: encoder RNN(s) -> RepeatVector -> decoder RNN(s) -> softmax.

    The defaults are the keras.io example's: one LSTM(128) each side. decoder "attention" replaces the
    RepeatVector with a decoder fed its own last character that reads every encoder state through
    `attention` ("dot": Luong, "additive": Bahdanau; model/cells.py); it needs equal encoder and
    decoder units. Folders from before these fields are "repeat".
    """

    WHAT: ClassVar[str] = "network config"
    cell: str = declared("lstm", Bound("recurrent cell", kind="choice", choices=CELLS))
    encoder_units: int = declared(128, Bound("units per encoder layer", low=1, high=MAX_UNITS))
    decoder_units: int = declared(128, Bound("units per decoder layer", low=1, high=MAX_UNITS))
    encoder_layers: int = declared(1, Bound("stacked encoder layers", low=1, high=MAX_LAYERS))
    decoder_layers: int = declared(1, Bound("stacked decoder layers", low=1, high=MAX_LAYERS))
    decoder: str = declared(
        "repeat",
        Bound(
            "'repeat': the decoder reads the question's one summary vector at every step (keras.io, the "
            "default); 'attention': it reads its own last answer character and attends over every encoder "
            "state (needs equal --encoder-units and --decoder-units)",
            kind="choice",
            choices=DECODERS,
        ),
    )
    attention: str = declared(
        "dot",
        Bound(
            "with --decoder attention: 'dot' (Luong, the default) or 'additive' (Bahdanau) scores",
            kind="choice",
            choices=ATTENTIONS,
        ),
    )

    def __post_init__(self) -> None:
        validate_network(self)


def validate_task(config: TaskConfig) -> None:
    """Raise ConfigError with one clear sentence if the task is unusable or too large."""
    c = config
    _declared_fields_fit(c, ("digits", "terms"))
    if c.min_terms is not None:
        _whole("min_terms", c.min_terms, 2, c.terms, high_text=f"terms ({c.terms})")
    _check(
        isinstance(c.operators, str)
        and 1 <= len(c.operators) <= len(OPERATORS)
        and set(c.operators) <= set(OPERATORS)
        and len(set(c.operators)) == len(c.operators),
        f"operators must be some of {' '.join(OPERATORS)} (each once), got {c.operators!r}",
        "operators",
    )
    _declared_fields_fit(c, ("reverse", "brackets"))
    if c.brackets:
        _check(
            c.terms <= bracketing.MAX_BRACKET_TERMS,
            f"terms must be at most {bracketing.MAX_BRACKET_TERMS} with brackets, got {c.terms}",
            "terms",
        )
    _declared_fields_fit(c, ("steps",))
    if c.rewrites:
        _check(
            c.terms == stepping.MAX_TERMS and c.digits <= stepping.MAX_DIGITS,
            f"steps 'rewrite' is for questions of {stepping.MAX_TERMS} numbers of up to {stepping.MAX_DIGITS} "
            f"digits, got {c.terms} numbers of up to {c.digits} digits",
            "steps",
        )
        _check(
            c.alphabet == stepping.ALPHABET,
            f"the alphabet of steps 'rewrite' is {stepping.ALPHABET!r}, got {str(c.alphabet)[:40]!r}",
            "alphabet",
        )
    allowed = stepping.ALPHABET if c.rewrites else ALLOWED_CHARS
    _check(
        isinstance(c.alphabet, str) and len(c.chars) <= len(allowed),
        f"alphabet must be a string of at most {len(allowed)} characters",
    )
    _check(set(c.chars) <= set(allowed), f"alphabet may only hold {allowed!r}, got {c.chars[:40]!r}")
    _check(len(set(c.chars)) == len(c.chars), f"alphabet has repeated characters: {c.chars!r}")
    missing = sorted(set(DIGITS + PAD + c.operators + (BRACKETS if c.brackets else "")) - set(c.chars))
    _check(not missing, f"alphabet {c.chars!r} lacks {''.join(missing)!r}")
    _declared_fields_fit(c, ("padding", "sampling", "answer_order"))
    _whole("smallest", c.smallest, 0, 10**c.digits - 1)
    if c.largest is not None:
        _whole("largest", c.largest, 1, 10**c.digits - 1)
    _check(
        c.smallest < c.max_term, f"smallest ({c.smallest}) must be below the largest term ({c.max_term})", "smallest"
    )
    # Answers and question indexes are int64 numbers (codec, trainer/data.py): keep them below 10**18.
    _check(
        max(c.largest_answer, -c.smallest_answer) < MAX_VALUE and index_space(c) < MAX_VALUE,
        f"{c.terms} terms of up to {c.digits} digits with {c.operators!r} make numbers or question counts "
        "larger than this project handles (10**18): use fewer terms or digits",
    )


def index_space(config: TaskConfig) -> int:
    """How many integers it takes to index every question (trainer/data.py question_keys)."""
    varies = config.fewest_terms < config.terms
    term_radix = config.max_term - config.smallest + 1 + varies
    op_radix = len(config.operators) + varies
    return term_radix**config.terms * op_radix ** (config.terms - 1) * config.pattern_count(config.terms)


def validate_network(net: NetworkConfig) -> None:
    _declared_fields_fit(net, tuple(bounds(NetworkConfig)))
    _check(
        net.decoder != "attention" or net.encoder_units == net.decoder_units,
        f"decoder_units must equal encoder_units ({net.encoder_units}) for the attention decoder, "
        f"got {net.decoder_units}: it starts from the encoder's state and compares its own with the encoder's",
        "decoder_units",
    )


def parameter_count(task: TaskConfig, net: NetworkConfig) -> int:
    """Trainable numbers in the network (sizes the weights file before it is read): the sum over
    model.network.weight_layout, the one place that lists the network's arrays."""
    from .network import weight_layout  # network.py imports this module

    return sum(math.prod(shape) for shape in weight_layout(task, net).values())


def enumerable(config: TaskConfig, limit: int = 2_000_000) -> bool:
    """Whether every question can be asked (all 1,000,000 pairs of 3-digit numbers can)."""
    return config.question_count <= limit


def distinct_count(config: TaskConfig) -> int:
    """How many questions differ when order does not matter for a commutative task."""
    if not config.commutative:
        return config.question_count
    values = config.max_term - config.smallest + 1
    return sum(math.comb(values + k - 1, k) for k in range(config.fewest_terms, config.terms + 1))
