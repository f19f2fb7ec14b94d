"""Rate limits, kept in memory (one process): page requests per client address, reset emails
per account, console sign-ins per client address and failed sign-ins per account name. Moving
windows, so a burst at a window's edge cannot double the rate."""

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
        self._signin = parse(web.signin_limit)
        self._lockout = parse(web.signin_lockout)

    def address(self, host: str) -> None:
        """Counts one page request from this client address; RateLimited past the limit."""
        self._hit(self._per_address, "address", host)

    def account(self, key: str) -> None:
        """Counts one reset email for this account (`tenant/account id`)."""
        self._hit(self._per_account, "account", key)

    def signin(self, host: str) -> None:
        """Counts one console sign-in attempt from this client address."""
        self._hit(self._signin, "signin", host)

    def locked_out(self, key: str) -> int | None:
        """Seconds until `tenant/name key` may try to sign in again, or None when it may now."""
        if self._limiter.test(self._lockout, "failed", key):
            return None
        stats = self._limiter.get_window_stats(self._lockout, "failed", key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def failed(self, key: str) -> None:
        """Counts a failed sign-in to `tenant/name key` (whether such an account exists or not,
        so a lockout says nothing about it)."""
        self._limiter.hit(self._lockout, "failed", key)

    def _hit(self, item: RateLimitItem, *keys: str) -> None:
        if not self._limiter.hit(item, *keys):
            stats = self._limiter.get_window_stats(item, *keys)
            raise RateLimited(max(1, math.ceil(stats.reset_time - time.time())))
