"""Delivering one notification to one channel: render, wait for the bot's rate limit, sign, send,
read the reply, retry with backoff while the deadline allows.

Delivery is at least once: if a later message of a split notification fails, the relay answers 5xx
and Alertmanager sends the whole notification again, so the earlier parts may arrive twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx

from exporter.redact import Redactor
from exporter.relay.alerts import Notification
from exporter.relay.base import DeliveryError
from exporter.relay.config import Channel
from exporter.relay.limiter import RateLimiter
from exporter.relay.metrics import RelayMetrics

log = logging.getLogger("exporter.relay")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 8.0


class DeliveryFailed(Exception):
    """Delivery gave up. `status` is what Alertmanager gets: 502 when the platform rejected the
    message, 503 when it stayed unreachable or rate limited until the deadline. Both make it retry."""

    def __init__(self, reason: str, status: int):
        super().__init__(reason)
        self.status = status


@dataclass
class Outcome:
    messages: int
    omitted: int


class Courier:
    """Sends to every channel of a config, with one rate limiter per bot."""

    def __init__(self, channels: dict[str, Channel], metrics: RelayMetrics, redactor: Redactor,
                 deadline: float, request_timeout: float, client: httpx.AsyncClient | None = None):
        self.channels = channels
        self.metrics = metrics
        self.redact = redactor
        self.deadline = deadline
        self.request_timeout = request_timeout
        self.limiters = {name: RateLimiter(c.platform.rate_limits) for name, c in channels.items()}
        self.client = client or httpx.AsyncClient(follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    def reconfigure(self, channels: dict[str, Channel], deadline: float, request_timeout: float) -> None:
        """A reloaded config: channels whose bot is unchanged keep their rate limiter (and its history)."""
        self.limiters = {name: self.limiters[name] if self.channels.get(name) == c else RateLimiter(c.platform.rate_limits)
                         for name, c in channels.items()}
        self.channels, self.deadline, self.request_timeout = channels, deadline, request_timeout

    async def deliver(self, channel: Channel, notification: Notification) -> Outcome:
        deadline = time.monotonic() + self.deadline
        bodies, omitted = channel.platform.render(notification)
        if omitted:
            self.metrics.omitted.labels(channel.name).inc(omitted)
        limiter = self.limiters[channel.name]  # held to the end, even if a reload replaces it meanwhile
        for index, body in enumerate(bodies, 1):
            await self._send(channel, limiter, body, deadline, f"message {index}/{len(bodies)}")
        return Outcome(messages=len(bodies), omitted=omitted)

    async def _send(self, channel: Channel, limiter: RateLimiter, body: dict, deadline: float, what: str) -> None:
        backoff = BACKOFF_FIRST
        attempt = 0
        while True:
            attempt += 1
            if not await limiter.acquire(deadline):
                self.metrics.requests.labels(channel.name, "deadline").inc()
                raise DeliveryFailed(f"{what}: rate limit of the bot leaves no slot before the deadline", 503)
            try:
                await self._request(channel, body, deadline)
                self.metrics.requests.labels(channel.name, "ok").inc()
                return
            except DeliveryError as err:
                self.metrics.requests.labels(channel.name, err.result).inc()
                reason = self.redact(f"{what}, attempt {attempt}: {err}")
                if not err.retry:
                    raise DeliveryFailed(reason, 502) from None
                if time.monotonic() + backoff >= deadline:
                    raise DeliveryFailed(f"{reason}; giving up at the deadline", 503) from None
                log.warning("delivery failed, retrying", extra={"channel": channel.name, "error": reason,
                                                                "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def _request(self, channel: Channel, body: dict, deadline: float) -> None:
        request = channel.platform.sign(channel.url, channel.secret, body, time.time())
        timeout = max(0.1, min(self.request_timeout, deadline - time.monotonic()))
        try:
            response = await self.client.post(request.url, json=request.body, timeout=timeout)
        except httpx.HTTPError as err:
            # The exception text may quote the URL; the caller redacts it.
            raise DeliveryError(f"{type(err).__name__}: {err}", retry=True, result="network_error") from None
        except (httpx.InvalidURL, ValueError, OverflowError, ExceptionGroup) as err:
            # a URL the config check let through: never a bare 500 (anyio wraps an impossible port's
            # OverflowError in an ExceptionGroup)
            raise DeliveryError(f"the bot URL cannot be used ({type(err).__name__})", retry=False,
                                result="network_error") from None
        try:
            reply = response.json()
        except ValueError:
            reply = None
        channel.platform.check_reply(response.status_code, reply)
