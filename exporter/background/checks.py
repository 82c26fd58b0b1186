"""The machinery the background checks share: per target, one small call on its own interval, its
outcome counted and remembered, a run of failures that can ask the scheduler for image probes.

Two kinds use it: the free liveness check (exporter/background/liveness.py: a metadata call) and the paid
canary (exporter/background/canary.py: a text-only generation on the image model). A kind says how to build
its request, how to read the answer, which outcomes it has and when a failure should trigger image
probes; this module runs it, never raises (a bug of ours becomes bad_response), redacts messages and
keeps each target's counters across reloads. Their metric families are `nanobanana_<kind>_*`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from exporter import __version__
from exporter.common import tls
from exporter.common.bodies import TooLarge, read_capped
from exporter.probing.credentials import Credentials
from exporter.probing.dialects.base import ProbeFailure, Request
from exporter.contract.outcomes import Outcome
from exporter.models.pricing import TOKEN_KINDS
from exporter.common.runner import Job, Jobs
from exporter.domain.state import REFUSAL_REASONS
from exporter.domain.targets import Config, Target

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024  # a gateway's full model list fits well within this


@dataclass
class Check:
    started: float  # wall clock
    outcome: str  # one of the kind's outcomes
    duration: float
    message: str = ""  # already redacted
    usage: dict[str, int] = field(default_factory=dict)  # tokens the answer reported (the canary's)
    cost: float = 0.0  # estimated USD (the canary's; liveness checks are free)


@dataclass
class CheckState:
    target: Target
    outcomes: tuple[str, ...]
    checks: dict[str, int] = field(default_factory=dict)
    last: Check | None = None
    last_success: float | None = None
    consecutive_failures: int = 0  # rate-limited checks neither reset nor extend it
    # paid checks not run when due, by reason; tokens reported: pre-created, so a scrape in a worker
    # thread never walks a dict that grows
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REFUSAL_REASONS, 0))
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    cost: float = 0.0
    version: int = 0  # bumped after every change: the scrape reuses the target's text while it holds

    def __post_init__(self) -> None:
        self.checks = dict.fromkeys(self.outcomes, 0) | self.checks

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.target.name, self.target.api, self.target.model)

    def record(self, check: Check) -> None:
        self.checks[check.outcome] += 1
        self.last = check
        self.cost += check.cost
        for kind, count in check.usage.items():
            if kind in self.tokens:
                self.tokens[kind] += count
        if check.outcome == Outcome.SUCCESS:
            self.last_success = check.started + check.duration
            self.consecutive_failures = 0
        elif check.outcome != Outcome.RATE_LIMITED:
            self.consecutive_failures += 1
        self.version += 1

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1
        self.version += 1


class Checker:
    """Runs one kind of check for every target that has it. Subclasses set `kind` and `outcomes` and
    implement `settings`, `request` and `verdict`; `on_failure(target, check)` is called when
    `triggers` says the state calls for image probes."""

    kind: ClassVar[str]  # the metric family prefix, the logs' and jobs' name
    outcomes: ClassVar[tuple[str, ...]]
    spread: ClassVar[bool] = True  # first checks spread over the interval; False: all at once at start-up

    def __init__(self, redact: Callable[[str], str] = str, transport: httpx.AsyncBaseTransport | None = None,
                 on_failure: Callable[[Target, Check], None] | None = None, credentials: Credentials | None = None):
        self.redact = redact
        self.credentials = credentials or Credentials(getattr(redact, "learn", None))
        self.on_failure = on_failure
        self._states: dict[tuple[str, str, str], CheckState] = {}
        self._jobs = Jobs(self.kind)
        self._client = httpx.AsyncClient(verify=tls.client_context(), timeout=None, follow_redirects=False, transport=transport,
                                         headers={"User-Agent": f"nanobanana-exporter/{__version__}"})

    # what a kind says (classmethods: --config.check asks them without a checker)
    @classmethod
    def settings(cls, target: Target) -> Any:
        """The target's settings of this kind (with enabled, interval and timeout)."""
        raise NotImplementedError

    @classmethod
    def request(cls, target: Target, secret: str | None) -> Request | None:
        raise NotImplementedError

    @classmethod
    def has_check(cls, target: Target) -> bool:
        return cls.settings(target).enabled and cls.request(target, None) is not None

    @classmethod
    def spec(cls, target: Target) -> tuple:
        """What the check's request depends on: a reload that changes it restarts the target's check
        (an in-flight one is cancelled), other edits of the target leave it running."""
        return (target.api, target.base_url, target.model, target.api_key, target.project, target.location,
                target.google, cls.settings(target))

    def verdict(self, target: Target, status: int, payload: Any) -> tuple[str, str]:
        """(outcome, message) of an answer, or ProbeFailure."""
        raise NotImplementedError

    def triggers(self, state: CheckState) -> bool:
        """Whether the state after a check calls for image probes of the target."""
        return False

    def before(self, target: Target) -> str | None:
        """A reason not to run the check now (recorded as skipped), or None."""
        return None

    def priced(self, target: Target, check: Check, status: int | None, payload: Any) -> None:
        """Set the check's usage and cost from its answer (status None: no answer came back)."""

    # the read model: a snapshot of the checked targets' states, and one by its (target, api, model)
    def __iter__(self):
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: tuple[str, str, str]) -> CheckState | None:
        return self._states.get(key)

    def apply(self, config: Config, run: bool = True) -> None:
        """Check exactly the config's targets that have a check; kept targets keep their counters."""
        wanted = {(t.name, t.api, t.model): t for t in config.targets if self.has_check(t)}
        self._states = {key: self._states.get(key) or CheckState(t, self.outcomes) for key, t in wanted.items()}
        for key, target in wanted.items():
            self._states[key].target = target
        self._jobs.apply({key: Job(self.spec(target), self.settings(target).interval,
                                   functools.partial(self._run_current, key),
                                   self.first_offset(key, self.settings(target).interval))
                          for key, target in wanted.items()} if run else {})

    def first_offset(self, key: tuple[str, ...], interval: float) -> float:
        """Where in its interval a target's check (re)starts, the same for every run of the exporter:
        targets spread evenly over the interval, no burst of paid calls at start-up or after a reload."""
        if not self.spread:
            return 0.0
        return zlib.crc32("\0".join((self.kind, *key)).encode()) / 2**32 * interval

    async def _run_current(self, key: tuple[str, str, str]) -> None:
        state = self._states.get(key)
        if state is not None:
            await self.run(state.target)

    async def run(self, target: Target) -> Check | None:
        """One check, recorded and logged; never raises (except cancellation). None when skipped."""
        try:
            return await self._run(target)
        except Exception as err:  # a bug of ours must not end the target's checks for good
            log.error("%s check raised unexpectedly: %s", self.kind, self.redact(repr(err)))
            return None

    async def _run(self, target: Target) -> Check | None:
        key = (target.name, target.api, target.model)
        reason = self.before(target)
        if reason is not None:
            state = self._states.get(key)
            if state is not None:
                state.skip(reason)
            return None
        check = await self.check(target)
        state = self._states.get(key)
        if state is None or self.spec(state.target) != self.spec(target):
            return check  # removed or changed by a reload meanwhile
        previous = state.last.outcome if state.last else None
        state.record(check)
        labels = {"target": target.name, "api": target.api, "model": target.model}
        if check.outcome != previous:
            level = logging.INFO if check.outcome == Outcome.SUCCESS else logging.WARNING
            log.log(level, f"{self.kind} check changed", extra={**labels, "outcome": check.outcome,
                                                               **({"error": check.message} if check.message else {})})
        if self.on_failure is not None and self.triggers(state):
            self.on_failure(state.target, check)
        return check

    async def check(self, target: Target) -> Check:
        timeout = self.settings(target).timeout
        started_wall, started = time.time(), time.perf_counter()
        status: int | None = None
        payload: Any = None
        try:
            async with asyncio.timeout(timeout):
                request = self.request(target, await self.credentials.secret(target))
                request.headers.update(self.credentials.headers(target))
                status, payload = await self._fetch(request.method, request.url, request.headers, request.body)
            outcome, message = self.verdict(target, status, payload)
        except ProbeFailure as failure:
            outcome, message = str(failure.outcome), failure.message
        except (TimeoutError, httpx.TimeoutException):
            outcome, message = Outcome.TIMEOUT.value, f"no answer within {timeout:g}s"
        except (httpx.TransportError, OSError) as err:
            outcome, message = Outcome.NETWORK_ERROR.value, f"{type(err).__name__}: {err}"
        except httpx.HTTPError as err:
            outcome, message = Outcome.CLIENT_ERROR.value, f"{type(err).__name__}: {err}"
        except Exception as err:  # a bug of ours must not end the target's checks for good
            log.error("%s check raised unexpectedly: %s", self.kind, self.redact(repr(err)))
            outcome, message = Outcome.BAD_RESPONSE.value, f"unexpected {type(err).__name__}: {err}"
        check = Check(started_wall, self.known(outcome), time.perf_counter() - started, self.redact(message)[:500])
        self.priced(target, check, status, payload)
        return check

    def known(self, outcome: str) -> str:
        """One of the kind's outcomes: any other (a policy-worded 400 on a metadata call) is a client error."""
        return outcome if outcome in self.outcomes else Outcome.CLIENT_ERROR.value

    async def _fetch(self, method: str, url: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        async with self._client.stream(method, url, headers=headers, json=body) as response:
            try:
                body = await read_capped(response, MAX_BYTES)
            except TooLarge as err:
                raise ProbeFailure(Outcome.BAD_RESPONSE, str(err)) from None
        try:
            return response.status_code, json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return response.status_code, None

    async def stop(self) -> None:
        await self._jobs.stop()
        await self._client.aclose()
