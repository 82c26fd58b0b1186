"""Every number the shipped rules judge by, once.

The rules record each as a series of the `nanobanana-settings` group (so dashboards draw them and
teams tune them there); the exporter reads the latency ones to confirm slow probes
(exporter/domain/detection.py) and the failure streak for --config.check's detection times (plan.py);
alert descriptions and the docs tables print them from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SLO_OBJECTIVE = 0.995  # availability objective of the probes; the error budget is 1 - objective


@dataclass(frozen=True)
class BurnRate:
    """A multiwindow burn-rate pair (Google SRE workbook, ch. 5): fires when both windows burn faster."""

    long_window: str
    short_window: str
    factor: float
    action: str  # "page" or "ticket"


BURN_RATES: tuple[BurnRate, ...] = (
    BurnRate("1h", "5m", 14.4, "page"),
    BurnRate("6h", "30m", 6, "page"),
    BurnRate("1d", "2h", 3, "ticket"),
    BurnRate("3d", "6h", 1, "ticket"),
)

CONSECUTIVE_FAILURES = 3  # failed probes in a row that page
OUTAGE_FAILURE_RATIO = 0.5  # failed share over 5 min that pages ...
OUTAGE_MIN_PROBES = 3  # ... with this many probes in the window
AVAILABILITY_RATIO = 0.99  # share of the last 6 h up (the SLI) below which a warning fires
ERROR_RATIO = 0.05  # failed share over 1 h (2 h for sparse series) above which a warning fires
WARNING_MIN_FAILURES = 2  # failures a warning needs in its window (one failure is a blip)
PAGE_MIN_FAILURES = 3  # failures a burn-rate page needs in its long window
LATENCY_MIN_PROBES = 20  # successful probes in 1 h before its p95 means more than the slowest probe
CONSECUTIVE_SLOW = 3  # slow successful probes in a row that warn without a p95
RATE_LIMITED_PER_HOUR = 10  # rate-limited probes per hour (per target, api, model) that inform
STALE_INTERVALS = 3  # probe intervals (plus the timeout) after which a series is stale
CREDIT_DAYS = 7  # days of API credit left at the last day's spend below which a warning fires
IMAGE_CHECK_FAILURES = 3  # images in a row that fail one image check before its warning fires
# p95 seconds of successful probes per resolution at low thinking (domain.md's latency table)...
LATENCY_SECONDS: dict[str, float] = {"512": 15.0, "1K": 25.0, "2K": 50.0, "4K": 90.0}
# ...times this per thinking level (2K high p95 is 75 s, 4K high 150 s: about 1.5-1.7x low).
THINKING_FACTORS: dict[str, float] = {"default": 1.0, "minimal": 1.0, "low": 1.0, "medium": 1.2, "high": 1.7}


@dataclass(frozen=True)
class Setting:
    """One recorded setting: `nanobanana:threshold:<name>` unless `name` is a full record name."""

    name: str
    value: float
    meaning: str  # the docs table's column; empty for the repeated rows of a labelled setting
    labels: dict[str, str] = field(default_factory=dict)
    comment: str = ""  # written above it in rules.yml

    @property
    def record(self) -> str:
        return self.name if ":" in self.name else f"nanobanana:threshold:{self.name}"

    @property
    def title(self) -> str:
        """How the docs table names it: the short name, with its labels."""
        labels = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.name}{{{labels}}}" if labels else self.name


def _number(value: float) -> str:
    return f"{value:g}"


def percent(ratio: float) -> str:
    """0.99 -> '99 %' (descriptions and docs)."""
    return f"{ratio * 100:g} %"


SETTINGS: tuple[Setting, ...] = (
    Setting("nanobanana:slo_objective:ratio", SLO_OBJECTIVE,
            "availability objective; the error budget is 1 - objective",
            comment=f"--- SLO: availability objective of the probes ({_number(SLO_OBJECTIVE)} = "
                    f"{percent(SLO_OBJECTIVE)}). The burn-rate alerts derive their thresholds from it."),
    *(Setting("burn_rate", pair.factor,
              f"{pair.action} when both windows burn faster than this" if i == 0 else pair.action,
              labels={"long_window": pair.long_window, "short_window": pair.short_window},
              comment="" if i else (
                  "Burn-rate alerts (Google SRE workbook, multiwindow multi-burn-rate): a pair fires when the "
                  "share of time down (1 - the SLI) over both its windows is above factor x (1 - objective). The "
                  "pairs that page feed NanoBananaErrorBudgetBurnFast, the ticket ones ...BurnSlow. Each window "
                  "must be a recorded nanobanana:probe_uptime:ratio<window>; the alerts select a pair by "
                  "long_window."))
      for i, pair in enumerate(BURN_RATES)),
    Setting("consecutive_failures", CONSECUTIVE_FAILURES, "failed probes in a row that page",
            comment="--- Thresholds (domain.md: telling a blip from an outage)."),
    Setting("outage_failure_ratio", OUTAGE_FAILURE_RATIO, "failed share over 5 min that pages"),
    Setting("outage_min_probes", OUTAGE_MIN_PROBES, "probes the 5 min window needs for that"),
    Setting("availability_ratio", AVAILABILITY_RATIO, "share of the last 6 h up (the SLI) below which a warning fires"),
    Setting("error_ratio", ERROR_RATIO, "failed share over 1 h above which a warning fires"),
    Setting("warning_min_failures", WARNING_MIN_FAILURES, "failures a warning needs in its window",
            comment="A single failed probe is a blip: warnings need at least this many failures in their window, "
                    "pages (burn rate) at least page_min_failures, so a slow-probed series does not page on one."),
    Setting("page_min_failures", PAGE_MIN_FAILURES, "failures a burn-rate page needs in its long window"),
    Setting("latency_min_probes", LATENCY_MIN_PROBES,
            "successful probes the latency warning needs in its 1 h window for a p95 (fewer: the p95 is the "
            "slowest probe)",
            comment=f"A p95 of fewer than {LATENCY_MIN_PROBES} probes is the slowest probe: one slow probe would "
                    "warn. The latency warning reads its 1h p95 only with this many successful probes (a series "
                    "probed every 3 minutes or more often); a sparser series warns on consecutive_slow slow probes "
                    "in a row instead, which the exporter confirms like a failure (exporter/domain/detection.py) so they "
                    "come within minutes. Both are about the same threshold below."),
    Setting("consecutive_slow", CONSECUTIVE_SLOW,
            "slow successful probes in a row that warn without a p95 (the exporter confirms a slow probe like a "
            "failure, with the same latency thresholds)"),
    Setting("rate_limited_per_hour", RATE_LIMITED_PER_HOUR, "rate-limited probes per hour above which an info fires"),
    Setting("credit_days", CREDIT_DAYS, "days of API credit left, at the last day's spend, below which a warning fires"),
    Setting("image_check_failures", IMAGE_CHECK_FAILURES,
            "images in a row that fail one image check (blank, detail, model, content) before its warning fires",
            comment="An image check fails on one image now and then (a model draws a square for a circle): its "
                    "warning needs this many failed images in a row (docs/image-checks.md)."),
    Setting("stale_intervals", STALE_INTERVALS, "probe intervals (plus the timeout) after which a series is stale",
            comment="Stale when the last probe finished more than this many intervals (plus the timeout) ago."),
    *(Setting("latency_p95_seconds", seconds,
              {"512": "p95 seconds of successful 512 probes (Nano Banana 2)", "1K": "p95 seconds of successful 1K probes",
               "2K": "the same at 2K"}.get(resolution, f"the same at {resolution}"),
              labels={"resolution": resolution},
              comment="" if i else (
                  "p95 latency of successful probes, per resolution (the latency table's p95 at low thinking)... "
                  "The exporter decides which probes are slow (and confirms them) with the same numbers: "
                  "exporter/contract/settings.py holds them for both."))
      for i, (resolution, seconds) in enumerate(LATENCY_SECONDS.items())),
    *(Setting("latency_thinking_factor", factor,
              "" if i else "latency thresholds times this per thinking level",
              labels={"thinking_level": level},
              comment="" if i else (
                  "...multiplied per thinking level (2K high p95 is 75 s, 4K high 150 s: about 1.5-1.7x low). "
                  "Every thinking level needs an entry, or its series get no latency alert."))
      for i, (level, factor) in enumerate(THINKING_FACTORS.items())),
)
