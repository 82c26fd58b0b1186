"""Generation latency by resolution and thinking level, from the gateway measurements in the
reference table (mean seconds; about 1.4x the mean at p95)."""

from __future__ import annotations

import math
import random

# thinking low (and default, minimal); "text": a text-only request (the canary's), UNVERIFIED
MEAN_SECONDS = {"512": 10.0, "1K": 17.5, "2K": 35.0, "4K": 60.0, "text": 4.0}
THINKING_EXTRA = {  # seconds added by the thinking level
    "medium": {"1K": 7.5, "2K": 7.5, "4K": 10.0},
    "high": {"1K": 20.0, "2K": 17.5, "4K": 40.0},
}
SIGMA = 0.2  # log-normal spread: p95 / mean ~ 1.35


def mean_seconds(resolution: str, thinking_level: str) -> float:
    return MEAN_SECONDS[resolution] + THINKING_EXTRA.get(thinking_level, {}).get(resolution, 0.0)


def draw_seconds(resolution: str, thinking_level: str, speed: float) -> float:
    mean = mean_seconds(resolution, thinking_level)
    # log-normal with the given mean: mu = ln(mean) - sigma^2 / 2
    return random.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA) * speed


THINKING_TOKENS = {"default": 0, "minimal": 40, "low": 150, "medium": 450, "high": 1200}
