"""The README documents every list the code has: outcomes, metric families, fault kinds; and its
quick-start test command is the one CI runs."""

from pathlib import Path

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
