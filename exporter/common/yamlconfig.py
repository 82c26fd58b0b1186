"""Loading a YAML config into a pydantic model, with errors that name the file, line and key.

Shared by the exporter's and the relay's configs. The text is untrusted: its size is capped when it
is read (exporter/common/files.py), and its nesting and its expansion through aliases are bounded before
anything is built from it (a "billion laughs" alias bomb is a few lines). libyaml parses it when
PyYAML has it (about five times faster than the pure-Python parser: 1.7 s instead of 8.6 s for a
1 MiB config of 9,000 targets on a busy 2-core machine).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from exporter.common.files import MAX_CONFIG_BYTES, read_bytes

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
        raise ConfigError(_describe(err, root, source, raw, model)) from None

    def where(*loc: Any) -> str:
        line = _line_of(root, list(loc))
        return f"{source}:{line}: {_format_path(list(loc))}" if line else f"{source}: {_format_path(list(loc))}"

    return validated, where


_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
}


def _describe(err: ValidationError, root: Any, source: str, raw: Any, model: type[BaseModel]) -> str:
    lines = []
    for problem in err.errors():
        loc = _key_path(problem["loc"], raw)
        path = _format_path(loc)
        line = _line_of(root, loc)
        message = _MESSAGES.get(problem["type"]) or problem["msg"].removeprefix("Value error, ")
        if problem["type"] in ("literal_error", "enum", "string_pattern_mismatch", "string_type", "int_parsing"):
            message += f" (got {_shorten(repr(problem['input']))})"
        if problem["type"] == "extra_forbidden" and loc and (near := _near_key(model, loc)):
            message += f" (did you mean `{near}`?)"
        where = f"{source}:{line}" if line else source
        lines.append((line or 0, f"{where}: {path}: {message}" if path else f"{where}: {message}"))
    lines.sort(key=lambda pair: pair[0])  # in the order a person reads the file
    return "\n".join(dict.fromkeys(text for _, text in lines))


def _near_key(model: type[BaseModel], loc: list[Any]) -> str | None:
    """The key that an unknown key is a near miss of, at the same place in the model
    (`resolution` for `resolutions`), or None."""
    keys = _keys_at(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.75)
    return close[0] if close else None


def _keys_at(annotation: Any, loc: list[Any]) -> list[str]:
    """The keys the model takes at a key path (list indexes and dict keys walk into the items)."""
    model = _model_in(annotation)
    if model is None:
        return []
    if not loc:
        return list(model.model_fields)
    field = model.model_fields.get(str(loc[0]))
    if field is None:
        return []
    inner = field.annotation
    rest = loc[1:]
    while rest and _model_in(inner) is None:  # list[X] / dict[str, X]: the index or key names an item
        args = [a for a in typing.get_args(_unoptional(inner)) if a is not type(None)]
        if not args:
            return []
        inner, rest = args[-1], rest[1:]
    return _keys_at(inner, rest)


def _unoptional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return _unoptional(typing.get_args(annotation)[0])
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    annotation = _unoptional(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


class Problems:
    """Every problem a config has, reported at once and in line order, not only the first.

        problems = Problems()
        with problems.check():
            ...raise ConfigError(...)   # noted, and the next check goes on
        problems.raise_any()
    """

    def __init__(self) -> None:
        self.found: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except ConfigError as err:
            self.found.extend(str(err).splitlines())

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError("\n".join(sorted(dict.fromkeys(self.found), key=_line_number)))


def _line_number(message: str) -> int:
    """3 for "relay.yml:3: channels...", 0 for a message without a line (they come first)."""
    found = re.match(r"[^\n]*?:(\d+): ", message)
    return int(found[1]) if found else 0


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
