"""The relay's own metrics, on a registry of its own (no probe metrics here)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

NOTIFICATION_OUTCOMES = ("delivered", "failed", "bad_request", "unauthorized", "busy", "cancelled")
REQUEST_RESULTS = ("ok", "rate_limited", "platform_error", "http_error", "network_error", "deadline", "cancelled")


class RelayMetrics:
    def __init__(self, channels: list[str]):
        self.registry = CollectorRegistry()
        self.notifications = Counter(
            "nanobanana_relay_notifications", "Alertmanager notifications received, by channel and final outcome.",
            ["channel", "outcome"], registry=self.registry)
        self.requests = Counter(
            "nanobanana_relay_requests", "Requests to chat platforms, by channel and result (retries included).",
            ["channel", "result"], registry=self.registry)
        self.omitted = Counter(
            "nanobanana_relay_alerts_omitted", "Alerts left out of messages to stay within platform limits.",
            ["channel"], registry=self.registry)
        self.duplicates = Counter(
            "nanobanana_relay_messages_deduplicated", "Messages not sent again because they were delivered lately "
            "(a retry by Alertmanager after a 5xx or a hang-up).", ["channel"], registry=self.registry)
        self.duration = Histogram(
            "nanobanana_relay_delivery_duration_seconds",
            "Time from receiving a notification to its final outcome, retries and rate-limit waits included.",
            ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60), registry=self.registry)
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
