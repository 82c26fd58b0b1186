"""A small async rate limiter: at most N sends per window, for several windows at once (Feishu
allows 5 per second and 100 per minute per bot)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limits: tuple[tuple[int, float], ...], clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self.sent: deque[float] = deque(maxlen=max((count for count, _ in limits), default=1))
        self.lock = asyncio.Lock()  # one waiter at a time keeps the order of messages
        # one notification at a time per bot: in a burst, notifications are delivered whole, in the
        # order they came, instead of each getting a share of the slots and all missing the deadline
        self.turn = asyncio.Lock()

    def delay(self) -> float:
        """Seconds until one more send fits every window."""
        now = self.clock()
        waits = [0.0]
        for count, seconds in self.limits:
            if len(self.sent) >= count:
                oldest_in_window = self.sent[-count]
                waits.append(oldest_in_window + seconds - now)
        return max(waits)

    async def acquire(self, deadline: float) -> bool:
        """Take a slot, waiting if needed; False (and no slot taken) if that would pass `deadline`."""
        async with self.lock:
            while (wait := self.delay()) > 0:
                if self.clock() + wait > deadline:
                    return False
                await asyncio.sleep(wait)
            self.sent.append(self.clock())
            return True
