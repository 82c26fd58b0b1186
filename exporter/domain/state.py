"""What the prober knows about each series: counters, last values and recent attempts.

The scheduler writes here; the metrics collector and the landing page read. Series that leave
the config on reload leave the store; series that stay keep their counters.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass, field

from exporter.domain.targets import Config, Series
from exporter.contract.outcomes import Outcome
from exporter.models.pricing import TOKEN_KINDS
from exporter.domain.scenes import CHECKS, FAIL, PASS

PHASES: tuple[str, ...] = ("connect", "tls", "processing", "transfer", "decode")
# why a paid call (a probe, a canary check) may not run now (Scheduler.refusal): budget: the day's spend
# limit of a scope is reached; maintenance: a maintenance window of the target is open (exporter/domain/maintenance.py)
REFUSAL_REASONS: tuple[str, ...] = ("budget", "maintenance")
# why a probe was not run when due: overlap: the previous probe still runs; or a refusal
SKIP_REASONS: tuple[str, ...] = ("overlap", *REFUSAL_REASONS)
# why a probe ran early, off its regular schedule: failure: a paid probe failed; liveness: a free liveness
# check did; slow: a successful probe was slower than its latency threshold (exporter.domain.detection); status:
# an official incident appeared in the status feed; uptime: OpenRouter reports the model's endpoints degraded;
# canary: a canary check failed
CONFIRM_REASONS: tuple[str, ...] = ("failure", "liveness", "slow", "status", "uptime", "canary")
DURATION_BUCKETS: tuple[float, ...] = (
    0.5, 1, 2.5, 5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 90, 120, 150, 180, 240, 300,
)
# how late an official incident appeared, after our first failing probe (nanobanana_status_page_lag_seconds)
STATUS_LAG_BUCKETS: tuple[float, ...] = (60, 300, 600, 900, 1800, 3600, 7200, 14400)
LATENESS_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)
HISTORY = 100


@dataclass
class Attempt:
    """One finished probe attempt, as the landing page shows it."""

    started: float  # wall clock, seconds since the epoch
    outcome: Outcome
    duration: float
    phases: dict[str, float]
    response_bytes: int = 0
    image_bytes: int = 0
    image_size: str = ""  # "2048x2048 png"
    usage: dict[str, int] = field(default_factory=dict)
    response_model: str = ""  # the model the answer says generated it, where it says so
    message: str = ""  # already redacted
    cost: float = 0.0  # estimated USD (exporter.models.pricing)
    confirmation: str = ""  # a CONFIRM_REASONS value when run early to confirm a failure
    thumbnail: bytes = field(default=b"", repr=False)  # a small JPEG of the image; moved to the series state
    verdicts: dict[str, tuple[str, str]] = field(default_factory=dict)  # check -> (verdict, why): exporter/probing/imagechecks.py
    served_model: str = ""  # the model the answer says served it
    served_provider: str = ""  # who served it, where a router names it


class SeriesState:
    def __init__(self, series: Series, history: int = HISTORY):
        self.series = series
        self.probes = dict.fromkeys(Outcome, 0)
        self.bucket_counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.phase_totals = dict.fromkeys(PHASES, 0.0)
        self.tokens = dict.fromkeys(TOKEN_KINDS, 0)
        self.skipped = dict.fromkeys(SKIP_REASONS, 0)
        self.cost = 0.0
        self.confirmations = dict.fromkeys(CONFIRM_REASONS, 0)
        self.success: int | None = None
        self.consecutive_failures = 0
        self.consecutive_slow = 0  # successful probes in a row slower than the series' latency threshold
        self.failing_since: float | None = None  # wall time the first probe of the current failure streak started
        self.last_run: float | None = None
        self.last_success: float | None = None
        self.last: Attempt | None = None
        self.thumbnail: tuple[bytes, float] | None = None  # (small JPEG, when) of the last image that decoded
        # the image checks: images judged (pass or fail) and failed, per check; the last verdicts, the
        # failures in a row (an unchecked image neither resets nor extends them), what served the last answer
        self.image_checks = dict.fromkeys(CHECKS, 0)
        self.image_check_failures = dict.fromkeys(CHECKS, 0)
        self.image_check_streaks = dict.fromkeys(CHECKS, 0)
        self.verdicts: dict[str, tuple[str, str]] = {}  # of the last image checked (the landing page's)
        self.last_judged: dict[str, bool] = {}  # check -> whether the last image it judged passed it
        self.served: tuple[str, str] | None = None  # (model, provider) the last answer named
        self.history: deque[Attempt] = deque(maxlen=history)
        self.version = 0  # bumped by every change: the scrape reuses a series' text while it holds

    def record(self, attempt: Attempt) -> None:
        try:
            self._record(attempt)
        finally:
            # bumped after the change: a scrape in between must not cache old values under the new version
            self.version += 1

    def _record(self, attempt: Attempt) -> None:
        if attempt.thumbnail:  # only the last one is kept: the history stays small
            self.thumbnail, attempt.thumbnail = (attempt.thumbnail, attempt.started), b""
        self.probes[attempt.outcome] += 1
        self.last_run = attempt.started + attempt.duration
        self.last = attempt
        self.history.append(attempt)
        self.cost += attempt.cost
        if attempt.served_model or attempt.served_provider:
            self.served = (attempt.served_model, attempt.served_provider)
        if attempt.verdicts:
            self.verdicts = attempt.verdicts
        for check, (verdict, _) in attempt.verdicts.items():
            if verdict in (PASS, FAIL):
                self.image_checks[check] += 1
                self.image_check_failures[check] += verdict == FAIL
                self.image_check_streaks[check] = self.image_check_streaks[check] + 1 if verdict == FAIL else 0
                self.last_judged[check] = verdict == PASS
        if attempt.confirmation:
            self.confirmations[attempt.confirmation] += 1
        for phase, seconds in attempt.phases.items():
            self.phase_totals[phase] += seconds
        for kind, count in attempt.usage.items():
            if kind in self.tokens:
                self.tokens[kind] += count
        if attempt.outcome is Outcome.RATE_LIMITED:
            return  # not a verdict on the service: success and the failure streak stay as they are
        if attempt.outcome is Outcome.SUCCESS:
            self.success = 1
            self.consecutive_failures = 0
            self.consecutive_slow = self.consecutive_slow + 1 if attempt.duration > self.series.latency_threshold else 0
            self.failing_since = None
            self.last_success = self.last_run
            self.bucket_counts[bisect.bisect_left(DURATION_BUCKETS, attempt.duration)] += 1
            self.duration_sum += attempt.duration
        else:
            self.success = 0
            if not self.consecutive_failures:
                self.failing_since = attempt.started
            self.consecutive_failures += 1
            self.consecutive_slow = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self.version += 1


class Store:
    def __init__(self, history: int = HISTORY):
        self.history = history
        self._states: dict[tuple[str, ...], SeriesState] = {}
        self.started = time.time()
        self.lateness_counts = [0] * (len(LATENESS_BUCKETS) + 1)  # the scheduler's, all series together
        self.lateness_sum = 0.0
        self.status_lag: dict[str, tuple[list[int], float]] = {}  # source -> (bucket counts, sum)

    def apply(self, config: Config) -> None:
        """Match the store to a (new) config: keep, add and drop series by their labels."""
        states = {}
        for series in config.series:
            state = self._states.get(series.key) or SeriesState(series, self.history)
            state.series = series
            states[series.key] = state
        self._states = states

    def late(self, seconds: float) -> None:
        """A probe started `seconds` after it was due (a busy event loop starts probes late)."""
        seconds = max(0.0, seconds)
        self.lateness_counts[bisect.bisect_left(LATENESS_BUCKETS, seconds)] += 1
        self.lateness_sum += seconds

    def incident_lag(self, source: str, seconds: float) -> None:
        """An official incident of `source` appeared `seconds` after our first failing probe."""
        counts, total = self.status_lag.get(source) or ([0] * (len(STATUS_LAG_BUCKETS) + 1), 0.0)
        counts[bisect.bisect_left(STATUS_LAG_BUCKETS, seconds)] += 1
        self.status_lag[source] = (counts, total + seconds)

    # The read model: a snapshot to iterate (scrapes run in a worker thread while a reload replaces
    # the states) and one series by its key. Readers never hold the dict itself.
    def __iter__(self):
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: tuple[str, ...]) -> SeriesState | None:
        return self._states.get(key)
