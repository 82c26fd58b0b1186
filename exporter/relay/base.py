"""The shape every platform module shares, and the packing of alerts into size-limited messages.

A platform module provides one `PLATFORM = Platform(...)`: how to render a notification into
message bodies within its size limit, how to sign a request, and how to read the reply (some
platforms answer HTTP 200 to a failure). platforms.py names them; adding one is a module and an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exporter.relay.alerts import Notification

MAX_MESSAGES = 5  # per notification; beyond that, the last message says "and N more alerts"


class DeliveryError(Exception):
    """A failed request. `retry`: worth trying again soon (rate limit, 5xx, network)."""

    def __init__(self, reason: str, retry: bool, result: str):
        super().__init__(reason)
        self.retry = retry
        self.result = result  # metric label: rate_limited, platform_error, http_error, network_error


@dataclass(frozen=True)
class Request:
    url: str
    body: dict


@dataclass(frozen=True)
class Platform:
    name: str
    # (messages, seconds) per bot, all enforced at once
    rate_limits: tuple[tuple[int, float], ...]
    # notification -> message bodies, each within the platform's size limit; plus alerts omitted
    render: Callable[[Notification], tuple[list[dict], int]]
    # (url, secret, body, unix time) -> the request to send, signed when a secret is set
    sign: Callable[[str, str | None, dict, float], Request]
    # (HTTP status, parsed JSON or None) -> None, or raise DeliveryError
    check_reply: Callable[[int, object], None]


def check_http(status: int) -> None:
    if status == 429:
        raise DeliveryError("HTTP 429 from the platform", retry=True, result="rate_limited")
    if status >= 500:
        raise DeliveryError(f"HTTP {status} from the platform", retry=True, result="http_error")
    if status >= 300:
        raise DeliveryError(f"HTTP {status} from the platform", retry=False, result="http_error")


def errcode_reply(platform: str, retryable: dict[int, str]) -> Callable[[int, object], None]:
    """check_reply for platforms that answer {"errcode": 0} on success (DingTalk, WeCom); the codes
    in `retryable` (rate limits) are worth trying again, any other is final."""

    def check_reply(status: int, reply: object) -> None:
        check_http(status)
        if not isinstance(reply, dict):
            raise DeliveryError(f"{platform} answered without a JSON object", retry=True, result="http_error")
        code = reply.get("errcode")
        if code == 0:
            return
        if code in retryable:
            raise DeliveryError(f"{platform} errcode {code} ({retryable[code]})", retry=True, result="rate_limited")
        raise DeliveryError(f"{platform} errcode {code}", retry=False, result="platform_error")

    return check_reply


def pack(
    blocks: list[str],
    build: Callable[[list[str], str, str], dict],
    size: Callable[[dict], int],
    limit: int,
    max_messages: int = MAX_MESSAGES,
) -> tuple[list[dict], int]:
    """Split alert blocks into at most max_messages bodies of at most `limit` (by `size`).

    build(blocks, part, footer) makes one body; part is "" or " (2/3)", footer "" or the "and N
    more" line. Sizes are checked with the widest part and footer, so numbering never overflows.
    A block too large on its own is cut. Returns (bodies, number of alerts left out).
    """
    widest_part, widest_footer = f" ({max_messages}/{max_messages})", f"… and {len(blocks)} more alerts not shown"

    def fits(chunk: list[str]) -> bool:
        return size(build(chunk, widest_part, widest_footer)) <= limit

    chunks: list[list[str]] = []
    current: list[str] = []
    for block in blocks:
        if not fits([block]):
            block = _cut(block, lambda b: fits([b]))
        if current and fits([*current, block]):
            current.append(block)
            continue
        if current:
            chunks.append(current)
        current = [block]
    chunks.append(current)

    omitted = 0
    if len(chunks) > max_messages:
        omitted = sum(len(c) for c in chunks[max_messages:])
        chunks = chunks[:max_messages]
    total = len(chunks)
    bodies = []
    for index, chunk in enumerate(chunks, 1):
        part = f" ({index}/{total})" if total > 1 else ""
        footer = f"… and {omitted} more alerts not shown" if omitted and index == total else ""
        bodies.append(build(chunk, part, footer))
    return bodies, omitted


def _cut(block: str, fits: Callable[[str], bool]) -> str:
    low, high = 0, len(block)
    while low < high:  # longest prefix that fits, by bisection
        middle = (low + high + 1) // 2
        if fits(block[:middle] + "…"):
            low = middle
        else:
            high = middle - 1
    return block[:low] + "…"
