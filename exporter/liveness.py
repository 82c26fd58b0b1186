"""Free liveness checks: per target, a metadata call that costs nothing, run often.

Gemini `GET /v1beta/models/{model}`, OpenAI-style `GET {base}/models` (is the model id listed?),
OpenRouter's endpoint list of the model. A check proves the API is reachable, the key is accepted
(except OpenRouter's public list) and the model id still exists; it does not prove that an image
comes back, which only a paid probe does. Results have their own metric family
(`nanobanana_liveness_*`) and outcome list (`exporter.outcomes.LIVENESS_OUTCOMES`).

A failed check (other than rate limited) can ask the scheduler for a paid confirmation probe
(`on_failure`), so an outage the metadata call sees is confirmed without waiting for the interval.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from exporter import __version__
from exporter.bodies import TooLarge, read_capped
from exporter.credentials import Credentials
from exporter.dialects import DIALECTS
from exporter.dialects.base import ProbeFailure, classify_error
from exporter.outcomes import LIVENESS_OUTCOMES, MODEL_MISSING, Outcome
from exporter.runner import Job, Jobs
from exporter.targets import Config, Target

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024  # a gateway's full model list fits well within this


@dataclass
class Check:
    started: float  # wall clock
    outcome: str  # one of LIVENESS_OUTCOMES
    duration: float
    message: str = ""  # already redacted


@dataclass
class LivenessState:
    target: Target
    checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LIVENESS_OUTCOMES, 0))
    last: Check | None = None
    last_success: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.target.name, self.target.api, self.target.model)

    def record(self, check: Check) -> None:
        self.checks[check.outcome] += 1
        self.last = check
        if check.outcome == Outcome.SUCCESS:
            self.last_success = check.started + check.duration


def has_check(target: Target) -> bool:
    return target.liveness.enabled and DIALECTS[target.api].liveness_request(target, None) is not None


class LivenessChecker:
    def __init__(self, redact: Callable[[str], str] = str, transport: httpx.AsyncBaseTransport | None = None,
                 on_failure: Callable[[Target, Check], None] | None = None, credentials: Credentials | None = None):
        self.redact = redact
        self.credentials = credentials or Credentials(getattr(redact, "learn", None))
        self.on_failure = on_failure
        self._states: dict[tuple[str, str, str], LivenessState] = {}
        self._jobs = Jobs("liveness")
        self._client = httpx.AsyncClient(timeout=None, follow_redirects=False, transport=transport,
                                         headers={"User-Agent": f"nanobanana-exporter/{__version__}"})

    def apply(self, config: Config, run: bool = True) -> None:
        """Check exactly the config's targets that have a check; kept targets keep their counters."""
        wanted = {(t.name, t.api, t.model): t for t in config.targets if has_check(t)}
        self._states = {key: self._states.get(key) or LivenessState(t) for key, t in wanted.items()}
        for key, target in wanted.items():
            self._states[key].target = target
        self._jobs.apply({key: Job(target, target.liveness.interval, functools.partial(self.run, target))
                          for key, target in wanted.items()} if run else {})

    # The read model: a snapshot of the checked targets' states, and one by its (target, api, model).
    def __iter__(self):
        return iter(list(self._states.values()))

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: tuple[str, str, str]) -> LivenessState | None:
        return self._states.get(key)

    async def run(self, target: Target) -> Check:
        """One check, recorded and logged; never raises (except cancellation)."""
        check = await self.check(target)
        state = self._states.get((target.name, target.api, target.model))
        if state is None or state.target != target:
            return check  # removed or changed by a reload meanwhile
        previous = state.last.outcome if state.last else None
        state.record(check)
        labels = {"target": target.name, "api": target.api, "model": target.model}
        if check.outcome != previous:
            level = logging.INFO if check.outcome == Outcome.SUCCESS else logging.WARNING
            log.log(level, "liveness check changed", extra={**labels, "outcome": check.outcome,
                                                           **({"error": check.message} if check.message else {})})
        if check.outcome not in (Outcome.SUCCESS, Outcome.RATE_LIMITED) and self.on_failure is not None:
            self.on_failure(target, check)
        return check

    async def check(self, target: Target) -> Check:
        dialect = DIALECTS[target.api]
        started_wall, started = time.time(), time.perf_counter()
        try:
            async with asyncio.timeout(target.liveness.timeout):
                request = dialect.liveness_request(target, await self.credentials.secret(target))
                request.headers.update(self.credentials.headers(target))
                status, payload = await self._fetch(request.method, request.url, request.headers, request.body)
            outcome, message = self._verdict(target, status, payload)
        except ProbeFailure as failure:
            outcome, message = failure.outcome.value, failure.message
        except (TimeoutError, httpx.TimeoutException):
            outcome, message = Outcome.TIMEOUT.value, f"no answer within {target.liveness.timeout:g}s"
        except (httpx.TransportError, OSError) as err:
            outcome, message = Outcome.NETWORK_ERROR.value, f"{type(err).__name__}: {err}"
        except httpx.HTTPError as err:
            outcome, message = Outcome.CLIENT_ERROR.value, f"{type(err).__name__}: {err}"
        except Exception as err:  # a bug of ours must not end the target's checks for good
            log.error("liveness check raised unexpectedly: %s", self.redact(repr(err)))
            outcome, message = Outcome.BAD_RESPONSE.value, f"unexpected {type(err).__name__}: {err}"
        if outcome not in LIVENESS_OUTCOMES:  # e.g. a policy-worded 400: for a metadata call, a client error
            outcome = Outcome.CLIENT_ERROR.value
        return Check(started_wall, outcome, time.perf_counter() - started, self.redact(message)[:500])

    def _verdict(self, target: Target, status: int, payload: Any) -> tuple[str, str]:
        dialect = DIALECTS[target.api]
        if not 200 <= status < 300:
            failure = classify_error(status, payload)
            if status == 404 and dialect.liveness_names_model and failure.outcome is Outcome.CLIENT_ERROR:
                return MODEL_MISSING, f"model id {target.model!r} not found ({failure.message})"
            return failure.outcome.value, failure.message
        if not isinstance(payload, dict):
            return Outcome.BAD_RESPONSE.value, "answer is not a JSON object"
        if not dialect.model_listed(target, payload):
            return MODEL_MISSING, f"model id {target.model!r} is not listed by the API"
        return Outcome.SUCCESS.value, ""

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
