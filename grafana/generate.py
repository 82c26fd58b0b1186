"""Writes the Grafana dashboards in grafana/dashboards/ from code (and their dashboard-linter .lint).

    python grafana/generate.py            # (re)write the committed JSON and .lint
    python grafana/generate.py --check    # exit 1 if the committed files differ from the code

Plain Python on purpose: a dashboard is a dict, and a few helpers (one per panel kind, one layout
function) keep each panel to a few lines. Lists (phases, outcomes, resolutions, token kinds) come
from the exporter, and thresholds from the `nanobanana-settings` group of alertmanager/rules.yml,
the numbers the alerts fire on, so colours and alerts cannot drift apart. Every query selects through the datasource variable, never
a datasource uid, so the same JSON serves provisioning and grafana.com-style import.

To add a panel: write it with one of the helpers below (expr, title, description, unit) and put it
in a section list of a dashboard function; to add a row, append a section (a `row(...)` and its
panels) to the dashboard's list. Positions are assigned by `layout`, ids come from the titles
(unique per dashboard), so existing `viewPanel` links keep working.

Queries are chosen for the data that exists at the default plan (a probe per series every 15
minutes, 15 s scrapes), and tests/test_dashboards_sparse.py checks every panel on such data:
per-hour figures are `increase(...[1h])`, counts per bar `x - x offset $__interval` with a 15m
minimum interval, ratios and percentiles cover an hour (p95 only with latency_min_probes probes),
the error budget its SLO period.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, no install needed

from exporter.loading.config import DEFAULT_INTERVAL  # noqa: E402
from exporter.contract.model import COUNTED, FAILED, SUCCEEDED, downtime_over, uptime, uptime_over  # noqa: E402
from exporter.contract.outcomes import CANARY_OUTCOMES, LIVENESS_OUTCOMES, OUTCOMES, Outcome  # noqa: E402
from exporter.models.sizes import RESOLUTIONS  # noqa: E402
from exporter.domain.state import PHASES, TOKEN_KINDS  # noqa: E402
from exporter.status.base import IMPACTS, UPTIME_WINDOWS  # noqa: E402
from exporter.domain.targets import SERIES_LABELS  # noqa: E402

RULES_FILE = ROOT / "alertmanager" / "rules.yml"
SETTINGS_GROUP = "nanobanana-settings"
OUT = ROOT / "grafana" / "dashboards"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11
TAGS = ["nanobanana"]
DS = {"type": "prometheus", "uid": "${datasource}"}

# The probe series' labels (exporter/domain/targets.py SERIES_LABELS) less `api`, which follows from the
# target: every list below is derived from them, so a new series label reaches every dashboard.
PROBE_LABELS = tuple(label for label in SERIES_LABELS if label != "api")
# Variables in the order Grafana shows them; each filters on the label of the same name. `location`
# is the scrape's label of a multi-region setup (docs/operations.md "Several regions"): absent in a single one.
FILTERS = ("job", "location", "instance", *PROBE_LABELS)
# What "All" sends. job and instance always exist (`.+`, as grafana/dashboard-linter wants); location
# may be absent, and an absent label only matches a regex that matches "".
ALL_VALUE = {"job": ".+", "instance": ".+"}
SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS)
# Exporter-wide series (status sources, build info) carry no probe labels: filter by scrape only.
EXPORTER_SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS[:3])
# Free liveness checks run once per target and model: no resolution or thinking level to filter on.
TARGET_SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS[:5])
# Maintenance windows are per target: no api, model, resolution or thinking level to filter on.
MAINTENANCE_SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS[:4])
SERIES = ", ".join(("location", *PROBE_LABELS))
SERIES_LEGEND = " ".join(f"{{{{{label}}}}}" for label in (*PROBE_LABELS, "location") if label != "model")  # a target has one model
# Every label of a probe series: what a data link needs to open probe detail on that one series.
SERIES_ALL = ", ".join(("job", "instance", "location", *SERIES_LABELS))
# Probe-detail shows one series in depth: these variables pick a single value there, no "All"
# (instance too: its landing-page link needs one host).
SERIES_FILTERS = ("instance", *PROBE_LABELS)
# Window of the success-ratio, error-ratio, share and latency curves and of the per-hour figures.
# Probes come every 15 minutes by default (plus confirmations), so $__rate_interval (a few scrape
# intervals) mostly holds no probe at all: one hour always holds several, at any zoom.
PROBE_WINDOW = "1h"
WINDOW_NOTE = " Each point covers the hour before it, so that it holds several probes."
# Count panels draw one bar per probe interval at least (Grafana's "Min interval"), each bar the
# exact number of events since the bar before (`x - x offset $__interval`: no extrapolation, no
# event counted in two bars).
BAR_INTERVAL = f"{int(DEFAULT_INTERVAL // 60)}m"
BAR_NOTE = f" One bar per {BAR_INTERVAL} (or per pixel column on long ranges): the events since the bar before."
# The SLO period the error budget is counted over (rules.yml records the objective, not a period).
SLO_PERIOD, SLO_PERIOD_SECONDS = "30d", 30 * 86400
# What a failure, a success and a counted probe are, and the SLI (the share of time up), come from the
# contract (exporter/contract/model.py), as the alerts read them.
# State codes of the overview's "what broke" timeline: the highest code in a bar wins, so a bar
# with any failure shows the failure; success 1, rate limited 2, every failure outcome above.
OUTCOME_CODES = {o.value: i for i, o in enumerate(OUTCOMES, start=1)}

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


def load_settings(path: Path = RULES_FILE) -> dict:
    """The numbers recorded by rules.yml's settings group, by name without its prefix:
    `nanobanana:threshold:error_ratio` -> t["error_ratio"], `nanobanana:slo_objective:ratio` ->
    t["slo_objective"]. A record with labels (one per resolution, per burn-rate pair) becomes a
    list of its labels plus "value". The links record's labels land in t["links"]."""
    [group] = [g for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] if g["name"] == SETTINGS_GROUP]
    t: dict = {}
    for rule in group["rules"]:
        if rule["record"] == "nanobanana:alert_links:info":
            t["links"] = dict(rule["labels"])
            continue
        name = re.fullmatch(r"nanobanana:(?:threshold:(\w+)|(slo_objective):ratio)", rule["record"])
        if not name:
            continue
        value = float(re.fullmatch(r"vector\(([-\d.e]+)\)", rule["expr"].strip())[1])
        value = int(value) if value.is_integer() else value
        if "labels" in rule:
            t.setdefault(name[1] or name[2], []).append({**rule["labels"], "value": value})
        else:
            t[name[1] or name[2]] = value
    return t


def load_thresholds(path: Path = RULES_FILE) -> dict:
    """The settings without the links: only numbers."""
    return {k: v for k, v in load_settings(path).items() if k != "links"}


def latency_limits(t: dict) -> dict[str, float]:
    """Resolution -> p95 seconds the latency alert fires above (at thinking factor 1)."""
    return {r["resolution"]: r["value"] for r in t["latency_p95_seconds"]}


def latency_limit(t: dict, resolution: str, level: str) -> float:
    """nanobanana:probe_duration_seconds:p95_threshold of one series, as rules.yml computes it."""
    factor = {f["thinking_level"]: f["value"] for f in t["latency_thinking_factor"]}[level]
    return round(latency_limits(t)[resolution] * factor, 6)


def thinking_levels(t: dict) -> list[str]:
    return [f["thinking_level"] for f in t["latency_thinking_factor"]]


# ---------------------------------------------------------------- PromQL building blocks

def probes(outcome: str = "", window: str = PROBE_WINDOW, by: str = "", fn: str = "increase") -> str:
    """increase() (or rate()) of probe attempts matching an outcome matcher, summed `by` labels."""
    matchers = SEL + (f",{outcome}" if outcome else "")
    agg = f"sum by ({by})" if by else "sum"
    return f"{agg} ({fn}(nanobanana_probes_total{{{matchers}}}[{window}]))"


def per_bar(metric: str, matchers: str = "", sel: str = SEL) -> str:
    """Events of a counter since the previous bar (step), exactly: a counter reset counts 0. A
    series without a sample a bar ago (new, or a Prometheus younger than one bar) counts with
    increase() over the bar instead, so a fresh demo shows its first bar."""
    s = f"{metric}{{{sel}{matchers}}}"
    return f"(clamp_min({s} - {s} offset $__interval, 0) or increase({s}[$__interval]))"


def ratio(numerator: str, denominator: str, matching: str = "") -> str:
    """numerator / denominator where the denominator is not 0: a window without probes has no
    value (a gap) rather than NaN. `matching`: e.g. "ignoring (phase) group_left ()"."""
    return f"{numerator} / {matching + ' ' if matching else ''}({denominator} > 0)"


def availability(window: str, by: str) -> str:
    """The SLI (the share of time each series was up) over a window: the recorded family the alerts
    read, as the mean of its 5-minute records over the window."""
    return f"avg by ({by}) ({uptime_over(window, SEL)})"


def error_ratio(window: str, by: str = "") -> str:
    return ratio(probes(FAILED, window, by), probes(COUNTED, window, by))


def quantile(q: float, by: str, window: str = PROBE_WINDOW, extra: str = "", min_probes: int = 1) -> str:
    """A quantile of successful probes' durations, only where the window holds `min_probes` of
    them (without any, histogram_quantile is NaN)."""
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate(nanobanana_probe_duration_seconds_bucket{{{SEL}{extra}}}[{window}])))"
            f" and on ({by}) sum by ({by}) (increase(nanobanana_probe_duration_seconds_count{{{SEL}{extra}}}"
            f"[{window}])) >= {min_probes}")


def p95(t: dict, by: str, window: str = PROBE_WINDOW, extra: str = "") -> str:
    """p95 only where the window holds latency_min_probes successful probes, the count
    NanoBananaLatencyHigh needs: a p95 of four probes is the slowest of them."""
    return quantile(0.95, by, window, extra, t["latency_min_probes"])


def outcome_state() -> str:
    """Per series and bar, the code of the worst outcome of the probes in the bar (OUTCOME_CODES)."""
    terms = [f"(({per_bar('nanobanana_probes_total', ',outcome=' + json.dumps(o))}) > 0) * 0 + {code}"
             for o, code in OUTCOME_CODES.items()]
    return f"max by ({SERIES_ALL}) (\n  " + "\n  or ".join(terms) + "\n)"


# ---------------------------------------------------------------- panels

def query(expr: str, legend: str = "", instant: bool = False, fmt: str = "time_series") -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "instant": instant,
            "range": not instant, "format": fmt, "refId": ""}


def steps(*pairs) -> dict:
    """steps(RED, (0.9, YELLOW), (0.95, GREEN)): base colour, then (from value, colour)."""
    base, *rest = pairs
    return {"mode": "absolute",
            "steps": [{"color": base, "value": None}] + [{"color": c, "value": v} for v, c in rest]}


def panel(kind: str, title: str, description: str, targets: list[dict], unit: str = "short",
          thresholds: dict | None = None, w: int = 12, h: int = 8, options: dict | None = None,
          custom: dict | None = None, overrides: list | None = None, interval: str = "", **defaults) -> dict:
    """`interval` is Grafana's "Min interval" of the queries (the step, and $__interval, at least)."""
    for ref, t in zip("ABCDEFGHIJKLMNOP", targets):
        t["refId"] = ref
    extra = {"interval": interval} if interval else {}
    return {
        "type": kind, "title": title, "description": description, "datasource": DS, "targets": targets,
        "gridPos": {"w": w, "h": h}, **extra,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": thresholds or steps(GREEN), "custom": custom or {},
                         "color": {"mode": "thresholds" if thresholds else "palette-classic"}, **defaults},
            "overrides": overrides or [],
        },
        "options": options or {},
    }


def stat(title, description, targets, unit="short", thresholds=None, w=6, h=5, text_mode="value_and_name",
         **kw) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "none", "textMode": text_mode,
               "justifyMode": "auto", "orientation": "auto"}
    return panel("stat", title, description, targets, unit, thresholds or steps(BLUE), w, h, options, **kw)


def timeseries(title, description, targets, unit="short", thresholds=None, w=12, h=8, stack=False,
               bars=False, threshold_style="off", **kw) -> dict:
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1, "fillOpacity": 60 if stack else 10,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}, "spanNulls": True,
              "showPoints": "never", "thresholdsStyle": {"mode": threshold_style}}
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    # Thresholds show as lines (threshold_style); series keep their own colours to stay apart.
    kw.setdefault("color", {"mode": "palette-classic"})
    return panel("timeseries", title, description, targets, unit, thresholds, w, h, options, custom, **kw)


def bargauge(title, description, targets, unit="short", thresholds=None, w=12, h=8, **kw) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True}
    return panel("bargauge", title, description, targets, unit, thresholds, w, h, options, **kw)


def heatmap(title, description, targets, w=12, h=8, **kw) -> dict:
    options = {"calculate": False, "cellGap": 1, "yAxis": {"unit": "s", "axisPlacement": "left"},
               "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5},
               "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
               "legend": {"show": True}, "cellValues": {}, "showValue": "never"}
    return panel("heatmap", title, description, targets, "s", None, w, h, options, **kw)


def piechart(title, description, targets, unit="short", w=6, h=8) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "pieType": "donut", "displayLabels": ["percent"],
               "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["percent"]}}
    return panel("piechart", title, description, targets, unit, None, w, h, options)


def state_timeline(title, description, targets, w=24, h=6, custom=None, **kw) -> dict:
    options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    return panel("state-timeline", title, description, targets, "short", steps(GREEN), w, h, options, custom, **kw)


def row(title: str, repeat: str | None = None) -> dict:
    r = {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}
    if repeat:
        r["repeat"] = repeat
    return r


def by_name(pattern: str, **properties) -> dict:
    """A field override for series whose display name matches a regex."""
    return {"matcher": {"id": "byRegexp", "options": pattern},
            "properties": [{"id": k, "value": v} for k, v in properties.items()]}


def link(title: str, url: str, tooltip: str = "") -> dict:
    """A dashboard link (top right) to a page outside Grafana."""
    return {"type": "link", "title": title, "url": url, "targetBlank": True, "icon": "doc", "tooltip": tooltip,
            "asDropdown": False, "includeVars": False, "keepTime": False, "tags": []}


def runbook(t: dict, alert: str) -> dict:
    """A panel link to the runbook section of the alert the panel mirrors."""
    return {"title": f"Runbook: {alert}", "url": f"{t['links']['runbook_url']}#{alert.lower()}", "targetBlank": True}


# Panel links of one series (a value of a stat, a row of a timeline): probe detail with that series'
# variables and the current time range, and the landing page of the exporter that probed it.
PROBE_DETAIL_LINK = {"title": "Probe detail of this series", "url": "/d/nanobanana-probe-detail?"
                     + "&".join(f"var-{v}=${{__field.labels.{v}}}" for v in ("job", *SERIES_FILTERS))
                     + "&var-location=${__field.labels.location}&${__url_time_range}&${datasource:queryparam}"}
LANDING_LINK = {"title": "Exporter landing page (last errors)", "url": "http://${__field.labels.instance}/",
                "targetBlank": True}
SERIES_LINKS = [PROBE_DETAIL_LINK, LANDING_LINK]

def panel_id(title: str) -> int:
    """A panel's id, from its title: stable when panels move or others are added, so a `viewPanel`
    link keeps opening the same panel (titles are unique per dashboard; a test checks the ids)."""
    return zlib.crc32(title.encode()) % 100_000 + 1


def layout(sections: list[list[dict]]) -> list[dict]:
    """Flow panels left to right, wrapping at Grafana's 24 columns; give each its stable id. A
    section is a row panel and the panels under it: append a section to add a row."""
    out, x, y, line_h = [], 0, 0, 0
    for section in sections:
        for p in section:
            w, h = p["gridPos"]["w"], p["gridPos"]["h"]
            if x + w > 24:
                x, y, line_h = 0, y + line_h, 0
            p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
            p["id"] = panel_id(p["title"])
            out.append(p)
            x, line_h = x + w, max(line_h, h)
        x, y, line_h = 0, y + line_h, 0
    return out


# ---------------------------------------------------------------- variables and the dashboard shell

def datasource_variable() -> dict:
    return {"name": "datasource", "label": "Data Source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": ""}


def query_variable(name: str, query: str, single: bool = False) -> dict:
    """Multi-select with "All" (ALL_VALUE), or with `single` one value, the first one listed by default."""
    if single:
        return {"name": name, "label": name, "type": "query", "datasource": DS, "query": query, "definition": query,
                "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
                "refresh": 2, "regex": "", "sort": 1}
    return {"name": name, "label": name, "type": "query", "datasource": DS, "query": query, "definition": query,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "includeAll": True, "allValue": ALL_VALUE.get(name, ".*"), "multi": True, "options": [],
            "refresh": 2, "regex": "", "sort": 1}


def variables(single: tuple[str, ...] = ()) -> list[dict]:
    """Each variable lists the values left by the ones before it (job narrows instance, ...);
    those named in `single` pick one value."""
    out = [datasource_variable(),
           query_variable("job", "label_values(nanobanana_exporter_build_info, job)", "job" in single)]
    for i, name in enumerate(FILTERS[1:], start=1):
        before = ",".join(f'{n}=~"${n}"' for n in FILTERS[:i])
        metric = "nanobanana_exporter_build_info" if name in ("location", "instance") else "nanobanana_probe_interval_seconds"
        out.append(query_variable(name, f"label_values({metric}{{{before}}}, {name})", name in single))
    return out


def dashboard(uid: str, title: str, description: str, sections: list[list[dict]], t: dict,
              links: list | None = None, single: tuple[str, ...] = ()) -> dict:
    panels = layout(sections)
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return {
        # __requires lets grafana.com-style import check the plugins; there is no __inputs because
        # the datasource is a dashboard variable: import picks the default Prometheus, no uid needed.
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
                      + [{"type": "panel", "id": k, "name": k, "version": ""} for k in kinds],
        "uid": uid, "title": title, "description": description, "tags": TAGS,
        "schemaVersion": SCHEMA_VERSION, "version": 1, "graphTooltip": 1,
        "editable": False,  # provisioned and generated: change grafana/generate.py, not the UI
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m", "timezone": "", "fiscalYearStartMonth": 0,
        "annotations": {"list": []}, "liveNow": False, "weekStart": "",
        "links": [{"type": "dashboards", "tags": TAGS, "asDropdown": False, "includeVars": True,
                   "keepTime": True, "title": "Nano Banana", "targetBlank": False, "icon": "external link",
                   "tooltip": "", "url": ""},
                  link("Runbook", t["links"]["runbook_url"], "What each alert means and what to do first")]
                 + (links or []),
        "templating": {"list": variables(single)},
        "timepicker": {},
        "panels": panels,
    }


OK_FAIL = [{"type": "value", "options": {"0": {"text": "FAIL", "color": RED, "index": 0},
                                         "1": {"text": "OK", "color": GREEN, "index": 1}}}]
# Free liveness check: 1 OK, 0 FAIL, 2 rate limited (quota, not a failure of the API).
LIVENESS_STATES = [{"type": "value", "options": {"0": {"text": "FAIL", "color": RED, "index": 0},
                                                 "1": {"text": "OK", "color": GREEN, "index": 1},
                                                 "2": {"text": "rate limited", "color": YELLOW, "index": 2}}}]
MAINTENANCE_STATES = [{"type": "value", "options": {"0": {"text": "none", "color": "transparent", "index": 0},
                                                    "1": {"text": "maintenance", "color": BLUE, "index": 1}}}]
# Ages in probe intervals; -1 is a series that never had what is counted.
NEVER = [{"type": "range", "options": {"from": -1, "to": -1, "result": {"text": "never", "color": RED, "index": 0}}}]


def outcome_colour(o: str) -> str:
    return GREEN if o == Outcome.SUCCESS else YELLOW if o == Outcome.RATE_LIMITED else RED


LIVENESS_COLOURS = [by_name(f"{o}$", color={"mode": "fixed", "fixedColor": outcome_colour(o)})
                    for o in LIVENESS_OUTCOMES]
CANARY_COLOURS = [by_name(f"{o}$", color={"mode": "fixed", "fixedColor": outcome_colour(o)}) for o in CANARY_OUTCOMES]


def check_timeline(kind: str, title: str, description: str, w: int, h: int) -> dict:
    """OK (1), FAIL (0) or rate limited (2) of the last check of each target, for one kind of check."""
    state = (f"nanobanana_{kind}_success{{{TARGET_SEL}}} + ignoring (outcome) (2 * "
             f"nanobanana_{kind}_outcome{{{TARGET_SEL},outcome=\"{Outcome.RATE_LIMITED}\"}})")
    return state_timeline(title, description, [query(state, "{{target}} {{model}} {{location}}")], w=w, h=h,
                          mappings=LIVENESS_STATES)
# Series named "<outcome>" or "<outcome> <location>".
OUTCOME_COLOURS = [by_name(f"^{o}( |$)", color={"mode": "fixed", "fixedColor": outcome_colour(o)}) for o in OUTCOMES]
OUTCOME_STATES = [{"type": "value", "options": {str(code): {"text": o, "color": outcome_colour(o), "index": code}
                                                for o, code in OUTCOME_CODES.items()}}]


def latency_overrides(t: dict, levels: list[str] | None = None, resolution: str = "") -> list[dict]:
    """p95 thresholds per series, as nanobanana:probe_duration_seconds:p95_threshold computes them
    (the resolution's p95 times the thinking level's factor). Series are named starting with
    "<resolution> <thinking_level>", or with "<thinking_level>" in a panel of one `resolution`."""
    out = []
    for res in [resolution] if resolution else RESOLUTIONS:
        for level in levels or thinking_levels(t):
            name = f"^{level}\\b" if resolution else f"^{res} {level}\\b"
            out.append(by_name(name, thresholds=steps(GREEN, (latency_limit(t, res, level), RED))))
    return out


def age_in_intervals(timestamp: str) -> str:
    """Probe intervals since a timestamp gauge, -1 (NEVER) for a series without one yet."""
    return (f"(time() - {timestamp}{{{SEL}}}) / nanobanana_probe_interval_seconds{{{SEL}}}"
            f" or nanobanana_probe_interval_seconds{{{SEL}}} * 0 - 1")


INTERVALS = "suffix: × interval"


# ---------------------------------------------------------------- the dashboards

WHEN_RED = ("When red: check the upstream status (Google Cloud status, AI Studio, the gateway), then your own "
            "side: API key, quota, network, request parameters. The exporter landing page shows the last "
            "error of each series.")


def last_probe_stat(t: dict, w: int, legend: str, links: list) -> dict:
    stale = t["stale_intervals"]
    return stat("Last probe", f"Probe intervals since the last probe finished: about 1 normally (plus jitter). "
                f"Yellow from 2 (a probe is late or skipped), red from {stale}: NanoBananaProbeStale fires "
                f"{stale} intervals plus the timeout after the last probe. See skipped probes on probe detail.",
                [query(age_in_intervals("nanobanana_probe_last_run_timestamp_seconds"), legend)], INTERVALS,
                steps(GREEN, (2, YELLOW), (stale, RED)), w=w, decimals=1, mappings=NEVER,
                links=links + [runbook(t, "NanoBananaProbeStale")])


def last_success_stat(t: dict, w: int, legend: str, links: list) -> dict:
    limit = t["consecutive_failures"]
    return stat("Last success", f"Probe intervals since the last successful probe; \"never\" (red) for a series "
                f"that has not succeeded yet. About 1 normally; red from {limit}, the consecutive failures "
                "NanoBananaProbeFailing fires at. Growing while consecutive failures stay at 0: the exporter is "
                "not probing (see Last probe).",
                [query(age_in_intervals("nanobanana_probe_last_success_timestamp_seconds"), legend)], INTERVALS,
                steps(GREEN, (2, YELLOW), (limit, RED)), w=w, decimals=1, mappings=NEVER, links=links)


def what_broke(t: dict) -> list[dict]:
    return [
        row("What broke, since when?"),
        state_timeline("Outcome by series", "Every series (location, target, model, resolution, thinking level) "
                       "over time, one bar per probe interval: green success, yellow rate limited (quota, not a "
                       "failure), red the failure outcome (the worst one in the bar; the name says where to "
                       "look: timeout, server_error, auth_error, ...). A red stretch starts when that series broke; "
                       "hover for the time. Click a row for its probe detail or the landing page of the exporter "
                       "that probed it (the last error messages). Bars without a probe continue the state before. "
                       + WHEN_RED, [query(outcome_state(), "{{location}} {{target}} {{model}} {{resolution}} "
                                                           "{{thinking_level}}")],
                       w=24, h=8, mappings=OUTCOME_STATES, interval=BAR_INTERVAL, links=SERIES_LINKS,
                       # spanNulls: "Connect null values" of the state timeline (Grafana 10.1+,
                       # grafana.com/docs/grafana/v10.1/panels-visualizations/visualizations/state-timeline/)
                       custom={"spanNulls": True, "fillOpacity": 80, "lineWidth": 0}),
        state_timeline("Maintenance", "Blue while a maintenance window of the config (`maintenance:`) is open for "
                       "the target: its paid probes are paused (skipped, reason maintenance, not paid) and its "
                       "series keep their last values; free liveness checks go on. A red stretch above inside a "
                       "blue one is not a new failure.",
                       [query(f"max by (location, target) (nanobanana_maintenance_active{{{MAINTENANCE_SEL}}})",
                              "{{location}} {{target}}")],
                       w=24, h=4, mappings=MAINTENANCE_STATES, custom={"fillOpacity": 80, "lineWidth": 0}),
    ]


def overview(t: dict) -> dict:
    legend = "{{resolution}} {{thinking_level}} {{model}} {{location}}"
    now_row = [
        row("$target", repeat="target"),
        stat("Current success", "1 (OK) if the last probe that was not rate limited returned a verified image. "
             + WHEN_RED, [query(f"nanobanana_probe_success{{{SEL}}}", legend)], thresholds=steps(RED, (1, GREEN)),
             w=4, mappings=OK_FAIL, links=SERIES_LINKS + [runbook(t, "NanoBananaProbeFailing")]),
        stat("Availability (range)", f"The SLI over the selected time range: the share of time the series was up "
             f"(from a failed probe to the next successful one it is down; rate-limited probes change nothing), "
             f"the figure the alerts and the report read. Red below {t['availability_ratio']:.1%} (the alert), green from the "
             f"{t['slo_objective']:.1%} objective. " + WHEN_RED,
             [query(availability("$__range", SERIES_ALL), legend, instant=True)], "percentunit",
             steps(RED, (t["availability_ratio"], YELLOW), (t["slo_objective"], GREEN)), w=5, min=0, max=1,
             decimals=2, links=SERIES_LINKS + [runbook(t, "NanoBananaAvailabilityLow")]),
        stat("p95 latency (range)", "95th percentile duration of successful probes over the selected range, "
             f"where the range holds at least {t['latency_min_probes']} of them (as NanoBananaLatencyHigh needs). "
             "Red above the series' alert threshold: the resolution's p95 (" + ", ".join(
                 f"{r} {s} s" for r, s in latency_limits(t).items()) + ") times the thinking level's factor. "
             "When red: compare the phase shares below (processing is upstream, transfer is the network) and "
             "the upstream status.",
             [query(p95(t, SERIES_ALL, "$__range"), legend, instant=True)], "s", steps(GREEN),
             w=5, overrides=latency_overrides(t), links=SERIES_LINKS + [runbook(t, "NanoBananaLatencyHigh")]),
        stat("Consecutive failures", f"Failed probes in a row (rate-limited ones neither reset nor extend it). One "
             f"or two is a blip; red at {t['consecutive_failures']} (the alert). " + WHEN_RED,
             [query(f"nanobanana_probe_consecutive_failures{{{SEL}}}", legend)], "short",
             steps(GREEN, (1, YELLOW), (t["consecutive_failures"], RED)), w=5, decimals=0,
             links=SERIES_LINKS + [runbook(t, "NanoBananaProbeFailing")]),
        last_success_stat(t, 5, legend, SERIES_LINKS),
    ]
    uptime_window = UPTIME_WINDOWS[0]  # the shortest: closest to "right now"
    upstream = [
        row("Is it Google, or is it us?"),
        timeseries("Availability", "The SLI per series: the share of the hour before each point it was up. "
                   f"The dashed line is the {t['availability_ratio']:.0%} availability alert. Compare with the "
                   "official incidents and OpenRouter's uptime beside it, and the locations with each other: all "
                   "locations down is the API, one alone is its network path." + WINDOW_NOTE + " " + WHEN_RED,
                   [query(availability(PROBE_WINDOW, SERIES), "{{target}} {{resolution}} {{thinking_level}} "
                                                              "{{model}} {{location}}")],
                   "percentunit", steps(RED, (t["availability_ratio"], GREEN)), w=6, threshold_style="dashed",
                   min=0, max=1),
        check_timeline("liveness", "Free liveness check", "The free check of each target and model (a model lookup or list, "
                       "every minute by default): it proves reachability, the API key and that the model id "
                       "exists. Red while paid probes fail too: the API itself is down for us. Red alone: key or "
                       "model id (NanoBananaApiKeyRejected, NanoBananaModelGone), the probe-detail dashboard "
                       "names the outcome. Yellow: the check was rate limited (quota, not an outage). Green while "
                       "paid probes fail: only image generation is broken.", w=6, h=8),
        timeseries("Official incidents", "Incidents the official status feed lists as not ended, per watched "
                   "product and impact (NanoBananaUpstreamIncident fires meanwhile). An incident while our "
                   "success ratio falls: it is Google's side, inform users and follow the incident. No data: "
                   "no status source configured.",
                   [query(f"max by (product, impact) (nanobanana_upstream_incidents_active{{{EXPORTER_SEL}}})",
                           "{{product}} {{impact}}")], w=6, stack=True, bars=True, min=0, decimals=0,
                   overrides=[by_name(f" {IMPACTS[impact]}$", color={"mode": "fixed", "fixedColor": colour})
                              for impact, colour in (("SERVICE_INFORMATION", BLUE), ("SERVICE_DISRUPTION", ORANGE),
                                                     ("SERVICE_OUTAGE", RED))],
                   links=[runbook(t, "NanoBananaUpstreamIncident")]),
        timeseries(f"OpenRouter endpoint uptime ({uptime_window})", "Share of requests each provider endpoint "
                   f"served successfully over {uptime_window}, as OpenRouter saw it for all its users. Down with "
                   "our success ratio: upstream. Ours down, theirs fine: our key, quota or network. The dashed "
                   "line is our availability alert, for scale. No data: the openrouter status source is off.",
                   [query(f'max by (provider, model) (nanobanana_openrouter_endpoint_uptime_ratio'
                          f'{{{EXPORTER_SEL},window="{uptime_window}"}})', "{{provider}} {{model}}")],
                   "percentunit", steps(RED, (t["availability_ratio"], GREEN)), w=6, threshold_style="dashed",
                   min=0, max=1),
        check_timeline("canary", "Canary", "The canary of each target that runs one (canary: in the config, off by default): "
                       "a paid text-only generation on the image model, every minute by default. It goes through "
                       "the model's serving path, so it is red in a generation outage the free liveness check "
                       "misses; its failures in a row probe the target's series at once (reason canary). Red "
                       "while the liveness check is green: the model is overloaded or failing. Green while paid "
                       "probes fail: only image output is broken, which the canary cannot see. Yellow: rate "
                       "limited. No data: no target runs a canary.", w=24, h=5),
    ]
    outcomes = [
        row("Outcomes"),
        timeseries("Probes per hour by outcome", "Probe attempts in the hour before each point, stacked by "
                   "outcome: green is success, yellow rate limited, red any failure. A failure band points at its "
                   "cause: timeout (slow upstream or network), server_error (upstream outage), auth_error (API "
                   "key), content_blocked (prompt), bad_image / no_image (model answered wrongly). " + WHEN_RED,
                   [query(probes(by="location, outcome"), "{{outcome}} {{location}}")],
                   w=12, stack=True, overrides=OUTCOME_COLOURS, min=0, decimals=0),
        timeseries("Rate limited per hour", "Probes answered with HTTP 429 / RESOURCE_EXHAUSTED in the hour before "
                   "each point, per target and model: NanoBananaRateLimited's own expression. Kept apart because "
                   "they are not a failure of the service: quota is spent. Red above "
                   f"{t['rate_limited_per_hour']} an hour (the info alert). When red: check quota and other "
                   "traffic on the same key, or probe less often.",
                   [query(probes(f'outcome="{Outcome.RATE_LIMITED}"', by="job, instance, location, target, api, model"),
                          "{{target}} {{model}} {{location}}")],
                   thresholds=steps(YELLOW, (t["rate_limited_per_hour"], RED)), w=12, threshold_style="dashed",
                   min=0, decimals=0, color={"mode": "fixed", "fixedColor": YELLOW},
                   links=[runbook(t, "NanoBananaRateLimited")]),
    ]
    latency = [row("Latency (successful probes)")]
    for res in RESOLUTIONS:
        by = "location, thinking_level"
        extra = f',resolution="{res}"'
        latency.append(timeseries(
            f"Latency {res}", f"p50 and slowest (the upper bound of the slowest probe's bucket) duration of "
            f"successful {res} probes (request start to verified image) by thinking level, and p95 where the hour "
            f"holds {t['latency_min_probes']} probes or more (as NanoBananaLatencyHigh needs; at one probe per "
            "15 minutes it does not, and a p95 of four probes is the slowest of them). The dashed lines are each "
            f"thinking level's alert threshold ({res} {latency_limits(t)[res]} s times its factor). When above it: "
            "see where the time goes below; processing is upstream, connect/tls/transfer are the network."
            + WINDOW_NOTE,
            [query(quantile(0.5, by, extra=extra), "{{thinking_level}} p50 {{location}}"),
             query(p95(t, by, extra=extra), "{{thinking_level}} p95 {{location}}"),
             query(quantile(1, by, extra=extra), "{{thinking_level}} slowest {{location}}"),
             query(f"max by (thinking_level) (nanobanana:probe_duration_seconds:p95_threshold{{{SEL}{extra}}})",
                   "{{thinking_level}} alert")],
            "s", None, w=8, min=0, links=[runbook(t, "NanoBananaLatencyHigh")],
            overrides=[by_name(" alert$", **{"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})]))
    latency.append(heatmap(
        "Duration heatmap", "How many successful probes finished in each duration bucket, per bar; a second "
        "band appearing higher up means some requests got slow (often one resolution or one target)." + BAR_NOTE,
        [query(f"sum by (le) ({per_bar('nanobanana_probe_duration_seconds_bucket')})", "{{le}}", fmt="heatmap")],
        w=24, interval=BAR_INTERVAL))
    time_goes = [
        row("Where the time goes"),
        timeseries("Phase shares", "Share of probe time spent in each phase: connect and tls (connection set-up, "
                   "normally 5-10 %), processing (upstream generating, 60-70 %), transfer (downloading the "
                   "image, 20-30 %), decode (verifying it locally). A growing connect/tls share means the "
                   "network is slow; a growing processing share is upstream." + WINDOW_NOTE,
                   [query(ratio(f"sum by (phase) (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}"
                                f"[{PROBE_WINDOW}]))",
                                f"sum (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}[{PROBE_WINDOW}]))",
                                "ignoring (phase) group_left ()"), "{{phase}}")],
                   "percentunit", w=12, stack=True, min=0, max=1),
        piechart("Time by phase (range)", "Probe seconds per phase summed over the whole selected range; the slices are the shares.",
                 [query(f"sum by (phase) (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}[$__range]))",
                         "{{phase}}", instant=True)], "s", w=6),
        bargauge("Phase seconds per probe (range)", "Average seconds per probe in each phase over the range "
                 f"({', '.join(PHASES)}), failed probes included.",
                 [query(ratio(f"sum by (phase) (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}[$__range]))",
                              probes(window="$__range"), "ignoring (phase) group_left ()"),
                        "{{phase}}", instant=True)], "s", w=6),
    ]
    sizes = [
        row("Sizes and tokens"),
        timeseries("Image size", "Size of the last decoded image file per series (failed probes, which have no "
                   "image, are skipped). A 2K PNG is about 4-6 MB, a 4K one 10 MB or more; a sudden drop may mean "
                   "the provider returns a smaller or compressed image.",
                   [query(f"nanobanana_probe_image_bytes{{{SEL}}} > 0", SERIES_LEGEND)],
                   "bytes", w=8),
        timeseries("Response size", "Size of the last response body per series (base64 makes it about 4/3 of the "
                   "image; an error body of a failed probe is small). Near the body cap, probes fail as "
                   "bad_response.",
                   [query(f"nanobanana_probe_response_bytes{{{SEL}}}", SERIES_LEGEND)],
                   "bytes", w=8),
        timeseries("Tokens per hour by kind", f"Tokens reported by the APIs' usage fields ({', '.join(TOKEN_KINDS)}) "
                   "in the hour before each point. Output tokens are what Google bills for images; thinking tokens "
                   "grow with the thinking level.",
                   [query(f"sum by (location, kind) (increase(nanobanana_probe_tokens_total{{{SEL}}}[{PROBE_WINDOW}]))",
                           "{{kind}} {{location}}")], w=8, stack=True, min=0, decimals=0),
    ]
    return dashboard("nanobanana-overview", "Nano Banana / Overview",
                     "Is Nano Banana working right now, for us? Which series broke and since when, one row per "
                     "target, then whether it is upstream, outcomes, latency, phases, sizes and tokens.",
                     [what_broke(t), now_row, upstream, outcomes, latency, time_goes, sizes], t)


def probe_detail(t: dict) -> dict:
    legend = SERIES_LEGEND
    landing = [LANDING_LINK]
    now = [
        row("Now"),
        stat("Current success", "1 (OK) if the last probe that was not rate limited succeeded. " + WHEN_RED,
             [query(f"nanobanana_probe_success{{{SEL}}}", legend)], thresholds=steps(RED, (1, GREEN)), w=4,
             mappings=OK_FAIL, links=landing + [runbook(t, "NanoBananaProbeFailing")]),
        stat("Consecutive failures", f"Failed probes in a row; red at {t['consecutive_failures']} (the alert).",
             [query(f"nanobanana_probe_consecutive_failures{{{SEL}}}", legend)], "short",
             steps(GREEN, (1, YELLOW), (t["consecutive_failures"], RED)), w=4, decimals=0,
             links=landing + [runbook(t, "NanoBananaProbeFailing")]),
        last_probe_stat(t, 4, legend, landing),
        last_success_stat(t, 4, legend, landing),
        stat("Availability (range)", f"The SLI over the range (the share of time up, as the alerts and the report "
             f"read it); red below {t['availability_ratio']:.1%}.",
             [query(availability("$__range", SERIES), legend, instant=True)],
             "percentunit", steps(RED, (t["availability_ratio"], YELLOW), (t["slo_objective"], GREEN)), w=4,
             min=0, max=1, decimals=2, links=[runbook(t, "NanoBananaAvailabilityLow")]),
        stat("p95 latency (range)", "95th percentile duration of successful probes over the range, where it holds "
             f"at least {t['latency_min_probes']}; red above the series' alert threshold (the resolution's p95 "
             "times the thinking level's factor).",
             [query(p95(t, SERIES, "$__range"), "{{resolution}} {{thinking_level}} {{target}} {{location}}",
                    instant=True)], "s", steps(GREEN), w=4, overrides=latency_overrides(t),
             links=[runbook(t, "NanoBananaLatencyHigh")]),
        stat("Interval and timeout", "The configured probe interval and timeout of the series.",
             [query(f"nanobanana_probe_interval_seconds{{{SEL}}}", f"interval {legend}"),
              query(f"nanobanana_probe_timeout_seconds{{{SEL}}}", f"timeout {legend}")], "s", w=6, h=4),
        stat("Last image and response size", "Sizes of the last successful probe's decoded image and of the last "
             "response body.",
             [query(f"nanobanana_probe_image_bytes{{{SEL}}} > 0", f"image {legend}"),
              query(f"nanobanana_probe_response_bytes{{{SEL}}}", f"response {legend}")], "bytes", w=6, h=4),
        stat("Liveness check", "Outcome of the target's last free liveness check (model lookup or list). "
             "auth_error: the key is refused (NanoBananaApiKeyRejected); model_missing: the model id was retired "
             "or misspelt (NanoBananaModelGone); rate_limited: quota (yellow, not an outage); timeout, "
             "server_error, network_error: the API is unreachable, check the upstream status. The landing page "
             "shows the API's message.",
             [query(f"nanobanana_liveness_outcome{{{TARGET_SEL}}} == 1", "{{target}} {{model}}: {{outcome}}")],
             thresholds=steps(BLUE), w=6, h=4, text_mode="name", overrides=LIVENESS_COLOURS, links=landing),
        stat("Canary", "Outcome of the target's last canary (a paid text-only generation on the image model, "
             "when the target runs one). server_error or timeout while the liveness check succeeds: the model "
             "itself is failing (overloaded); no_text: it answered without text; rate_limited: quota (yellow). "
             "Cost and tokens are in nanobanana_canary_cost_usd_total and _tokens_total. Empty: no canary.",
             [query(f"nanobanana_canary_outcome{{{TARGET_SEL}}} == 1", "{{target}} {{model}}: {{outcome}}")],
             thresholds=steps(BLUE), w=6, h=4, text_mode="name", overrides=CANARY_COLOURS, links=landing),
        stat("Exporter version", "nanobanana_exporter_build_info of the scraped exporter(s); the link opens "
             "its landing page with every series' recent attempts and errors.",
             [query(f"nanobanana_exporter_build_info{{{EXPORTER_SEL}}}", "{{version}} {{instance}}")],
             w=6, h=4, links=landing, text_mode="name"),
        stat("Config reload", "Whether the exporter's last config reload (SIGHUP, POST /-/reload, systemctl reload) "
             "succeeded. FAILED: it still runs the config it loaded before, not the file on disk "
             "(NanoBananaConfigReloadFailed); the landing page shows the error.",
             [query(f"nanobanana_exporter_config_last_reload_successful{{{EXPORTER_SEL}}}", "{{instance}}")],
             thresholds=steps(RED, (1, GREEN)), w=6, h=4, links=landing + [runbook(t, "NanoBananaConfigReloadFailed")],
             mappings=[{"type": "value", "options": {"0": {"text": "FAILED", "color": RED, "index": 0},
                                                     "1": {"text": "ok", "color": GREEN, "index": 1}}}]),
        stat("Served by", "The model the last answer said served it (Gemini's modelVersion, the OpenAI-style "
             "`model`; OpenRouter also names the provider), from nanobanana_probe_served_model_info. Another "
             "family than the one asked fails the `model` image check (NanoBananaModelSubstituted). Empty: the "
             "answers name no model (OpenAI's images API).",
             [query(f"nanobanana_probe_served_model_info{{{SEL}}}", "{{served_model}}"),
              query(f"nanobanana_probe_served_provider_info{{{SEL}}}", "via {{provider}}")],
             thresholds=steps(BLUE), w=6, h=4, text_mode="name", links=landing + [runbook(t, "NanoBananaModelSubstituted")]),
        stat("Image checks", "Each image check's verdict on the last image it judged (docs/image-checks.md): "
             "blank (a uniform frame), detail (a lower resolution scaled up), model (another model answered), "
             "content (not the prompt's colour and shape). FAIL on one image is not an alert: "
             f"{t['image_check_failures']:g} in a row are (NanoBananaImageBlank, ...Upscaled, ModelSubstituted, "
             "ImageOffPrompt). Empty: no image judged yet, or the check is off.",
             [query(f"min by (instance, check) (nanobanana_image_check_passed{{{SEL}}})", "{{check}}")],
             thresholds=steps(RED, (1, GREEN)), w=12, h=4, mappings=OK_FAIL, links=landing),
    ]
    history = [
        row("Outcome history"),
        state_timeline("Success over time", "The current-success gauge over time: each red stretch is an outage "
                       "seen by the prober. Rate-limited probes do not change it.",
                       [query(f"nanobanana_probe_success{{{SEL}}}", legend)], mappings=OK_FAIL),
        timeseries("Probes by outcome", "Probe attempts per bar, stacked by outcome; rate_limited (yellow) is "
                   "quota, not a failure." + BAR_NOTE,
                   [query(f"sum by (outcome) ({per_bar('nanobanana_probes_total')})", "{{outcome}}")], w=12,
                   stack=True, bars=True, min=0, decimals=0, overrides=OUTCOME_COLOURS, interval=BAR_INTERVAL),
        timeseries("Skipped probes", "Probes not run when due, by reason: overlap means the previous probe "
                   "was still running, so the interval is shorter than the probes take; budget means the "
                   "scope's daily budget is spent (see the SLO and cost dashboard)." + BAR_NOTE,
                   [query(f"sum by (reason) ({per_bar('nanobanana_probe_skipped_total')})", "{{reason}}")],
                   w=12, bars=True, min=0, decimals=0, interval=BAR_INTERVAL),
    ]
    phases = [
        row("Phases"),
        bargauge("Last probe by phase", f"Seconds the last probe spent in each phase ({', '.join(PHASES)}).",
                 [query(f"sum by (phase) (nanobanana_probe_phase_duration_seconds{{{SEL}}})", "{{phase}}",
                         instant=True)], "s", w=8),
        timeseries("Last probe by phase over time", "The same breakdown over time, stacked: the top of the "
                   "stack is the whole duration of the last probe.",
                   [query(f"sum by (phase) (nanobanana_probe_phase_duration_seconds{{{SEL}}})", "{{phase}}")],
                   "s", w=16, stack=True, min=0),
    ]
    by = SERIES
    duration = [
        row("Duration, sizes, tokens"),
        timeseries("Duration", f"p50, slowest (the upper bound of the slowest probe's bucket) and mean of "
                   f"successful probes, and p95 where the hour holds {t['latency_min_probes']} or more (as "
                   "NanoBananaLatencyHigh needs). The dashed line is the series' alert threshold "
                   "(nanobanana:probe_duration_seconds:p95_threshold)." + WINDOW_NOTE,
                   [query(quantile(0.5, by), "p50 {{location}}"), query(p95(t, by), "p95 {{location}}"),
                    query(quantile(1, by), "slowest {{location}}"),
                    query(ratio(f"sum by ({by}) (rate(nanobanana_probe_duration_seconds_sum{{{SEL}}}[{PROBE_WINDOW}]))",
                                f"sum by ({by}) (rate(nanobanana_probe_duration_seconds_count{{{SEL}}}[{PROBE_WINDOW}]))"),
                          "mean {{location}}"),
                    query(f"max (nanobanana:probe_duration_seconds:p95_threshold{{{SEL}}})", "alert")],
                   "s", None, w=12, min=0, links=[runbook(t, "NanoBananaLatencyHigh")],
                   overrides=[by_name("^alert$", **{"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})]),
        timeseries("Sizes", "Last image (of a successful probe) and response sizes over time.",
                   [query(f"nanobanana_probe_image_bytes{{{SEL}}} > 0", f"image {legend}"),
                    query(f"nanobanana_probe_response_bytes{{{SEL}}}", f"response {legend}")], "bytes", w=6),
        timeseries("Tokens per probe", "Tokens by kind per successful probe over the hour before each point (1K/2K "
                   "images bill about 1120 output tokens, 4K about 2000). Failed probes that report usage (a wrong "
                   "image is billed) add their tokens without adding a probe.",
                   [query(ratio(f"sum by (kind) (increase(nanobanana_probe_tokens_total{{{SEL}}}[{PROBE_WINDOW}]))",
                                probes(SUCCEEDED), "ignoring (kind) group_left ()"), "{{kind}}")],
                   w=6, min=0, decimals=0),
    ]
    links = [{"type": "link", "title": "Exporter landing page", "url": "http://${instance}/", "targetBlank": True,
              "icon": "external link", "tooltip": "The selected instance's recent attempts and errors (its "
              "host:port must be reachable from your browser)",
              "asDropdown": False, "includeVars": False, "keepTime": False, "tags": []}]
    return dashboard("nanobanana-probe-detail", "Nano Banana / Probe detail",
                     "One probe series in depth: pick one instance, target, model, resolution and thinking level.",
                     [now, history, phases, duration], t, links, single=SERIES_FILTERS)


def slo_cost(t: dict) -> dict:
    objective = t["slo_objective"]
    budget = round(1 - objective, 10)
    pairs = t["burn_rate"]
    windows = list(dict.fromkeys(w for p in pairs for w in (p["long_window"], p["short_window"])))
    factors = sorted(p["value"] for p in pairs)

    def burn_rate(window: str) -> str:
        # The share of time down (1 - the SLI rules.yml records per series and window), the one the
        # burn-rate alerts compare: the worst selected series is red exactly when an alert can fire.
        return f"max(1 - {uptime(window, SEL)}) / {budget}"

    burn = [
        row("Error budget"),
        stat("Error budget remaining", f"Share of each series' error budget left in the {SLO_PERIOD} SLO period: "
             f"for a {objective:.1%} objective the series may be down {budget:.1%} of the period "
             f"({budget * SLO_PERIOD_SECONDS / 60:.0f} minutes); this counts the time it was down (the SLI) over "
             f"the last {SLO_PERIOD} against that, whatever the time picker shows. Red when spent: stop risky "
             "changes on our side and follow up the upstream incidents that spent it.",
             [query(f"1 - sum by ({SERIES}) ({downtime_over(SLO_PERIOD, SEL)}) / {budget * SLO_PERIOD_SECONDS:g}",
                   SERIES_LEGEND,
                    instant=True)], "percentunit", steps(RED, (0, YELLOW), (0.25, GREEN)), w=12, h=6,
             max=1, decimals=1, links=[runbook(t, "NanoBananaErrorBudgetBurnSlow")]),
        stat("Burn rate by window", "How fast the budget is being spent by the worst selected series, in "
             "multiples of the rate that would spend it exactly over the SLO period (1 = on track). Each window "
             "is red above its alert factor (" + ", ".join(f"{p['long_window']} {p['value']}x" for p in pairs)
             + "); the alerts fire when a long and its short window are both above. When red: find the failing "
             "series and outcome on the overview.",
             [query(burn_rate(p["long_window"]), p["long_window"], instant=True) for p in pairs],
             "short", steps(GREEN), w=12, h=6, decimals=2, links=[runbook(t, "NanoBananaErrorBudgetBurnFast")],
             overrides=[by_name(f"^{p['long_window']}$", thresholds=steps(GREEN, (p["value"], RED))) for p in pairs]),
        timeseries("Burn rate over time", "Burn rate of the worst selected series per alerting window over time; "
                   "dashed lines mark the factors at which the alerts fire (long and short window both above). "
                   "Short windows without a probe have no value.",
                   [query(burn_rate(w), w) for w in windows],
                   "short", steps(GREEN, *[(f, ORANGE) for f in factors[:-1]], (factors[-1], RED)), w=12,
                   threshold_style="dashed", min=0),
        timeseries("Error ratio by series", f"Failed share of probes, rate limits left out. The budget line is "
                   f"{budget:.1%}; the error-rate alert fires above {t['error_ratio']:.0%}." + WINDOW_NOTE,
                   [query(error_ratio(PROBE_WINDOW, SERIES), SERIES_LEGEND)],
                   "percentunit", steps(GREEN, (budget, YELLOW), (t["error_ratio"], RED)), w=12,
                   threshold_style="dashed", min=0, links=[runbook(t, "NanoBananaErrorRateHigh")]),
    ]
    spend_per_day = f"increase(nanobanana_probe_cost_usd_total{{{SEL}}}[1d])"
    when_spent = ("When red: see where the money went (spend by target, confirmations below), compare with the "
                  "plan of nanobanana-exporter --config.check, then lengthen intervals or raise the limit.")
    cost = [
        row("Cost"),
        stat("Spend (last 24 h)", "Estimated spend of the selected series' finished image probes over the last 24 "
             "hours at the configured prices (a rolling day, not the budget day), per location; canaries are apart, "
             "in Spend per day by target. Compare with the plan that nanobanana-exporter --config.check prints "
             "(its total includes the canaries).",
             [query(f"sum by (location) ({spend_per_day})", "spend {{location}}", instant=True)], "currencyUSD",
             w=6, h=6, decimals=2),
        timeseries("Spend per day by target", "Estimated spend over the preceding 24 hours, per target: its "
                   "image probes and, apart, its canary (text-only calls, where one runs). A rising line means more "
                   "paid probes: confirmations of a failure streak, a new series or a shorter interval. 4K probes "
                   "cost almost twice as much as 1K.",
                   [query(f"sum by (location, target) ({spend_per_day})", "{{target}} {{location}}"),
                    query(f"sum by (location, target) (increase(nanobanana_canary_cost_usd_total{{{TARGET_SEL}}}[1d]))",
                          "{{target}} canary {{location}}")],
                   "currencyUSD", w=18, h=6, min=0),
        bargauge("Budget used by scope", "Spend of this budget day over the daily limit of each scope (global, "
                 "target:<name>); only scopes with a limit. At 100 % the scope's paid probes pause until the day "
                 "ends (NanoBananaBudgetExhausted) and their series go stale. " + when_spent,
                 [query(f"nanobanana_budget_spent_usd{{{EXPORTER_SEL}}} / nanobanana_budget_limit_usd"
                         f"{{{EXPORTER_SEL}}}", "{{scope}} {{location}}", instant=True)], "percentunit",
                 steps(GREEN, (1, RED)), w=8, min=0, max=1, links=[runbook(t, "NanoBananaBudgetExhausted")]),
        stat("Paid probes paused", "1 (PAUSED) while a scope's budget is spent: its paid probes are skipped "
             "(reason budget) until the budget day ends, free liveness checks go on. " + when_spent,
             [query(f"nanobanana_budget_exhausted{{{EXPORTER_SEL}}}", "{{scope}} {{location}}")],
             thresholds=steps(GREEN, (1, RED)), w=4, h=8, links=[runbook(t, "NanoBananaBudgetExhausted")],
             mappings=[{"type": "value", "options": {"0": {"text": "running", "color": GREEN, "index": 0},
                                                     "1": {"text": "PAUSED", "color": RED, "index": 1}}}]),
        timeseries("Budget spend and limit", "Spend of the current budget day per scope (it drops to 0 when the "
                   "day ends in the configured time zone) and, dashed, each scope's daily limit. A spend line "
                   "heading for its limit well before the day ends fires NanoBananaBudgetBurningFast.",
                   [query(f"nanobanana_budget_spent_usd{{{EXPORTER_SEL}}}", "{{scope}} {{location}} spent"),
                    query(f"nanobanana_budget_limit_usd{{{EXPORTER_SEL}}}", "{{scope}} {{location}} limit")],
                   "currencyUSD", w=12, min=0, links=[runbook(t, "NanoBananaBudgetBurningFast")],
                   overrides=[by_name(" limit$", **{"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})]),
        bargauge("API credit left", "Days the credit left on each target's API key lasts at the key's spend over "
                 "the last day (OpenRouter's GET /api/v1/key; the spend is the key's, every application using it "
                 f"included). Red under {t['credit_days']:g} days (NanoBananaCreditRunningOut); empty for keys "
                 "without a limit, keys that spent nothing in a day, and APIs that publish no credit figure.",
                 [query(f"nanobanana_credit_remaining_usd{{{MAINTENANCE_SEL}}} / (rate(nanobanana_credit_used_usd_total"
                        f"{{{MAINTENANCE_SEL}}}[1d]) > 0) / 86400", "{{target}} {{location}}", instant=True)], "d",
                 steps(RED, (t["credit_days"], GREEN)), w=24, h=5, min=0,
                 links=[runbook(t, "NanoBananaCreditRunningOut")]),
        timeseries("Confirmations by reason", "Paid probes run early: failure (a paid probe failed), liveness (a "
                   "free check failed), slow (a probe slower than its latency threshold), status (an official "
                   "incident appeared; every Gemini series is probed at once), uptime (OpenRouter saw the model's "
                   "endpoints degrade; its series are probed at once) or canary (the target's canary failed "
                   "several times in a row; its series are probed at once). They cost like any probe; many of them mean a long "
                   "failure streak, so look at the error ratio above and the overview." + BAR_NOTE,
                   [query(f"sum by (location, reason) ({per_bar('nanobanana_probe_confirmations_total')})",
                          "{{reason}} {{location}}")], w=24, bars=True, min=0, decimals=0, interval=BAR_INTERVAL),
    ]
    return dashboard("nanobanana-slo-cost", "Nano Banana / SLO and cost",
                     f"Error budget and burn rates for the {objective:.1%} objective, from probe counters and "
                     "the error ratios rules.yml records (rate limits excluded); spend, daily budgets and "
                     "confirmation probes.",
                     [burn, cost, detection_row()], t)


def detection_row() -> list[dict]:
    """How late the status page was (issue 12); the early probes it triggers are in "Confirmations by reason"."""
    return [
        row("Status page"),
        timeseries("Status page lag", "Per official incident: from our first failing probe of an affected series "
                   "to the incident's appearance in the feed (nanobanana_status_page_lag_seconds), mean over 1 day; "
                   "empty while no incident appeared.",
                   [query(f"sum by (source) (increase(nanobanana_status_page_lag_seconds_sum{{{EXPORTER_SEL}}}[1d])) "
                          f"/ (sum by (source) (increase(nanobanana_status_page_lag_seconds_count{{{EXPORTER_SEL}}}[1d])) > 0)",
                          "{{source}}")], "s", w=24, min=0),
    ]


DASHBOARDS = {"overview.json": overview, "probe-detail.json": probe_detail, "slo-cost.json": slo_cost}


# A range function whose window is not $__rate_interval: what dashboard-linter's
# target-rate-interval-rule flags, and what these dashboards mean (see LINT_REASONS).
FIXED_WINDOW = re.compile(r"\b(?:rate|irate|increase)\([^\[]*\[(?!\$__rate_interval\])")
LINT_REASONS = {
    "target-rate-interval-rule": (
        "Probes run every 15 minutes by default, so a $__rate_interval window (a few scrape intervals) "
        "mostly holds no probe: per-hour figures, ratios, shares and percentiles use the hour before "
        "each point (1h), range stats the time picker's range ($__range), the error budget its SLO period "
        f"({SLO_PERIOD}) and spend a rolling day (1d). Counts per bar are x - x offset $__interval, exact, "
        "and increase(x[$__interval]) only for a series without a sample one bar ago."),
    "template-instance-rule": (
        "Probe detail shows one series of one exporter: instance is single-select, because its "
        "landing-page links need one host."),
}


def lint_file(dashboards: dict[str, dict]) -> str:
    """grafana/dashboard-linter's .lint: each exclusion with its reason and only the panels it needs."""
    rate = [{"dashboard": d["title"], "panel": p["title"]} for d in dashboards.values() for p in d["panels"]
            if any(FIXED_WINDOW.search(t["expr"]) for t in p.get("targets", []))]
    instance = [{"dashboard": d["title"]} for d in dashboards.values()
                if any(v["name"] == "instance" and not v["multi"] for v in d["templating"]["list"])]
    exclusions = {"target-rate-interval-rule": {"reason": LINT_REASONS["target-rate-interval-rule"], "entries": rate},
                  "template-instance-rule": {"reason": LINT_REASONS["template-instance-rule"], "entries": instance}}
    return ("# grafana/dashboard-linter exclusions, written by grafana/generate.py (do not edit).\n"
            + yaml.safe_dump({"exclusions": exclusions}, sort_keys=False, width=100))


def render(thresholds: dict | None = None) -> dict[str, str]:
    """File name -> text, exactly as committed: the dashboards' JSON and the linter's .lint."""
    t = thresholds or load_settings()
    dashboards = {name: build(t) for name, build in DASHBOARDS.items()}
    out = {name: json.dumps(d, indent=2, sort_keys=True) + "\n" for name, d in dashboards.items()}
    return out | {".lint": lint_file(dashboards)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from the code")
    parser.add_argument("--out", type=Path, default=OUT, help="directory for the JSON files")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date, run python grafana/generate.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
