"""The types of the monitoring contract, the selectors every rule shares, and the one link pass.

Every alert gets its `runbook_url` (its section of docs/runbook.md) and `dashboard_url` (a
dashboard, with the alert's labels as its variables) here, from the bases recorded once in
`nanobanana:alert_links:info`, as kubernetes-mixin adds runbook links in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.contract.labels import SERIES_LABELS
from exporter.common.durations import parse_duration
from exporter.contract.outcomes import Outcome

SEVERITIES = ("critical", "warning", "info")
# What counts as a failure, as exporter/contract/outcomes.py says: every outcome but these.
NOT_FAILURE_OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome if not o.is_failure)
NOT_FAILURES = "|".join(NOT_FAILURE_OUTCOMES)
FAILED = f'outcome!~"{NOT_FAILURES}"'
UNCOUNTED = Outcome.RATE_LIMITED.value  # no verdict on the service: left out of both sides of a ratio
COUNTED = f'outcome!="{UNCOUNTED}"'
SUCCEEDED = f'outcome="{Outcome.SUCCESS.value}"'
# The SLI (docs/alerting.md "The SLI"): the share of TIME a series was up, the time-average of
# nanobanana_probe_success (1 from a successful probe until the next failed one, 0 from a failed one
# until the next success; rate-limited probes leave it as it was). Recorded per window as UPTIME +
# window; burn-rate and availability alerts, dashboards and the report all read this one family
# (longer periods average the UPTIME_BASE record: the mean of 5-minute means is the period's mean).
UPTIME = "nanobanana:probe_uptime:ratio"
UPTIME_BASE = "5m"


def uptime_expr(window: str, selector: str = "") -> str:
    """What UPTIME<window> records, from the raw gauge (a Prometheus without the rules, the report's
    fallback): the same figure, by definition."""
    return f"avg_over_time(nanobanana_probe_success{{{selector}}}[{window}])"


def uptime(window: str, selector: str = "") -> str:
    """The recorded SLI of a window (UPTIME_BASE or one a rule records)."""
    return f"{UPTIME}{window}" + (f"{{{selector}}}" if selector else "")


def downtime_over(period: str, selector: str = "") -> str:
    """Seconds down in a period (an error budget spends them): the recorded UPTIME_BASE windows,
    one every UPTIME_BASE, each down (1 - uptime) x UPTIME_BASE. Time without data counts neither way."""
    seconds = parse_duration(UPTIME_BASE)
    return f"sum_over_time((1 - {uptime(UPTIME_BASE, selector)})[{period}:{UPTIME_BASE}]) * {seconds:g}"


def uptime_over(period: str, selector: str = "") -> str:
    """The SLI over any period (the SLO period, a dashboard's range, a report's period): the mean of
    the recorded UPTIME_BASE windows inside it."""
    return f"avg_over_time({uptime(UPTIME_BASE, selector)}[{period}])"
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
