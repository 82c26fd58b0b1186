"""The Grafana dashboards: the structure Grafana needs, no drift from the generator, PromQL that a
real Prometheus parses, only metric names the exporter (or a recording rule) produces, and colours
from the thresholds the alert rules use."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter.models.sizes import RESOLUTIONS
from conftest import ROOT, free_port, running_exporter
from tests.documentation import room
from tests.helpers import DASHBOARDS, GRAFANA, all_expressions, load, panels, substitute

VARIABLES = ("datasource", "job", "location", "instance", "target", "model", "resolution", "thinking_level")
# What "All" sends: job and instance always exist (dashboard-linter's template-job/instance rules);
# location is absent in a single-location setup, and only a regex matching "" matches an absent label.
ALL_VALUES = {"job": ".+", "instance": ".+"}
DS = {"type": "prometheus", "uid": "${datasource}"}
NO_QUERY = {"row", "text"}  # panel types that show no data of their own
# Ids of Grafana's built-in panel plugins used here: a typo would import as "panel plugin not found".
BUILT_IN_PANELS = NO_QUERY | {"stat", "timeseries", "bargauge", "heatmap", "piechart", "state-timeline"}

# Probe-detail's variables that pick one series and its exporter (the rest narrow, with "All").
SINGLE_SERIES = ("instance", "target", "model", "resolution", "thinking_level")


KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label matchers, ranges
    and grouping label lists are cut out, that are not functions (followed by a parenthesis)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\$?\w+", " ", e)
    names = re.findall(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", e)
    return {n for n in names if n.lower() not in KEYWORDS}


def walk(node, path=""):
    """(path, key, value) for every key of every dict in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_has_the_structure_grafana_needs(name):
    d = load(name)
    assert d["uid"] == DASHBOARDS[name]
    assert d["title"] and isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert d["tags"] == ["nanobanana"]  # the dashboard links find each other by this tag

    variables = d["templating"]["list"]
    assert [v["name"] for v in variables] == list(VARIABLES)
    assert variables[0]["type"] == "datasource" and variables[0]["query"] == "prometheus"
    for v in variables[1:]:
        assert v["type"] == "query" and v["datasource"] == DS, v["name"]
        if name == "probe-detail.json" and v["name"] in SINGLE_SERIES:
            assert not v["multi"] and not v["includeAll"], f"{v['name']}: one series in depth, one value"
        else:
            assert v["multi"] and v["includeAll"] and v["allValue"] == ALL_VALUES.get(v["name"], ".*"), v["name"]

    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    titles = [p["title"] for p in panels(d)]
    assert len(titles) == len(set(titles)), "titles are unique: ids come from them"
    assert d["editable"] is False, "provisioned and generated: edits belong in grafana/generate.py"
    for p in panels(d):
        assert p["type"] in BUILT_IN_PANELS, p["title"]
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
        if p["type"] in NO_QUERY:
            continue
        assert p["datasource"] == DS, p["title"]
        assert p["description"].strip(), f"{p['title']}: says what it means and what to do when red"
        assert p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert all(refs) and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"] == DS, p["title"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_no_hard_coded_datasource_uid(name):
    d = load(name)
    assert "__inputs" not in d  # the datasource variable replaces import-time inputs
    refs = [(path, v) for path, k, v in walk(d) if k == "datasource"]
    assert refs, "panels and variables name their datasource"
    for path, ref in refs:
        assert ref == DS, f"{path}: datasource {ref!r} is not the ${{datasource}} variable"


def test_units_follow_the_metric():
    """Seconds, bytes and ratios are shown as such, not as bare numbers."""
    checked = 0
    for name in DASHBOARDS:
        for p in panels(load(name)):
            exprs = " ".join(t["expr"] for t in p.get("targets", []))
            unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
            if "time() -" in exprs and ") / nanobanana_probe_interval_seconds" in exprs:
                assert unit == "suffix: × interval", p["title"]  # an age in probe intervals
            elif "_bytes" in exprs:
                assert unit == "bytes", p["title"]
            elif "histogram_quantile" in exprs or "time() -" in exprs or p["type"] == "heatmap":
                assert unit == "s", p["title"]
            elif re.search(r"\b(ratio|availability|shares)\b", p["title"], re.IGNORECASE):
                assert unit == "percentunit", p["title"]
            elif re.search(r"_usd\{[^}]*\} / \(rate\(\w+_usd", exprs):  # money over money per second: a time
                assert unit in ("s", "d"), p["title"]
            elif "_usd" in exprs:  # money, or money over money (a budget's used share)
                assert unit == ("percentunit" if re.search(r"_usd\{[^}]*\} / \w+_usd\b", exprs) else "currencyUSD"), p["title"]
            else:
                continue
            checked += 1
    assert checked >= 10


# ---------------------------------------------------------------- generated, not hand-edited


def test_committed_json_is_what_the_generator_writes(tmp_path):
    subprocess.run([sys.executable, "grafana/generate.py", "--out", str(tmp_path)], cwd=ROOT, check=True)
    for name in DASHBOARDS:
        generated = (tmp_path / name).read_text(encoding="utf-8")
        committed = (GRAFANA / "dashboards" / name).read_text(encoding="utf-8")
        assert committed == generated, f"{name} differs from grafana/generate.py: run python grafana/generate.py"
    lint = (GRAFANA / "dashboards" / ".lint").read_text(encoding="utf-8")
    assert (tmp_path / ".lint").read_text(encoding="utf-8") == lint, ".lint differs: run python grafana/generate.py"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*DASHBOARDS, ".lint"])


def test_generator_check_fails_on_a_hand_edit(tmp_path):
    subprocess.run([sys.executable, "grafana/generate.py", "--out", str(tmp_path)], cwd=ROOT, check=True)
    check = [sys.executable, "grafana/generate.py", "--check", "--out", str(tmp_path)]
    assert subprocess.run(check, cwd=ROOT).returncode == 0
    edited = tmp_path / "overview.json"
    edited.write_text(edited.read_text().replace("Nano Banana / Overview", "Edited in the UI"))
    result = subprocess.run(check, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "overview.json" in result.stderr


# ---------------------------------------------------------------- thresholds shared with the alerts


def generator():
    """grafana/generate.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("generate", GRAFANA / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return generate


def load_thresholds() -> dict:
    """What the generator reads from rules.yml's settings group."""
    return generator().load_thresholds()


# Settings that shape an alert but no panel colour: the minimum counts that tell a blip from an
# outage, the outage window's ratio, staleness and the thinking-level factors.
NOT_DRAWN = {"outage_failure_ratio", "outage_min_probes", "warning_min_failures", "page_min_failures",
             "latency_min_probes", "stale_intervals", "latency_thinking_factor", "consecutive_slow",
             "image_check_failures"}


def test_every_shared_threshold_colours_a_panel():
    t = load_thresholds()
    assert NOT_DRAWN < set(t), "NOT_DRAWN names settings that rules.yml no longer records"
    assert {r["resolution"] for r in t["latency_p95_seconds"]} == set(RESOLUTIONS), "one latency threshold per resolution"
    wanted = {name: value for name, value in t.items() if name not in NOT_DRAWN and not isinstance(value, list)}
    wanted |= {f"latency {r['resolution']}": r["value"] for r in t["latency_p95_seconds"]}
    wanted |= {f"burn rate {p['long_window']}": p["value"] for p in t["burn_rate"]}
    assert len(wanted) == 14, wanted
    shown = {step["value"] for name in DASHBOARDS for _, k, v in walk(load(name)) if k == "steps" and isinstance(v, list) for step in v}
    missing = {k: v for k, v in wanted.items() if v not in shown}
    assert not missing, f"rules.yml settings no panel is coloured by: {missing}"
    overview = {p["title"]: p for p in panels(load("overview.json"))}
    factors = {f["thinking_level"]: f["value"] for f in t["latency_thinking_factor"]}
    overrides = {o["matcher"]["options"]: o["properties"][0]["value"]["steps"][-1]
                 for o in overview["p95 latency (range)"]["fieldConfig"]["overrides"]}
    for r in t["latency_p95_seconds"]:
        for level, factor in factors.items():  # the series' own threshold, as p95_threshold records it
            assert overrides[f"^{r['resolution']} {level}\\b"] == {"color": "red", "value": round(r["value"] * factor, 6)}
        exprs = [q["expr"] for q in overview[f"Latency {r['resolution']}"]["targets"]]
        assert any("nanobanana:probe_duration_seconds:p95_threshold" in e for e in exprs), "the alert's line"


# ---------------------------------------------------------------- PromQL: parses, and names exist


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A real, empty Prometheus on loopback; yields its base URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (tests/run.sh installs Debian's)"
    d = tmp_path_factory.mktemp("prometheus")
    (d / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"prometheus exited: {proc.stderr.read()}"
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def query(base: str, expr: str) -> dict:
    return httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()


def test_prometheus_rejects_a_broken_expression(prometheus):
    """The parse check below can fail: a broken query comes back as bad_data."""
    answer = query(prometheus, substitute('sum by (outcome) (rate(nanobanana_probes_total{target=~"$target"}[$__range])'))
    assert answer["status"] == "error" and answer["errorType"] == "bad_data"


def test_every_expression_parses_in_prometheus(prometheus):
    exprs = all_expressions()
    assert len(exprs) > 40
    failures = []
    for name, where, expr in exprs:
        sent = substitute(expr)
        assert "$" not in sent, f"{name} {where}: unsubstituted variable in {sent}"
        answer = query(prometheus, sent)
        if answer["status"] != "success":
            failures.append(f"{name} {where}: {answer.get('errorType')}: {answer.get('error')}\n  {sent}")
    assert not failures, "\n".join(failures)


def test_metric_name_extraction():
    expr = ('histogram_quantile(0.95, sum by (le, target) (rate(a_bucket{x=~"b|c", y="rate(d)"}[5m]))) / '
            'ignoring (phase) group_left () sum(job:e_total:rate5m offset 1h) > bool 1e3 and on (kind) f')
    assert metric_names(expr) == {"a_bucket", "job:e_total:rate5m", "f"}
    assert metric_names("time() - g_timestamp_seconds") == {"g_timestamp_seconds"}


# Exported only once the status poller's first fetches (against the demo's simulator) finished.
STATUS_SAMPLES = ("nanobanana_upstream_incidents_active{", "nanobanana_openrouter_endpoint_uptime_ratio{")
# Exported once the first free liveness check (and the first canary) of a target finished.
LIVENESS_SAMPLE = "nanobanana_liveness_outcome{"
CANARY_SAMPLE = "nanobanana_canary_outcome{"


def produced_by_exporter() -> set[str]:
    """Sample names a Prometheus scraping the demo exporter would store."""
    with running_exporter("--demo") as (base, _):
        deadline = time.monotonic() + 60  # generous: a busy machine; the checks start within one interval
        while True:
            text = httpx.get(f"{base}/metrics", timeout=10).text
            if all(s in text for s in (*STATUS_SAMPLES, LIVENESS_SAMPLE, CANARY_SAMPLE)):
                break
            assert time.monotonic() < deadline, \
                f"the demo exporter never exported {STATUS_SAMPLES}, {LIVENESS_SAMPLE} and {CANARY_SAMPLE}"
            time.sleep(0.2)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(s.name for s in family.samples)
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def recorded_by_rules() -> set[str]:
    names = set()
    for path in sorted((ROOT / "alertmanager").glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in doc.get("groups", []) if isinstance(doc, dict) else []:
            names.update(r["record"] for r in group.get("rules", []) if "record" in r)
    return names


def test_every_metric_name_is_produced():
    known = produced_by_exporter() | recorded_by_rules()
    assert "nanobanana_probes_total" in known and "nanobanana_probe_duration_seconds_bucket" in known
    used: dict[str, list[str]] = {}
    for name, where, expr in all_expressions():
        for metric in metric_names(expr):
            used.setdefault(metric, []).append(f"{name} {where}")
    assert "nanobanana_probe_phase_seconds_total" in used and "nanobanana_probe_phase_duration_seconds" in used
    assert {s.rstrip("{") for s in STATUS_SAMPLES} <= set(used), "the overview compares with the status sources"
    assert {"nanobanana_probe_cost_usd_total", "nanobanana_budget_limit_usd", "nanobanana_liveness_success",
            "nanobanana_canary_success", "nanobanana_canary_cost_usd_total"} <= set(used)
    unknown = {m: places for m, places in used.items() if m not in known}
    assert not unknown, f"metrics no exporter or recording rule produces: {unknown}"


# ---------------------------------------------------------------- provisioning


def test_provisioning_files_point_at_the_documented_paths():
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    [ds] = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"].startswith("http") and "uid" not in ds
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "nanobanana.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    docs = room("dashboards")
    assert f"grafana/dashboards:{path}" in docs, "docs/dashboards.md shows the mount for the provisioned path"
    assert "/etc/grafana/provisioning" in docs


@pytest.mark.parametrize("name", DASHBOARDS)
def test_ratio_and_latency_curves_cover_several_probes(name):
    """At 15-minute probes a $__rate_interval window (a few scrapes) mostly holds no probe: success
    and error ratios and latency quantiles read a window of an hour or the whole range instead."""
    checked = 0
    for p in panels(load(name)):
        for t in p.get("targets", []):
            expr = t["expr"]
            ratio = "nanobanana_probes_total" in expr and " / " in expr and "outcome" in expr
            latency = "histogram_quantile" in expr or "nanobanana_probe_duration_seconds_sum" in expr
            if ratio or latency:
                checked += 1
                assert "$__rate_interval" not in expr and "$__interval" not in expr, (p["title"], expr)
                assert re.search(r"\[(1h|\$__range|30d)\]", expr), (p["title"], expr)
    assert checked, "no ratio or latency panel found"


@pytest.mark.parametrize("name", DASHBOARDS)
def test_panel_ids_stay_when_panels_move(name):
    """A `viewPanel=<id>` link keeps opening the same panel after a layout change: ids come from titles."""
    panel_id = generator().panel_id
    for p in panels(load(name)):
        assert p["id"] == panel_id(p["title"]), p["title"]


def test_links_open_one_series_and_the_runbook():
    runbook = generator().load_settings()["links"]["runbook_url"]
    for name in DASHBOARDS:
        d = load(name)
        assert any(link.get("url") == runbook for link in d["links"]), f"{name}: a link to the runbook"
    overview = {p["title"]: p for p in panels(load("overview.json"))}
    detail_vars = {v["name"] for v in load("probe-detail.json")["templating"]["list"]}
    for title in ("Outcome by series", "Current success", "Consecutive failures", "Last success"):
        urls = [link["url"] for link in overview[title]["fieldConfig"]["defaults"]["links"]]
        [detail] = [u for u in urls if "/d/nanobanana-probe-detail?" in u]
        passed = set(re.findall(r"var-(\w+)=\$\{__field\.labels\.(\w+)\}", detail))
        assert {v for v, label in passed if v == label} == detail_vars - {"datasource"}, title
        assert "http://${__field.labels.instance}/" in urls, title
    runbook_links = [link["url"] for name in DASHBOARDS for p in panels(load(name))
                     for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", []) if "#" in link["url"]]
    anchors = {"#" + line[3:].strip().lower() for line in (ROOT / "docs/runbook.md").read_text().splitlines()
               if line.startswith("## ")}
    assert runbook_links and all(u.removeprefix(runbook) in anchors for u in runbook_links)
