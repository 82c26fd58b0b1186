"""The README documents every list the code has: outcomes, metric families, fault kinds, alerts and
their settings; and its quick-start test command is the one CI runs."""

import re
from pathlib import Path

import yaml

from exporter.metrics import FAMILIES
from exporter.outcomes import OUTCOMES
from exporter.simulator import KINDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_outcome_is_documented():
    assert [o.value for o in OUTCOMES if f"| `{o.value}` |" not in README] == []


def test_every_metric_family_is_documented():
    names = [f"{n}_total" if kind == "counter" else n for n, (kind, _, _) in FAMILIES.items()]
    assert [n for n in names if f"`{n}`" not in README] == []


def test_every_fault_kind_is_documented():
    assert [k for k in KINDS if f"| `{k}` |" not in README] == []


def test_ci_runs_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci[-1] in README


def rules() -> list[dict]:
    return [r for g in yaml.safe_load((ROOT / "alertmanager/rules.yml").read_text())["groups"] for r in g["rules"]]


def test_every_alert_is_in_the_alerts_table_with_its_severity_and_for():
    rows = {f"| {r['alert']} | {r['labels']['severity']} | {r.get('for', '0s')} |" for r in rules() if "alert" in r}
    assert [row for row in rows if row not in README] == []


def test_the_settings_table_shows_the_defaults_of_rules_yml():
    """Every number the alerts and dashboards share is shown once, with the value rules.yml records."""
    rows = []
    for r in rules():
        record = r.get("record", "")
        if not (record.startswith("nanobanana:threshold:") or record == "nanobanana:slo_objective:ratio"):
            continue  # the alerts' own recording rules, the links
        name = record.removeprefix("nanobanana:threshold:")
        labels = ",".join(f'{k}="{v}"' for k, v in r.get("labels", {}).items())
        value = re.fullmatch(r"vector\((.+)\)", r["expr"].strip())[1]
        rows.append(f"| `{name}{'{' + labels + '}' if labels else ''}` | {value} |")
    assert len(rows) >= 20
    assert [row for row in rows if row not in README] == []
