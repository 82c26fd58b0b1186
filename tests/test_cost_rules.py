"""The cost and liveness alerts: promtool checks and unit tests, and the shape every alert must have."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT

RULES = ROOT / "alertmanager" / "cost-rules.yml"
TESTS = ROOT / "alertmanager" / "tests" / "cost-rules.test.yml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SEVERITIES = {"ApiKeyRejected": "critical", "ModelGone": "critical", "BudgetExhausted": "warning",
              "BudgetBurningFast": "info"}

pytestmark = pytest.mark.skipif(not shutil.which(PROMTOOL), reason="promtool is not installed")


def alerts() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_promtool_checks_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass():
    result = subprocess.run([PROMTOOL, "test", "rules", TESTS.name], cwd=TESTS.parent,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_its_severity_a_firing_and_a_quiet_case_and_a_runbook_section():
    assert {rule["alert"] for rule in alerts()} == {f"NanoBanana{name}" for name in SEVERITIES}
    cases = yaml.safe_load(TESTS.read_text())["tests"]
    tested = {(t["alertname"], a["exp_labels"]["severity"])
              for case in cases for t in case["alert_rule_test"] for a in t["exp_alerts"]}
    quiet = {t["alertname"] for case in cases for t in case["alert_rule_test"] if not t["exp_alerts"]}
    for rule in alerts():
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert severity == SEVERITIES[name.removeprefix("NanoBanana")], name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(), re.MULTILINE)
        assert anchor in {h.strip().lower().replace(" ", "-") for h in headings}, f"{name}: no section #{anchor} in {path}"
        assert (name, severity) in tested, f"{name} ({severity}) has no firing promtool case"
        assert name in quiet, f"{name} has no not-firing promtool case"


def test_the_rules_use_only_metrics_the_exporter_defines():
    from exporter.metrics import BUDGET_FAMILIES, LIVENESS_FAMILIES
    from exporter.outcomes import LIVENESS_OUTCOMES

    text = RULES.read_text()
    used = set(re.findall(r"\bnanobanana_[a-z_]+", text))
    assert used <= set(LIVENESS_FAMILIES) | set(BUDGET_FAMILIES), used
    assert set(re.findall(r'outcome="([a-z_]+)"', text)) <= set(LIVENESS_OUTCOMES)
