"""One SLI, one vocabulary: the alerts, the dashboards and the report compute availability, the
error budget and burn rates from the contract's recorded family (exporter/contract/model.py
UPTIME: the share of time a series was up), and none spells the failure, success or counted
selectors or the SLO objective itself. A test fails if any of them computes availability another way.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import yaml

from exporter.contract import model, settings
from exporter.contract.rules import alert
from exporter.report.data import Builder

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
# A probe-count availability: successes over the probes that count.
COUNT_RATIO = re.compile(r'outcome="success".*/.*outcome!="rate_limited"', re.S)
SLI_PANELS = re.compile(r"availability|error budget|burn rate", re.I)


def panels() -> list[dict]:
    out = []
    for path in DASHBOARDS:
        stack = list(json.loads(path.read_text())["panels"])
        while stack:
            panel = stack.pop()
            stack += panel.get("panels", [])
            out.append(panel)
    return out


def test_the_alerts_that_judge_availability_read_the_recorded_sli():
    recorded = {r["record"]: r["expr"] for g in yaml.safe_load((ROOT / "alertmanager" / "rules.yml").read_text())["groups"]
                for r in g["rules"] if "record" in r}
    sli = {name: expr for name, expr in recorded.items() if name.startswith(model.UPTIME)}
    assert sli, "rules.yml records no SLI"
    for name, expr in sli.items():
        assert expr == model.uptime_expr(name.removeprefix(model.UPTIME)), name
    for name in ("NanoBananaErrorBudgetBurnFast", "NanoBananaErrorBudgetBurnSlow", "NanoBananaAvailabilityLow"):
        expr = alert(name).expr
        windows = re.findall(rf"{re.escape(model.UPTIME)}(\w+)", expr)
        assert windows and all(model.uptime(w) in sli for w in windows), (name, expr)
        assert "nanobanana:probe_errors" not in expr and not COUNT_RATIO.search(expr), (name, expr)


def test_every_dashboard_availability_budget_and_burn_panel_reads_the_recorded_sli():
    checked = 0
    for panel in panels():
        exprs = [t.get("expr", "") for t in panel.get("targets", [])]
        for expr in exprs:
            assert not COUNT_RATIO.search(expr), (panel["title"], expr)  # availability from probe counts
        if SLI_PANELS.search(panel.get("title", "")) and panel["type"] != "row":
            assert exprs and all(model.UPTIME in e for e in exprs), (panel["title"], exprs)
            checked += 1
    assert checked >= 5, checked  # overview and probe-detail availability, budget, burn rate now and over time


class Recorder:
    """Stands in for Prometheus: records the queries, answers nothing."""

    def __init__(self):
        self.queries: list[str] = []

    def instant(self, query, at):
        self.queries.append(query)
        return []

    def range(self, query, start, end, step):
        self.queries.append(query)
        return []


def test_the_report_reads_the_sli_as_the_contract_defines_it():
    prom = Recorder()
    builder = Builder(prom, 0, 30 * 86400, selector='target="prod"')
    builder.build()
    builder._daily(builder.build())
    period = f"{30 * 86400}s"
    assert any(model.uptime_expr(period, 'target="prod"') in q for q in prom.queries), prom.queries
    assert any(model.uptime_expr("1d", 'target="prod"') in q for q in prom.queries), prom.queries
    assert not [q for q in prom.queries if COUNT_RATIO.search(q)]


def _literals(path: Path) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_nobody_spells_the_selectors_or_the_objective_but_the_contract():
    selectors = {model.FAILED, model.COUNTED, model.SUCCEEDED, model.NOT_FAILURES}
    readers = [ROOT / "grafana" / "generate.py", *sorted((ROOT / "exporter" / "report").glob("*.py"))]
    for path in readers:
        text = path.read_text()
        for literal in _literals(path):
            assert not any(s in literal for s in selectors), (path.name, literal)
            assert not re.search(r'outcome\s*(!=|=~|!~)', literal), (path.name, literal)  # a hand-made selector
        assert not re.search(rf"(?<![\d.]){re.escape(repr(settings.SLO_OBJECTIVE))}(?![\d])", text), path.name
