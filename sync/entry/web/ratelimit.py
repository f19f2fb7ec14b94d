"""Rate limits, kept in memory (one process): page requests per client address and reset
emails per account. Moving windows, so a burst at a window's edge cannot double the rate. The
console's sign-in limit and lockout are in the store (sync.services.console_auth), shared by
every `web` process."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from sync.config.settings import WebSettings


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s")
        self.retry_after = retry_after


class RateLimits:
    def __init__(self, web: WebSettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_address = parse(web.address_limit)
        self._per_account = parse(web.account_limit)

    def address(self, host: str) -> None:
        """Counts one page request from this client address; RateLimited past the limit."""
        self._hit(self._per_address, "address", host)

    def account(self, key: str) -> None:
        """Counts one reset email for this account (`tenant/account id`)."""
        self._hit(self._per_account, "account", key)

    def _hit(self, item: RateLimitItem, *keys: str) -> None:
        if not self._limiter.hit(item, *keys):
            stats = self._limiter.get_window_stats(item, *keys)
            raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))
