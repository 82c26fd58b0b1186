"""The import graph of exporter/ has no cycle: domain types (exporter/targets.py) import no loader,
dialect or prober, so the loader (config.py) can import the dialect registry without it importing
the loader back. Checked on the source, statically: every module-level import counts, and so do
imports under TYPE_CHECKING outside the simulator (a test tool whose routes annotate the server
they are given)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "exporter"
TYPE_ONLY_EXEMPT = "exporter.simulator."


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The exporter modules `name` imports at module level (submodules named in a from-import count
    as themselves, not as their package)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        nodes = [node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes = node.body if not name.startswith(TYPE_ONLY_EXEMPT) else []
        elif isinstance(node, ast.Try):
            nodes = node.body
        for n in nodes:
            if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "exporter":
                subs = {f"{n.module}.{a.name}" for a in n.names if f"{n.module}.{a.name}" in known}
                found |= subs or {n.module}
            elif isinstance(n, ast.Import):
                found |= {a.name for a in n.names if a.name.split(".")[0] == "exporter"}
    return found - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_exporter_has_no_import_cycle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert graph["exporter.config"] >= {"exporter.dialects", "exporter.targets"}  # the check sees real edges
    assert cycles(graph) == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
