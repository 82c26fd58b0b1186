"""The import graph of exporter/ runs downhill: no cycle, and no module imports a layer above its own.

Checked on the source, statically: every import counts, wherever it is written (module level, under
TYPE_CHECKING, inside a function), because each one is an arrow a reader has to follow. The layers,
bottom first, are LAYERS below; a module imports its own layer or lower ones. The programs (the
exporter's command line, the relay, the report, the simulator) sit on top and import each other only
where EXCEPTIONS says why."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "exporter"

# Bottom first. A package's name places its submodules too, unless one is placed on its own;
# "exporter" itself (the version) is placed alone.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundation: the vocabulary and helpers every room shares": (
        "exporter", "exporter.contract", "exporter.models", "exporter.common", "exporter.healthcheck"),
    "domain: what a loaded config is made of, and the probe results kept": (
        "exporter.domain", "exporter.status"),
    "probing: one call to an API, through its dialect": (
        "exporter.probing",),
    "loading and background work: the config loader, the schedule, the free and paid checks": (
        "exporter.loading", "exporter.background", "exporter.status.poller"),
    "exposition and hosting: metrics, pages, OTel, the HTTP service the programs share": (
        "exporter.exposition", "exporter.status.collector"),
    "programs": (
        "exporter.cli", "exporter.__main__", "exporter.demo", "exporter.plan", "exporter.relay", "exporter.report",
        "exporter.simulator"),
}
# The programs, apart: each imports the layers below, not another program.
PROGRAMS: dict[str, tuple[str, ...]] = {
    "exporter": ("exporter.cli", "exporter.__main__", "exporter.demo", "exporter.plan"),
    "relay": ("exporter.relay",),
    "report": ("exporter.report",),
    "simulator": ("exporter.simulator",),
}
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("exporter.demo", "exporter.simulator"): "--demo starts the built-in simulator in the exporter's process",
}


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The exporter modules `name` imports anywhere in its file (submodules named in a from-import
    count as themselves, not as their package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            module = n.module or ""
            if n.level:  # relative: from its package, up level - 1
                base = package.split(".")[:len(package.split(".")) - n.level + 1]
                module = ".".join(base + ([module] if module else []))
            if module.split(".")[0] == "exporter":
                subs = {f"{module}.{a.name}" for a in n.names if f"{module}.{a.name}" in known}
                found |= subs or {module}
        elif isinstance(n, ast.Import):
            found |= {a.name for a in n.names if a.name.split(".")[0] == "exporter"}
    return found - {name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def placed(module: str, table: dict[str, tuple[str, ...]]) -> str | None:
    """The key of `table` whose most specific entry names `module` or a package of it."""
    best = None
    for key, names in table.items():
        for entry in names:
            if (module == entry or (entry != "exporter" and module.startswith(entry + "."))) and \
                    (best is None or len(entry) > len(best[1])):
                best = (key, entry)
    return best and best[0]


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


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every path from a placed module to a higher layer or another program, directly or through
    modules LAYERS does not place yet (so a new module cannot carry an arrow upward unseen)."""
    order = list(LAYERS)
    found = []
    for start in sorted(graph):
        layer, program = placed(start, LAYERS), placed(start, PROGRAMS)
        if layer is None:
            continue
        seen, todo = {start}, [(start, (start,))]
        while todo:
            here, path = todo.pop()
            for there in sorted(graph.get(here, ())):
                if there in seen:
                    continue
                seen.add(there)
                target_layer, target_program = placed(there, LAYERS), placed(there, PROGRAMS)
                route = " -> ".join((*path, there))
                if target_layer is None:
                    todo.append((there, (*path, there)))
                elif order.index(target_layer) > order.index(layer):
                    found.append(f"{route}: up from {layer.split(':')[0]} to {target_layer.split(':')[0]}")
                elif target_program not in (None, program) and (path[-1], there) not in EXCEPTIONS:
                    found.append(f"{route}: the {program} program imports the {target_program} program")
    return found


def test_exporter_has_no_import_cycle():
    imports_of = graph()
    assert imports_of["exporter.loading.config"] >= {"exporter.probing.dialects", "exporter.domain.targets"}  # the check sees real edges
    assert "exporter.simulator.faults" in imports_of["exporter.simulator.metadata"]  # type-only imports count too
    assert cycles(imports_of) == []


def test_no_module_imports_a_layer_above_its_own():
    assert upward(graph()) == []


def test_the_checks_find_a_cycle_and_an_upward_arrow():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    # the contract reaching the domain types through a module no layer names yet
    found = upward({"exporter.contract.model": {"exporter.newmodule"}, "exporter.newmodule": {"exporter.domain.targets"},
                    "exporter.relay.server": {"exporter.simulator.wire"}, "exporter.demo": {"exporter.simulator"}})
    assert found == [
        "exporter.contract.model -> exporter.newmodule -> exporter.domain.targets: up from foundation to domain",
        "exporter.relay.server -> exporter.simulator.wire: the relay program imports the simulator program",
    ]


def test_the_simulator_has_what_its_routes_read():
    """metadata.Simulator names what the route modules read instead of importing server.py back."""
    from exporter.simulator import metadata
    from exporter.simulator.server import Simulator

    assert isinstance(Simulator(), metadata.Simulator)


def test_the_architecture_page_shows_these_layers():
    """docs/architecture.md's table: the layers in this order, each module in the row of its layer."""
    rows = [line.split("|")[1:3] for line in (ROOT / "docs/architecture.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| layer")]
    assert [layer.strip() for layer, _ in rows] == [key.split(":")[0] for key in LAYERS]
    for (layer, names), key in zip(rows, LAYERS):
        for name in re.findall(r"`([a-z_/]+)`", names):
            assert placed("exporter." + name.strip("/").replace("/", "."), LAYERS) == key, (name, layer)


PROGRAM_FILES = {"__init__", "__main__", "cli", "demo", "plan", "healthcheck"}


def test_every_module_lives_in_a_room_that_says_why():
    """exporter/ holds the exporter program's own files and rooms; each room's __init__ says in one
    line why it exists."""
    flat = {p.stem for p in PACKAGE.glob("*.py")}
    assert flat <= PROGRAM_FILES, f"modules outside a room: {sorted(flat - PROGRAM_FILES)}"
    for room in (p.parent for p in PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((room / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"exporter/{room.name}/__init__.py says nothing of why the room exists"
