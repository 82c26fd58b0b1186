"""What a probe costs: a target's price settings and the rule for what a failed attempt costs.

Prices are estimates in USD from configuration, never read from an invoice. A target is priced per
image and resolution (by default the list price of the target's model family, exporter/models/catalog.py), or per token when `per_million_tokens` is
set and the answer reported usage. A failed attempt costs what the provider bills for it: by default
nothing for an error, the full price for an answer that carried an image or output tokens (a
blocked or wrong-sized image is still generated and billed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, NonNegativeFloat

from exporter.models.catalog import PRO, RESOLUTIONS, Family
from exporter.contract.outcomes import Outcome

TOKEN_KINDS: tuple[str, ...] = ("input", "output", "thinking")

# `failed:` -> which failed attempts are charged (rate-limited attempts are never charged: refused)
FAILED_RULES: dict[str, str] = {
    "output": "charge failed attempts whose answer carried an image or output tokens (the default)",
    "all": "charge every failed attempt that got an answer (gateways that bill per request)",
    "none": "never charge a failed attempt",
}

# YAML reads `512` as a number: a resolution is its text
Resolution = Annotated[Literal[RESOLUTIONS], BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]  # type: ignore[valid-type]
TokenKind = Literal[TOKEN_KINDS]  # type: ignore[valid-type]


class PriceSettings(BaseModel):
    """`price:` under `defaults:` or a target; each key falls back to the defaults, then the family's list price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_image: dict[Resolution, NonNegativeFloat] | None = None
    per_million_tokens: dict[TokenKind, NonNegativeFloat] | None = None
    failed: Literal[tuple(FAILED_RULES)] | None = None  # type: ignore[valid-type]
    # opt-in: where the target's API publishes a rate (OpenRouter's per-token prompt and completion
    # rates, read by the daily catalog comparison, exporter/background/drift.py), the canary's cost and budget use it
    live: bool | None = None


@dataclass(frozen=True)
class Price:
    per_image: dict[str, float]
    per_million_tokens: dict[str, float] | None = None
    failed: str = "output"
    text_per_million_tokens: dict[str, float] | None = None  # the family's text rates: what a canary costs
    live: bool = False  # PriceSettings.live

    @classmethod
    def resolve(cls, own: PriceSettings | None, inherited: PriceSettings | None, family: Family = PRO) -> "Price":
        own, inherited = own or PriceSettings(), inherited or PriceSettings()
        per_image = {**family.prices, **(inherited.per_image or {}), **(own.per_image or {})}
        tokens = own.per_million_tokens if own.per_million_tokens is not None else inherited.per_million_tokens
        text = {"input": family.usd_per_million_input_tokens, "output": family.usd_per_million_text_tokens,
                "thinking": family.usd_per_million_text_tokens}
        live = own.live if own.live is not None else bool(inherited.live)
        return cls(per_image, dict(tokens) if tokens else None, own.failed or inherited.failed or "output", text, live)

    def of_image(self, resolution: str) -> float:
        """The price of one successful probe without usage figures: the planning estimate."""
        return self.per_image[resolution]

    def cost(self, resolution: str, outcome: Outcome, usage: dict[str, int], image_bytes: int) -> float:
        """The estimated USD cost of one finished attempt."""
        full = self._full(resolution, usage)
        if outcome is Outcome.SUCCESS:
            return full
        if outcome in (Outcome.RATE_LIMITED, Outcome.NETWORK_ERROR) or self.failed == "none":
            return 0.0  # refused, or never reached the provider
        if self.failed == "all":
            return full
        carried_output = image_bytes > 0 or usage.get("output", 0) > 0
        return full if carried_output else 0.0

    def of_text(self, usage: dict[str, int], rates: dict[str, float] | None = None) -> float:
        """The estimated USD cost of a text-only answer (a canary) of this usage, at `rates` (USD per
        million tokens of each kind) over the family's text rates: thinking is billed as text output."""
        rates = {**(self.text_per_million_tokens or {}), **(rates or {})}  # a rate not given is the family's
        return sum(usage.get(kind, 0) * usd for kind, usd in rates.items()) / 1e6

    def _full(self, resolution: str, usage: dict[str, int]) -> float:
        if self.per_million_tokens and any(kind in usage for kind in self.per_million_tokens):
            return sum(usage.get(kind, 0) * usd for kind, usd in self.per_million_tokens.items()) / 1e6
        return self.per_image[resolution]
