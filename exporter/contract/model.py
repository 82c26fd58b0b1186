"""The types of the monitoring contract, the selectors every rule shares, and the one link pass.

Every alert gets its `runbook_url` (its section of docs/runbook.md) and `dashboard_url` (a
dashboard, with the alert's labels as its variables) here, from the bases recorded once in
`nanobanana:alert_links:info`, as kubernetes-mixin adds runbook links in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.contract.labels import SERIES_LABELS
from exporter.outcomes import Outcome

SEVERITIES = ("critical", "warning", "info")
# What counts as a failure, as exporter/outcomes.py says: every outcome but these.
NOT_FAILURES = "|".join(o.value for o in Outcome if not o.is_failure)
FAILED = f'outcome!~"{NOT_FAILURES}"'
COUNTED = f'outcome!="{Outcome.RATE_LIMITED.value}"'  # rate-limited probes are left out of both sides
LINKS = "nanobanana:alert_links:info"
# The variables a dashboard link fills from an alert's labels: a series' own labels (less api, which
# the dashboards do not filter by) plus where it was scraped from.
SERIES_VARIABLES: tuple[str, ...] = tuple(label for label in SERIES_LABELS if label != "api") + (
    "job", "location", "instance")
MODEL_VARIABLES: tuple[str, ...] = ("target", "model")


@dataclass(frozen=True)
class Record:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)
    comment: str = ""


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    expr: str
    summary: str
    description: str  # says what to do first ("First: ...")
    fires_when: str  # the docs table's sentence, in settings' names
    dashboard: str  # nanobanana-<dashboard>: overview, probe-detail, slo-cost
    variables: tuple[str, ...] = ()  # labels that become the dashboard's variables
    for_: str = "0s"
    comment: str = ""
    annotations: dict[str, str] = field(default_factory=dict)  # beyond summary, description and the links

    def links(self) -> dict[str, str]:
        query = "&".join(f"var-{name}={{{{ $labels.{name} | urlquery }}}}" for name in self.variables)
        return {
            "runbook_url": _link("runbook_url", f"#{self.name.lower()}"),
            "dashboard_url": _link("grafana_url", f"/d/nanobanana-{self.dashboard}" + (f"?{query}" if query else "")),
        }


def _link(label: str, path: str) -> str:
    """The base URL recorded as `label` of LINKS, then `path`; nothing at all while the base is unset
    (a link to a placeholder sends the on-call person nowhere, a missing one says it is not set up)."""
    return (f'{{{{ with query "{LINKS}" }}}}{{{{ with . | first | label "{label}" }}}}{{{{ . }}}}{path}'
            '{{ end }}{{ end }}')


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple
    comment: str = ""  # written above the group
