"""Daily spend limits for paid probes: global and per target, the day in a configured time zone.

Spend of the current day lives in a small JSON state file, written atomically (temporary file and
rename) after every charged probe, so a restart within the day remembers it. A missing, unreadable
or corrupt file is logged and counts as zero spent; the budget never stops the exporter. A scope
is exhausted once its spend reaches its limit: its paid probes pause until the day ends (probes in
flight when the limit is reached still finish, so spend can pass the limit by their price).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, PositiveFloat, field_validator

log = logging.getLogger(__name__)

GLOBAL = "global"
STATE_VERSION = 1


def target_scope(name: str) -> str:
    """The `scope` label of a target's own limit."""
    return f"target:{name}"


class BudgetSettings(BaseModel):
    """`budget:` in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily_limit_usd: PositiveFloat | None = None  # every target together
    targets: dict[str, PositiveFloat] = {}  # target name -> its own daily limit
    timezone: str = "UTC"  # where the day starts and ends
    state_file: str | None = "nanobanana-budget.json"  # null: spend is not kept across restarts

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin; "
                             "a system without a tz database needs the tzdata package)") from None
        return value


@dataclass(frozen=True)
class ScopeState:
    scope: str
    limit: float | None
    spent: float

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


class Budget:
    def __init__(self, settings: BudgetSettings | None = None, targets: Iterable[str] = (),
                 clock: Callable[[], float] = time.time):
        self.clock = clock
        self.settings = BudgetSettings(state_file=None)
        self.scopes: tuple[str, ...] = (GLOBAL,)
        self.spent: dict[str, float] = {}
        self.day: date | None = None
        self._paused: set[str] = set()  # scopes already announced as exhausted today
        self._write_error = ""
        self.apply(settings, targets)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def limits(self) -> dict[str, float]:
        limits = {target_scope(name): usd for name, usd in self.settings.targets.items()}
        if self.settings.daily_limit_usd is not None:
            limits[GLOBAL] = self.settings.daily_limit_usd
        return limits

    def apply(self, settings: BudgetSettings | None, targets: Iterable[str] = ()) -> None:
        """Apply (new) settings; a changed state file path is read, today's spend is otherwise kept."""
        settings = settings or BudgetSettings(state_file=None)
        reload_file = settings.state_file != self.settings.state_file or self.day is None
        self.settings = settings
        self.scopes = (GLOBAL, *(target_scope(name) for name in targets))
        if reload_file:
            self.day, self.spent = self.today(), {}
            self._load()

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), self.zone).date()

    def day_end(self) -> float:
        """When the current budget day ends, in seconds since the epoch."""
        tomorrow = self.today() + timedelta(days=1)
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=self.zone).timestamp()

    def refusal(self, target: str) -> str | None:
        """The exhausted scope that stops a paid probe of `target` now, or None to go ahead."""
        self._roll()
        limits = self.limits
        for scope in (GLOBAL, target_scope(target)):
            if scope in limits and self.spent.get(scope, 0.0) >= limits[scope]:
                if scope not in self._paused:
                    self._paused.add(scope)
                    log.warning("daily budget exhausted: paid probes pause until the day ends",
                                extra={"scope": scope, "limit_usd": limits[scope],
                                       "spent_usd": round(self.spent.get(scope, 0.0), 4)})
                return scope
        return None

    def record(self, target: str, usd: float) -> None:
        """Charge a finished probe to the global and the target's scope. A cost that is not a finite
        amount (a price times a hostile token count) is refused: one answer must not pause every target."""
        if not 0 < usd < math.inf:
            if usd != 0:
                log.warning("probe cost refused: not a finite amount", extra={"target": target, "usd": repr(usd)})
            return
        self._roll()
        for scope in (GLOBAL, target_scope(target)):
            self.spent[scope] = self.spent.get(scope, 0.0) + usd
        self._save()

    def states(self) -> list[ScopeState]:
        """Every scope's limit and spend today (read-only: scrapes call it from a worker thread)."""
        spent = self.spent if self.today() == self.day else {}
        limits = self.limits
        return [ScopeState(scope, limits.get(scope), spent.get(scope, 0.0)) for scope in self.scopes]

    def _roll(self) -> None:
        today = self.today()
        if today != self.day:
            if self._paused:
                log.info("budget day started: paid probes resume", extra={"day": today.isoformat()})
            self.day, self.spent, self._paused = today, {}, set()

    def _load(self) -> None:
        path = self.settings.state_file
        if not path:
            return
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            log.info("no budget state file yet: today's spend starts at zero", extra={"path": path})
            return
        except (OSError, ValueError) as err:
            log.warning("budget state file unreadable: today's spend starts at zero",
                        extra={"path": path, "error": f"{type(err).__name__}: {err}"})
            return
        try:
            day = date.fromisoformat(raw["day"])
            spent = {str(k): float(v) for k, v in raw["spent"].items() if 0 <= float(v) < math.inf}
        except (TypeError, KeyError, ValueError, AttributeError) as err:
            log.warning("budget state file is corrupt: today's spend starts at zero",
                        extra={"path": path, "error": f"{type(err).__name__}: {err}"})
            return
        if day != self.day:
            log.info("budget state file is from another day: today's spend starts at zero",
                     extra={"path": path, "file_day": day.isoformat()})
            return
        self.spent = spent
        log.info("budget state restored", extra={"path": path, "spent_usd": round(spent.get(GLOBAL, 0.0), 4)})

    def _save(self) -> None:
        path = self.settings.state_file
        if not path or self.day is None:
            return
        payload = {"version": STATE_VERSION, "day": self.day.isoformat(), "timezone": self.settings.timezone,
                   "spent": {k: round(v, 6) for k, v in sorted(self.spent.items())}}
        target = Path(path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(payload, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as err:
            message = f"{type(err).__name__}: {err.strerror or err}"  # without the random temporary name
            if message != self._write_error:
                log.warning("cannot write the budget state file: spend is kept in memory only",
                            extra={"path": path, "error": message})
            self._write_error = message
            return
        self._write_error = ""

