"""What the exporter itself must know of the alert thresholds: when a successful probe is slow.

A probe slower than its series' latency threshold is confirmed like a failure (scheduler), and the
run of slow probes is exported (nanobanana_probe_consecutive_slow) for NanoBananaLatencyHigh, so a
series probed every 15 minutes shows a degradation in minutes. The values equal the latency
settings of alertmanager/rules.yml (nanobanana:threshold:latency_p95_seconds and
...:latency_thinking_factor); tests/test_rules.py fails when the two differ.
"""

from __future__ import annotations

LATENCY_SECONDS: dict[str, float] = {"512": 15.0, "1K": 25.0, "2K": 50.0, "4K": 90.0}  # p95 at low thinking
THINKING_FACTORS: dict[str, float] = {"default": 1.0, "minimal": 1.0, "low": 1.0, "medium": 1.2, "high": 1.7}
CONSECUTIVE_SLOW = 3  # rules.yml nanobanana:threshold:consecutive_slow


def latency_threshold(resolution: str, thinking_level: str) -> float:
    """Seconds above which a successful probe of this resolution and thinking level is slow."""
    return LATENCY_SECONDS[resolution] * THINKING_FACTORS[thinking_level]
