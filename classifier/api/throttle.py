"""Rate limits per caller: how many requests each key may make in each window.

Limits are written in the `limits` library's notation ("50/second;2000/minute") and counted
in a moving window: a request is refused when the window ending now already holds the limit.
Counters shared between processes and machines (redis://) go through `limits`; counters in
memory, one set per worker process, are kept here, because `limits`' memory storage starts a
timer thread every 10 ms to expire entries, which cost every request under load a share of
the interpreter lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

# Callers held in memory before those gone quiet are dropped.
SWEEP_AT = 10_000
# Called with the window and the caller; returns None when the request may go ahead, else
# the seconds until it may.
Hit = Callable[[RateLimitItem, str], float | None]


class RateLimited(Exception):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class MovingWindows:
    """Moving-window counters in this process: per window and caller, the times of the
    requests still inside the window, oldest first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._times: dict[tuple[RateLimitItem, str], deque[float]] = {}
        self._lock = threading.Lock()  # the event loop, and sync routes' threads
        self._sweep_at = SWEEP_AT  # callers held before idle ones are looked for

    def hit(self, item: RateLimitItem, who: str) -> float | None:
        now = self.clock()
        width = float(item.get_expiry())
        with self._lock:
            times = self._times.get((item, who))
            if times is None:
                self._forget_idle(now)
                times = self._times[(item, who)] = deque()
            while times and times[0] <= now - width:
                times.popleft()
            if len(times) >= item.amount:
                return times[len(times) - item.amount] + width - now
            times.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        """Drop the callers whose windows emptied, once there are many (new keys and client
        addresses keep arriving; the memory must not grow with them)."""
        if len(self._times) < self._sweep_at:
            return
        for key in [k for k, t in self._times.items() if not t or t[-1] <= now - k[0].get_expiry()]:
            del self._times[key]
        # With many callers still active, sweeping again at the next new one would walk them
        # all for every request: wait until as many again have come.
        self._sweep_at = max(SWEEP_AT, 2 * len(self._times))


class Throttle:
    """Per-key request limits (per client address for anonymous loopback calls)."""

    def __init__(self, rate_limit: str, storage_uri: str) -> None:
        self.items = parse_many(rate_limit)
        self._hit: Hit
        if storage_uri.startswith("memory://"):
            self._hit = MovingWindows().hit
        else:
            self._hit = _shared(storage_uri)

    def check(self, who: str) -> None:
        for item in self.items:
            wait = self._hit(item, who)
            if wait is not None:
                retry = max(1, math.ceil(wait))
                raise RateLimited(f"rate limit of {item} exceeded; retry in {retry} s", retry)


def _shared(storage_uri: str) -> Hit:
    limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def hit(item: RateLimitItem, who: str) -> float | None:
        if limiter.hit(item, who):
            return None
        return limiter.get_window_stats(item, who).reset_time - time.time()

    return hit
