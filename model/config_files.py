"""Reading a model's small JSON files safely, and the one-sentence error a bad config raises.

A model folder may come from a stranger's Hub repo: a config file is refused before it is read when it is
large, and every malformed input (deep nesting, huge integers, NaN) is one ConfigError sentence.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, Self

MAX_CONFIG_BYTES = 64_000  # a JSON config file larger than this is refused before it is parsed


class ConfigError(ValueError):
    """A config that cannot describe a working model, explained in one sentence.

    `field` names the setting the sentence is about (its message starts with that name), or is None when the
    trouble is the file or several settings together; the trainer's command line turns it into the flag.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def read_small_text(path: str | Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """A small text file's contents; refuse a big one before reading it (a repo's files are untrusted)."""
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise ConfigError(f"{path.name} is {size:,} bytes; a file like this has at most {limit:,}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text") from None


def parse_json(text: str, what: str) -> Any:
    """json.loads that answers every malformed input (deep nesting, huge integers, NaN) with ConfigError."""

    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        return json.loads(text, parse_constant=no_constants)
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply") from None
    except ValueError as err:  # JSONDecodeError, and int() refusing a 5,000-digit number
        raise ConfigError(f"{what} is not valid JSON: {str(err)[:120]}") from None


# Fields added after models were published: left out of the JSON while they hold the value every older
# file means by saying nothing, so an older model's files are written back byte for byte.
LATER_FIELDS: dict[str, Any] = {
    "answer_order": "msb",
    "decoder": "repeat",
    "attention": "dot",
    "brackets": False,
    "steps": "none",
}


class JsonFile:
    """The JSON round trip of a config dataclass (TaskConfig, NetworkConfig); WHAT names it in errors."""

    WHAT: ClassVar[str] = "config"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in data.items() if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: object) -> Self:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.WHAT} must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in set(data) - known)
        if unknown:
            fields = "an unknown field" if len(unknown) == 1 else "unknown fields"
            raise ConfigError(f"{cls.WHAT} has {fields}: {', '.join(unknown)[:200]}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(parse_json(text, cls.WHAT))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls.from_json(read_small_text(path))
