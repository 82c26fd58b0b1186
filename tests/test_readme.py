"""The documentation (README and docs/) shows every list the code has: outcomes, metric families,
fault kinds, alerts and their settings; the README's quick-start test command is the one CI runs, and
every relative link in it and in docs/ leads to a file and heading that exist."""

import re

import yaml

from exporter.exposition.metrics import FAMILIES
from exporter.contract.outcomes import OUTCOMES
from exporter.simulator import KINDS

from tests.documentation import ALL, README, ROOT


def test_every_outcome_is_documented():
    assert [o.value for o in OUTCOMES if f"| `{o.value}` |" not in ALL] == []


def test_every_metric_family_is_documented():
    names = [f.text_name for f in FAMILIES.values()]
    assert [n for n in names if f"`{n}`" not in ALL] == []


def test_every_fault_kind_is_documented():
    assert [k for k in KINDS if f"| `{k}` |" not in ALL] == []


def test_ci_runs_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci[-1] in README


def rules() -> list[dict]:
    return [r for g in yaml.safe_load((ROOT / "alertmanager/rules.yml").read_text())["groups"] for r in g["rules"]]


def test_every_alert_is_in_the_alerts_table_with_its_severity_and_for():
    rows = {f"| {r['alert']} | {r['labels']['severity']} | {r.get('for', '0s')} |" for r in rules() if "alert" in r}
    assert [row for row in rows if row not in ALL] == []


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
    assert [row for row in rows if row not in ALL] == []


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_lead_to_files_and_headings_that_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            path, _, fragment = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and dest.suffix == ".md":
                text = re.sub(r"```.*?```", "", dest.read_text(), flags=re.S)
                if fragment not in {anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_stays_a_newcomers_page():
    """What it is, the quick start, the picture, the main configuration and where to read on; the
    reference lives in docs/."""
    headings = re.findall(r"^## (.+)$", re.sub(r"```.*?```", "", README, flags=re.S), flags=re.M)
    assert headings == ["Quick start", "How it works", "Configuration", "Next steps", "Read on"]
    assert len(README.splitlines()) < 175
