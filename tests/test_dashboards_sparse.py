"""Every panel of the three dashboards on data at the default plan (one probe per series every 15
minutes, 15 s scrapes), as a person sees it in Grafana's default 6 h view.

Seven hours of history (tests/sparse_history.py: a blip, a 429, a timeout streak with its
confirmations, a slow hour, a series that never succeeded, a second location) are backfilled into
a real Prometheus with `promtool tsdb create-blocks-from openmetrics`, the recording rules of
alertmanager/rules.yml with `promtool tsdb create-blocks-from rules`; then every panel query is
evaluated as Grafana would (tests/grafana_eval.py) and compared with what happened: no NaN, no twin
names, per-hour figures within 10 % of the truth, counts equal to the events, colours matching the
alert state. The demo-speed check (every query returns data with probes every few seconds) is
tests/test_realstack.py.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from exporter.models.sizes import RESOLUTIONS
import yaml

import sparse_history as h
from conftest import ROOT
from exporter.contract.outcomes import OUTCOMES, Outcome
from grafana_eval import View, colour, evaluate, panels, text
from tests.stack import PROMETHEUS, RULES, start_prometheus

pytestmark = [
    pytest.mark.slow,  # a real Prometheus over a backfilled history
    pytest.mark.skipif(not (PROMETHEUS and shutil.which("promtool")), reason="prometheus/promtool not installed"),
]

DASHBOARDS = {name: json.loads((ROOT / "grafana" / "dashboards" / f"{name}.json").read_text())
              for name in ("overview", "probe-detail", "slo-cost")}
SERIES = {(loc, res, lvl): kind for loc, plan in h.PLAN.items() for (res, lvl), kind in plan.items()}
EU, US = "eu", "us"


def recording_layers(path: Path) -> list[list[dict]]:
    """rules.yml's recording rules in layers: each reads only raw metrics or earlier layers (the
    rule backfill evaluates a file against what the TSDB already holds)."""
    rules = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "record" in r]
    recorded = {r["record"] for r in rules}
    layers, done = [], set()
    while sum(map(len, layers)) < len(rules):
        layer = [r for r in rules if r["record"] not in done
                 and all(n in done or n == r["record"] for n in recorded if re.search(rf"\b{re.escape(n)}\b", r["expr"]))]
        assert layer, "recording rules that read each other in a cycle"
        layers.append(layer)
        done |= {r["record"] for r in layer}
    return layers


def backfill_rules(prometheus_dir: Path, layer: list[dict], tmp: Path, n: int):
    rules_file = tmp / f"layer{n}.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": f"layer{n}", "rules": layer}]}))
    with start_prometheus(tmp / "prom", extra_args=["--storage.tsdb.retention.time=100y"]) as prom:
        out = tmp / f"rules{n}"
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "rules", f"--start={h.START}", f"--end={h.END}",
                        f"--url={prom.url}", f"--output-dir={out}", "--eval-interval=15s", str(rules_file)],
                       check=True, capture_output=True, cwd=tmp)
    for block in out.iterdir():
        shutil.move(str(block), prometheus_dir / block.name)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """(Prometheus URL, the probes that happened)."""
    tmp = tmp_path_factory.mktemp("sparse")
    data = tmp / "prom" / "prometheus-data"
    data.mkdir(parents=True)
    probes = h.write_openmetrics(tmp / "history.om")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(tmp / "history.om"), str(data)],
                   check=True, capture_output=True)
    (tmp / "history.om").unlink()
    for n, layer in enumerate(recording_layers(RULES)):
        backfill_rules(data, layer, tmp, n)
    with start_prometheus(tmp / "prom", extra_args=["--storage.tsdb.retention.time=100y"]) as prom:
        yield prom.url, probes


def panel(dashboard: str, title: str) -> dict:
    [p] = [p for p in panels(DASHBOARDS[dashboard]) if p["title"] == title]
    return p


def show(prom: str, dashboard: str, title: str, **variables) -> list:
    return evaluate(prom, DASHBOARDS[dashboard], panel(dashboard, title), View(h.END, variables=variables or None))


def seen_at(p: h.Probe) -> int:
    """The first scrape that shows a probe."""
    return math.ceil((p.finished - h.START) / h.SCRAPE) * h.SCRAPE + h.START


def events(probes, t0: float, t1: float, **where) -> list[h.Probe]:
    """Probes the scrapes in (t0, t1] show for the first time, filtered by attributes."""
    out = []
    for p in probes:
        labels = {"location": p.location, "resolution": p.key[3], "thinking_level": p.key[4], "outcome": p.outcome}
        if t0 < seen_at(p) <= t1 and all(labels[k] == v for k, v in where.items()):
            out.append(p)
    return out


def hour_before(t: float) -> float:
    """The scrape before the first one that increase(...[1h]) at t sees."""
    first = h.START + math.ceil((t - 3600 - h.START) / h.SCRAPE) * h.SCRAPE
    return first


def probe_detail_views():
    for (loc, res, lvl), kind in SERIES.items():
        yield kind, {"location": loc, "instance": h.LOCATIONS[loc], "target": "google", "model": "gemini-3-pro-image",
                     "resolution": res, "thinking_level": lvl}


# ---------------------------------------------------------------- every panel


# Panels that may rightly be empty for a series: a series that never succeeded has no latency,
# image or tokens per successful probe; p95 needs latency_min_probes probes in its window.
EMPTY_WHEN_NEVER = {"p95 latency (range)", "Duration", "Sizes", "Tokens per probe", "Last image and response size",
                    "Served by", "Image checks"}  # no answer named a model, no image was judged


# Per-resolution panels of a resolution the history does not probe (512: Nano Banana 2 only) are empty.
UNPROBED = {f"Latency {r}" for r in RESOLUTIONS if r not in {res for _, res, _ in SERIES}}
UNPROBED.add("Status page lag")  # the history writes no nanobanana_status_page_lag_seconds (test_detection.py does)
UNPROBED.add("API credit left")  # a Gemini target: its API publishes no credit figure (test_credit.py has one)


@pytest.mark.parametrize("name", ["overview", "slo-cost"])
def test_every_panel_has_values_without_nan_or_twin_names(history, name):
    prom, _ = history
    problems = []
    for p in panels(DASHBOARDS[name]):
        series = evaluate(prom, DASHBOARDS[name], p, View(h.END))
        problems += check_panel(p, series, may_be_empty=p["title"] in UNPROBED)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind,variables", list(probe_detail_views()), ids=[k for k, _ in probe_detail_views()])
def test_every_probe_detail_panel_for_each_series(history, kind, variables):
    prom, _ = history
    problems = []
    for p in panels(DASHBOARDS["probe-detail"]):
        series = evaluate(prom, DASHBOARDS["probe-detail"], p, View(h.END, variables=variables))
        # p95 over the range needs latency_min_probes (20) successes: 24 probes in 6 h, fewer after a streak
        sparse_p95 = kind == "streak" and p["title"] == "p95 latency (range)"
        problems += check_panel(p, series, may_be_empty=sparse_p95 or (kind == "never" and p["title"] in EMPTY_WHEN_NEVER))
        if p["type"] == "stat" and p["title"] not in ("Interval and timeout", "Last image and response size"):
            names = {s.name for s in series}
            assert len(names) <= 1 or p["title"] in ("Liveness check", "Canary", "Image checks"), \
                f"{p['title']}: one series, one value: {names}"
    assert not problems, "\n".join(problems)


def check_panel(p: dict, series: list, may_be_empty: bool) -> list[str]:
    problems = []
    if not series and not may_be_empty:
        problems.append(f"{p['title']}: no data")
    for s in series:
        bad = [t for t, v in s.points if not math.isfinite(v)]
        if bad:
            problems.append(f"{p['title']} {s.name}: {len(bad)} NaN/Inf values of {len(s.points)}")
    linked = {label for link in p["fieldConfig"]["defaults"].get("links", [])
              for label in re.findall(r"__field\.labels\.(\w+)", link["url"])}
    for s in series:
        if missing := linked - set(s.labels):
            problems.append(f"{p['title']} {s.name}: its links need labels {sorted(missing)}")
            break
    names = [(s.ref, s.name) for s in series]
    if len(names) != len(set(names)):
        problems.append(f"{p['title']}: twin names {sorted(n for n in names if names.count(n) > 1)}")
    return problems


# ---------------------------------------------------------------- what broke, since when


def test_outcome_timeline_shows_each_series_worst_outcome_per_bar(history):
    prom, probes = history
    p = panel("overview", "Outcome by series")
    step = View(h.END).step(p)
    assert step == h.INTERVAL
    # The timeline's codes, read from its value mappings: outcome name -> the value that shows it.
    codes = {Outcome(m["text"]): int(v) for v, m in p["fieldConfig"]["defaults"]["mappings"][0]["options"].items()}
    assert set(codes) == set(OUTCOMES)
    assert codes["success"] < codes["rate_limited"] < min(c for o, c in codes.items() if o.is_failure), \
        "the highest code of a bar wins: any failure over a 429 over success"
    rows = {(s.labels["location"], s.labels["resolution"], s.labels["thinking_level"]): s for s in show(prom, "overview", p["title"])}
    assert set(rows) == set(SERIES), "every series has a row"
    for key, s in rows.items():
        loc, res, lvl = key
        for t, code in s.points:
            happened = events(probes, t - step, t, location=loc, resolution=res, thinking_level=lvl)
            assert happened, f"{key}: a bar at {t} without a probe"
            assert code == max(codes[e.outcome] for e in happened), (key, t)
        red = [t for t, code in s.points if colour(p, s.name, code) == "red"]
        kind = SERIES[key]
        if kind == "never":
            assert len(red) == len(s.points)
        elif kind == "streak":
            streak = [seen_at(e) for e in probes if e.location == loc and e.key[3:] == (res, lvl) and e.outcome == "timeout"]
            assert red and min(red) - step < min(streak) <= min(red) and max(red) - step < max(streak) <= max(red)
            assert len(red) == len(h.STREAK), "one red bar per failed interval: since when, and until when"
        elif kind == "blip":
            assert len(red) == 1
            assert [text(p, c) for _, c in s.points].count("rate_limited") == 1
        else:
            assert not red
    links = [link["url"] for link in p["fieldConfig"]["defaults"]["links"]]
    assert any("/d/nanobanana-probe-detail?" in u and "var-resolution=${__field.labels.resolution}" in u for u in links)
    assert "http://${__field.labels.instance}/" in links


# ---------------------------------------------------------------- per-hour figures


def within(value: float, truth: float, share: float = 0.10) -> bool:
    return abs(value - truth) <= share * truth if truth else value == 0


def test_per_hour_figures_are_within_ten_percent_of_the_truth(history):
    prom, probes = history
    checked = 0
    for s in show(prom, "overview", "Probes per hour by outcome"):
        loc, outcome = s.labels["location"], s.labels["outcome"]
        for t, v in s.points:
            if t < h.START + 3600:
                continue
            truth = len(events(probes, hour_before(t), t, location=loc, outcome=outcome))
            assert within(v, truth), (s.name, t, v, truth)
            checked += 1
    for s in show(prom, "overview", "Tokens per hour by kind"):
        loc, kind = s.labels["location"], s.labels["kind"]
        for t, v in s.points:
            if t >= h.START + 3600:
                truth = sum(e.tokens.get(kind, 0) for e in events(probes, hour_before(t), t, location=loc))
                assert within(v, truth), (s.name, t, v, truth)
                checked += 1
    assert checked > 2000


def test_rate_limited_per_hour_is_the_alerts_expression(history):
    prom, _ = history
    p = panel("overview", "Rate limited per hour")
    [s] = [s for s in show(prom, "overview", p["title"]) if s.labels["location"] == EU]
    alert = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
             if r.get("alert") == "NanoBananaRateLimited"][0]["expr"].split(">")[0]
    answer = httpx.get(f"{prom}/api/v1/query_range", params={"query": f'{alert}', "start": s.points[0][0],
                                                             "end": s.points[-1][0], "step": View(h.END).step(p)}).json()
    [mirror] = [r for r in answer["data"]["result"] if r["metric"]["location"] == EU]
    assert [(t, round(v, 6)) for t, v in s.points] == [(float(t), round(float(v), 6)) for t, v in mirror["values"]]
    assert 0.9 <= max(v for _, v in s.points) <= 1.1, "one 429 is one an hour"
    assert all(colour(p, s.name, v) != "red" for _, v in s.points)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("dashboard,title,what", [
    ("probe-detail", "Probes by outcome", "outcome"),
    ("probe-detail", "Skipped probes", "skipped"),
    ("slo-cost", "Confirmations by reason", "confirmation"),
    ("overview", "Duration heatmap", "successes"),
])
def test_count_panels_count_each_event_once(history, dashboard, title, what):
    prom, probes = history
    variables = dict(next(v for k, v in probe_detail_views() if k == "streak")) if dashboard == "probe-detail" else {}
    p = panel(dashboard, title)
    step = View(h.END).step(p)
    series = show(prom, dashboard, title, **variables)
    assert series
    streak = ("eu", "2K", "default")
    for s in series:
        for t, v in s.points:
            if what == "outcome":
                truth = len(events(probes, t - step, t, location=EU, resolution="2K", thinking_level="default",
                                   outcome=s.labels["outcome"]))
            elif what == "skipped":
                k_time = [e for e in probes if e.location == EU and e.key[3:] == streak[1:] and e.k == h.SKIP_AT]
                truth = int(s.labels["reason"] == "overlap" and t - step < seen_at(k_time[0]) <= t)
            elif what == "confirmation":
                truth = len([e for e in events(probes, t - step, t, location=s.labels["location"])
                             if e.confirmation == s.labels["reason"]])
            else:
                le = float(s.labels["le"])
                truth = len([e for e in events(probes, t - step, t, outcome="success") if e.duration <= le])
            assert v == truth, (s.name, t, v, truth)
    total = sum(v for s in series for _, v in s.points if what != "successes" or s.labels["le"] == "+Inf")
    assert total > 0


# ---------------------------------------------------------------- ratios, latency, colours


def test_shares_and_per_probe_figures_hold_values(history):
    prom, _ = history
    shares = show(prom, "overview", "Phase shares")
    steps = {t for s in shares for t, _ in s.points if t >= h.START + 3600}
    for t in steps:
        assert abs(sum(v for s in shares for u, v in s.points if u == t) - 1) < 1e-9
    assert len(steps) >= 6 * 3600 // 20 - 1, "a value at every step"
    _, blip = next((k, v) for k, v in probe_detail_views() if k == "blip")
    [output] = [s for s in show(prom, "probe-detail", "Tokens per probe", **blip) if s.labels["kind"] == "output"]
    assert {v for _, v in output.points} == {h.TOKENS["1K"]}, "a failed probe does not halve tokens per probe"
    sizes = [s for s in show(prom, "overview", "Image size")]
    assert sizes and all(v > 0 for s in sizes for _, v in s.points)


def test_latency_shows_p95_only_with_enough_probes_and_colours_per_thinking_level(history):
    prom, probes = history
    lines = show(prom, "overview", "Latency 2K")
    names = {s.name for s in lines}
    for s in lines:
        if " p95 " in s.name:  # an hour holds 4 probes, 5 only when jitter lets a fifth in
            for t, _ in s.points:
                held = events(probes, hour_before(t), t, location=s.labels["location"], resolution="2K",
                              thinking_level=s.labels["thinking_level"], outcome="success")
                assert len(held) >= 5, (s.name, t, len(held))
            assert len(s.points) < 0.1 * 6 * 3600 / 20, "at one probe per 15 minutes a p95 is rare"
    assert {"high p50 eu", "default p50 eu", "high slowest eu", "high alert"} <= names
    [alert] = [s for s in lines if s.name == "high alert"]
    assert {v for _, v in alert.points} == {85.0}, "the series' own threshold: 50 s x 1.7"
    p = panel("overview", "p95 latency (range)")
    stats = {s.labels["resolution"] + " " + s.labels["thinking_level"] + " " + s.labels["location"]: s
             for s in show(prom, "overview", p["title"])}
    normal_high = stats["2K high eu"]
    # above the 2K threshold at thinking factor 1 (50 s), below its own (85 s): green
    assert 50 < normal_high.last <= 85 and colour(p, normal_high.name, normal_high.last) == "green"
    assert colour(p, stats["1K default eu"].name, stats["1K default eu"].last) == "green"
    assert "4K default eu" not in stats, "never succeeded: no latency"


def test_stats_mark_broken_series_like_the_alerts(history):
    prom, _ = history
    for title in ("Consecutive failures", "Last success", "Current success"):
        p = panel("overview", title)
        for s in show(prom, "overview", title):
            kind = SERIES[(s.labels["location"], s.labels["resolution"], s.labels["thinking_level"])]
            assert (colour(p, s.name, s.last) == "red") == (kind == "never"), (title, s.name, s.last)
            if title == "Last success" and kind == "never":
                assert text(p, s.last) == "never"
    p = panel("probe-detail", "Last probe")
    for kind, variables in probe_detail_views():
        [s] = show(prom, "probe-detail", "Last probe", **variables)
        assert 0 <= s.last < 2 and colour(p, s.name, s.last) == "green", kind
    live = panel("overview", "Free liveness check")
    states = {text(live, v) for s in show(prom, "overview", live["title"]) for _, v in s.points}
    assert states == {"OK", "rate limited"}, "a rate-limited free check is not a FAIL"


def test_error_budget_counts_the_slo_period_not_the_time_picker(history):
    prom, probes = history
    p = panel("slo-cost", "Error budget remaining")
    budget = {(s.labels["location"], s.labels["resolution"], s.labels["thinking_level"]): s
              for s in show(prom, "slo-cost", p["title"])}
    allowed = 0.005 * 30 * 86400  # seconds down in 30 days at 99.5 %: 216 minutes
    # The SLI: down from a failed probe to the next successful one, one interval for the blip, the
    # whole streak (its confirmations add no time) for the streak.
    blip = budget[("eu", "1K", "default")]
    assert abs(blip.last - (1 - h.INTERVAL / allowed)) < 0.01 and colour(p, blip.name, blip.last) == "green"
    streak = budget[("eu", "2K", "default")]
    assert abs(streak.last - (1 - len(h.STREAK) * h.INTERVAL / allowed)) < 0.02
    assert colour(p, budget[("eu", "4K", "default")].name, budget[("eu", "4K", "default")].last) == "red"
    assert budget[("us", "1K", "default")].last == 1


def test_a_location_variable_separates_locations(history):
    prom, _ = history
    for loc in h.LOCATIONS:
        for title in ("Availability", "Current success", "Probes per hour by outcome"):
            series = show(prom, "overview", title, location=loc)
            assert series and {s.labels["location"] for s in series} == {loc}, title


def test_stats_during_the_streak_are_red_exactly_where_the_alert_fires(history):
    """Looking at the dashboards while the streak goes on: a stat is red for the series
    NanoBananaProbeFailing's expression returns at that moment, and only for those."""
    prom, probes = history
    streak = [p for p in probes if SERIES[(p.location, *p.key[3:])] == "streak" and p.k == STREAK_CHECK]
    at = seen_at(streak[0]) + 60
    alert = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
             if r.get("alert") == "NanoBananaProbeFailing"][0]["expr"]
    firing = {(r["metric"]["location"], r["metric"]["resolution"], r["metric"]["thinking_level"])
              for r in httpx.get(f"{prom}/api/v1/query", params={"query": alert, "time": at}).json()["data"]["result"]}
    assert firing == {("eu", "2K", "default"), ("eu", "4K", "default")}
    for title in ("Consecutive failures", "Last success"):  # Current success is red after one failure
        p = panel("overview", title)
        for s in evaluate(prom, DASHBOARDS["overview"], p, View(at)):
            key = (s.labels["location"], s.labels["resolution"], s.labels["thinking_level"])
            assert (colour(p, s.name, s.last) == "red") == (key in firing), (title, key, s.last)


STREAK_CHECK = h.STREAK.start + 3  # the fourth regular probe of the streak: six failures in a row
