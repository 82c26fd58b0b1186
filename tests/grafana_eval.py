"""Evaluate dashboard panels the way Grafana does, against a real Prometheus.

Grafana sends each query of a time-series panel as a range query whose step is the panel's
interval (the larger of the auto interval, about range / 1,000 pixels, and the panel's "Min
interval"), with `$__interval` that step, `$__rate_interval` max(step + scrape interval, 4 x scrape
interval) and `$__range` the time picker's range; an instant query is evaluated at the end of the
range. Legends are the query's legendFormat with `{{label}}` replaced. Colours follow the panel's
value mappings first, then its thresholds (a field override matched by display name wins).
Grafana's own docs: https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/
(`$__rate_interval`) and https://grafana.com/docs/grafana/latest/panels-visualizations/query-transform-data/
(min interval).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import httpx

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def seconds(duration: str) -> int:
    return sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhd])", duration))


def panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return [p for p in out if p["type"] != "row"]


@dataclass
class Series:
    ref: str
    name: str  # display name: the legend with the labels filled in
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (time, value)

    @property
    def last(self) -> float:
        return self.points[-1][1]


@dataclass
class View:
    """The time picker and the variables a person chose."""
    end: int
    range_s: int = 6 * 3600
    auto_step: int = 20  # Grafana's auto interval for 6 h on a usual screen
    scrape: int = 15  # the datasource's timeInterval
    variables: dict[str, str] | None = None  # name -> regex or value; default: each variable's "All"

    def step(self, panel: dict) -> int:
        return max(self.auto_step, seconds(panel.get("interval", "")) or 0)


def substitute(expr: str, dashboard: dict, view: View, step: int) -> str:
    chosen = dict(view.variables or {})
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query" and v["name"] not in chosen:
            assert v["includeAll"], f"{v['name']} is single-select: the view must choose it"
            chosen[v["name"]] = v["allValue"]
    builtins = {"__interval": f"{step}s", "__rate_interval": f"{max(step + view.scrape, 4 * view.scrape)}s",
                "__range": f"{view.range_s}s", "datasource": "prometheus"}

    def value(m):
        name = m[1] or m[2]
        if name in builtins:
            return builtins[name]
        assert name in chosen, f"unknown variable ${name}"
        return chosen[name]
    return VARIABLE.sub(value, expr)


def display_name(legend: str, labels: dict[str, str]) -> str:
    if legend in ("", "__auto"):
        return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return " ".join(LEGEND.sub(lambda m: labels.get(m[1], ""), legend).split())


def evaluate(prometheus: str, dashboard: dict, panel: dict, view: View) -> list[Series]:
    step = view.step(panel)
    end = view.end - view.end % step
    out = []
    for target in panel["targets"]:
        expr = substitute(target["expr"], dashboard, view, step)
        if target.get("instant"):
            params = {"query": expr, "time": view.end}
            answer = httpx.get(f"{prometheus}/api/v1/query", params=params, timeout=60).json()
        else:
            start = view.end - view.range_s
            params = {"query": expr, "start": start - start % step, "end": end, "step": step}
            answer = httpx.get(f"{prometheus}/api/v1/query_range", params=params, timeout=60).json()
        assert answer["status"] == "success", f"{panel['title']}: {answer.get('error')}\n{expr}"
        for r in answer["data"]["result"]:
            values = r["values"] if "values" in r else [r["value"]]
            out.append(Series(target["refId"], display_name(target["legendFormat"], r["metric"]), r["metric"],
                              [(float(t), float(v)) for t, v in values]))
    return out


def colour(panel: dict, name: str, value: float) -> str:
    """The colour Grafana gives a value of the field called `name`."""
    defaults = panel["fieldConfig"]["defaults"]
    mappings, thresholds = defaults.get("mappings", []), defaults["thresholds"]
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"]["id"] == "byRegexp" and re.search(override["matcher"]["options"], name):
            for prop in override["properties"]:
                if prop["id"] == "thresholds":
                    thresholds = prop["value"]
                elif prop["id"] == "mappings":
                    mappings = prop["value"]
    for m in mappings:
        if m["type"] == "value" and (hit := m["options"].get(_key(value))):
            return hit["color"]
        if m["type"] == "range" and m["options"]["from"] <= value <= m["options"]["to"]:
            return m["options"]["result"]["color"]
    chosen = thresholds["steps"][0]["color"]
    for s in thresholds["steps"][1:]:
        if value >= s["value"]:
            chosen = s["color"]
    return chosen


def text(panel: dict, value: float) -> str | None:
    """The text a value mapping shows for a value, if any."""
    for m in panel["fieldConfig"]["defaults"].get("mappings", []):
        if m["type"] == "value" and (hit := m["options"].get(_key(value))):
            return hit["text"]
        if m["type"] == "range" and m["options"]["from"] <= value <= m["options"]["to"]:
            return m["options"]["result"]["text"]
    return None


def _key(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else str(value)
