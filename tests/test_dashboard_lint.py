"""grafana/dashboard-linter's rules, emulated in Python (the linter is a Go program that is not
packaged for Debian), with the exclusions of grafana/dashboards/.lint applied the way the linter
applies them: a rule excluded for a dashboard, or for a dashboard's panel.

Rules as documented in https://github.com/grafana/dashboard-linter/tree/main/docs/rules:
template-datasource-rule, template-job-rule, template-instance-rule, template-label-promql-rule,
template-on-time-change-reload-rule, template-uneditable-rule, panel-datasource-rule,
panel-title-description-rule, panel-units-rule, target-rate-interval-rule, target-job-rule,
target-instance-rule. target-promql-rule (queries parse) is tests/test_dashboards.py's
test_every_expression_parses_in_prometheus, against a real Prometheus.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import ROOT

DIR = ROOT / "grafana" / "dashboards"
DASHBOARDS = {p.name: json.loads(p.read_text()) for p in sorted(DIR.glob("*.json"))}
LINT = yaml.safe_load((DIR / ".lint").read_text())
# Units these dashboards may use: Grafana's ids (valueFormats/categories.ts) and its custom
# "suffix:" units. panel-units-rule checks these panel types and skips panels with value mappings.
UNITS = {"short", "s", "bytes", "percentunit", "currencyUSD", "none"}
UNIT_CHECKED = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
SELECTOR = re.compile(r"[a-zA-Z_:][\w:]*\{([^}]*)\}")
RANGE_FN = re.compile(r"\b(?:rate|irate|increase)\(")


def panels(d: dict) -> list[dict]:
    out = []
    for p in d["panels"]:
        out += [p, *p.get("panels", [])]
    return [p for p in out if p["type"] != "row"]


def template_variable(d: dict, name: str) -> list[str]:
    found = [v for v in d["templating"]["list"] if v["name"] == name]
    if not found:
        return [f"no {name} variable"]
    v = found[0]
    problems = []
    if v.get("label") != name:
        problems.append(f"label {v.get('label')!r}")
    if v["datasource"] not in ({"type": "prometheus", "uid": "${datasource}"}, "$datasource"):
        problems.append("not the $datasource variable")
    if v["type"] != "query" or not v["query"].startswith("label_values("):
        problems.append("not a Prometheus query")
    if not v["multi"]:
        problems.append("not multi-select")
    if v.get("allValue") != ".+":
        problems.append(f"allValue {v.get('allValue')!r}, not .+")
    return problems


def targets(d: dict):
    for p in panels(d):
        for i, t in enumerate(p.get("targets", [])):
            yield p, i, t["expr"]


def violations(d: dict) -> list[tuple[str, str | None, str]]:
    """(rule, panel title or None, message) for one dashboard."""
    out = []
    ds = [v for v in d["templating"]["list"] if v["type"] == "datasource"]
    if len(ds) != 1 or ds[0]["name"] != "datasource" or ds[0]["label"] != "Data Source" or ds[0]["query"] != "prometheus":
        out.append(("template-datasource-rule", None, "one Prometheus datasource variable named datasource"))
    for name in ("job", "instance"):
        out += [(f"template-{name}-rule", None, m) for m in template_variable(d, name)]
    for v in d["templating"]["list"]:
        if v["type"] != "query":
            continue
        if not re.fullmatch(r"label_values\((?:[a-zA-Z_:][\w:]*(?:\{[^}]*\})?, *)?\w+\)", v["query"]):
            out.append(("template-label-promql-rule", None, f"{v['name']}: {v['query']}"))
        if v["refresh"] != 2:
            out.append(("template-on-time-change-reload-rule", None, v["name"]))
    if d.get("editable", True):
        out.append(("template-uneditable-rule", None, "editable"))
    for p in panels(d):
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            out.append(("panel-datasource-rule", p["title"], str(p.get("datasource"))))
        if not p.get("title") or not p.get("description"):
            out.append(("panel-title-description-rule", p.get("title"), "title and description"))
        defaults = p["fieldConfig"]["defaults"]
        if p["type"] in UNIT_CHECKED and not defaults.get("mappings"):
            unit = defaults.get("unit", "")
            if unit not in UNITS and not unit.startswith("suffix:"):
                out.append(("panel-units-rule", p["title"], f"unit {unit!r}"))
    for p, i, expr in targets(d):
        for m in RANGE_FN.finditer(expr):
            window = re.match(r"[^\[]*\[([^\]]+)\]", expr[m.end():])
            if window and window[1] != "$__rate_interval":
                out.append(("target-rate-interval-rule", p["title"], f"target {i}: [{window[1]}]"))
        for selector in SELECTOR.findall(expr):
            for name in ("job", "instance"):
                if f'{name}=~"${name}"' not in selector:
                    out.append((f"target-{name}-rule", p["title"], f"target {i}: {{{selector}}}"))
    return out


def excluded(rule: str, dashboard: str, panel: str | None) -> bool:
    exclusion = (LINT.get("exclusions") or {}).get(rule)
    if exclusion is None:
        return False
    entries = exclusion.get("entries")
    if not entries:
        return True  # the whole rule
    return any(e.get("dashboard", dashboard) == dashboard and e.get("panel", panel) == panel for e in entries)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_passes_the_linter_rules(name):
    d = DASHBOARDS[name]
    left = [v for v in violations(d) if not excluded(v[0], d["title"], v[1])]
    assert not left, "\n".join(f"[{r}] {d['title']} / {p}: {m}" for r, p, m in left)


def test_every_exclusion_has_a_reason_and_is_needed():
    found = {(r, d["title"], p) for d in DASHBOARDS.values() for r, p, _ in violations(d)}
    for rule, exclusion in LINT["exclusions"].items():
        assert len(exclusion["reason"]) > 40, f"{rule}: say why"
        for e in exclusion["entries"]:
            assert any(r == rule and d == e["dashboard"] and (p == e.get("panel") or "panel" not in e)
                       for r, d, p in found), f"{rule}: {e} excludes nothing"


def test_the_rules_catch_what_they_should():
    """Each emulated rule fires on a dashboard that breaks it."""
    d = json.loads(json.dumps(DASHBOARDS["overview.json"]))
    d["editable"] = True
    d["templating"]["list"][1]["allValue"] = ".*"
    p = panels(d)[1]
    p["description"] = ""
    p["targets"][0]["expr"] = 'sum(rate(nanobanana_probes_total{target="x"}[5m]))'
    p["fieldConfig"]["defaults"]["unit"] = "furlongs"
    p["fieldConfig"]["defaults"].pop("mappings", None)
    p["type"] = "timeseries"
    rules = {r for r, _, _ in violations(d)}
    assert {"template-uneditable-rule", "template-job-rule", "panel-title-description-rule",
            "target-rate-interval-rule", "target-job-rule", "target-instance-rule", "panel-units-rule"} <= rules
