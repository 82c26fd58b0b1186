"""Free liveness checks: per target, a metadata call that costs nothing, run often.

Gemini `GET /v1beta/models/{model}`, OpenAI-style `GET {base}/models` (is the model id listed?),
OpenRouter's endpoint list of the model. A check proves the API is reachable, the key is accepted
(except OpenRouter's public list) and the model id still exists; it does not prove that an image
comes back, which only a paid probe does. Results have their own metric family
(`nanobanana_liveness_*`) and outcome list (`exporter.contract.outcomes.LIVENESS_OUTCOMES`); the running
of checks is exporter/background/checks.py's.

A failed check (other than rate limited) can ask the scheduler for a paid confirmation probe
(`on_failure`), so an outage the metadata call sees is confirmed without waiting for the interval.
"""

from __future__ import annotations

from typing import Any

from exporter.background.checks import Check, Checker, CheckState
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import classify_error
from exporter.contract.outcomes import LIVENESS_OUTCOMES, MODEL_MISSING, Outcome
from exporter.domain.targets import Target

__all__ = ["Check", "CheckState", "LivenessChecker", "has_check"]


class LivenessChecker(Checker):
    kind = "liveness"
    outcomes = LIVENESS_OUTCOMES
    spread = False  # free: every target is checked at once at start-up, so a bad key shows in seconds

    @classmethod
    def settings(cls, target: Target):
        return target.liveness

    @classmethod
    def request(cls, target: Target, secret: str | None):
        return DIALECTS[target.api].liveness_request(target, secret)

    def triggers(self, state: CheckState) -> bool:
        return state.last is not None and state.last.outcome not in (Outcome.SUCCESS, Outcome.RATE_LIMITED)

    def verdict(self, target: Target, status: int, payload: Any) -> tuple[str, str]:
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


has_check = LivenessChecker.has_check  # whether a target has a free check (--config.check asks)
