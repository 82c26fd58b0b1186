"""Alert rules and routing, checked with the real promtool and amtool.

The list of alerts is the rule files themselves (rules.yml, and rules-global.yml for several
locations): every test below derives from them, so adding an alert means adding one rule and its
promtool cases, nothing here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporter.background.credit import CREDIT_FAMILIES
from exporter.exposition.metrics import BUDGET_FAMILIES, CATALOG_FAMILIES, LIVENESS_FAMILIES, MODEL_FAMILIES
from exporter.contract.outcomes import LIVENESS_OUTCOMES, Outcome
from exporter.models.sizes import RESOLUTIONS, THINKING_LEVELS
from exporter.status.base import IMPACTS, UNKNOWN_IMPACT

ROOT = Path(__file__).resolve().parent.parent
AM = ROOT / "alertmanager"
RULES = AM / "rules.yml"
RULES_GLOBAL = AM / "rules-global.yml"  # the global Prometheus of several locations (deploy/multi-region)
PROMTOOL_TESTS = sorted((AM / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (tests/run.sh installs it)")
needs_amtool = pytest.mark.skipif(not shutil.which("amtool"), reason="amtool not installed (tests/run.sh installs it)")


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alerting_rules() -> list[dict]:
    groups = rule_groups() + yaml.safe_load(RULES_GLOBAL.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alerting_rules()})


def recorded(name: str) -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if rule.get("record") == name]


def run(*cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


@needs_promtool
def test_promtool_check_rules():
    result = run("promtool", "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in result.stdout


@pytest.mark.slow  # promtool over every case (about 2 minutes)
@needs_promtool
def test_promtool_unit_tests_pass():
    # 80 s on a 2-core machine at a load of 10: room for a busier one
    result = run("promtool", "test", "rules", *map(str, PROMTOOL_TESTS), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROMTOOL_TESTS)


def promtool_cases() -> list[tuple[str, str | None]]:
    """(alertname, severity) for every alert a promtool case expects, (alertname, None) for every
    case where it must not fire."""
    cases = []
    for path in PROMTOOL_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                expected = check.get("exp_alerts") or [{"exp_labels": {"severity": None}}]
                cases += [(check["alertname"], alert["exp_labels"].get("severity")) for alert in expected]
    return cases


# An alert may have one rule per severity (NanoBananaUpstreamIncident): each needs its firing case.
@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}")
def test_every_alert_has_a_firing_and_a_silent_promtool_case(rule):
    cases = promtool_cases()
    alert, severity = rule["alert"], rule["labels"]["severity"]
    assert (alert, severity) in cases, f"{alert}: no promtool case where it fires with severity {severity}"
    assert (alert, None) in cases, f"{alert}: no promtool case where it must not fire"


def test_promtool_cases_name_only_existing_alerts():
    unknown = {name for name, _ in promtool_cases()} - set(alert_names())
    assert not unknown, f"promtool cases for alerts that rules.yml does not define: {unknown}"


def test_promtool_cases_step_within_the_lookback():
    """promtool evaluates the rule groups of a step in no fixed order, so an alert may read a record of
    another group (the thresholds) from the step before: that value must still be inside Prometheus's
    5-minute lookback, or the case passes or fails at random (credit_running_out.yml once stepped 10m)."""
    from exporter.common.durations import parse_duration
    coarse = {path.name: case["evaluation_interval"] for path in PROMTOOL_TESTS
              for case in [yaml.safe_load(path.read_text())]
              if parse_duration(str(case.get("evaluation_interval", "1m"))) >= 300}
    assert not coarse, f"evaluation_interval of 5m or more: {coarse}"


def test_rules_yml_is_the_only_rule_file_of_an_exporters_prometheus():
    """One file to load and to test: a new alert set (status, cost) is a group in rules.yml, its
    promtool cases are files in alertmanager/tests/ loading ../rules.yml. The one other file is for
    the global Prometheus of several locations, which sees what one location cannot."""
    others = [p.name for p in AM.glob("*.yml") if p not in (RULES, RULES_GLOBAL)
              and "groups" in (yaml.safe_load(p.read_text()) or {})]
    assert not others, f"fold {others} into alertmanager/rules.yml as a group"
    loaded = {path.name: yaml.safe_load(path.read_text())["rule_files"] for path in PROMTOOL_TESTS}
    assert {tuple(files) for files in loaded.values()} == {("../rules.yml",), ("../rules-global.yml",)}, loaded


@needs_promtool
def test_promtool_check_global_rules():
    result = run("promtool", "check", "rules", str(RULES_GLOBAL))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_regional_pages_the_global_rules_read_route_to_no_one():
    """The regional pages about a model that rules-global.yml counts per location are the ones
    alertmanager.yml sends to `location-input` (no integration) when they carry `location`."""
    from exporter.contract.locations import LOCATION_PAGES

    pages = {rule["alert"] for rule in alerting_rules() if rule["labels"]["severity"] == "critical"}
    assert set(LOCATION_PAGES) < pages  # real pages; NanoBananaExporterDown stays one per location
    config = yaml.safe_load((AM / "alertmanager.yml").read_text())
    [diverted] = [r for r in config["route"]["routes"] if r["receiver"] == "location-input"]
    assert f'alertname=~"{"|".join(LOCATION_PAGES)}"' in diverted["matchers"]
    assert 'location=~".+"' in diverted["matchers"] and 'severity="critical"' in diverted["matchers"]
    [receiver] = [r for r in config["receivers"] if r["name"] == "location-input"]
    assert receiver == {"name": "location-input"}
    assert f'alertname=~"{"|".join(LOCATION_PAGES)}"' in RULES_GLOBAL.read_text()


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_alert_style(rule):
    name = rule["alert"]
    assert re.fullmatch(r"NanoBanana(?:[A-Z][a-z0-9]+)+", name), f"{name}: CamelCase with the NanoBanana prefix"
    assert rule["labels"]["severity"] in ("critical", "warning", "info")
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook_url", "dashboard_url"):
        assert annotations.get(key), f"{name}: annotation {key} missing"
    assert "First:" in annotations["description"], f"{name}: the description must say what to do first"
    assert link_path(annotations["runbook_url"]) == f"#{name.lower()}", f"{name}: runbook_url must point at its section"
    assert link_path(annotations["dashboard_url"]).startswith("/d/nanobanana-")


def test_runbook_has_a_section_per_alert():
    headings = re.findall(r"^## (\S+)\s*$", RUNBOOK.read_text(), re.M)
    missing = set(alert_names()) - set(headings)
    assert not missing, f"docs/runbook.md lacks sections for {sorted(missing)}"


def test_links_are_configured_in_one_place():
    """The shipped bases are empty (no link beats a placeholder's); every alert reads them from the one rule."""
    [links] = recorded("nanobanana:alert_links:info")
    assert links["labels"] == {"runbook_url": "", "grafana_url": ""}
    for rule in alerting_rules():
        for key in ("runbook_url", "dashboard_url"):
            assert 'query "nanobanana:alert_links:info"' in rule["annotations"][key], f"{rule['alert']}.{key}"


def link_path(annotation: str) -> str:
    """What an alert's link adds to its base: `{{ with query }}{{ with base }}{{ . }}PATH{{ end }}{{ end }}`."""
    m = re.fullmatch(r'\{\{ with query "nanobanana:alert_links:info" \}\}\{\{ with \. \| first \| label "\w+" \}\}'
                     r"\{\{ \. \}\}(.*)\{\{ end \}\}\{\{ end \}\}", annotation)
    assert m, annotation
    return m[1]


CONFIGURED_CASE = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'nanobanana_probes_total{job="nanobanana",instance="exporter:9877",target="prod",api="gemini",model="gemini-3-pro-image",resolution="2K",thinking_level="low",outcome="success"}'
        values: '0+1x9 9+1x9 18+1x9 27+1x9 36+1x9 45+1x9 54+1x9 63+1x9'
      - series: 'nanobanana_probes_total{job="nanobanana",instance="exporter:9877",target="prod",api="gemini",model="gemini-3-pro-image",resolution="2K",thinking_level="low",outcome="server_error"}'
        values: '0x9 1x9 2x9 3x9 4x9 5x9 6x9 7x9'
    alert_rule_test:
      - eval_time: 75m
        alertname: NanoBananaErrorRateHigh
        exp_alerts:
          - exp_labels: {api: gemini, instance: exporter:9877, job: nanobanana, model: gemini-3-pro-image, resolution: 2K, severity: warning, target: prod, thinking_level: low}
            exp_annotations:
              dashboard_url: https://grafana.example/d/nanobanana-probe-detail?var-target=prod&var-model=gemini-3-pro-image&var-resolution=2K&var-thinking_level=low&var-job=nanobanana&var-location=&var-instance=exporter%3A9877
              description: '10% of the probes of target prod (model gemini-3-pro-image, resolution 2K, thinking low) failed over the last hour or two (above 5 %). First: see which outcome dominates (timeout, server_error, auth_error...) on the probe-detail dashboard; auth or client errors are on your side, server errors and timeouts usually upstream.'
              runbook_url: https://wiki.example/nanobanana/runbook.md#nanobananaerrorratehigh
              summary: 'Nano Banana error rate 10%: prod gemini-3-pro-image 2K'
"""


@needs_promtool
def test_configured_links_reach_every_alert_with_the_series_in_the_url(tmp_path):
    """Set up as docs/alerting.md says (the two labels of the links rule), an alert links the runbook
    section and the dashboard on its own series, evaluated by the real promtool."""
    rules = yaml.safe_load(RULES.read_text())
    [links] = [r for g in rules["groups"] for r in g["rules"] if r.get("record") == "nanobanana:alert_links:info"]
    links["labels"] = {"runbook_url": "https://wiki.example/nanobanana/runbook.md", "grafana_url": "https://grafana.example"}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    (tmp_path / "case.yml").write_text(CONFIGURED_CASE)
    result = run("promtool", "test", "rules", str(tmp_path / "case.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_links_open_real_dashboards_with_real_variables():
    """dashboard_url names a committed dashboard's uid and fills its variables from the same labels."""
    dashboards = {d["uid"]: {v["name"] for v in d["templating"]["list"]}
                  for d in map(json.loads, map(Path.read_text, (ROOT / "grafana" / "dashboards").glob("*.json")))}
    for rule in alerting_rules():
        assert link_path(rule["annotations"]["runbook_url"]) == f"#{rule['alert'].lower()}"
        url = link_path(rule["annotations"]["dashboard_url"])
        m = re.fullmatch(r"/d/([\w-]+)(?:\?(.*))?", url)
        assert m and m[1] in dashboards, f"{rule['alert']}: {url} is not one of the dashboards {sorted(dashboards)}"
        for param in filter(None, (m[2] or "").split("&")):
            name, _, value = param.partition("=")
            variable = name.removeprefix("var-")
            assert variable in dashboards[m[1]], f"{rule['alert']}: {m[1]} has no variable {variable}"
            assert value == f"{{{{ $labels.{variable} | urlquery }}}}", f"{rule['alert']}: {param}"


def test_latency_thresholds_cover_every_resolution_and_thinking_level():
    per_resolution = {rule["labels"]["resolution"] for rule in recorded("nanobanana:threshold:latency_p95_seconds")}
    factors = {rule["labels"]["thinking_level"] for rule in recorded("nanobanana:threshold:latency_thinking_factor")}
    assert per_resolution == set(RESOLUTIONS)
    assert factors == set(THINKING_LEVELS)


def test_burn_rate_alerts_read_each_pair_of_the_settings():
    """Each burn_rate setting is a long and a short window: the alerts compare exactly those two
    recorded shares of time down (1 - the SLI) against that pair's factor."""
    exprs = " ".join(rule["expr"] for rule in alerting_rules())
    pairs = recorded("nanobanana:threshold:burn_rate")
    assert len(pairs) == 4
    for pair in pairs:
        long, short = pair["labels"]["long_window"], pair["labels"]["short_window"]
        factor = re.escape(f'scalar(nanobanana:threshold:burn_rate{{long_window="{long}"}})')
        compared = re.findall(rf"\(1 - nanobanana:probe_uptime:ratio(\w+)\) > {factor}", exprs)
        assert sorted(compared) == sorted([long, short]), f"pair {long}/{short}: the alerts compare {compared}"
        assert all(recorded(f"nanobanana:probe_uptime:ratio{w}") for w in (long, short))


def test_rules_classify_outcomes_like_outcomes_py():
    """Failures are 'every outcome but success and rate_limited' in the rules and in outcomes.py;
    the liveness alerts name only outcomes the liveness checker exports."""
    text = RULES.read_text()
    not_failures = {o.value for o in Outcome if not o.is_failure}
    excluded_from_failures = set(re.findall(r'outcome!~"([^"]+)"', text))
    assert excluded_from_failures == {"|".join(sorted(not_failures, key=["success", "rate_limited"].index))}
    liveness = set(re.findall(r'nanobanana_liveness_\w+\{outcome="([^"]+)"', text))
    assert liveness and liveness <= set(LIVENESS_OUTCOMES)
    named = set(re.findall(r'outcome!?="([^"]+)"', text)) - liveness
    assert named and named <= {o.value for o in Outcome}  # a misspelt outcome would match nothing


def test_cost_alerts_read_only_metrics_the_exporter_defines():
    [group] = [g for g in rule_groups() if g["name"] == "nanobanana-cost"]
    used = set(re.findall(r"\bnanobanana_[a-z_]+", " ".join(rule["expr"] for rule in group["rules"])))
    credit = {f.text_name for f in CREDIT_FAMILIES.values()}
    assert used and used <= set(LIVENESS_FAMILIES) | set(BUDGET_FAMILIES) | set(MODEL_FAMILIES) | set(CATALOG_FAMILIES) | credit, used


def test_rules_and_inhibitions_match_the_impacts_the_exporter_exports():
    text = RULES.read_text() + (AM / "alertmanager.yml").read_text()
    matched = re.findall(r'impact!?=~?\\?"([^"\\]+)', text)
    assert len(matched) >= 4, matched  # the two incident rules, the pages' ALERTS query, the inhibition
    unknown = {value for m in matched for value in m.split("|")} - {*IMPACTS.values(), UNKNOWN_IMPACT}
    assert not unknown, f"impact values the status collector never exports: {unknown}"


@needs_amtool
def test_amtool_check_config():
    result = run("amtool", "check-config", str(AM / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout and "SUCCESS" in result.stdout


def routes_file() -> dict:
    return yaml.safe_load((AM / "routes-tests.yml").read_text())


def route(labels: dict[str, str]) -> list[str]:
    result = run("amtool", "config", "routes", "test", f"--config.file={AM / 'alertmanager.yml'}",
                 *(f"{k}={v}" for k, v in labels.items()))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


@needs_amtool
@pytest.mark.parametrize("case", routes_file()["cases"], ids=lambda c: "-".join(c["labels"].values()))
def test_amtool_route_cases(case):
    assert route(case["labels"]) == case["receivers"]


@needs_amtool
@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_every_alert_routes_by_its_severity(rule):
    severity = rule["labels"]["severity"]
    labels = {"alertname": rule["alert"], "severity": severity, "target": "prod", "model": "gemini-3-pro-image"}
    assert route(labels) == routes_file()["severity_receivers"][severity]


def test_rules_and_their_tables_are_generated_from_the_contract():
    """rules.yml, docs/alerting.md's tables and the runbook's sections are what
    alertmanager/generate.py makes of exporter/contract/: a hand edit or a contract change without
    regenerating fails here."""
    result = run(sys.executable, str(AM / "generate.py"), "--check")
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_compressed_rules_scale_every_duration_and_only_durations(tmp_path):
    """rules_yml(time_scale) (tests/test_pages_compressed.py) is rules.yml with each range, subquery step,
    offset and `for:` scaled; names, labels and thresholds stay, and promtool accepts it."""
    from alertmanager.generate import rules_yml, scale_promql
    from exporter.common.durations import parse_duration

    assert scale_promql("x[1h] offset 1425m + y[30d:5m] + z[90s]", 1 / 60) == "x[60s] offset 1425s + y[43200s:5s] + z[1500ms]"
    shipped = yaml.safe_load((AM / "rules.yml").read_text())
    compressed = rules_yml(1 / 60)
    scaled = yaml.safe_load(compressed)
    for group, small in zip(shipped["groups"], scaled["groups"], strict=True):
        for rule, fast in zip(group["rules"], small["rules"], strict=True):
            assert fast["expr"] == scale_promql(rule["expr"], 1 / 60) and {**fast, "expr": "", "for": ""} == {
                **rule, "expr": "", "for": ""}
            if "for" in rule:
                assert parse_duration(fast["for"]) * 60 == parse_duration(rule["for"])
    durations = re.findall(r"\[(\d+[smhd])\]", compressed)
    assert durations and all(d.endswith("s") for d in durations), durations
    (tmp_path / "rules.yml").write_text(compressed)
    result = run("promtool", "check", "rules", str(tmp_path / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_exporter_judges_slow_probes_by_the_recorded_latency_settings():
    """The exporter confirms slow probes (exporter/domain/detection.py) with the numbers NanoBananaLatencyHigh
    compares the p95 with: both come from exporter/contract/settings.py."""
    from exporter.domain import detection

    def setting(name: str, label: str) -> dict[str, float]:
        return {rule["labels"][label]: float(re.fullmatch(r"vector\((.+)\)", rule["expr"])[1]) for rule in recorded(name)}

    assert setting("nanobanana:threshold:latency_p95_seconds", "resolution") == detection.LATENCY_SECONDS
    assert setting("nanobanana:threshold:latency_thinking_factor", "thinking_level") == detection.THINKING_FACTORS
    [streak] = recorded("nanobanana:threshold:consecutive_slow")
    assert streak["expr"] == f"vector({detection.CONSECUTIVE_SLOW})"


def test_the_quiet_slack_channel_has_its_own_webhook():
    """Slack app webhooks ignore `channel:`: a receiver for another channel needs its own webhook file."""
    config = yaml.safe_load((AM / "alertmanager.yml").read_text())
    urls = {(c["channel"], c["api_url_file"]) for r in config["receivers"] for c in r.get("slack_configs", [])}
    channels = {channel for channel, _ in urls}
    assert len(urls) == len(channels), urls  # one webhook per channel, each channel one webhook
    assert len({url for _, url in urls}) == len(channels), urls
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = {c["target"] for c in compose["services"]["alertmanager"]["configs"]}
    assert {url for _, url in urls} <= mounted
