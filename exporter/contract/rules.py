"""The shipped rule groups: settings, recording rules, and the alerts that read them.

Label conventions: probe series carry target, api, model, resolution, thinking_level (plus job,
instance and, with several exporters, location from the scrape). Ratios use `sum without (outcome)`
so every other label survives. A rate-limited probe is NOT a failure of the service: it is left out
of both sides of every ratio, so a series that is only rate limited has no ratio at all (NaN) and
never pages.
"""

from __future__ import annotations

from exporter.models.catalog import RETIRING_DAYS
from exporter.contract import settings as s
from exporter.contract.locations import GLOBAL_GROUPS
from exporter.contract.model import (COUNTED, FAILED, MODEL_VARIABLES, SERIES_VARIABLES, UPTIME_BASE, Alert, Group,
                                     Record, uptime, uptime_expr)
from exporter.common.durations import parse_duration
from exporter.contract.settings import percent

# --- text shared by several alerts
SERIES = ("target {{ $labels.target }} (model {{ $labels.model }}, resolution {{ $labels.resolution }}, "
          "thinking {{ $labels.thinking_level }})")
OF_SERIES = ": {{ $labels.target }} {{ $labels.model }} {{ $labels.resolution }}"
INCIDENT_OPEN = (
    ' {{- with query "ALERTS{alertname=\\"NanoBananaUpstreamIncident\\",alertstate=\\"firing\\",'
    'impact=~\\"disruption|outage\\"}" }} Official incident open: {{ . | first | label "product" }} '
    '({{ . | first | label "impact" }}), likely upstream: inform users and follow the incident.{{ end }}')
YOUR_SIDE = "check the API key, quota, network and request parameters."
# The outcome of the series' last probe, a bounded label; its error text stays on the landing page.
LAST_OUTCOME = (
    ' {{- with query (printf "nanobanana_probe_last_outcome{job=%q,instance=%q,target=%q,resolution=%q,'
    'thinking_level=%q}" $labels.job $labels.instance $labels.target $labels.resolution $labels.thinking_level) }}'
    ' Last outcome: {{ . | first | label "outcome" }} (the error text is on the landing page of exporter '
    '{{ $labels.instance }}).{{ end }}')
# A page that ProbeFailing (or Outage) of the same series already made: held back while they fire
# (alertmanager.yml's inhibition), and not started once their failure streak is broken, for as long
# as the alert's windows still hold that outage's failures.
AFTER_PAGE = """\
unless ignoring (alertname, alertstate, severity)
(
  max_over_time(ALERTS{{alertname=~"{alerts}", alertstate="firing"}}[{window}])
  and ignoring (alertname, alertstate, severity) nanobanana_probe_consecutive_failures == 0
)"""


def _after(alerts: str, window: str) -> str:
    return AFTER_PAGE.format(alerts=alerts, window=window)


# A burn-rate page that is over: NanoBananaErrorBudgetBurnFast fired within the window, and its condition
# (PAGE_BURN, recorded for this) is false in this evaluation. The warnings of the series read it: they
# were held back while the page fired and end with it, in the same evaluation and before it (holders
# last), so that no warning reaches anyone after the page for the failures it paged about: a series
# flapping for 2 hours holds its 6h availability under 99 % for 7 h 40 min and its 2h error ratio over
# 5 % for 1 h 30 min after the flapping stopped (tests/test_lifecycle.py). A ticket still comes
# (NanoBananaErrorBudgetBurnSlow: the budget burned).
PAGE_BURN = "nanobanana:probe_budget_burn:page"
AFTER_BURN_PAGE_OVER = f"""\
unless ignoring (alertname, alertstate, severity)
(
  max_over_time(ALERTS{{{{alertname="NanoBananaErrorBudgetBurnFast", alertstate="firing"}}}}[{{window}}])
  unless ignoring (alertname, alertstate, severity) {PAGE_BURN}
)"""


def _after_burn_page(window: str) -> str:
    return AFTER_BURN_PAGE_OVER.format(window=window)


def _setting(name: str, **labels: str) -> str:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"scalar(nanobanana:threshold:{name}{{{selector}}})" if selector else f"scalar(nanobanana:threshold:{name})"


# A ticket pair judges a day or more: only on a series probed since the start of its long window. The SLI
# averages the time a window holds data, so a series an hour old that was down 3 minutes reads 5 %
# "of a day": a new user's first short outage opened a ticket after it had paged and resolved.
WHOLE_WINDOW_PROOF = "15m"


def _probed_since(window: str) -> str:
    """The series had a sample in the first WHOLE_WINDOW_PROOF of `window` (it is as old as the window)."""
    offset = int((parse_duration(window) - parse_duration(WHOLE_WINDOW_PROOF)) // 60)
    return f"present_over_time(nanobanana_probe_success[{WHOLE_WINDOW_PROOF}] offset {offset}m)"


def _burn(pair: s.BurnRate, min_failures: str, whole_window: bool = False) -> str:
    """Both windows of a burn-rate pair over their threshold, with enough failures in the long one (and,
    with whole_window, a series as old as the long window)."""
    threshold = f"{_setting('burn_rate', long_window=pair.long_window)} * (1 - scalar(nanobanana:slo_objective:ratio))"
    return (f"(\n"
            f"  (1 - {uptime(pair.long_window)}) > {threshold}\n"
            f"  and (1 - {uptime(pair.short_window)}) > {threshold}\n"
            f"  and nanobanana:probe_failures:increase{pair.long_window} >= {_setting(min_failures)}\n"
            + (f"  and {_probed_since(pair.long_window)}\n" if whole_window else "")
            + ")")


def _error_ratio(window: str) -> Record:
    return Record(f"nanobanana:probe_errors:ratio_rate{window}",
                  f"sum without (outcome) (rate(nanobanana_probes_total{{{FAILED}}}[{window}]))\n"
                  f"/ sum without (outcome) (rate(nanobanana_probes_total{{{COUNTED}}}[{window}]))")


def _failures(window: str) -> Record:
    return Record(f"nanobanana:probe_failures:increase{window}",
                  f"sum without (outcome) (increase(nanobanana_probes_total{{{FAILED}}}[{window}]))")


def _uptime(window: str) -> Record:
    return Record(uptime(window), uptime_expr(window))


PAGES = tuple(pair for pair in s.BURN_RATES if pair.action == "page")
AVAILABILITY_WINDOW = "6h"  # NanoBananaAvailabilityLow's, and how long it is held back after a paged outage
TICKETS = tuple(pair for pair in s.BURN_RATES if pair.action == "ticket")
# The windows of the SLI (the share of time up): the availability alert's, the burn-rate pairs', and
# UPTIME_BASE, which dashboards and the report average over longer periods.
UPTIME_WINDOWS = tuple(dict.fromkeys(
    [UPTIME_BASE, AVAILABILITY_WINDOW] + [w for p in s.BURN_RATES for w in (p.short_window, p.long_window)]))
# The share of failed PROBES (a probe-count signal, not the SLI): the outage and error-rate alerts'.
ERROR_WINDOWS = ("5m", "1h", "2h")
FAILURE_WINDOWS = tuple(dict.fromkeys(["1h", "2h", AVAILABILITY_WINDOW] + [p.long_window for p in s.BURN_RATES]))
# How long after a paged outage ended a burn-rate page still could start on its failures: the longest
# short window of the page pairs, plus a few evaluations of scrape and rule lag.
_LONGEST_SHORT = max(parse_duration(p.short_window) for p in PAGES)
AFTER_BURN_PAGE = f"{int(_LONGEST_SHORT // 60) + 5}m"

SETTINGS = Group("nanobanana-settings", (
    Record("nanobanana:alert_links:info", "vector(1)",
           labels={"runbook_url": "", "grafana_url": ""},
           comment="--- Links used by every alert's runbook_url / dashboard_url annotation: set runbook_url to "
                   "where you serve docs/runbook.md (your fork's .../blob/main/docs/runbook.md) and grafana_url to "
                   "your Grafana. While one is empty, the alerts carry no such link rather than a wrong one."),
    Record("nanobanana:exporter_job:info", "vector(1)", labels={"job": "nanobanana"},
           comment="--- The scrape job(s) of the exporter, for NanoBananaExporterDown: one series per job name "
                   "(add one for each job that scrapes an exporter; label `job` is the job_name of the scrape "
                   "config)."),
    *(Record(setting.record, f"vector({setting.value:g})", labels=dict(setting.labels), comment=setting.comment)
      for setting in s.SETTINGS),
), comment="Everything you are expected to tune: thresholds, the SLO objective and the base URLs of the runbook "
           "and Grafana. The values are recorded as series, so dashboards can draw them as lines and the alerts "
           "read them instead of repeating numbers.")

RECORDS = (
    *(_uptime(window) for window in UPTIME_WINDOWS),
    *(_error_ratio(window) for window in ERROR_WINDOWS),
    Record("nanobanana:probe_attempts:increase5m",
           f"sum without (outcome) (increase(nanobanana_probes_total{{{COUNTED}}}[5m]))",
           comment="Probe counts, so that a ratio built from one or two probes does not alert."),
    *(_failures(window) for window in FAILURE_WINDOWS),
    Record("nanobanana:probe_duration_seconds:p95_1h",
           "histogram_quantile(0.95, rate(nanobanana_probe_duration_seconds_bucket[1h]))",
           comment="p95 duration of successful probes (the histogram only observes successes) over 1h."),
    Record("nanobanana:probe_duration_seconds:p95_threshold", """\
(
  nanobanana_probe_interval_seconds * 0
  + on (resolution) group_left () nanobanana:threshold:latency_p95_seconds
)
* on (thinking_level) group_left () nanobanana:threshold:latency_thinking_factor""",
           comment="The latency threshold of each series: its resolution's p95 times its thinking factor."),
    Record(PAGE_BURN, "\nor\n".join(_burn(pair, "page_min_failures") for pair in PAGES),
           comment="The condition of NanoBananaErrorBudgetBurnFast, without its after-outage rule: a page pair burns "
                   "(its value: the long window's share of time down). The warnings read it to end with that page."),
)

PROBE_ALERTS = (
    Alert(
        name="NanoBananaProbeFailing", severity="critical",
        expr="nanobanana_probe_consecutive_failures >= scalar(nanobanana:threshold:consecutive_failures)",
        summary="Nano Banana probe failing {{ $value }} times in a row" + OF_SERIES,
        description=(
            "The last {{ $value }} probes of target {{ $labels.target }} (api {{ $labels.api }}, model "
            "{{ $labels.model }}, resolution {{ $labels.resolution }}, thinking {{ $labels.thinking_level }}) failed; "
            "no image came back. First: check the official status (status.cloud.google.com, "
            "NanoBananaUpstreamIncident); if it is fine, read the last error on the exporter's landing page and "
            + YOUR_SIDE + LAST_OUTCOME + INCIDENT_OPEN),
        fires_when="`consecutive_failures` or more failed probes of a series in a row",
        dashboard="probe-detail", variables=SERIES_VARIABLES),
    Alert(
        name="NanoBananaOutage", severity="critical",
        comment="Second branch: a series probed less often than every 5 minutes has enough probes in the window "
                "only while the failure is confirmed (+30 s, +60 s); afterwards the outage holds as long as its "
                "failure streak does, so it does not resolve while every probe still fails (value 1: all of "
                "them). keep_firing_for would need a fixed time, longer than any interval. One problem, one page: "
                "NanoBananaProbeFailing of the same series holds this page back in Alertmanager while it fires, "
                "and once its failure streak is broken (within 10 minutes of it firing) the outage ends with it, "
                "not minutes later when the 5m window has drained.",
        expr="""\
(
  (
    nanobanana:probe_errors:ratio_rate5m > scalar(nanobanana:threshold:outage_failure_ratio)
    and nanobanana:probe_attempts:increase5m >= scalar(nanobanana:threshold:outage_min_probes)
  )
  or
  (
    clamp_max(nanobanana_probe_consecutive_failures >= scalar(nanobanana:threshold:consecutive_failures), 1)
    and ignoring (alertname, alertstate, severity) ALERTS{alertname="NanoBananaOutage", alertstate="firing"}
  )
)
""" + _after("NanoBananaProbeFailing", "10m"),
        summary="Nano Banana outage: {{ $value | humanizePercentage }} of probes failing for "
                "{{ $labels.target }} {{ $labels.model }} {{ $labels.resolution }}",
        description=(
            "{{ $value | humanizePercentage }} of the probes of " + SERIES + " failed over the last 5 minutes "
            "(rate-limited probes not counted), or every probe since the outage began for a series probed less "
            "often. First: confirm scope (prod or test target), then check the official status; if it is fine, "
            + YOUR_SIDE + LAST_OUTCOME + INCIDENT_OPEN),
        fires_when="more than `outage_failure_ratio` of probes failed over 5 min, with `outage_min_probes` or more "
                   "probes in the window; once firing, it holds while the series' failure streak lasts "
                   "(slow-probed series)",
        dashboard="overview", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaAvailabilityLow", severity="warning", for_="15m",
        comment="The SLI over 6h. Not for an outage that paged and is over: a series probed every 15 minutes is "
                "down at least 15 minutes (4 % of 6 hours) for any failure, and that outage had its page. Nor after "
                "a burn-rate page that is over (a flapping series).",
        expr=f"""\
{uptime(AVAILABILITY_WINDOW)} < scalar(nanobanana:threshold:availability_ratio)
and nanobanana:probe_failures:increase{AVAILABILITY_WINDOW} >= scalar(nanobanana:threshold:warning_min_failures)
""" + _after("NanoBananaProbeFailing|NanoBananaOutage", AVAILABILITY_WINDOW)
             + "\n" + _after_burn_page(AVAILABILITY_WINDOW),
        summary="Nano Banana availability {{ $value | humanizePercentage }} over 6h" + OF_SERIES,
        description=(
            "Over the last 6 hours " + SERIES + " was up only {{ $value | humanizePercentage }} of the time (below "
            + percent(s.AVAILABILITY_RATIO) + "). First: look at which outcomes fail on the probe-detail dashboard, "
            "then check the official status and your API key, quota and network."),
        fires_when="the series was up less than `availability_ratio` of the last 6 h (`warning_min_failures` or more "
                   "failures); not for the failures of an outage or a burn-rate page that paged and is over",
        dashboard="probe-detail", variables=SERIES_VARIABLES),
    Alert(
        name="NanoBananaErrorRateHigh", severity="warning", for_="5m",
        comment="Over 1h, or over 2h for a series too sparse to fail twice in an hour (every 15 minutes: 4 regular "
                "probes an hour); the 2h ratio of a dense series is no faster than its 1h one. Not for the "
                "failures of an outage that paged and is over (ProbeFailing or Outage fired in the window, the "
                "failure streak is broken) or of a burn-rate page that is over: those were that problem's page. "
                "Once firing it holds while a failure is in its 2h window: a series probed every 15 minutes that "
                "fails every 5th probe fails every 75 minutes, so its 2h window holds two failures only 45 minutes "
                "in 75, and the warning fired and resolved once per failure (tests/test_lifecycle.py).",
        expr="""\
(
  (
    nanobanana:probe_errors:ratio_rate1h > scalar(nanobanana:threshold:error_ratio)
    and nanobanana:probe_failures:increase1h >= scalar(nanobanana:threshold:warning_min_failures)
  )
  or
  (
    nanobanana:probe_errors:ratio_rate2h > scalar(nanobanana:threshold:error_ratio)
    and nanobanana:probe_failures:increase2h >= scalar(nanobanana:threshold:warning_min_failures)
  )
  or
  (
    nanobanana:probe_errors:ratio_rate2h > 0
    and ignoring (alertname, alertstate, severity) ALERTS{alertname="NanoBananaErrorRateHigh", alertstate="firing"}
  )
)
""" + _after("NanoBananaProbeFailing|NanoBananaOutage", "2h") + "\n" + _after_burn_page("2h"),
        summary="Nano Banana error rate {{ $value | humanizePercentage }}" + OF_SERIES,
        description=(
            "{{ $value | humanizePercentage }} of the probes of " + SERIES + " failed over the last hour or two "
            "(above " + percent(s.ERROR_RATIO) + "). First: see which outcome dominates (timeout, server_error, "
            "auth_error...) on the probe-detail dashboard; auth or client errors are on your side, server errors "
            "and timeouts usually upstream."),
        fires_when="more than `error_ratio` of probes failed over 1 h, or over 2 h for a series too sparse to fail "
                   "twice in an hour (`warning_min_failures` or more failures in the window); once firing, while a "
                   "failure is in its 2 h window; not for the failures of an outage or a burn-rate page that paged "
                   "and is over",
        dashboard="probe-detail", variables=SERIES_VARIABLES),
    Alert(
        name="NanoBananaLatencyHigh", severity="warning", for_="10m",
        comment="Enough probes for a p95 (a dense series), or the last consecutive_slow probes all slow (a sparse "
                "one: the exporter confirms a slow probe within a minute, like a failure). The value is the 1h p95 "
                "in both cases: with three slow probes among a sparse hour's few, it is slow.",
        expr="""\
nanobanana:probe_duration_seconds:p95_1h > nanobanana:probe_duration_seconds:p95_threshold
and (
  increase(nanobanana_probe_duration_seconds_count[1h]) >= scalar(nanobanana:threshold:latency_min_probes)
  or nanobanana_probe_consecutive_slow >= scalar(nanobanana:threshold:consecutive_slow)
)""",
        summary="Nano Banana p95 latency {{ $value | humanizeDuration }}" + OF_SERIES,
        description=(
            "Successful probes of " + SERIES + " took {{ $value | humanizeDuration }} "
            "at the 95th percentile over the last hour, above the threshold for this resolution and thinking level. "
            "First: compare the phases on the probe-detail dashboard (connect/tls = network, processing = upstream, "
            "transfer = bandwidth), then check the official status."),
        fires_when="p95 of successful probes over 1 h above the resolution's `latency_p95_seconds` times the "
                   "thinking level's `latency_thinking_factor`, with `latency_min_probes` or more successful probes "
                   "in the hour (a dense series) or the last `consecutive_slow` probes all slower than that "
                   "threshold (a sparse one: the exporter confirms a slow probe like a failure)",
        dashboard="probe-detail", variables=SERIES_VARIABLES),
    Alert(
        name="NanoBananaRateLimited", severity="info",
        comment="Per target, api and model: the quota is the key's and the model's, not one resolution's, and a "
                "series probed every 15 minutes could never reach the threshold on its own.",
        expr="""\
sum without (outcome, resolution, thinking_level) (increase(nanobanana_probes_total{outcome="rate_limited"}[1h]))
  > scalar(nanobanana:threshold:rate_limited_per_hour)""",
        summary="Nano Banana probes rate limited {{ $value | humanize }} times in 1h: {{ $labels.target }} "
                "{{ $labels.model }}",
        description=(
            "{{ $value | humanize }} probes of target {{ $labels.target }} (model {{ $labels.model }}, every "
            "resolution and thinking level together) were rate limited (HTTP 429 / RESOURCE_EXHAUSTED) in the last "
            "hour. This is not an outage. First: check the quota of the API key the exporter uses and whether other "
            "workloads share it; consider a longer probe interval."),
        fires_when="more than `rate_limited_per_hour` rate-limited probes in 1 h, per target, api and model (all "
                   "resolutions and thinking levels together)",
        dashboard="overview", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaProbeStale", severity="warning", for_="5m",
        comment="Age of the last finished probe; for a series that never finished one, the time since the last "
                "successful config load (the load at start counts: a series added by a reload is new). Not while "
                "its probes are skipped for the budget (that is NanoBananaBudgetExhausted's) or a maintenance "
                "window (planned: it raises nothing): the budget is spent or the window open now, or a probe was "
                "skipped for either in the last hour (after midnight or the window the series waits up to one "
                "interval for its next probe).",
        expr="""\
(
  (time() - nanobanana_probe_last_run_timestamp_seconds)
    > nanobanana_probe_interval_seconds * scalar(nanobanana:threshold:stale_intervals) + nanobanana_probe_timeout_seconds
  or
  (
    nanobanana_probe_interval_seconds * 0
    + on (job, instance) group_left () (time() - nanobanana_exporter_config_last_reload_success_timestamp_seconds)
    unless nanobanana_probe_last_run_timestamp_seconds
  )
    > nanobanana_probe_interval_seconds * scalar(nanobanana:threshold:stale_intervals) + nanobanana_probe_timeout_seconds
)
unless ignoring (reason) increase(nanobanana_probe_skipped_total{reason=~"budget|maintenance"}[1h]) > 0
unless on (job, instance, target) nanobanana_maintenance_active == 1
unless on (job, instance) nanobanana_budget_exhausted{scope="global"} == 1
unless on (job, instance, target)
  label_replace(nanobanana_budget_exhausted{scope=~"target:.+"} == 1, "target", "$1", "scope", "target:(.+)")""",
        summary="Nano Banana probe stale for {{ $value | humanizeDuration }}" + OF_SERIES,
        description=(
            "No probe of " + SERIES + " finished for {{ $value | humanizeDuration }}, well over its interval. The "
            "exporter is up but this series is not probed: the numbers on the dashboards are old. First: read the "
            "exporter's log and landing page (skipped probes, a hung scheduler), then restart it."),
        fires_when="no probe finished for `stale_intervals` intervals plus the timeout (counted from the last config "
                   "load for a series that never probed; not while its probes are skipped for the budget or a "
                   "maintenance window)",
        dashboard="probe-detail", variables=SERIES_VARIABLES),
    Alert(
        name="NanoBananaConfigReloadFailed", severity="warning",
        comment="A reload (SIGHUP, POST /-/reload, systemctl reload) was refused: the process runs the config it "
                "had before, not the one on disk. The relay exports the same gauge under its own prefix.",
        expr='{__name__=~"nanobanana_(exporter|relay)_config_last_reload_successful"} == 0',
        summary="{{ $labels.job }} {{ $labels.instance }}: the last config reload failed",
        description=(
            "The last reload of the config of {{ $labels.instance }} (job {{ $labels.job }}) failed, so it still runs "
            "the config it loaded before, not the file on disk: changes you made are not in force. First: read the "
            "error on the landing page (\"Last reload\") or in the log line \"reload failed\", or run "
            "--config.check on the file; fix it and reload again."),
        fires_when="the last config reload of the exporter or the relay failed (the old config stays in force)",
        dashboard="overview"),
    Alert(
        name="NanoBananaExporterDown", severity="critical", for_="2m",
        comment="A failed scrape of, or no target at all in, a job named by nanobanana:exporter_job:info (the "
                "settings group): the job name lives there, nowhere else.",
        expr="""\
(up == 0) and on (job) nanobanana:exporter_job:info
or
(nanobanana:exporter_job:info unless on (job) up)""",
        summary="nanobanana-exporter down or not scraped: {{ with $labels.instance }}{{ . }}{{ else }}no target in "
                "job {{ $labels.job }}{{ end }}",
        description=(
            "Prometheus cannot scrape the nanobanana-exporter ({{ with $labels.instance }}instance {{ . }}{{ else }}"
            "no target of job \"{{ $labels.job }}\" exists{{ end }}), so nothing about Nano Banana is monitored and "
            "no other alert of this set can fire. First: check the exporter process (systemctl status, container "
            "logs), its --config.check, and the scrape config of job \"{{ $labels.job }}\"."),
        fires_when="`up == 0` for a job named by `nanobanana:exporter_job:info` (the settings group; "
                   "`job=\"nanobanana\"` by default), or no target in that job",
        dashboard="overview"),
)

_PAGE_PAIRS = " or ".join(f"{p.long_window}/{p.short_window}" for p in PAGES)
_TICKET_PAIRS = " or ".join(f"{p.long_window}/{p.short_window}" for p in TICKETS)
BURN_ALERTS = (
    Alert(
        name="NanoBananaErrorBudgetBurnFast", severity="critical", for_="2m",
        comment="Multi-window multi-burn-rate (Google SRE workbook, ch. 5): the long window says the budget burns "
                "fast enough to matter, the short one says it is still burning now (fast reset). One problem, one "
                "page: while NanoBananaProbeFailing or NanoBananaOutage fires for the series Alertmanager holds "
                "this page back, and once they have ended (the failure streak broken, "
                "they fired within the window) this page does not start on the failures its short windows still hold (the longest, plus 5 minutes "
                f"of lag: {AFTER_BURN_PAGE}). Threshold = the pair's "
                "burn_rate setting x (1 - objective). With probes (low traffic) one failure can be a large ratio, "
                "so each also needs a minimum count of failures in its long window.",
        expr="(\n" + "\nor\n".join(_burn(pair, "page_min_failures") for pair in PAGES) + "\n)\n"
             + _after("NanoBananaProbeFailing|NanoBananaOutage", AFTER_BURN_PAGE),
        summary="Nano Banana error budget burning fast" + OF_SERIES,
        description=(
            "Target {{ $labels.target }} (model {{ $labels.model }}, resolution {{ $labels.resolution }}, thinking "
            "{{ $labels.thinking_level }}) was down {{ $value | humanizePercentage }} of the last hours: at this pace "
            "the monthly error budget of the availability objective is gone within days (burn rate "
            f"{min(p.factor for p in PAGES):g}x or more). First: confirm scope, check the official status; if it is "
            "fine, " + YOUR_SIDE + INCIDENT_OPEN),
        fires_when=f"the error budget of the `slo_objective` burns faster than the {_PAGE_PAIRS} `burn_rate` (both "
                   f"windows), with `page_min_failures` or more failures; not in the {AFTER_BURN_PAGE} after an "
                   "outage of the same series ended (one problem, one page)",
        dashboard="slo-cost", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaErrorBudgetBurnSlow", severity="warning", for_="15m",
        expr="\nor\n".join(_burn(pair, "warning_min_failures", whole_window=True) for pair in TICKETS),
        summary="Nano Banana error budget burning" + OF_SERIES,
        description=(
            "Target {{ $labels.target }} (model {{ $labels.model }}, resolution {{ $labels.resolution }}, thinking "
            "{{ $labels.thinking_level }}) was down {{ $value | humanizePercentage }} of a day or more, "
            "using the error budget of the availability objective faster than it refills. Not urgent: open a "
            "ticket. First: find the dominant failure outcome on the SLO dashboard and whether it is upstream or "
            "your side."),
        fires_when=f"the budget burns faster than the {_TICKET_PAIRS} `burn_rate`, with `warning_min_failures` or "
                   "more failures, on a series probed for the whole long window",
        dashboard="slo-cost", variables=MODEL_VARIABLES),
)

_INCIDENT_LABELS = "source, product, impact, id, title, url"
# The image checks (exporter/probing/imagechecks.py): one warning per check on a sustained failure, the
# verdicts counted beside the outcome. blank also makes the probe a bad_image failure: its page (and
# alertmanager.yml's inhibition of the series' warnings while it fires) comes first.
_IMAGE_CHECK_ALERTS = (
    ("NanoBananaImageBlank", "blank", "blank",
     "Images of " + SERIES + " are blank: {{ $value }} in a row vary too little to be a picture. The probes fail "
     "as bad_image too. First: open the last image on the exporter's landing page; a grey or black frame is "
     "usually a silent safety replacement or a failed render upstream: compare with the official status."),
    ("NanoBananaImageUpscaled", "detail", "upscaled",
     "Images of " + SERIES + " hold less detail than their resolution: {{ $value }} in a row have edges as soft "
     "as a lower resolution scaled up. First: if a gateway serves this target, ask it whether it resells a "
     "cheaper resolution (a 4K image costs more than a 1K one); compare with a probe of the same model direct."),
    ("NanoBananaModelSubstituted", "model", "served by another model",
     "Answers for " + SERIES + " name another model than the one asked: {{ $value }} in a row. First: see "
     "nanobanana_probe_served_model_info (the probe-detail dashboard) for what answered; a gateway may route to "
     "a cheaper or older model. Ask the gateway, or map the alias with the target's `family:`."),
    ("NanoBananaImageOffPrompt", "content", "off prompt",
     "Images of " + SERIES + " do not show what the prompt asked: {{ $value }} in a row miss its colour or shape. "
     "First: open the last image on the landing page; the same image every time means a cache in a gateway, "
     "another picture a degraded model or a broken safety filter."),
)
IMAGE_CHECKS = Group("nanobanana-image-checks", tuple(
    Alert(
        name=name, severity="warning",
        expr=f'nanobanana_image_check_consecutive_failures{{check="{check}"}} '
             f">= scalar(nanobanana:threshold:image_check_failures)",
        summary=f"Nano Banana images {what} ({{{{ $value }}}} in a row)" + OF_SERIES,
        description=description,
        fires_when=f"the last `image_check_failures` images of a series failed the `{check}` image check",
        dashboard="probe-detail", variables=SERIES_VARIABLES)
    for name, check, what, description in _IMAGE_CHECK_ALERTS
), comment="The image checks (docs/image-checks.md): a warning per check when images fail it in a row, not one "
           "image (nanobanana:threshold:image_check_failures). Labels: the probe series' labels plus check.")

STATUS = Group("nanobanana-status", (
    Alert(
        name="NanoBananaUpstreamIncident", severity="warning",
        comment="An official incident on a product we depend on: disruptions and outages warn, notices inform. "
                "alertmanager.yml lets a firing warning inhibit our own warnings; pages name it instead.",
        expr=f'max by ({_INCIDENT_LABELS}) (nanobanana_upstream_incident_info{{impact=~"disruption|outage"}})',
        summary="Official {{ $labels.impact }} on {{ $labels.product }}: {{ $labels.title }}",
        description=(
            "{{ $labels.source }} reports incident {{ $labels.id }} ({{ $labels.impact }}) on {{ $labels.product }}: "
            "\"{{ $labels.title }}\". Failing probes now are most likely on Google's side. First: compare with our "
            "probes on the overview dashboard, inform users and follow the incident at {{ $labels.url }}"),
        fires_when="an official incident with impact `disruption` or `outage` is open on a watched product (see "
                   "[Status sources](configuration.md#status-sources))",
        dashboard="overview", annotations={"incident_url": "{{ $labels.url }}"}),
    Alert(
        name="NanoBananaUpstreamIncident", severity="info",
        expr=f'max by ({_INCIDENT_LABELS}) (nanobanana_upstream_incident_info{{impact!~"disruption|outage"}})',
        summary="Official {{ $labels.impact }} notice on {{ $labels.product }}: {{ $labels.title }}",
        description=(
            "{{ $labels.source }} reports incident {{ $labels.id }} ({{ $labels.impact }}) on {{ $labels.product }}: "
            "\"{{ $labels.title }}\". First: read it at {{ $labels.url }}; act only if our probes fail too."),
        fires_when="an official incident with another impact (`information`, `unknown`) is open",
        dashboard="overview", annotations={"incident_url": "{{ $labels.url }}"}),
    Alert(
        name="NanoBananaStatusSourceDown", severity="info", for_="15m",
        comment="A status source we cannot read: its incidents and uptimes are frozen at the last success.",
        expr="nanobanana_status_source_up == 0",
        summary="Status source {{ $labels.source }} has failed for 15 minutes",
        description=(
            "The exporter could not fetch or parse {{ $labels.source }} for 15 minutes. Its incident and uptime "
            "series keep their last known values (see nanobanana_status_source_last_success_timestamp_seconds), so "
            "an official incident may be missed. First: read the exporter's log line \"status source failed\" for "
            "the cause."),
        fires_when="a status source has failed to fetch or parse",
        dashboard="overview"),
), comment="Official and third-party status sources (docs/configuration.md \"Status sources\"): \"is it Google, or "
           "is it us?\" Labels are those of the status collector (exporter/status/collector.py); impact values come "
           "from exporter/status/base.py IMPACTS. A group of its own: these alerts read no recording rule.")

COST = Group("nanobanana-cost", (
    Alert(
        name="NanoBananaApiKeyRejected", severity="critical",
        comment="The key is refused on a call that costs nothing: every paid probe and every user request with this "
                "key fails too. Critical at once: no need to wait for three paid failures.",
        expr='nanobanana_liveness_outcome{outcome="auth_error"} == 1',
        summary="API key of target {{ $labels.target }} is rejected",
        description=(
            "The free liveness check of {{ $labels.target }} ({{ $labels.api }}, model {{ $labels.model }}) was "
            "refused with an authentication error: the key is invalid, revoked, expired or lacks permission. "
            "Requests with this key fail until it is replaced. First: read the API's message on the exporter's "
            "landing page, check the key in the provider's console, then put the new key where api_key_env / "
            "api_key_file points and restart the exporter."),
        fires_when="the free liveness check of a target is refused with an authentication error (see [Cost](cost.md))",
        dashboard="overview", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaModelGone", severity="critical",
        comment="The model id is unknown to the API: retired (ids drift, e.g. gemini-3-pro-image-preview) or misspelt.",
        expr='nanobanana_liveness_outcome{outcome="model_missing"} == 1',
        summary="Model {{ $labels.model }} is gone from {{ $labels.target }}",
        description=(
            "The API of {{ $labels.target }} ({{ $labels.api }}) no longer knows model id {{ $labels.model }} (404 on "
            "lookup, or not in its model list). It was probably retired for a successor; requests naming it fail "
            "until the configuration names the new id. First: find the successor in the provider's model list or "
            "changelog, warn the teams that still use the old id, then change the target's model and reload."),
        fires_when="the API no longer knows a target's model id (404 on lookup, or missing from its model list)",
        dashboard="overview", variables=MODEL_VARIABLES),
    Alert(
        name="NanoBananaModelRetiring", severity="warning",
        comment=f"A probed model id is within {RETIRING_DAYS} days of its announced shutdown on the target's api "
                "(exporter/models/catalog.py: the platform's own date where it has one, e.g. Vertex AI's, else Google's; "
                "catalog.RETIRING_DAYS), or past it and still configured. No other signal warns "
                "before an id disappears: NanoBananaModelGone only fires once it has.",
        expr=f"nanobanana_model_shutdown_timestamp_seconds - time() < {RETIRING_DAYS} * 86400",
        summary="Model {{ $labels.model }} on {{ $labels.api }} {{ if gt $value 0.0 }}shuts down in "
                "{{ $value | humanizeDuration }}{{ else }}is past its announced shutdown date{{ end }}",
        description=(
            "The shutdown of model id {{ $labels.model }} on {{ $labels.api }} is announced, and this exporter probes "
            "it there (and so, probably, your application calls it). After that date requests naming it answer 404 "
            "(NanoBananaModelGone). "
            "First: find the successor (`nanobanana-exporter --config.check` names it), move the applications and "
            "the exporter's target to it, and reload."),
        fires_when=f"a probed model id is within {RETIRING_DAYS} days of its announced shutdown on the target's api "
                   "(the model catalog), or past it",
        dashboard="overview", variables=("model",)),
    Alert(
        name="NanoBananaCatalogDrift", severity="info",
        comment="The model catalog (exporter/models/catalog.py) differs from what the APIs list now: the daily free "
                "comparison of exporter/background/drift.py. One alert per difference; nothing pages: the probes still say "
                "whether the model works.",
        expr="nanobanana_catalog_drift_info == 1",
        summary="The model catalog is out of date: {{ $labels.kind }} {{ $labels.model }}",
        description=(
            "The API of target {{ $labels.target }} disagrees with the exporter's model catalog about "
            "{{ $labels.model }} ({{ $labels.kind }}{{ if eq $labels.kind \"parameter\" }}, field {{ $labels.field }}"
            "{{ else if $labels.field }}, {{ $labels.field }} rate{{ end }}): "
            "catalog {{ if $labels.catalog }}{{ $labels.catalog }}{{ else }}-{{ end }}, live {{ $labels.live }}. "
            "{{ if eq $labels.kind \"parameter\" }}The API may refuse the probes (client_error) or ignore the field "
            "(then the series label says more than was measured). First: check the model's page; drop the field ("
            "`extra_body: { {{ $labels.field }}: null }`; for reasoning, `thinking_levels: [default]` instead), or upgrade the exporter"
            "{{ else }}Prices, sizes and retirement warnings may be wrong. First: upgrade the exporter, or set `price:` / "
            "`family:` on the target{{ end }} (`nanobanana-exporter --config.check` prints the differences)."),
        fires_when="the daily comparison of the model catalog with the live APIs found a vanished model, a price "
                   "more than 5 % off, an image model the catalog does not know, or a request field the listing "
                   "says the model does not accept",
        dashboard="overview", variables=("model",)),
    Alert(
        name="NanoBananaBudgetExhausted", severity="warning",
        comment="Paid probes of this scope are paused until the budget day ends: probe series go stale.",
        expr="nanobanana_budget_exhausted == 1",
        summary="Probe budget {{ $labels.scope }} is spent for today",
        description=(
            "The daily probe budget of scope {{ $labels.scope }} is reached: its paid probes pause until the budget "
            "day ends, so their series stop updating (free liveness checks go on). An outage that only paid probes "
            "see would go unnoticed until then. First: see where the money went on the SLO and cost dashboard "
            "(confirmations of a failure streak, a new series, a shorter interval), then compare with the plan of "
            "nanobanana-exporter --config.check."),
        fires_when="a budget scope has reached its daily limit: its paid probes pause until the budget day ends",
        dashboard="slo-cost"),
    Alert(
        name="NanoBananaCreditRunningOut", severity="warning", for_="30m",
        comment="Credit left on a key (OpenRouter's GET /api/v1/key, exporter/background/credit.py) divided by the key's spend "
                "per second over the last day: the seconds until it runs out. A key without a limit has no "
                "remaining figure; a key that spent nothing in a day runs out never (no division by 0).",
        expr="""\
nanobanana_credit_remaining_usd
/ (rate(nanobanana_credit_used_usd_total[1d]) > 0)
< scalar(nanobanana:threshold:credit_days) * 86400""",
        summary="API credit of target {{ $labels.target }} runs out in {{ $value | humanizeDuration }}",
        description=(
            "At the last day's spend, the credit left on the API key of target {{ $labels.target }} lasts "
            "{{ $value | humanizeDuration }}, under credit_days. When it is gone every probe and every request of "
            "your applications with this key fails (HTTP 402). The spend is the key's, all applications using it "
            "included. First: top up the credit or raise the key's limit (openrouter.ai, Settings, Keys), then "
            "check what spends it."),
        fires_when="at the last day's spend, the credit left on a target's API key lasts less than `credit_days` "
                   "(OpenRouter keys with a limit)",
        dashboard="slo-cost"),
    Alert(
        name="NanoBananaBudgetBurningFast", severity="info", for_="15m",
        comment="At the spend rate of the last hour the scope reaches its limit before the day ends. "
                "nanobanana_budget_spent_usd only rises within a day and drops to 0 when the next one starts, so "
                "increase() reads it correctly across the day boundary, like a counter reset.",
        expr="""\
(
  nanobanana_budget_spent_usd
  + increase(nanobanana_budget_spent_usd[1h]) / 3600
    * on (instance, job) group_left () (nanobanana_budget_day_end_timestamp_seconds - time())
) > nanobanana_budget_limit_usd
and on (instance, job, scope) nanobanana_budget_exhausted == 0""",
        summary="Probe budget {{ $labels.scope }} will run out before the day ends",
        description=(
            "At the spend rate of the last hour, scope {{ $labels.scope }} reaches its daily limit before the budget "
            "day ends; its paid probes would then pause. First: look for confirmation probes (an ongoing failure), a "
            "shortened interval, or a price change on the SLO and cost dashboard; raise the limit only if the plan "
            "is right."),
        fires_when="at the last hour's spend rate a budget scope reaches its limit before the day ends",
        dashboard="slo-cost"),
), comment="Free liveness checks and daily budgets (docs/cost.md). Labels: liveness series carry target, api, model "
           "(no resolution: one check per target); budget series carry scope (\"global\", \"target:<name>\"). No "
           "setting of its own: the liveness alerts read a 0/1 gauge, the budget ones the limits configured in the "
           "exporter (nanobanana_budget_limit_usd).")

# A page another page holds back (alertmanager.yml: ProbeFailing holds back Outage and BurnFast, Outage
# holds back BurnFast; every critical holds back the warnings) is evaluated BEFORE its holder. When a
# failure ends, Prometheus sends each rule's resolved alerts as it evaluates that rule; with the holder
# first, Alertmanager could flush the held-back group in the instant between the two (group_wait is two
# evaluations, so a page that fired just before the recovery flushes exactly then) and page after the
# recovery. tests/test_pages.py caught it: 3 messages per channel, 2 runs in 3.
HOLDERS_LAST = ("NanoBananaErrorBudgetBurnFast", "NanoBananaOutage", "NanoBananaProbeFailing")


def _holders_last(rules: tuple[Alert, ...]) -> tuple[Alert, ...]:
    held = [r for r in rules if r.name not in HOLDERS_LAST]
    return tuple(held) + tuple(sorted((r for r in rules if r.name in HOLDERS_LAST),
                                      key=lambda r: HOLDERS_LAST.index(r.name)))


PROBES = Group("nanobanana", RECORDS + _holders_last(PROBE_ALERTS + BURN_ALERTS),
               comment="Recording rules first, then the alerts that read them: rules of one group are evaluated in "
                       "order, so an alert always sees this evaluation's ratios (across groups it could see the "
                       "previous one). Follows Prometheus' global evaluation_interval. The 1d and 3d windows cost "
                       "more per series than the rest; with thousands of series, move them into a group of their "
                       "own with `interval: 1m`.")

GROUPS: tuple[Group, ...] = (SETTINGS, PROBES, IMAGE_CHECKS, STATUS, COST)


def alerts() -> list[Alert]:
    """Every alert, of rules.yml and then of rules-global.yml (exporter/contract/locations.py)."""
    return [rule for group in GROUPS + GLOBAL_GROUPS for rule in group.rules if isinstance(rule, Alert)]


def alert(name: str) -> Alert:
    """The first alert of that name (NanoBananaUpstreamIncident has a warning and an info rule)."""
    return next(rule for rule in alerts() if rule.name == name)
