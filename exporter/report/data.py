"""What the report says, read from Prometheus for one period: availability per target, model and
resolution against the SLO, outage windows with their causes, latency, official incidents, spend,
and what is missing (gaps in the data, no status source, no successful probes)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from exporter.contract.model import FAILED, NOT_FAILURE_OUTCOMES, SUCCEEDED, UNCOUNTED, uptime_expr
from exporter.contract.settings import SLO_OBJECTIVE
from exporter.report.prom import Prometheus

KEY = ("target", "model", "resolution")  # the report's granularity: locations and thinking levels summed
DAY = 86400.0
INCIDENT_MATCH = 6 * 3600.0  # an outage that began at most this long before an incident was listed is its start
FINE_STEP = "15s"  # the scrape interval docs/alerting.md sets: outage ends are read at this resolution
MAX_OUTAGE_QUERIES = 300  # causes are looked up per outage; past this many, the rest say "not looked up"


@dataclass
class Row:
    key: tuple[str, str, str]
    outcomes: dict[str, float]  # probes by outcome over the period
    spend: float = 0.0
    availability: float | None = None  # the SLI: the share of the period the series was up (None: no verdict)
    image_checks: dict[str, list[float]] = field(default_factory=dict)  # check -> [images judged, failed]

    @property
    def counted(self) -> float:  # probes that are a verdict on the service (rate-limited ones left out)
        return sum(v for o, v in self.outcomes.items() if o != UNCOUNTED)

    @property
    def failures(self) -> float:
        return sum(v for o, v in self.outcomes.items() if o not in NOT_FAILURE_OUTCOMES)

    def budget_used(self, slo: float) -> float | None:
        """Share of the period's error budget spent (1 = all of it): the time down over the time the
        objective allows down."""
        return None if self.availability is None or slo >= 1 else (1 - self.availability) / (1 - slo)


@dataclass
class Outage:
    key: tuple[str, str, str]
    start: float
    end: float
    ongoing: bool = False
    causes: dict[str, float] | None = None  # failed probes by outcome; None: not looked up
    note: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Incident:
    labels: dict[str, str]
    first_seen: float
    last_seen: float
    ongoing: bool
    outage: Outage | None = None  # ours that began first, up to INCIDENT_MATCH before it was listed

    @property
    def lateness(self) -> float | None:
        """Seconds from our outage's start to the status page listing the incident (negative: earlier)."""
        return None if self.outage is None else self.first_seen - self.outage.start


@dataclass
class Report:
    start: float
    end: float
    step: float
    selector: str
    slo: float
    slo_source: str
    rows: list[Row] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    latency: dict[str, dict[str, float | None]] = field(default_factory=dict)  # resolution -> p50, p95, probes
    incidents: list[Incident] | None = None  # None: no status source in the period
    daily_availability: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)  # target -> days
    daily_spend: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    daily_p95: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)  # resolution -> days
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no probe data at all
    missing: list[str] = field(default_factory=list)  # what the report cannot say, in words
    queries: int = 0
    seconds: float = 0.0

    @property
    def has_data(self) -> bool:
        return bool(self.rows)

    @property
    def spend(self) -> float:
        return sum(r.spend for r in self.rows)


def _num(value: str) -> float | None:
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v


class Builder:
    def __init__(self, prom: Prometheus, start: float, end: float, selector: str = "", slo: float | None = None,
                 step: float | None = None):
        if end <= start:
            raise ValueError("the period ends before it starts")
        self.prom, self.start, self.end, self.selector = prom, start, end, selector.strip().strip("{}")
        self.window = f"{int(round(end - start))}s"
        self.step = step or max(300.0, math.ceil((end - start) / 10000 / 60) * 60)  # Prometheus' 11,000-point limit
        self.slo_flag = slo

    def sel(self, *extra: str) -> str:
        return "{" + ",".join(m for m in (self.selector, *extra) if m) + "}"

    def build(self) -> Report:
        began = time.perf_counter()
        slo, source = self._slo()
        r = Report(self.start, self.end, self.step, self.selector, slo, source)
        r.rows = self._rows()
        if not r.rows:
            r.missing.append(f"no probe data ({'nanobanana_probes_total' + self.sel()}) in the period: is the "
                             "period right, and does this Prometheus scrape the exporter?")
        else:
            r.gaps = self._gaps()
            r.outages = self._outages()
            r.latency = self._latency(r)
            r.incidents = self._incidents(r)
            self._daily(r)
        for s, e in r.gaps:
            r.missing.append(f"no probe data from {_iso(s)} to {_iso(e)} ({_human(e - s)}): the exporter was not "
                             "scraped (or not running); availability and outages there are unknown")
        r.queries, r.seconds = self.prom.queries, time.perf_counter() - began
        return r

    def _slo(self) -> tuple[float, str]:
        if self.slo_flag is not None:
            return self.slo_flag, "--slo"
        result = self.prom.instant("max(nanobanana:slo_objective:ratio)", self.end)
        if result and 0 < (_num(result[0]["value"][1]) or 0) < 1:
            return float(result[0]["value"][1]), "recording rule nanobanana:slo_objective:ratio"
        return SLO_OBJECTIVE, "the shipped default: this Prometheus has no nanobanana:slo_objective:ratio (rules not loaded)"

    def _rows(self) -> list[Row]:
        by = ", ".join(KEY)
        rows: dict[tuple, Row] = {}
        for s in self.prom.instant(f"sum by ({by}, outcome) (increase(nanobanana_probes_total{self.sel()}"
                                   f"[{self.window}]))", self.end):
            key = tuple(s["metric"].get(k, "") for k in KEY)
            rows.setdefault(key, Row(key, {}))
            rows[key].outcomes[s["metric"].get("outcome", "")] = _num(s["value"][1]) or 0.0
        for s in self.prom.instant(f"sum by ({by}) (increase(nanobanana_probe_cost_usd_total{self.sel()}"
                                   f"[{self.window}]))", self.end):
            key = tuple(s["metric"].get(k, "") for k in KEY)
            if key in rows:
                rows[key].spend = _num(s["value"][1]) or 0.0
        # the image checks' verdicts (exporter/probing/imagechecks.py): images judged and failed per check
        for family, slot in (("nanobanana_image_checks_total", 0), ("nanobanana_image_check_failures_total", 1)):
            for s in self.prom.instant(f"sum by ({by}, check) (increase({family}{self.sel()}[{self.window}]))", self.end):
                key = tuple(s["metric"].get(k, "") for k in KEY)
                if key in rows:
                    counts = rows[key].image_checks.setdefault(s["metric"].get("check", ""), [0.0, 0.0])
                    counts[slot] = _num(s["value"][1]) or 0.0
        # The SLI as the contract defines it (what nanobanana:probe_uptime:ratio<window> records), from
        # the raw gauge: the same figure on a Prometheus without the rules or with less history of them.
        for s in self.prom.instant(f"avg by ({by}) ({uptime_expr(self.window, self.sel()[1:-1])})", self.end):
            key = tuple(s["metric"].get(k, "") for k in KEY)
            if key in rows:
                rows[key].availability = _num(s["value"][1])
        return [rows[k] for k in sorted(rows) if sum(rows[k].outcomes.values()) >= 0.5 or rows[k].spend]

    def _points(self, query: str, step: float | None = None) -> list[dict]:
        return self.prom.range(query, self.start, self.end, step or self.step)

    def _gaps(self) -> list[tuple[float, float]]:
        result = self._points(f'count(nanobanana_probes_total{self.sel(SUCCEEDED)})')
        times = [float(t) for t, _ in result[0]["values"]] if result else []
        return _holes(times, self.start, self.end, self.step)

    def _outages(self) -> list[Outage]:
        by = ", ".join(KEY)
        out = []
        for s in self._points(f"min by ({by}) (nanobanana_probe_success{self.sel()})"):
            key = tuple(s["metric"].get(k, "") for k in KEY)
            out += _zero_runs(key, [(float(t), float(v)) for t, v in s["values"]], self.step, self.end)
        out.sort(key=lambda o: o.start)
        for i, o in enumerate(out):
            if i >= MAX_OUTAGE_QUERIES:
                o.note = "cause not looked up (too many outages)"
                continue
            self._exact(o)
            matchers = [f'{k}="{v}"' for k, v in zip(KEY, o.key)] + [FAILED]
            window = f"{int(o.duration + self.step)}s"  # the failing probe that turned it to 0 ran up to a step before
            result = self.prom.instant(f"sum by (outcome) (increase(nanobanana_probes_total{self.sel(*matchers)}"
                                       f"[{window}]))", o.end)
            o.causes = {c["metric"].get("outcome", ""): v for c in result if (v := _num(c["value"][1]) or 0.0) >= 0.5}
        return out

    def _exact(self, o: Outage) -> None:
        """The outage at the probes' own resolution, not the query step's: from the end of its first
        failed probe (nanobanana_probe_last_run_timestamp_seconds where the gauge turned 0) to the
        end of the first successful one after it (..._last_success_timestamp_seconds)."""
        m = self.sel(*[f'{k}="{v}"' for k, v in zip(KEY, o.key)])
        window = f"[{int(self.step)}s:{FINE_STEP}]"  # the step before the first point at 0, in scrape-sized steps
        lower = o.start - self.step - 1
        first = self.prom.instant(f"min(min_over_time(((nanobanana_probe_last_run_timestamp_seconds{m} > {lower:.0f})"
                                  f" and nanobanana_probe_success{m} == 0){window}))", o.start)
        if first and (t := _num(first[0]["value"][1])) is not None and t <= o.start:
            o.start = t
        if o.ongoing or o.note:
            return
        ended = self.prom.instant(f"min(min_over_time(((nanobanana_probe_last_success_timestamp_seconds{m} > "
                                  f"{o.start:.0f}) and nanobanana_probe_success{m} == 1){window}))", o.end)
        if ended and (t := _num(ended[0]["value"][1])) is not None and o.start < t <= o.end:
            o.end = t

    def _latency(self, r: Report) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        bucket = f"increase(nanobanana_probe_duration_seconds_bucket{self.sel()}[{self.window}])"
        for name, q in (("p50", 0.5), ("p95", 0.95)):
            for s in self.prom.instant(f"histogram_quantile({q}, sum by (resolution, le) ({bucket}))", self.end):
                out.setdefault(s["metric"].get("resolution", ""), {})[name] = _num(s["value"][1])
        for s in self.prom.instant(f"sum by (resolution) (increase(nanobanana_probe_duration_seconds_count"
                                   f"{self.sel()}[{self.window}]))", self.end):
            out.setdefault(s["metric"].get("resolution", ""), {})["probes"] = _num(s["value"][1])
        for resolution in sorted({row.key[2] for row in r.rows} - {k for k, v in out.items() if v.get("probes")}):
            r.missing.append(f"no successful {resolution} probe in the period: no latency for it")
        return {k: v for k, v in sorted(out.items()) if v.get("probes")}

    def _incidents(self, r: Report) -> list[Incident] | None:
        up = self.prom.instant(f"max_over_time(nanobanana_status_source_up{self.sel()}[{self.window}])", self.end)
        info = self._points(f"max by (source, product, impact, id, title) "
                            f"(nanobanana_upstream_incident_info{self.sel()})")
        if not up and not info:
            r.missing.append("no status source in the period (nanobanana_status_source_up): official incidents "
                             "are unknown; enable status_sources: in the exporter's config")
            return None
        out = []
        for s in info:
            times = [float(t) for t, _ in s["values"]]
            inc = Incident(s["metric"], times[0], times[-1] + self.step, times[-1] >= self.end - self.step)
            starts = [o for o in r.outages if inc.first_seen - INCIDENT_MATCH <= o.start <= inc.last_seen]
            inc.outage = min(starts, key=lambda o: o.start, default=None)
            out.append(inc)
        return sorted(out, key=lambda i: i.first_seen)

    def _daily(self, r: Report) -> None:
        """Per day (the day ending at each point): availability per target, spend per target, p95 per resolution."""
        if self.end - self.start < DAY:
            return
        start = self.start + DAY

        def days(query: str, label: str) -> dict[str, list[tuple[float, float | None]]]:
            return {s["metric"].get(label, ""): [(float(t), _num(v)) for t, v in s["values"]]
                    for s in self.prom.range(query, start, self.end, DAY)}

        r.daily_availability = days(f"avg by (target) ({uptime_expr('1d', self.sel()[1:-1])})", "target")
        r.daily_spend = days(f"sum by (target) (increase(nanobanana_probe_cost_usd_total{self.sel()}[1d]))", "target")
        r.daily_p95 = days(f"histogram_quantile(0.95, sum by (resolution, le) (increase("
                           f"nanobanana_probe_duration_seconds_bucket{self.sel()}[1d])))", "resolution")


def _holes(times: list[float], start: float, end: float, step: float) -> list[tuple[float, float]]:
    """Stretches of the period without a point, longer than two steps."""
    gaps, previous = [], start - step
    for t in [*times, end + step]:
        if t - previous > 2 * step:
            gaps.append((previous + step if previous >= start else start, t if t <= end else end))
        previous = t
    return [(s, e) for s, e in gaps if e - s > 2 * step - 1]


def _zero_runs(key: tuple, points: list[tuple[float, float]], step: float, end: float) -> list[Outage]:
    """Runs of probe_success == 0; a gap in the data ends a run where the data ends."""
    out, current, previous = [], None, None
    for t, v in points:
        if current is not None and previous is not None and t - previous > 1.5 * step:
            current.end, current.note = previous + step, "data ends (gap)"
            out.append(current)
            current = None
        if v == 0 and current is None:
            current = Outage(key, t, t)
        elif v != 0 and current is not None:
            current.end = t
            out.append(current)
            current = None
        previous = t
    if current is not None:
        current.end, current.ongoing = min(previous + step, end), previous >= end - step
        out.append(current)
    return out


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _human(seconds: float) -> str:
    seconds = int(round(seconds))
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m or not (d or h) else ""]
    return " ".join(p for p in parts if p)
