"""Maintenance windows (`maintenance:`): while one is open for a target, its paid probes are paused
(skipped with reason "maintenance", so not paid) and its free liveness checks go on.

A window is one-off (`start` and `end`, local date-times) or recurring (`start_time` and `duration`,
on the given `weekdays`, every day if none), in its `time_zone` (IANA name, default UTC), for every
target or only those it names. Recurring windows may cross midnight; wall-clock times follow the
zone's daylight saving time (a 02:00 start is 02:00 local in winter and in summer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from exporter.common.durations import parse_duration
from exporter.common.metric_families import Collector, Table, gauge

MIN_YEAR, MAX_YEAR = 1970, 9000  # one-off windows' dates: every zone can place and show them
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

MAINTENANCE_FAMILIES = Table(
    gauge("nanobanana_maintenance_active",
          "1 while a maintenance window is open for the target (its paid probes are paused), else 0.", ("target",)),
    gauge("nanobanana_maintenance_window_active", "1 while the configured maintenance window is open, else 0.",
          ("window",)))


class WindowModel(BaseModel):
    """One entry of `maintenance:`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_-]+$", max_length=64)
    time_zone: str = "UTC"
    targets: list[str] | None = Field(default=None, min_length=1)  # absent: every target
    start: dt.datetime | None = None  # one-off: local date-times in time_zone
    end: dt.datetime | None = None
    start_time: dt.time | None = None  # recurring: local time of day, on weekdays
    duration: Annotated[float, BeforeValidator(parse_duration)] | None = None
    weekdays: list[str] | None = Field(default=None, min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin or UTC)") from None
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str] | None) -> list[str] | None:
        for day in value or ():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; one of {', '.join(WEEKDAYS)}")
        return value

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("give a local date-time without an offset; the window's time_zone places it")
        if value is not None and not MIN_YEAR <= value.year < MAX_YEAR:
            # 9999-12-31 passed the check, then the landing page could not show it in a zone (issue 32)
            raise ValueError(f"give a date-time from the year {MIN_YEAR} to {MAX_YEAR - 1}")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> "WindowModel":
        one_off = self.start is not None or self.end is not None
        recurring = self.start_time is not None or self.duration is not None or self.weekdays is not None
        if one_off == recurring:
            raise ValueError("a window is one-off (start and end) or recurring (start_time and duration, "
                             "optional weekdays), not both or neither")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start and end, end after start")
        if recurring and (self.start_time is None or not self.duration):
            raise ValueError("a recurring window needs start_time and a duration")
        if recurring and self.duration > 7 * 86400:
            raise ValueError("a recurring window lasts at most 7d")
        return self


@dataclass(frozen=True)
class Window:
    name: str
    zone: ZoneInfo
    targets: frozenset[str] | None  # None: every target
    start: dt.datetime | None = None  # one-off, aware
    end: dt.datetime | None = None
    start_time: dt.time | None = None  # recurring
    duration: float = 0.0
    weekdays: frozenset[int] = frozenset(range(7))

    @classmethod
    def of(cls, m: WindowModel) -> "Window":
        zone = ZoneInfo(m.time_zone)
        return cls(
            name=m.name, zone=zone, targets=frozenset(m.targets) if m.targets else None,
            start=m.start.replace(tzinfo=zone) if m.start else None,
            end=m.end.replace(tzinfo=zone) if m.end else None,
            start_time=m.start_time, duration=m.duration or 0.0,
            weekdays=frozenset(WEEKDAYS.index(d) for d in m.weekdays) if m.weekdays else frozenset(range(7)),
        )

    def covers(self, target: str) -> bool:
        return self.targets is None or target in self.targets

    def occurrences(self, now: float) -> Iterable[tuple[float, float]]:
        """(start, end) in epoch seconds of the occurrences that may contain `now` or come after it."""
        if self.start is not None:
            yield self.start.timestamp(), self.end.timestamp()
            return
        today = dt.datetime.fromtimestamp(now, self.zone).date()
        back = int(self.duration // 86400) + 1
        for offset in range(-back, 8):
            day = today + dt.timedelta(days=offset)
            if day.weekday() in self.weekdays:
                begin = dt.datetime.combine(day, self.start_time, self.zone).timestamp()
                yield begin, begin + self.duration

    def open_at(self, now: float) -> tuple[float, float] | None:
        """The occurrence open at `now`, or None."""
        return next(((s, e) for s, e in self.occurrences(now) if s <= now < e), None)

    def next_start(self, now: float) -> float | None:
        return min((s for s, _ in self.occurrences(now) if s > now), default=None)

    def spans(self, begin: float, end: float) -> Iterable[tuple[float, float]]:
        """The occurrences that overlap [begin, end), clipped to it."""
        if self.start is not None:
            found = [(self.start.timestamp(), self.end.timestamp())]
        else:
            first = dt.datetime.fromtimestamp(begin, self.zone).date() - dt.timedelta(days=int(self.duration // 86400) + 1)
            days = (dt.datetime.fromtimestamp(end, self.zone).date() - first).days + 1
            found = []
            for offset in range(days):
                day = first + dt.timedelta(days=offset)
                if day.weekday() in self.weekdays:
                    start = dt.datetime.combine(day, self.start_time, self.zone).timestamp()
                    found.append((start, start + self.duration))
        return [(max(s, begin), min(e, end)) for s, e in found if s < end and e > begin]


@dataclass(frozen=True)
class Maintenance:
    windows: tuple[Window, ...] = ()

    @classmethod
    def of(cls, models: list[WindowModel]) -> "Maintenance":
        return cls(tuple(Window.of(m) for m in models))

    def open_windows(self, target: str, now: float) -> list[Window]:
        return [w for w in self.windows if w.covers(target) and w.open_at(now)]

    def active(self, target: str, now: float) -> bool:
        return bool(self.open_windows(target, now))

    def paused_seconds(self, target: str, begin: float, end: float) -> float:
        """How long windows pause the target between begin and end (overlapping windows counted once)."""
        total, reach = 0.0, begin
        for start, stop in sorted(span for w in self.windows if w.covers(target) for span in w.spans(begin, end)):
            start = max(start, reach)
            if stop > start:
                total, reach = total + stop - start, stop
        return total


def unknown_targets(models: list[WindowModel], names: Iterable[str]) -> list[tuple[int, str]]:
    """(window index, name) of every target a window names that the config does not have."""
    known = set(names)
    return [(i, t) for i, m in enumerate(models) for t in (m.targets or ()) if t not in known]


class MaintenanceCollector(Collector):
    """nanobanana_maintenance_active per target and nanobanana_maintenance_window_active per window,
    from the config in force (read at every scrape: a reload changes them at once)."""

    families = MAINTENANCE_FAMILIES

    def __init__(self, config, clock):
        self.config = config  # () -> Config
        self.clock = clock

    def fill(self, families) -> None:
        config, now = self.config(), self.clock()
        for target in config.targets:
            families["nanobanana_maintenance_active"].add_metric(
                [target.name], float(config.maintenance.active(target.name, now)))
        for window in config.maintenance.windows:
            families["nanobanana_maintenance_window_active"].add_metric(
                [window.name], float(window.open_at(now) is not None))
