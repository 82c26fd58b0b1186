"""Loading a YAML config into a pydantic model, with errors that name the file, line and key.

Shared by the exporter's and the relay's configs. The text is untrusted: its size is capped when it
is read (exporter/files.py), and its nesting and its expansion through aliases are bounded before
anything is built from it (a "billion laughs" alias bomb is a few lines). libyaml parses it when
PyYAML has it (about five times faster than the pure-Python parser: 1.7 s instead of 8.6 s for a
1 MiB config of 9,000 targets on a busy 2-core machine).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from exporter.files import MAX_CONFIG_BYTES, read_bytes

M = TypeVar("M", bound=BaseModel)
Where = Callable[..., str]  # where("targets", 0, "api") -> "file.yml:3: targets[0].api"


class ConfigError(Exception):
    """A configuration problem, already phrased for a person (key path, line, what is wrong)."""


# Far above any real config (a thousand targets are about 10,000 nodes and 6 levels), far below what
# would take seconds to validate or a deep recursion to build.
MAX_DEPTH = 64
MAX_NODES = 200_000  # counted with every alias expanded
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def read_text(path: str | Path) -> str:
    try:
        return read_bytes(path, MAX_CONFIG_BYTES).decode("utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: cannot read config file: not UTF-8 (byte {err.start})") from None


def load_yaml(text: str) -> tuple[Any, Any]:
    """(data, node tree for line numbers), or yaml.YAMLError. Nesting is checked on the event stream
    first: libyaml's composer recurses on the C stack and crashes on deep enough nesting."""
    depth = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, _CLOSE):
            depth -= 1
    loader = LOADER(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(root)
        return (loader.construct_document(root) if root is not None else None), root
    finally:
        loader.dispose()


class _Refused(yaml.YAMLError):
    def __init__(self, mark: Any, problem: str):
        super().__init__(problem)
        self.problem_mark, self.problem = mark, problem


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it past MAX_NODES nodes, or refer to themselves, before
    it is built (building one is cheap; everything that walks the result is not)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_NODES:
                raise _Refused(node.start_mark, f"aliases expand the document past {MAX_NODES} nodes")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _Refused(node.start_mark, "an alias refers to a node that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def validate(text: str, source: str, model: type[M], shape: str, *, empty_ok: bool = False,
             precheck: Callable[[dict], None] | None = None) -> tuple[M, Where]:
    """The validated model and a `where` that places a key path in the file; ConfigError otherwise.
    `shape` says what the top level must be, for a file that is not a mapping; `empty_ok` takes an
    empty file as an empty mapping; `precheck` sees the raw mapping before validation."""
    try:
        raw, root = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{at}: invalid YAML: {problem}") from None
    if raw is None and empty_ok:
        raw, root = {}, None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be {shape}")
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
            message += f" (got {_shorten(repr(problem['input']))})"
        where = f"{source}:{line}" if line else source
        lines.append(f"{where}: {path}: {message}" if path else f"{where}: {message}")
    return "\n".join(dict.fromkeys(lines))


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
