"""The shape every platform module shares, and the packing of alerts into size-limited messages.

A platform module provides one `PLATFORM = Platform(...)`: how to render a notification into
message bodies within its size limit, how to sign a request, and how to read the reply (some
platforms answer HTTP 200 to a failure). platforms.py names them; adding one is a module and an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.relay.alerts import Notification
from exporter.relay.mentions import Mentions

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
    # (notification, who to mention) -> message bodies, each within the platform's size limit;
    # plus alerts omitted. The mentions go in the first message only.
    render: Callable[[Notification, Mentions], tuple[list[dict], int]]
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


class Blocks(Sequence[str]):
    """The alert blocks of a notification, each rendered when pack() first reads it: a group of
    100,000 alerts renders only the few hundred that fit in MAX_MESSAGES messages."""

    def __init__(self, items: Sequence[object], render: Callable[[object], str], first: str | None = None):
        """first: a block of the relay's own before the alerts (the mention line), so it opens message 1."""
        self.items, self.render = items, render
        self.head = [first] if first else []

    def __len__(self) -> int:
        return len(self.head) + len(self.items)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if index < len(self.head):
            return self.head[index]
        return self.render(self.items[index - len(self.head)])


def pack(
    blocks: Sequence[str],
    build: Callable[[list[str], str, str], dict],
    size: Callable[[dict], int],
    limit: int,
    max_messages: int = MAX_MESSAGES,
    more: int = 0,
) -> tuple[list[dict], int]:
    """Split alert blocks into at most max_messages bodies of at most `limit` (by `size`).

    build(blocks, part, footer) makes one body; part is "" or " (2/3)", footer "" or the "and N
    more" line. Sizes are checked with the widest part and footer, so numbering never overflows.
    A block too large on its own is cut. `more`: alerts not among `blocks` (not read), counted in the
    footer too. Returns (bodies, number of alerts left out).

    Linear in the blocks read: a body's size is the empty body's plus each block's own cost plus a
    fixed cost between two blocks (every platform joins blocks with a separator); each block is
    measured once, and packing stops once max_messages are full.
    """
    total = len(blocks) + more
    widest_part, widest_footer = f" ({max_messages}/{max_messages})", f"… and {total} more alerts not shown"

    def measure(chunk: list[str]) -> int:
        return size(build(chunk, widest_part, widest_footer))

    empty = measure([])
    between = measure(["x", "x"]) - 2 * measure(["x"]) + empty

    chunks: list[list[str]] = []
    current: list[str] = []
    used = empty
    for index in range(len(blocks)):
        block = blocks[index]
        cost = measure([block]) - empty
        if empty + cost > limit:
            block = _cut(block, lambda b: measure([b]) <= limit)
            cost = measure([block]) - empty
        if current and used + between + cost <= limit:
            current.append(block)
            used += between + cost
        else:
            if current:
                chunks.append(current)
                if len(chunks) == max_messages:
                    break
            current, used = [block], empty + cost
    else:
        chunks.append(current)

    omitted = total - sum(len(c) for c in chunks)
    count = len(chunks)
    bodies = []
    for index, chunk in enumerate(chunks, 1):
        part = f" ({index}/{count})" if count > 1 else ""
        footer = f"… and {omitted} more alerts not shown" if omitted and index == count else ""
        body = build(chunk, part, footer)
        while size(body) > limit and len(chunk) > 1:  # a safety net: the sizes above are exact
            chunk.pop()
            omitted += 1
            body = build(chunk, part, footer and f"… and {omitted} more alerts not shown")
        bodies.append(body)
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
