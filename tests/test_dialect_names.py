"""The dialect is the only place an API is named: adding one is its module and its `DIALECTS` entry.

Every fact another module needs about an API (its OTel provider and operation, its credentials,
whether it goes through the openai SDK, whether Google's status feed covers it, its default base
URL, its key's credit, its model listing) is a class attribute or method of its dialect, read
through `DIALECTS`. This test fails when a string literal equal to an API name (`api:` value)
appears in exporter/ outside the dialects, unless ALLOWED says why that module may name it."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

from exporter.probing.dialects import DIALECTS

PACKAGE = ROOT / "exporter"

# Where a module may name APIs -> why. A key is a module's path's end (so it holds in whichever
# room the module lives), or that and "::function" for one top-level function of it only.
ALLOWED: dict[str, str] = {
    "simulator/": "the simulator imitates each API: it answers as that API does, and names it in its faults and records",
    "drift.py::main": "`python -m exporter.background.drift` without a config compares through targets it writes as a config "
                      "would (api: openrouter, and gemini when GEMINI_API_KEY is set)",
    "catalog.py": "a model's dates or ratios that differ on one platform (Vertex AI's later shutdown) are catalog "
                  "facts about the model, keyed by the API they hold on; a new dialect needs no entry",
    "status/openrouter.py": "`openrouter` there is a status source's kind (status_sources: kind), not an `api:` value",
}


def in_dialects(path: Path) -> bool:
    return "dialects" in path.relative_to(PACKAGE).parts[:-1]


def allowance(path: Path, function: str) -> str | None:
    shown = "/" + path.relative_to(PACKAGE).as_posix()
    for key in ALLOWED:
        where, _, only = key.partition("::")
        if (f"/{where}" in shown if where.endswith("/") else shown.endswith(f"/{where}")) and only in ("", function):
            return key
    return None


def named_apis(path: Path) -> list[tuple[int, str, str]]:
    """(line, API name, top-level function or "") of every string constant in the module that is
    exactly an API's name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for top in tree.body:
        function = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) else ""
        found += [(node.lineno, node.value, function) for node in ast.walk(top)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in DIALECTS]
    return found


def modules() -> list[Path]:
    return [path for path in sorted(PACKAGE.rglob("*.py")) if not in_dialects(path)]


def test_no_module_outside_the_dialects_names_an_api():
    found = [(path, line, name) for path in modules() for line, name, function in named_apis(path)
             if allowance(path, function) is None]
    assert not found, "API names outside exporter's dialects (declare the fact on the dialect class instead):\n" + \
        "\n".join(f"  {path.relative_to(PACKAGE.parent)}:{line}: {name!r}" for path, line, name in found)


def test_every_allowance_is_still_used():
    used = {allowance(path, function) for path in modules() for _, _, function in named_apis(path)}
    assert set(ALLOWED) <= used, f"allowances no module needs any more: {sorted(set(ALLOWED) - used)}"


def test_the_check_sees_a_name_where_one_is_written(tmp_path):
    """The AST check finds a literal API name in a comparison, a tuple and a dict key, not in prose."""
    module = tmp_path / "m.py"
    module.write_text('"""Calls the gemini API."""\nAPIS = ("openrouter",)\nX = {"vertex": 1}\n'
                      'def f(api):\n    return api == "openai_chat"\n', encoding="utf-8")
    assert named_apis(module) == [(2, "openrouter", ""), (3, "vertex", ""), (5, "openai_chat", "f")]


def test_every_dialect_declares_the_facts_others_read():
    for name, dialect in DIALECTS.items():
        assert dialect.name == name
        assert dialect.otel_provider and dialect.otel_operation, name
        assert dialect.credentials in ("key", "google"), name
        assert dialect.openai_sdk_call in (None, "images", "chat"), name
