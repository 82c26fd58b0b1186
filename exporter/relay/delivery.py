"""Delivering one notification to one channel: render, wait for the bot's rate limit, sign, send,
read the reply, retry with backoff while the deadline allows.

Alertmanager retries a notification after a 5xx or when its notify budget runs out (it hangs up):
each message delivered is remembered for DEDUP_WINDOW by channel, group key and content, so the retry
sends only what did not arrive. A request under way when the caller hangs up is finished (and
remembered), not abandoned half-sent; the hang-up is counted (result "cancelled").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from exporter.common.bodies import TooLarge, read_capped
from exporter.common.redact import Redactor
from exporter.relay.alerts import Notification
from exporter.relay.base import DeliveryError
from exporter.relay.config import Channel
from exporter.relay.limiter import RateLimiter
from exporter.relay.mentions import select
from exporter.relay.metrics import RelayMetrics

log = logging.getLogger("exporter.relay")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 8.0
RENDER_WORKERS = 2
MAX_REPLY_BYTES = 64 * 1024  # Feishu, DingTalk and WeCom answer {"code"/"errcode": ..., "msg": ...}
# Above the time Alertmanager keeps retrying one notification (its group_interval, 5m here), below
# its repeat_interval (30m here): a repeat is sent again, a retry is not.
DEDUP_WINDOW = 600.0
DEDUP_SIZE = 10_000  # messages remembered at most


def _render(channel: Channel, notification: Notification) -> tuple[list[dict], int]:
    return channel.platform.render(notification, select(channel.mentions, notification))


class SentMessages:
    """Messages delivered lately, by channel, group key and content (before signing)."""

    def __init__(self, window: float = DEDUP_WINDOW, size: int = DEDUP_SIZE, clock=time.monotonic):
        self.window, self.size, self.clock = window, size, clock
        self._sent: OrderedDict[bytes, float] = OrderedDict()

    @staticmethod
    def key(channel: str, group_key: str, body: dict) -> bytes:
        return hashlib.sha256(json.dumps([channel, group_key, body], sort_keys=True, ensure_ascii=False).encode()).digest()

    def __contains__(self, key: bytes) -> bool:
        self._expire()
        return key in self._sent

    def add(self, key: bytes) -> None:
        self._sent[key] = self.clock()
        self._sent.move_to_end(key)
        while len(self._sent) > self.size:
            self._sent.popitem(last=False)

    def __len__(self) -> int:
        self._expire()
        return len(self._sent)

    def _expire(self) -> None:
        oldest = self.clock() - self.window
        while self._sent and next(iter(self._sent.values())) < oldest:
            self._sent.popitem(last=False)


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
        # parsing and rendering, off the event loop; two at a time bounds their CPU and memory
        self.executor = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="relay-render")
        self.sent = SentMessages()

    async def aclose(self) -> None:
        await self.client.aclose()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def apply(self, channels: dict[str, Channel], deadline: float, request_timeout: float) -> None:
        """A reloaded config: channels whose bot is unchanged keep their rate limiter (and its history)."""
        self.limiters = {name: self.limiters[name] if self.channels.get(name) == c else RateLimiter(c.platform.rate_limits)
                         for name, c in channels.items()}
        self.channels, self.deadline, self.request_timeout = channels, deadline, request_timeout

    async def deliver(self, channel: Channel, notification: Notification, received: float | None = None) -> Outcome:
        """received: when the request arrived (time.monotonic()); the deadline counts from then, since
        Alertmanager's budget includes the time the body took to arrive and be parsed."""
        deadline = (time.monotonic() if received is None else received) + self.deadline
        # choosing the mentions reads every firing alert (12 ms for 1000 alerts and 10 rules): off the loop too
        bodies, omitted = await asyncio.get_running_loop().run_in_executor(self.executor, _render, channel, notification)
        if omitted:
            self.metrics.omitted.labels(channel.name).inc(omitted)
        limiter = self.limiters[channel.name]  # held to the end, even if a reload replaces it meanwhile
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await limiter.turn.acquire()
        except TimeoutError:
            self.metrics.requests.labels(channel.name, "deadline").inc()
            raise DeliveryFailed("earlier notifications to this bot used the time until the deadline", 503) from None
        try:
            for index, body in enumerate(bodies, 1):
                key = self.sent.key(channel.name, notification.groupKey, body)
                if key in self.sent:  # a retry: this message already arrived
                    self.metrics.duplicates.labels(channel.name).inc()
                    continue
                await self._send(channel, limiter, body, deadline, f"message {index}/{len(bodies)}", key)
        finally:
            limiter.turn.release()
        return Outcome(messages=len(bodies), omitted=omitted)

    async def _send(self, channel: Channel, limiter: RateLimiter, body: dict, deadline: float, what: str,
                    key: bytes) -> None:
        backoff = BACKOFF_FIRST
        attempt = 0
        while True:
            attempt += 1
            if key in self.sent:  # sent meanwhile: a hung-up attempt of this notification finished
                self.metrics.duplicates.labels(channel.name).inc()
                return
            if not await limiter.acquire(deadline):
                self.metrics.requests.labels(channel.name, "deadline").inc()
                raise DeliveryFailed(f"{what}: rate limit of the bot leaves no slot before the deadline", 503)
            request = asyncio.ensure_future(self._request(channel, body, deadline))
            try:
                await asyncio.shield(request)  # a hang-up must not cut a request in half
                self.metrics.requests.labels(channel.name, "ok").inc()
                self.sent.add(key)
                return
            except asyncio.CancelledError:
                self.metrics.requests.labels(channel.name, "cancelled").inc()
                request.add_done_callback(lambda done: self._finished_late(done, key))
                raise
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

    def _finished_late(self, request: asyncio.Future, key: bytes) -> None:
        """A request that finished after its caller hung up: remembered if it arrived, so
        Alertmanager's retry does not send it again."""
        if not request.cancelled() and request.exception() is None:
            self.sent.add(key)

    async def _request(self, channel: Channel, body: dict, deadline: float) -> None:
        request = channel.platform.sign(channel.url, channel.secret, body, time.time())
        timeout = max(0.1, min(self.request_timeout, deadline - time.monotonic()))
        try:
            async with self.client.stream("POST", request.url, json=request.body, timeout=timeout) as response:
                try:  # a bot's reply is a few dozen bytes: a larger one is read no further, like one not JSON
                    raw = await read_capped(response, MAX_REPLY_BYTES)
                except TooLarge:
                    raw = None
        except httpx.HTTPError as err:
            # The exception text may quote the URL; the caller redacts it.
            raise DeliveryError(f"{type(err).__name__}: {err}", retry=True, result="network_error") from None
        except (httpx.InvalidURL, ValueError, OverflowError, ExceptionGroup) as err:
            # a URL the config check let through: never a bare 500 (anyio wraps an impossible port's
            # OverflowError in an ExceptionGroup)
            raise DeliveryError(f"the bot URL cannot be used ({type(err).__name__})", retry=False,
                                result="network_error") from None
        try:
            reply = json.loads(raw) if raw is not None else None
        except ValueError:
            reply = None
        channel.platform.check_reply(response.status_code, reply)
