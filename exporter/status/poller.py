"""Runs each enabled status source on its own interval, in the background, and never crashes.

A failed fetch keeps the last good snapshot (its time is exported beside it) and only marks the
source down; a success replaces the snapshot, so ended incidents and removed endpoints vanish.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

from exporter import __version__
from exporter.common import tls
from exporter.status import SourceConfig
from exporter.common.runner import Job, Jobs
from exporter.status.base import Incident, Snapshot, Source

log = logging.getLogger(__name__)

# An incident of these impacts, newly in a feed, is worth a paid probe at once (Scheduler.incident_opened).
TRIGGERING_IMPACTS = ("disruption", "outage")


@dataclass
class SourceState:
    """What the collector reads about one source."""

    config: SourceConfig
    source: Source
    up: bool | None = None  # None until the first fetch finished
    last_success: float | None = None  # seconds since the epoch
    duration: float | None = None  # seconds the last fetch took, failed or not
    snapshot: Snapshot | None = None  # the last good one
    error: str = ""  # the last failure, already redacted
    degraded: frozenset[str] = frozenset()  # models the last good snapshot called degraded


class StatusPoller:
    def __init__(self, redact: Callable[[str], str] = str, client: httpx.AsyncClient | None = None,
                 on_incident: Callable[[str, Incident], None] | None = None,
                 on_degraded: Callable[[str, str], None] | None = None):
        self.redact = redact
        self.on_incident = on_incident  # (source kind, incident) for each ongoing incident new in a feed
        self.on_degraded = on_degraded  # (source kind, model) for each model newly degraded in a source
        self._states: dict[str, SourceState] = {}
        self._jobs = Jobs("status source")
        self._client = client or httpx.AsyncClient(
            verify=tls.client_context(), follow_redirects=True, headers={"User-Agent": f"nanobanana-exporter/{__version__}"})

    def apply(self, sources: Iterable[SourceConfig], run: bool = True) -> None:
        """Run exactly these sources. Unchanged ones keep their state; changed ones start afresh.
        With run=False nothing is scheduled: `poll()` fetches on demand (tests, one-shot checks)."""
        wanted = {s.kind: s for s in sources}
        for kind in list(self._states):
            if wanted.get(kind) != self._states[kind].config:
                del self._states[kind]
        for kind, config in wanted.items():
            if kind not in self._states:
                self._states[kind] = SourceState(config, config.build())
        self._jobs.apply({kind: Job(config, config.settings.interval, functools.partial(self.poll, kind))
                          for kind, config in wanted.items()} if run else {})

    # The read model: a snapshot of the sources' states (each knows its kind), and one by its kind.
    def __iter__(self):
        return iter(list(self._states.values()))

    def get(self, kind: str) -> SourceState | None:
        return self._states.get(kind)

    async def poll(self, kind: str) -> None:
        """Fetch one source once and record the result; never raises (except cancellation)."""
        state = self._states[kind]
        started = time.perf_counter()
        try:
            snapshot = await state.source.fetch(self._client)
        except Exception as err:  # noqa: BLE001 - a broken upstream must never stop the exporter
            state.duration = time.perf_counter() - started
            message = self.redact(_describe(err))
            if state.up is not False or message != state.error:
                log.warning("status source failed", extra={"source": kind, "error": message})
            state.up, state.error = False, message
            return
        state.duration = time.perf_counter() - started
        if snapshot is not None:  # None: not modified since the last good one
            known = {i.id for i in state.snapshot.incidents} if state.snapshot else set()
            state.snapshot = snapshot
            now = time.time()
            for incident in snapshot.incidents:
                if (incident.id not in known and incident.ongoing(now) and incident.impact in TRIGGERING_IMPACTS
                        and self.on_incident is not None):
                    self.on_incident(kind, incident)
            degraded = frozenset(state.source.degraded(snapshot))
            for model in sorted(degraded - state.degraded):  # newly degraded: once per drop, not per poll
                log.info("status source reports a model degraded", extra={"source": kind, "model": model})
                if self.on_degraded is not None:
                    self.on_degraded(kind, model)
            state.degraded = degraded
        elif state.snapshot is None:
            state.snapshot = Snapshot()
        if state.up is False:
            log.info("status source recovered", extra={"source": kind})
        state.up, state.error, state.last_success = True, "", time.time()

    async def stop(self) -> None:
        await self._jobs.stop()
        await self._client.aclose()


def _describe(err: Exception) -> str:
    if isinstance(err, httpx.TimeoutException):
        return f"timed out ({type(err).__name__})"
    text = str(err) or type(err).__name__
    return text if not isinstance(err, httpx.HTTPError) else f"{type(err).__name__}: {text}"
