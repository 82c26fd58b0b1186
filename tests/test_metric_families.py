"""Every metric family the programs export, as a snapshot: name, type, help and label names.

tests/fixtures/metric_families.json is what a running exporter with every feature configured (the
demo: every dialect, liveness, canary, budget, status sources, maintenance, credit, the catalog
comparison) and the relay export. A change to any of them is a change to the contract dashboards,
alerts and users read, so it shows here first. After a deliberate change, rewrite the snapshot with
`PYTHONPATH=.:tests python3 tests/test_metric_families.py` and review its diff.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import exporter_env, running_exporter

SNAPSHOT = Path(__file__).parent / "fixtures" / "metric_families.json"
# every family with samples by then; the rest (an incident's info, drift found) may stay empty
SETTLE = 20.0


def families(text: str) -> dict[str, dict]:
    """Our families in exposition text: type, help, and the label names of their samples (None while
    a family has none: the text does not say which labels an empty family would carry)."""
    out = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("nanobanana_"):
            continue
        labels = {name for s in family.samples for name in s.labels if not (family.type == "histogram" and name == "le")}
        out[family.name] = {"type": family.type, "help": family.documentation,
                            "labels": sorted(labels) if family.samples else None}
    return out


def relay_families() -> dict[str, dict]:
    from exporter.relay.metrics import RelayMetrics
    from exporter.loading.reload import Reloader

    async def apply() -> str:
        return ""

    metrics = RelayMetrics(["chat"])
    metrics.registry.register(Reloader("nanobanana_relay", apply))
    return families(generate_latest(metrics.registry).decode())


def exporter_families(settle: float = SETTLE) -> dict[str, dict]:
    with running_exporter("--demo", env=exporter_env(NANOBANANA_CATALOG_CHECK="on"), ready_timeout=40) as (base, _):
        deadline = time.monotonic() + settle
        while True:
            got = families(httpx.get(f"{base}/metrics", timeout=10).text)
            if time.monotonic() > deadline:
                return got
            time.sleep(1)


def snapshot() -> dict[str, dict]:
    return json.loads(SNAPSHOT.read_text())


@pytest.mark.slow  # a demo exporter for 20 s
def test_a_running_exporter_and_the_relay_export_the_snapshot():
    want = snapshot()
    got = exporter_families() | relay_families()
    assert sorted(got) == sorted(want)
    for name, family in got.items():
        assert (family["type"], family["help"]) == (want[name]["type"], want[name]["help"]), name
        if family["labels"] is not None:  # a family with samples: exactly the snapshot's label names
            assert family["labels"] == want[name]["labels"], name
    assert sum(f["labels"] is not None for f in got.values()) > 0.8 * len(want)  # most families had samples


def every_collector() -> CollectorRegistry:
    """One registry with every collector the exporter and the relay register, made the way their
    programs make them (describe() reads no state, so none of them runs)."""
    from exporter.background.canary import CanaryChecker
    from exporter.background.credit import CreditChecker
    from exporter.background.liveness import LivenessChecker
    from exporter.domain.maintenance import MaintenanceCollector
    from exporter.exposition.metrics import TasksCollector, make_registry
    from exporter.relay.metrics import RelayMetrics
    from exporter.loading.reload import Reloader
    from exporter.domain.state import Store

    registry = make_registry(Store(), status=object(), liveness=LivenessChecker(), budget=object(),
                             canary=CanaryChecker(), catalog_watch=object())
    for collector in (Reloader("nanobanana_exporter", None), TasksCollector(None), MaintenanceCollector(None, None),
                      CreditChecker(), Reloader("nanobanana_relay", None)):
        registry.register(collector)
    for collector in list(RelayMetrics(["chat"]).registry._collector_to_names):
        registry.register(collector)
    return registry


def declared(registry: CollectorRegistry) -> dict[str, dict]:
    """What the collectors' describe() declares, as the snapshot writes it."""
    return {f.name: {"type": f.type, "help": f.documentation, "labels": sorted(labels)}
            for collector in registry._collector_to_names for f in getattr(collector, "describe", list)()
            if f.name.startswith("nanobanana_") for labels in [_label_names(collector, f)]}


def _label_names(collector, family) -> list[str]:
    table = getattr(collector, "families", None)
    if table is not None:
        return list(table[family.name].labels)
    return list(collector._labelnames)  # a prometheus_client instrument (the relay's)


def test_every_collector_declares_exactly_the_snapshot():
    """describe() is the whole contract, labels included, for every family, empty or not (but the
    `_created` gauges prometheus_client's instruments write beside the relay's counters)."""
    got = declared(every_collector())
    assert got == {name: f for name, f in snapshot().items()
                   if not (name.endswith("_created") and name.removesuffix("_created") in got)}


def test_a_second_collector_with_a_family_name_already_taken_is_refused():
    from exporter.domain.maintenance import MAINTENANCE_FAMILIES, MaintenanceCollector
    from exporter.common.metric_families import Collector, Table, counter, gauge

    registry = every_collector()

    class Again(Collector):
        families = Table(gauge("nanobanana_maintenance_active", "Declared a second time.", ("target",)))

    class Counted(Collector):  # the probes' counter again, declared by another room
        families = Table(counter("nanobanana_probes_total", "Declared a second time."))

    for collector in (Again(), Counted(), MaintenanceCollector(None, None)):
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            registry.register(collector)
    assert "nanobanana_maintenance_active" in MAINTENANCE_FAMILIES
    fresh = CollectorRegistry()
    fresh.register(Again())  # alone it registers: the refusal above was the duplicate, nothing else


def test_a_table_refuses_a_family_declared_twice():
    from exporter.common.metric_families import Table, gauge

    with pytest.raises(ValueError, match="declared twice"):
        Table(gauge("nanobanana_x", "One."), gauge("nanobanana_x", "Two."))


if __name__ == "__main__":
    import os

    os.environ.setdefault("NANOBANANA_CATALOG_CHECK", "on")
    found = exporter_families(settle=60.0) | relay_families()
    old = snapshot() if SNAPSHOT.exists() else {}
    for name, family in found.items():  # an empty family keeps the label names the snapshot had
        if family["labels"] is None and name in old:
            family["labels"] = old[name]["labels"]
    SNAPSHOT.write_text("{\n" + ",\n".join(f" {json.dumps(n)}: {json.dumps(f)}" for n, f in sorted(found.items())) + "\n}\n")
    print(f"{SNAPSHOT}: {len(found)} families, {sum(f['labels'] is None for f in found.values())} without label names")
