"""Writes the Grafana dashboards in grafana/dashboards/ from code.

    python grafana/generate.py            # (re)write the committed JSON
    python grafana/generate.py --check    # exit 1 if the committed JSON differs from the code

Plain Python on purpose: a dashboard is a dict, and a few helpers (one per panel kind, one layout
function) keep each panel to a few lines. Lists (phases, outcomes, resolutions, token kinds) come
from the exporter, and thresholds from the `nanobanana-settings` group of alertmanager/rules.yml,
the numbers the alerts fire on, so colours and alerts cannot drift apart. Every query selects through the datasource variable, never
a datasource uid, so the same JSON serves provisioning and grafana.com-style import.

To add a panel: write it with one of the helpers below (expr, title, description, unit) and put it
in a section list of a dashboard function; ids and positions are assigned by `layout`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from a checkout, no install needed

from exporter.outcomes import LIVENESS_OUTCOMES, OUTCOMES, Outcome  # noqa: E402
from exporter.sizes import RESOLUTIONS  # noqa: E402
from exporter.state import PHASES, TOKEN_KINDS  # noqa: E402
from exporter.status.base import IMPACTS, UPTIME_WINDOWS  # noqa: E402

RULES_FILE = ROOT / "alertmanager" / "rules.yml"
SETTINGS_GROUP = "nanobanana-settings"
OUT = ROOT / "grafana" / "dashboards"
SCHEMA_VERSION = 39  # Grafana 10.4 / 11
TAGS = ["nanobanana"]
DS = {"type": "prometheus", "uid": "${datasource}"}

# Variables in the order Grafana shows them; each filters on the label of the same name.
FILTERS = ("job", "instance", "target", "model", "resolution", "thinking_level")
SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS)
# Exporter-wide series (status sources, build info) carry no probe labels: filter by scrape only.
EXPORTER_SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS[:2])
# Free liveness checks run once per target and model: no resolution or thinking level to filter on.
TARGET_SEL = ",".join(f'{name}=~"${name}"' for name in FILTERS[:4])
SERIES = "target, model, resolution, thinking_level"  # `api` follows from target
# Probe-detail shows one series in depth: these variables pick a single value there, no "All".
SERIES_FILTERS = ("target", "model", "resolution", "thinking_level")
# Window of the success-ratio, error-ratio and latency curves. Probes come every few minutes
# (15 by default for expensive series, plus confirmations), so $__rate_interval (a few scrape
# intervals) mostly holds no probe at all: one hour always holds several, at any zoom.
PROBE_WINDOW = "1h"
WINDOW_NOTE = " Each point covers the hour before it, so that it holds several probes."
SUCCEEDED = f'outcome="{Outcome.SUCCESS}"'
NOT_RATE_LIMITED = f'outcome!="{Outcome.RATE_LIMITED}"'
FAILED = f'outcome!~"{Outcome.SUCCESS}|{Outcome.RATE_LIMITED}"'

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


def load_thresholds(path: Path = RULES_FILE) -> dict:
    """The numbers recorded by rules.yml's settings group, by name without its prefix:
    `nanobanana:threshold:error_ratio` -> t["error_ratio"], `nanobanana:slo_objective:ratio` ->
    t["slo_objective"]. A record with labels (one per resolution, per burn-rate pair) becomes a
    list of its labels plus "value"."""
    [group] = [g for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"] if g["name"] == SETTINGS_GROUP]
    t: dict = {}
    for rule in group["rules"]:
        name = re.fullmatch(r"nanobanana:(?:threshold:(\w+)|(slo_objective):ratio)", rule["record"])
        if not name:
            continue  # the links, not a number
        value = float(re.fullmatch(r"vector\(([-\d.e]+)\)", rule["expr"].strip())[1])
        value = int(value) if value.is_integer() else value
        if "labels" in rule:
            t.setdefault(name[1] or name[2], []).append({**rule["labels"], "value": value})
        else:
            t[name[1] or name[2]] = value
    return t


def latency_limits(t: dict) -> dict[str, float]:
    """Resolution -> p95 seconds the latency alert fires above (at thinking factor 1)."""
    return {r["resolution"]: r["value"] for r in t["latency_p95_seconds"]}


# ---------------------------------------------------------------- PromQL building blocks

def probes(outcome: str = "", window: str = "$__rate_interval", by: str = "", fn: str = "increase") -> str:
    """increase() (or rate()) of probe attempts matching an outcome matcher, summed `by` labels."""
    matchers = SEL + (f",{outcome}" if outcome else "")
    agg = f"sum by ({by})" if by else "sum"
    return f"{agg} ({fn}(nanobanana_probes_total{{{matchers}}}[{window}]))"


def success_ratio(window: str, by: str = "") -> str:
    return f"{probes(SUCCEEDED, window, by)} / {probes(NOT_RATE_LIMITED, window, by)}"


def error_ratio(window: str, by: str = "") -> str:
    return f"{probes(FAILED, window, by)} / {probes(NOT_RATE_LIMITED, window, by)}"


def quantile(q: float, by: str, window: str = PROBE_WINDOW, extra: str = "") -> str:
    return (f"histogram_quantile({q}, sum by (le, {by}) "
            f"(rate(nanobanana_probe_duration_seconds_bucket{{{SEL}{extra}}}[{window}])))")


# ---------------------------------------------------------------- panels

def query(expr: str, legend: str = "", instant: bool = False, fmt: str = "time_series") -> dict:
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "instant": instant,
            "range": not instant, "format": fmt, "refId": ""}


def steps(*pairs) -> dict:
    """steps(RED, (0.99, YELLOW), (0.995, GREEN)): base colour, then (from value, colour)."""
    base, *rest = pairs
    return {"mode": "absolute",
            "steps": [{"color": base, "value": None}] + [{"color": c, "value": v} for v, c in rest]}


def panel(kind: str, title: str, description: str, targets: list[dict], unit: str = "short",
          thresholds: dict | None = None, w: int = 12, h: int = 8, options: dict | None = None,
          custom: dict | None = None, overrides: list | None = None, **defaults) -> dict:
    for ref, t in zip("ABCDEFGHIJKLMNOP", targets):
        t["refId"] = ref
    return {
        "type": kind, "title": title, "description": description, "datasource": DS, "targets": targets,
        "gridPos": {"w": w, "h": h},
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


def heatmap(title, description, targets, w=12, h=8) -> dict:
    options = {"calculate": False, "cellGap": 1, "yAxis": {"unit": "s", "axisPlacement": "left"},
               "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5},
               "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
               "legend": {"show": True}, "cellValues": {}, "showValue": "never"}
    return panel("heatmap", title, description, targets, "s", None, w, h, options)


def piechart(title, description, targets, unit="short", w=6, h=8) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "pieType": "donut", "displayLabels": ["percent"],
               "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "values": ["percent"]}}
    return panel("piechart", title, description, targets, unit, None, w, h, options)


def state_timeline(title, description, targets, w=24, h=6, **kw) -> dict:
    options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}}
    return panel("state-timeline", title, description, targets, "short", steps(GREEN), w, h, options, **kw)


def row(title: str, repeat: str | None = None) -> dict:
    r = {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}
    if repeat:
        r["repeat"] = repeat
    return r


def by_name(pattern: str, **properties) -> dict:
    """A field override for series whose display name matches a regex."""
    return {"matcher": {"id": "byRegexp", "options": pattern},
            "properties": [{"id": k, "value": v} for k, v in properties.items()]}


OK_FAIL = [{"type": "value", "options": {"0": {"text": "FAIL", "color": RED, "index": 0},
                                         "1": {"text": "OK", "color": GREEN, "index": 1}}}]
LIVENESS_COLOURS = [by_name(f"{o}$", color={"mode": "fixed", "fixedColor": GREEN if o == Outcome.SUCCESS else RED})
                    for o in LIVENESS_OUTCOMES]
OUTCOME_COLOURS = [by_name(f"^{o}$", color={"mode": "fixed", "fixedColor": GREEN if o is Outcome.SUCCESS else RED})
                   for o in OUTCOMES if o is not Outcome.RATE_LIMITED]


def latency_overrides(t: dict, legend_prefix: str = "") -> list[dict]:
    """Per-resolution p95 thresholds: series are named starting with their resolution."""
    return [by_name(f"^{legend_prefix}{res}\\b.*", thresholds=steps(GREEN, (latency_limits(t)[res], RED)))
            for res in RESOLUTIONS]


def layout(sections: list[list[dict]]) -> list[dict]:
    """Flow panels left to right, wrapping at Grafana's 24 columns; give each a unique id."""
    out, x, y, line_h, ids = [], 0, 0, 0, iter(range(1, 1000))
    for section in sections:
        for p in section:
            w, h = p["gridPos"]["w"], p["gridPos"]["h"]
            if x + w > 24:
                x, y, line_h = 0, y + line_h, 0
            p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
            p["id"] = next(ids)
            out.append(p)
            x, line_h = x + w, max(line_h, h)
        x, y, line_h = 0, y + line_h, 0
    return out


# ---------------------------------------------------------------- variables and the dashboard shell

def datasource_variable() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": ""}


def query_variable(name: str, query: str, single: bool = False) -> dict:
    """Multi-select with "All" (`.*`), or with `single` one value, the first one listed by default."""
    if single:
        return {"name": name, "label": name, "type": "query", "datasource": DS, "query": query, "definition": query,
                "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
                "refresh": 2, "regex": "", "sort": 1}
    return {"name": name, "label": name, "type": "query", "datasource": DS, "query": query, "definition": query,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0, "includeAll": True, "allValue": ".*", "multi": True, "options": [],
            "refresh": 2, "regex": "", "sort": 1}


def variables(single: tuple[str, ...] = ()) -> list[dict]:
    """Each variable lists the values left by the ones before it (job narrows instance, ...);
    those named in `single` pick one value."""
    out = [datasource_variable(),
           query_variable("job", "label_values(nanobanana_exporter_build_info, job)", "job" in single)]
    for i, name in enumerate(FILTERS[1:], start=1):
        before = ",".join(f'{n}=~"${n}"' for n in FILTERS[:i])
        metric = "nanobanana_exporter_build_info" if name == "instance" else "nanobanana_probe_interval_seconds"
        out.append(query_variable(name, f"label_values({metric}{{{before}}}, {name})", name in single))
    return out


def dashboard(uid: str, title: str, description: str, sections: list[list[dict]], links: list | None = None,
              single: tuple[str, ...] = ()) -> dict:
    panels = layout(sections)
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return {
        # __requires lets grafana.com-style import check the plugins; there is no __inputs because
        # the datasource is a dashboard variable: import picks the default Prometheus, no uid needed.
        "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
                       {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
                      + [{"type": "panel", "id": k, "name": k, "version": ""} for k in kinds],
        "uid": uid, "title": title, "description": description, "tags": TAGS,
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m", "timezone": "", "fiscalYearStartMonth": 0,
        "annotations": {"list": []}, "liveNow": False, "weekStart": "",
        "links": [{"type": "dashboards", "tags": TAGS, "asDropdown": False, "includeVars": True,
                   "keepTime": True, "title": "Nano Banana", "targetBlank": False, "icon": "external link",
                   "tooltip": "", "url": ""}] + (links or []),
        "templating": {"list": variables(single)},
        "timepicker": {},
        "panels": panels,
    }


# ---------------------------------------------------------------- the dashboards

WHEN_RED = ("When red: check the upstream status (Google Cloud status, AI Studio, the gateway), then your own "
            "side: API key, quota, network, request parameters. The exporter landing page shows the last "
            "error of each series.")


def overview(t: dict) -> dict:
    legend = "{{resolution}} {{thinking_level}} {{model}}"
    now_row = [
        row("$target", repeat="target"),
        stat("Current success", "1 (OK) if the last probe that was not rate limited returned a verified image. "
             + WHEN_RED, [query(f"nanobanana_probe_success{{{SEL}}}", legend)], thresholds=steps(RED, (1, GREEN)),
             w=4, mappings=OK_FAIL),
        stat("Availability (range)", f"Share of probes over the selected time range that succeeded, rate-limited "
             f"probes left out. Red below {t['availability_ratio']:.1%} (the alert), green from the "
             f"{t['slo_objective']:.1%} objective. " + WHEN_RED,
             [query(success_ratio("$__range", SERIES), legend, instant=True)], "percentunit",
             steps(RED, (t["availability_ratio"], YELLOW), (t["slo_objective"], GREEN)), w=5, min=0, max=1, decimals=2),
        stat("p95 latency (range)", "95th percentile duration of successful probes over the selected range. "
             "Red above the per-resolution alert threshold (" + ", ".join(
                 f"{r} {s} s" for r, s in latency_limits(t).items()) + "). When red: compare the phase "
             "shares below (processing is upstream, transfer is the network) and the upstream status.",
             [query(quantile(0.95, SERIES, "$__range"), legend, instant=True)], "s", steps(GREEN),
             w=5, overrides=latency_overrides(t)),
        stat("Consecutive failures", f"Failed probes in a row (rate-limited ones neither reset nor extend it). One "
             f"or two is a blip; red at {t['consecutive_failures']} (the alert). " + WHEN_RED,
             [query(f"nanobanana_probe_consecutive_failures{{{SEL}}}", legend)], "short",
             steps(GREEN, (1, YELLOW), (t["consecutive_failures"], RED)), w=5, decimals=0),
        stat("Last success", "Time since the last successful probe. It should stay below a few probe intervals; "
             "if it keeps growing while failures stay at 0, the exporter is not probing (check its logs and "
             "the skipped-probes panel on the probe detail dashboard).",
             [query(f"time() - nanobanana_probe_last_success_timestamp_seconds{{{SEL}}}", legend)], "s",
             w=5, decimals=0),
    ]
    uptime_window = UPTIME_WINDOWS[0]  # the shortest: closest to "right now"
    upstream = [
        row("Is it Google, or is it us?"),
        timeseries("Success ratio", "Share of probes that succeeded per target, rate-limited probes left out. "
                   f"The dashed line is the {t['availability_ratio']:.0%} availability alert. Compare with the "
                   "official incidents and OpenRouter's uptime beside it." + WINDOW_NOTE + " " + WHEN_RED,
                   [query(success_ratio(PROBE_WINDOW, "target, model"), "{{target}} {{model}}")],
                   "percentunit", steps(RED, (t["availability_ratio"], GREEN)), w=6, threshold_style="dashed",
                   min=0, max=1),
        state_timeline("Free liveness check", "The free check of each target and model (a model lookup or list, "
                       "every minute by default): it proves reachability, the API key and that the model id "
                       "exists. Red while paid probes fail too: the API itself is down for us. Red alone: key or "
                       "model id (NanoBananaApiKeyRejected, NanoBananaModelGone), the probe-detail dashboard "
                       "names the outcome. Green while paid probes fail: only image generation is broken.",
                       [query(f"nanobanana_liveness_success{{{TARGET_SEL}}}", "{{target}} {{model}}")],
                       w=6, h=8, mappings=OK_FAIL),
        timeseries("Official incidents", "Incidents the official status feed lists as not ended, per watched "
                   "product and impact (NanoBananaUpstreamIncident fires meanwhile). An incident while our "
                   "success ratio falls: it is Google's side, inform users and follow the incident. No data: "
                   "no status source configured.",
                   [query(f"sum by (product, impact) (nanobanana_upstream_incidents_active{{{EXPORTER_SEL}}})",
                           "{{product}} {{impact}}")], w=6, stack=True, bars=True, min=0, decimals=0,
                   overrides=[by_name(f" {IMPACTS[impact]}$", color={"mode": "fixed", "fixedColor": colour})
                              for impact, colour in (("SERVICE_INFORMATION", BLUE), ("SERVICE_DISRUPTION", ORANGE),
                                                     ("SERVICE_OUTAGE", RED))]),
        timeseries(f"OpenRouter endpoint uptime ({uptime_window})", "Share of requests each provider endpoint "
                   f"served successfully over {uptime_window}, as OpenRouter saw it for all its users. Down with "
                   "our success ratio: upstream. Ours down, theirs fine: our key, quota or network. The dashed "
                   "line is our availability alert, for scale. No data: the openrouter status source is off.",
                   [query(f'nanobanana_openrouter_endpoint_uptime_ratio{{{EXPORTER_SEL},window="{uptime_window}"}}',
                           "{{provider}} {{model}}")],
                   "percentunit", steps(RED, (t["availability_ratio"], GREEN)), w=6, threshold_style="dashed",
                   min=0, max=1),
    ]
    outcomes = [
        row("Outcomes"),
        timeseries("Probes per hour by outcome", "Every probe attempt except rate-limited ones, stacked by outcome: "
                   "green is success, red any failure. A failure band points at its cause: timeout (slow upstream "
                   "or network), server_error (upstream outage), auth_error (API key), content_blocked (prompt), "
                   "bad_image / no_image (model answered wrongly). " + WHEN_RED,
                   [query(f"3600 * {probes(NOT_RATE_LIMITED, by='outcome', fn='rate')}", "{{outcome}}")],
                   w=12, stack=True, bars=True, overrides=OUTCOME_COLOURS, min=0),
        timeseries("Rate limited per hour", "Probes answered with HTTP 429 / RESOURCE_EXHAUSTED, kept apart "
                   "because they are not a failure of the service: quota is spent. Red above "
                   f"{t['rate_limited_per_hour']} an hour (the info alert). When red: check quota and other "
                   "traffic on the same key, or probe less often.",
                   [query(f"3600 * sum by (target) (rate(nanobanana_probes_total{{{SEL},outcome=\"rate_limited\"}}"
                           "[$__rate_interval]))", "{{target}}")],
                   thresholds=steps(YELLOW, (t["rate_limited_per_hour"], RED)), w=12, threshold_style="dashed",
                   bars=True, min=0, color={"mode": "fixed", "fixedColor": YELLOW}),
    ]
    latency = [row("Latency (successful probes)")]
    for res in RESOLUTIONS:
        limit = latency_limits(t)[res]
        latency.append(timeseries(
            f"Latency {res}", f"p50, p95 and p99 duration of successful {res} probes (request start to verified "
            f"image) by thinking level. The dashed line is the {limit} s p95 alert. When above it: see where the "
            "time goes below; processing is upstream, connect/tls/transfer are the network." + WINDOW_NOTE,
            [query(quantile(q, "thinking_level", extra=f',resolution="{res}"'), f"{{{{thinking_level}}}} p{round(q * 100)}")
             for q in (0.5, 0.95, 0.99)],
            "s", steps(GREEN, (limit, RED)), w=8, threshold_style="dashed", min=0))
    latency.append(heatmap(
        "Duration heatmap", "How many successful probes finished in each duration bucket over time; a second "
        "band appearing higher up means some requests got slow (often one resolution or one target).",
        [query(f"sum by (le) (increase(nanobanana_probe_duration_seconds_bucket{{{SEL}}}[$__rate_interval]))",
                "{{le}}", fmt="heatmap")], w=24))
    time_goes = [
        row("Where the time goes"),
        timeseries("Phase shares", "Share of probe time spent in each phase: connect and tls (connection set-up, "
                   "normally 5-10 %), processing (upstream generating, 60-70 %), transfer (downloading the "
                   "image, 20-30 %), decode (verifying it locally). A growing connect/tls share means connections "
                   "are not reused or the network is slow; a growing processing share is upstream.",
                   [query(f"sum by (phase) (rate(nanobanana_probe_phase_seconds_total{{{SEL}}}[$__rate_interval]))"
                           f" / ignoring (phase) group_left () sum (rate(nanobanana_probe_phase_seconds_total"
                           f"{{{SEL}}}[$__rate_interval]))", "{{phase}}")],
                   "percentunit", w=12, stack=True, min=0, max=1),
        piechart("Time by phase (range)", "Probe seconds per phase summed over the whole selected range; the slices are the shares.",
                 [query(f"sum by (phase) (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}[$__range]))",
                         "{{phase}}", instant=True)], "s", w=6),
        bargauge("Phase seconds per probe (range)", "Average seconds per probe in each phase over the range "
                 f"({', '.join(PHASES)}).",
                 [query(f"sum by (phase) (increase(nanobanana_probe_phase_seconds_total{{{SEL}}}[$__range])) "
                         f"/ ignoring (phase) group_left () sum (increase(nanobanana_probes_total{{{SEL}}}[$__range]))",
                         "{{phase}}", instant=True)], "s", w=6),
    ]
    sizes = [
        row("Sizes and tokens"),
        timeseries("Image size", "Size of the last decoded image file per series. A 2K PNG is about 4-6 MB, a 4K "
                   "one 10 MB or more; a sudden drop may mean the provider returns a smaller or compressed image.",
                   [query(f"nanobanana_probe_image_bytes{{{SEL}}}", "{{resolution}} {{target}}")], "bytes", w=8),
        timeseries("Response size", "Size of the last response body per series (base64 makes it about 4/3 of the "
                   "image). Near the body cap, probes fail as bad_response.",
                   [query(f"nanobanana_probe_response_bytes{{{SEL}}}", "{{resolution}} {{target}}")], "bytes", w=8),
        timeseries("Tokens per hour by kind", f"Tokens reported by the APIs' usage fields ({', '.join(TOKEN_KINDS)}), "
                   "per hour. Output tokens are what Google bills for images; thinking tokens grow with the "
                   "thinking level.",
                   [query(f"3600 * sum by (kind) (rate(nanobanana_probe_tokens_total{{{SEL}}}[$__rate_interval]))",
                           "{{kind}}")], w=8, stack=True, min=0),
    ]
    return dashboard("nanobanana-overview", "Nano Banana / Overview",
                     "Is Nano Banana working right now, for us? One row per target, then whether it is "
                     "upstream, outcomes, latency, phases, sizes and tokens.",
                     [now_row, upstream, outcomes, latency, time_goes, sizes])


def probe_detail(t: dict) -> dict:
    legend = "{{target}} {{resolution}} {{thinking_level}}"
    landing = [{"title": "Exporter landing page (last errors)", "url": "http://${__field.labels.instance}/",
                "targetBlank": True}]
    now = [
        row("Now"),
        stat("Current success", "1 (OK) if the last probe that was not rate limited succeeded. " + WHEN_RED,
             [query(f"nanobanana_probe_success{{{SEL}}}", legend)], thresholds=steps(RED, (1, GREEN)), w=4,
             mappings=OK_FAIL, links=landing),
        stat("Consecutive failures", f"Failed probes in a row; red at {t['consecutive_failures']} (the alert).",
             [query(f"nanobanana_probe_consecutive_failures{{{SEL}}}", legend)], "short",
             steps(GREEN, (1, YELLOW), (t["consecutive_failures"], RED)), w=4, decimals=0, links=landing),
        stat("Last probe", "Time since the last probe finished; much more than the interval means the "
             "prober is stuck or skipping (see skipped probes).",
             [query(f"time() - nanobanana_probe_last_run_timestamp_seconds{{{SEL}}}", legend)], "s", w=4,
             decimals=0, links=landing),
        stat("Last success", "Time since the last successful probe.",
             [query(f"time() - nanobanana_probe_last_success_timestamp_seconds{{{SEL}}}", legend)], "s", w=4,
             decimals=0, links=landing),
        stat("Availability (range)", f"Success ratio over the range, rate limits left out; red below "
             f"{t['availability_ratio']:.1%}.", [query(success_ratio("$__range", SERIES), legend, instant=True)],
             "percentunit", steps(RED, (t["availability_ratio"], YELLOW), (t["slo_objective"], GREEN)), w=4,
             min=0, max=1, decimals=2),
        stat("p95 latency (range)", "95th percentile duration of successful probes over the range; red above "
             "the per-resolution alert threshold.",
             [query(quantile(0.95, SERIES, "$__range"), legend, instant=True)], "s", steps(GREEN), w=4,
             overrides=latency_overrides(t, ".* ")),
        stat("Interval and timeout", "The configured probe interval and timeout of the series.",
             [query(f"nanobanana_probe_interval_seconds{{{SEL}}}", f"interval {legend}"),
              query(f"nanobanana_probe_timeout_seconds{{{SEL}}}", f"timeout {legend}")], "s", w=6, h=4),
        stat("Last image and response size", "Sizes of the last probe's decoded image and response body.",
             [query(f"nanobanana_probe_image_bytes{{{SEL}}}", f"image {legend}"),
              query(f"nanobanana_probe_response_bytes{{{SEL}}}", f"response {legend}")], "bytes", w=6, h=4),
        stat("Liveness check", "Outcome of the target's last free liveness check (model lookup or list). "
             "auth_error: the key is refused (NanoBananaApiKeyRejected); model_missing: the model id was retired "
             "or misspelt (NanoBananaModelGone); timeout, server_error, network_error: the API is unreachable, "
             "check the upstream status. The landing page shows the API's message.",
             [query(f"nanobanana_liveness_outcome{{{TARGET_SEL}}} == 1", "{{target}} {{model}}: {{outcome}}")],
             thresholds=steps(BLUE), w=6, h=4, text_mode="name", overrides=LIVENESS_COLOURS, links=landing),
        stat("Exporter version", "nanobanana_exporter_build_info of the scraped exporter(s); the link opens "
             "its landing page with every series' recent attempts and errors.",
             [query(f"nanobanana_exporter_build_info{{{EXPORTER_SEL}}}", "{{version}} {{instance}}")],
             w=6, h=4, links=landing, text_mode="name"),
    ]
    history = [
        row("Outcome history"),
        state_timeline("Success over time", "The current-success gauge over time: each red stretch is an outage "
                       "seen by the prober. Rate-limited probes do not change it.",
                       [query(f"nanobanana_probe_success{{{SEL}}}", legend)], mappings=OK_FAIL),
        timeseries("Probes by outcome", "Probe attempts in each interval, stacked by outcome; rate_limited "
                   "(yellow) is quota, not a failure.",
                   [query(probes(by="outcome"), "{{outcome}}")], w=12, stack=True, bars=True, min=0, decimals=0,
                   overrides=OUTCOME_COLOURS + [by_name(f"^{Outcome.RATE_LIMITED}$",
                                                        color={"mode": "fixed", "fixedColor": YELLOW})]),
        timeseries("Skipped probes", "Probes not run when due, by reason: overlap means the previous probe "
                   "was still running, so the interval is shorter than the probes take; budget means the "
                   "scope's daily budget is spent (see the SLO and cost dashboard).",
                   [query(f"sum by (reason) (increase(nanobanana_probe_skipped_total{{{SEL}}}[$__rate_interval]))",
                           "{{reason}}")], w=12, bars=True, min=0, decimals=0),
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
    duration = [
        row("Duration, sizes, tokens"),
        timeseries("Duration", "p50, p95, p99 and mean of successful probes; the red line is the p95 alert for "
                   "the resolution." + WINDOW_NOTE,
                   [query(quantile(q, SERIES), f"{{{{resolution}}}} p{round(q * 100)} {{{{target}}}}")
                    for q in (0.5, 0.95, 0.99)]
                   + [query(f"sum by ({SERIES}) (rate(nanobanana_probe_duration_seconds_sum{{{SEL}}}"
                             f"[{PROBE_WINDOW}])) / sum by ({SERIES}) (rate(nanobanana_probe_duration_seconds_"
                             f"count{{{SEL}}}[{PROBE_WINDOW}]))", "{{resolution}} mean {{target}}")],
                   "s", w=12, min=0, threshold_style="dashed", overrides=latency_overrides(t)),
        timeseries("Sizes", "Last image and response sizes over time.",
                   [query(f"nanobanana_probe_image_bytes{{{SEL}}}", f"image {legend}"),
                    query(f"nanobanana_probe_response_bytes{{{SEL}}}", f"response {legend}")], "bytes", w=6),
        timeseries("Tokens per probe", "Tokens by kind per probe attempt (1K/2K images bill about 1120 output "
                   "tokens, 4K about 2000).",
                   [query(f"sum by (kind) (increase(nanobanana_probe_tokens_total{{{SEL}}}[$__rate_interval])) "
                           f"/ ignoring (kind) group_left () sum (increase(nanobanana_probes_total{{{SEL}}}"
                           "[$__rate_interval]))", "{{kind}}")], w=6, min=0),
    ]
    links = [{"type": "link", "title": "Exporter landing page", "url": "http://${instance}/", "targetBlank": True,
              "icon": "external link", "tooltip": "Needs one instance selected, reachable from your browser",
              "asDropdown": False, "includeVars": False, "keepTime": False, "tags": []}]
    return dashboard("nanobanana-probe-detail", "Nano Banana / Probe detail",
                     "One probe series in depth: pick a single target, model, resolution and thinking level.",
                     [now, history, phases, duration], links, single=SERIES_FILTERS)


def slo_cost(t: dict) -> dict:
    objective = t["slo_objective"]
    budget = round(1 - objective, 10)
    pairs = t["burn_rate"]
    windows = list(dict.fromkeys(w for p in pairs for w in (p["long_window"], p["short_window"])))
    factors = sorted(p["value"] for p in pairs)

    def burn_rate(window: str) -> str:
        # The error ratio rules.yml records per series and window, the one the burn-rate alerts
        # compare: the worst selected series is red exactly when an alert can fire.
        return f"max(nanobanana:probe_errors:ratio_rate{window}{{{SEL}}}) / {budget}"

    burn = [
        row("Error budget"),
        stat("Error budget remaining (range)", f"Share of the error budget left over the selected range, for a "
             f"{objective:.1%} objective (budget {budget:.1%} of probes, rate-limited ones left out). Set the "
             "range to the SLO period (for example 30 days). Red when spent: stop risky changes on our side and "
             "follow up the upstream incidents that spent it.",
             [query(f"1 - ({error_ratio('$__range', 'target, model')}) / {budget}", "{{target}} {{model}}",
                     instant=True)], "percentunit", steps(RED, (0, YELLOW), (0.25, GREEN)), w=12, h=6,
             max=1, decimals=1),
        stat("Burn rate by window", "How fast the budget is being spent by the worst selected series, in "
             "multiples of the rate that would spend it exactly over the SLO period (1 = on track). Each window "
             "is red above its alert factor (" + ", ".join(f"{p['long_window']} {p['value']}x" for p in pairs)
             + "); the alerts fire when a long and its short window are both above. When red: find the failing "
             "target and outcome on the overview.",
             [query(burn_rate(p["long_window"]), p["long_window"], instant=True) for p in pairs],
             "short", steps(GREEN), w=12, h=6, decimals=2,
             overrides=[by_name(f"^{p['long_window']}$", thresholds=steps(GREEN, (p["value"], RED))) for p in pairs]),
        timeseries("Burn rate over time", "Burn rate of the worst selected series per alerting window over time; "
                   "dashed lines mark the factors at which the alerts fire (long and short window both above).",
                   [query(burn_rate(w), w) for w in windows],
                   "short", steps(GREEN, *[(f, ORANGE) for f in factors[:-1]], (factors[-1], RED)), w=12,
                   threshold_style="dashed", min=0),
        timeseries("Error ratio by target", f"Failed share of probes, rate limits left out. The budget line is "
                   f"{budget:.1%}; the error-rate alert fires above {t['error_ratio']:.0%}." + WINDOW_NOTE,
                   [query(error_ratio(PROBE_WINDOW, "target"), "{{target}}")], "percentunit",
                   steps(GREEN, (budget, YELLOW), (t["error_ratio"], RED)), w=12, threshold_style="dashed", min=0),
    ]
    spend_per_day = f"increase(nanobanana_probe_cost_usd_total{{{SEL}}}[1d])"
    when_spent = ("When red: see where the money went (spend by target, confirmations below), compare with the "
                  "plan of nanobanana-exporter --config.check, then lengthen intervals or raise the limit.")
    cost = [
        row("Cost"),
        stat("Spend (last 24 h)", "Estimated spend of the selected series' finished probes over the last 24 hours "
             "at the configured prices (a rolling day, not the budget day). Compare with the plan that "
             "nanobanana-exporter --config.check prints.",
             [query(f"sum ({spend_per_day})", "all selected", instant=True)], "currencyUSD", w=6, h=6,
             decimals=2),
        timeseries("Spend per day by target", "Estimated spend over the preceding 24 hours, per target. A rising "
                   "line means more paid probes: confirmations of a failure streak, a new series or a shorter "
                   "interval. 4K probes cost almost twice as much as 1K.",
                   [query(f"sum by (target) ({spend_per_day})", "{{target}}")], "currencyUSD", w=18, h=6, min=0),
        bargauge("Budget used by scope", "Spend of this budget day over the daily limit of each scope (global, "
                 "target:<name>); only scopes with a limit. At 100 % the scope's paid probes pause until the day "
                 "ends (NanoBananaBudgetExhausted) and their series go stale. " + when_spent,
                 [query(f"nanobanana_budget_spent_usd{{{EXPORTER_SEL}}} / nanobanana_budget_limit_usd"
                         f"{{{EXPORTER_SEL}}}", "{{scope}}", instant=True)], "percentunit", steps(GREEN, (1, RED)),
                 w=8, min=0, max=1),
        stat("Paid probes paused", "1 (PAUSED) while a scope's budget is spent: its paid probes are skipped "
             "(reason budget) until the budget day ends, free liveness checks go on. " + when_spent,
             [query(f"nanobanana_budget_exhausted{{{EXPORTER_SEL}}}", "{{scope}}")], thresholds=steps(GREEN, (1, RED)),
             w=4, h=8, mappings=[{"type": "value", "options": {"0": {"text": "running", "color": GREEN, "index": 0},
                                                               "1": {"text": "PAUSED", "color": RED, "index": 1}}}]),
        timeseries("Budget spend and limit", "Spend of the current budget day per scope (it drops to 0 when the "
                   "day ends in the configured time zone) and, dashed, each scope's daily limit. A spend line "
                   "heading for its limit well before the day ends fires NanoBananaBudgetBurningFast.",
                   [query(f"nanobanana_budget_spent_usd{{{EXPORTER_SEL}}}", "{{scope}} spent"),
                    query(f"nanobanana_budget_limit_usd{{{EXPORTER_SEL}}}", "{{scope}} limit")], "currencyUSD",
                   w=12, min=0, overrides=[by_name(" limit$", **{"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}})]),
        timeseries("Confirmations by reason", "Paid probes run early to confirm a failure: failure (a paid probe "
                   "failed) or liveness (a free check failed). They cost like any probe; many of them mean a long "
                   "failure streak, so look at the error ratio above and the overview.",
                   [query(f"sum by (reason) (increase(nanobanana_probe_confirmations_total{{{SEL}}}[$__rate_interval]))",
                           "{{reason}}")], w=24, bars=True, min=0, decimals=0),
    ]
    return dashboard("nanobanana-slo-cost", "Nano Banana / SLO and cost",
                     f"Error budget and burn rates for the {objective:.1%} objective, from probe counters and "
                     "the error ratios rules.yml records (rate limits excluded); spend, daily budgets and "
                     "confirmation probes.",
                     [burn, cost, detection_row()])


def detection_row() -> list[dict]:
    """Issue 12: probes run early (slow probes, official incidents) and how late the status page was."""
    return [
        row("Detection"),
        timeseries("Probes run early, by reason", "failure and slow: a failed or slow probe confirmed within a "
                   "minute; liveness: a free check failed; status: an official incident appeared, every Gemini "
                   "series probed at once (at most once an interval).",
                   [query(f"sum by (reason) (increase(nanobanana_probe_confirmations_total{{{SEL}}}"
                          "[$__rate_interval]))", "{{reason}}")], w=12, bars=True, min=0, decimals=0),
        timeseries("Status page lag", "Per official incident: from our first failing probe of an affected series "
                   "to the incident's appearance in the feed (nanobanana_status_page_lag_seconds), mean over 1 day.",
                   [query(f"sum by (source) (increase(nanobanana_status_page_lag_seconds_sum{{{EXPORTER_SEL}}}[1d])) "
                          f"/ sum by (source) (increase(nanobanana_status_page_lag_seconds_count{{{EXPORTER_SEL}}}[1d]))",
                          "{{source}}")], "s", w=12, min=0),
    ]


DASHBOARDS = {"overview.json": overview, "probe-detail.json": probe_detail, "slo-cost.json": slo_cost}


def render(thresholds: dict | None = None) -> dict[str, str]:
    """File name -> JSON text, exactly as committed."""
    t = thresholds or load_thresholds()
    return {name: json.dumps(build(t), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


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
