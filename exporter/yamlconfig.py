"""Loading a YAML config into a pydantic model, with errors that name the file, line and key.

Shared by the exporter's and the relay's configs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Where = Callable[..., str]  # where("targets", 0, "api") -> "file.yml:3: targets[0].api"


class ConfigError(Exception):
    """A configuration problem, already phrased for a person (key path, line, what is wrong)."""


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror or err}") from None


def validate(text: str, source: str, model: type[M], shape: str, *, empty_ok: bool = False,
             precheck: Callable[[dict], None] | None = None) -> tuple[M, Where]:
    """The validated model and a `where` that places a key path in the file; ConfigError otherwise.
    `shape` says what the top level must be, for a file that is not a mapping; `empty_ok` takes an
    empty file as an empty mapping; `precheck` sees the raw mapping before validation."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{at}: invalid YAML: {problem}") from None
    if raw is None and empty_ok:
        raw, text = {}, "{}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be {shape}")
    root = yaml.compose(text)
    if precheck is not None:
        precheck(raw)
    try:
        validated = model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, root, source, raw)) from None

    def where(*loc: Any) -> str:
        line = _line_of(root, list(loc))
        return f"{source}:{line}: {_format_path(list(loc))}" if line else f"{source}: {_format_path(list(loc))}"

    return validated, where


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
}


def _describe(err: ValidationError, root: Any, source: str, raw: Any) -> str:
    lines = []
    for problem in err.errors():
        loc = _key_path(problem["loc"], raw)
        path = _format_path(loc)
        line = _line_of(root, loc)
        message = _MESSAGES.get(problem["type"]) or problem["msg"].removeprefix("Value error, ")
        if problem["type"] in ("literal_error", "enum", "string_pattern_mismatch", "string_type", "int_parsing"):
            message += f" (got {problem['input']!r})"
        where = f"{source}:{line}" if line else source
        lines.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")
    return "\n".join(dict.fromkeys(lines))


def _key_path(loc: tuple, raw: Any) -> list[Any]:
    """The error's location without pydantic's validator names, keeping keys of the document that
    look like them (a key "[" is a key)."""
    path, node = [], raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif _is_type_tag(part):
            continue
        else:
            node = None
        path.append(part)
    return path


def _is_type_tag(part: Any) -> bool:
    # pydantic adds validator names (for example "function-before[...]") to locations
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _format_path(loc: list[Any]) -> str:
    """targets[0].api; a key that is not a plain name is quoted, so an empty or odd key is still named:
    channels['a b'], ['']."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(str(part)):
            out += f"[{str(part)!r}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _line_of(node: Any, loc: list[Any]) -> int | None:
    """The 1-based YAML line of the deepest node on the path that exists."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
