"""mixin/: the shipped rules and dashboards as a monitoring mixin, rendered with Debian's jsonnet and
checked with the real promtool: every promtool case of alertmanager/tests/ passes against what the
mixin serves, and _config reaches the settings group."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

MIXIN = ROOT / "mixin"
pytestmark = pytest.mark.skipif(not (shutil.which("jsonnet") and shutil.which("promtool")),
                                reason="jsonnet and promtool not installed (tests/run.sh installs them)")


def render(tmp_path, config: str = "{}") -> dict:
    """The mixin with `config` added to its _config, as kube-prometheus would use it."""
    source = tmp_path / "use.jsonnet"
    source.write_text(f"local m = (import 'mixin.libsonnet') + {{ _config+:: {config} }};\n"
                      "{ rules: m.prometheusRules, alerts: m.prometheusAlerts, global: m.prometheusGlobalAlerts,\n"
                      "  dashboards: m.grafanaDashboards }\n")
    result = subprocess.run(["jsonnet", "-J", str(MIXIN), str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rule_file(mixin: dict) -> dict:
    return {"groups": mixin["rules"]["groups"] + mixin["alerts"]["groups"]}


def settings(mixin: dict) -> list[dict]:
    (group,) = [g for g in mixin["rules"]["groups"] if g["name"] == "nanobanana-settings"]
    return group["rules"]


def test_generated_libsonnet_is_up_to_date():
    result = subprocess.run([sys.executable, str(MIXIN / "generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # promtool over every case
def test_every_promtool_case_passes_against_the_rules_the_mixin_serves(tmp_path):
    mixin = render(tmp_path)
    shipped = yaml.safe_load((ROOT / "alertmanager" / "rules.yml").read_text(encoding="utf-8"))
    served = rule_file(mixin)
    assert sorted(json.dumps(r, sort_keys=True) for g in served["groups"] for r in g["rules"]) == \
        sorted(json.dumps(r, sort_keys=True) for g in shipped["groups"] for r in g["rules"])
    names = [g["name"] for g in served["groups"]]
    assert len(names) == len(set(names)), names  # one PrometheusRule holds both lists
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(served, sort_keys=False))
    shipped_global = yaml.safe_load((ROOT / "alertmanager" / "rules-global.yml").read_text(encoding="utf-8"))
    assert mixin["global"] == shipped_global
    (tmp_path / "rules-global.yml").write_text(yaml.safe_dump(mixin["global"], sort_keys=False))
    shutil.copytree(ROOT / "alertmanager" / "tests", tmp_path / "tests")
    check = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yml"), str(tmp_path / "rules-global.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    cases = sorted((tmp_path / "tests").glob("*.yml"))
    assert len(cases) >= 10
    result = subprocess.run(["promtool", "test", "rules", *map(str, cases)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_config_rewrites_the_settings_group(tmp_path):
    mixin = render(tmp_path, """{
        exporterJobs: ['nanobanana-eu', 'nanobanana-us'],
        runbookURL: 'https://wiki.example/runbook', grafanaURL: 'https://grafana.example',
        settings+: { 'nanobanana:slo_objective:ratio': 0.999,
                     'nanobanana:threshold:latency_p95_seconds{resolution="4K"}': 120 },
    }""")
    rules = settings(mixin)
    jobs = [r["labels"]["job"] for r in rules if r["record"] == "nanobanana:exporter_job:info"]
    assert jobs == ["nanobanana-eu", "nanobanana-us"]
    (links,) = [r for r in rules if r["record"] == "nanobanana:alert_links:info"]
    assert links["labels"] == {"runbook_url": "https://wiki.example/runbook", "grafana_url": "https://grafana.example"}
    expr = {(r["record"], json.dumps(r.get("labels", {}), sort_keys=True)): r["expr"] for r in rules}
    assert expr["nanobanana:slo_objective:ratio", "{}"] == "vector(0.999)"
    assert expr["nanobanana:threshold:latency_p95_seconds", '{"resolution": "4K"}'] == "vector(120)"
    assert expr["nanobanana:threshold:latency_p95_seconds", '{"resolution": "2K"}'] == "vector(50)"  # untouched


def test_an_unknown_setting_is_an_error_that_names_it(tmp_path):
    source = tmp_path / "use.jsonnet"
    source.write_text("((import 'mixin.libsonnet') + { _config+:: { settings+: { 'nanobanana:slo:ratio': 1 } } })"
                      ".prometheusRules\n")
    result = subprocess.run(["jsonnet", "-J", str(MIXIN), str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "unknown settings" in result.stderr and "nanobanana:slo:ratio" in result.stderr


def test_grafana_dashboards_are_the_shipped_files(tmp_path):
    dashboards = render(tmp_path)["dashboards"]
    files = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    assert sorted(dashboards) == [f"nanobanana-{f.name}" for f in files]
    for f in files:
        assert dashboards[f"nanobanana-{f.name}"] == json.loads(f.read_text(encoding="utf-8"))
