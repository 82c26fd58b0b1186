"""The canary: per target, a cheap paid call on the image model itself, run often.

A text-only generation of a one-line prompt (Gemini and Vertex AI: `generateContent` with
`responseModalities: ["TEXT"]`; chat dialects: a chat completion without image settings, OpenRouter
with `modalities: ["text"]`; the Images API has none). It goes through the model's serving path,
so it fails with the "model is overloaded" 503s of a generation outage that the free liveness check
(a metadata call) never sees, and it costs tokens, not an image: a few hundred thinking tokens at
the text rate (exporter/models/catalog.py), about $0.004 on Nano Banana Pro against $0.134 for a 1K image.

It cannot see a fault of image output alone (an image that does not decode, a wrong size, a 4K-only
failure): the image probes still do. `trigger_after` failed canaries in a row (3 by default; rate
limited ones do not count) probe each of the target's healthy series at once (confirmation reason
`canary`), which is what pages. Its outcomes have their own families (`nanobanana_canary_*`) and list
(`exporter.contract.outcomes.CANARY_OUTCOMES`), never mixed with the image probes'. It is paid: the daily
budget and maintenance windows pause it like a probe, and its cost is charged to the budget.

Off by default (`canary: {enabled: true}` turns it on): no Google page confirms that the image
models accept a text-only request, so a deployment enables it after one successful canary (the
landing page and `nanobanana_canary_outcome` show it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exporter.background.checks import Check, Checker, CheckState
from exporter.probing.dialects import DIALECTS
from exporter.probing.dialects.base import classify_error, error_in_body
from exporter.contract.outcomes import CANARY_OUTCOMES, NO_TEXT, Outcome
from exporter.domain.targets import Target

# The usage a canary is priced at when the answer reports none, and planned at (--config.check):
# UNVERIFIED guesses for a one-word answer; the thinking tokens dominate (Pro always thinks).
ESTIMATED_USAGE: dict[str, int] = {"input": 12, "output": 4, "thinking": 300}
UNBILLED = (Outcome.RATE_LIMITED.value, Outcome.NETWORK_ERROR.value)  # refused, or never reached the provider
# Outcomes that say the model's serving path fails: those probe the series. A refused key or a
# refused request (client_error: the model may not take text-only calls) are not an outage of the
# model, and the image probes see a key problem at their interval anyway.
SERVING_FAILURES = frozenset(o.value for o in (Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.NETWORK_ERROR,
                                               Outcome.BAD_RESPONSE)) | {NO_TEXT}


def estimated_cost(target: Target) -> float:
    """USD of one canary of `target` at ESTIMATED_USAGE: the planning figure."""
    return target.price.of_text(ESTIMATED_USAGE, target.canary.per_million_tokens)


class CanaryChecker(Checker):
    """`refusal(target)` says why a paid call may not run now ("budget", "maintenance"), `charge(target
    name, usd)` pays for one: the scheduler's and the budget's, so the canary pauses and counts like a probe."""

    kind = "canary"
    outcomes = CANARY_OUTCOMES

    def __init__(self, *args: Any, refusal: Callable[[Target], str | None] | None = None,
                 charge: Callable[[str, float], None] | None = None,
                 live_rates: Callable[[Target], dict[str, float]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.refusal = refusal
        self.charge = charge
        self.live_rates = live_rates  # the rates the API publishes, for targets with price: {live: true}

    @classmethod
    def settings(cls, target: Target):
        return target.canary

    @classmethod
    def request(cls, target: Target, secret: str | None):
        return DIALECTS[target.api].canary_request(target, secret, target.canary.prompt)

    def before(self, target: Target) -> str | None:
        return self.refusal(target) if self.refusal is not None else None

    def triggers(self, state: CheckState) -> bool:
        after = state.target.canary.trigger_after
        last = state.last
        return (after > 0 and state.consecutive_failures >= after and last is not None
                and last.outcome in SERVING_FAILURES)

    def verdict(self, target: Target, status: int, payload: Any) -> tuple[str, str]:
        if not 200 <= status < 300:
            failure = classify_error(status, payload)
            return failure.outcome.value, failure.message
        failure = error_in_body(payload)  # OpenRouter's errors after the model started
        if failure is not None:
            return failure.outcome.value, failure.message
        if not isinstance(payload, dict):
            return Outcome.BAD_RESPONSE.value, "answer is not a JSON object"
        DIALECTS[target.api].canary_text(payload)  # ProbeFailure when it carries no text
        return Outcome.SUCCESS.value, ""

    def priced(self, target: Target, check: Check, status: int | None, payload: Any) -> None:
        if check.outcome in UNBILLED or status is None or not 200 <= status < 300:
            return  # refused, never answered, or an error answer: not billed
        usage = DIALECTS[target.api].usage(payload) if isinstance(payload, dict) else {}
        check.usage = usage
        # a 2xx answer was generated, and billed, even when it is unreadable or reports no usage
        live = self.live_rates(target) if self.live_rates is not None else {}
        check.cost = target.price.of_text(usage or ESTIMATED_USAGE, live | (target.canary.per_million_tokens or {}))

    async def check(self, target: Target) -> Check:
        check = await super().check(target)
        if self.charge is not None and check.cost > 0:
            self.charge(target.name, check.cost)
        return check


has_canary = CanaryChecker.has_check  # whether a target runs a canary (--config.check asks)
