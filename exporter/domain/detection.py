"""What the exporter itself must know of the alert thresholds: when a successful probe is slow.

A probe slower than its series' latency threshold is confirmed like a failure (scheduler), and the
run of slow probes is exported (nanobanana_probe_consecutive_slow) for NanoBananaLatencyHigh, so a
series probed every 15 minutes shows a degradation in minutes. The numbers are the monitoring
contract's (exporter/contract/settings.py), which the rules record as
nanobanana:threshold:latency_p95_seconds and ...:latency_thinking_factor.
"""

from __future__ import annotations

from exporter.contract.settings import CONSECUTIVE_SLOW, LATENCY_SECONDS, THINKING_FACTORS

__all__ = ["CONSECUTIVE_SLOW", "LATENCY_SECONDS", "THINKING_FACTORS", "latency_threshold"]


def latency_threshold(resolution: str, thinking_level: str) -> float:
    """Seconds above which a successful probe of this resolution and thinking level is slow."""
    return LATENCY_SECONDS[resolution] * THINKING_FACTORS[thinking_level]
