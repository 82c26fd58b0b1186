"""The relay's own metrics, on a registry of its own (no probe metrics here)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter.common.metric_families import Table, counter, histogram

NOTIFICATION_OUTCOMES = ("delivered", "failed", "bad_request", "unauthorized", "busy", "cancelled")
REQUEST_RESULTS = ("ok", "rate_limited", "platform_error", "http_error", "network_error", "deadline", "cancelled")

# Counted as deliveries happen, so the rows become prometheus_client instruments (Family.instrument).
RELAY_FAMILIES = Table(
    counter("nanobanana_relay_notifications", "Alertmanager notifications received, by channel and final outcome.",
            ("outcome",)),
    counter("nanobanana_relay_requests", "Requests to chat platforms, by channel and result (retries included).",
            ("result",)),
    counter("nanobanana_relay_alerts_omitted", "Alerts left out of messages to stay within platform limits."),
    counter("nanobanana_relay_messages_deduplicated", "Messages not sent again because they were delivered lately "
            "(a retry by Alertmanager after a 5xx or a hang-up)."),
    histogram("nanobanana_relay_delivery_duration_seconds",
              "Time from receiving a notification to its final outcome, retries and rate-limit waits included."),
    base=("channel",))
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class RelayMetrics:
    def __init__(self, channels: list[str]):
        self.registry = CollectorRegistry()
        self.notifications, self.requests, self.omitted, self.duplicates = (
            RELAY_FAMILIES[name].instrument(self.registry) for name in (
                "nanobanana_relay_notifications", "nanobanana_relay_requests", "nanobanana_relay_alerts_omitted",
                "nanobanana_relay_messages_deduplicated"))
        self.duration = RELAY_FAMILIES["nanobanana_relay_delivery_duration_seconds"].instrument(
            self.registry, buckets=DURATION_BUCKETS)
        self.channels: set[str] = set()
        self.apply(channels)

    def apply(self, channels: list[str]) -> None:
        """Every series of a configured channel exists from the start, so rate() and alerts work at
        once; a channel removed by a reload loses its series, one that stays keeps its counts."""
        for channel in self.channels - set(channels):
            for outcome in NOTIFICATION_OUTCOMES:
                self.notifications.remove(channel, outcome)
            for result in REQUEST_RESULTS:
                self.requests.remove(channel, result)
            self.omitted.remove(channel)
            self.duplicates.remove(channel)
            self.duration.remove(channel)
        for channel in channels:
            for outcome in NOTIFICATION_OUTCOMES:
                self.notifications.labels(channel, outcome)
            for result in REQUEST_RESULTS:
                self.requests.labels(channel, result)
            self.omitted.labels(channel)
            self.duplicates.labels(channel)
            self.duration.labels(channel)
        self.channels = set(channels)
