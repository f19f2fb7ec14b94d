"""What the SCIM endpoints share in one `web` process: the store, the per-token rate limit
(SPEC §17: its own, not the console's) and the settler that starts runs after pushes."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine
from starlette.requests import Request

from sync.config.settings import Settings, TenantSettings
from sync.entry.web.scim.settle import Settler
from sync.services.scim.tokens import requests_per_minute


class ScimDoor:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.engine = engine
        self.settler = Settler(settings, engine)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        if any(t.source.kind == "scim" for t in settings.tenants):
            self.settler.poke()  # a run owed from before a restart is started now

    def limited(self, tenant: TenantSettings) -> int | None:
        """Counts one request of the tenant's token; seconds to wait when past its limit."""
        item = RateLimitItemPerMinute(requests_per_minute(tenant))
        if self._limiter.hit(item, "scim", tenant.id):
            return None
        stats = self._limiter.get_window_stats(item, "scim", tenant.id)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def pushed(self, _tenant_id: str) -> None:
        self.settler.poke()


def door_of(request: Request) -> ScimDoor:
    door: ScimDoor = request.app.state.scim
    return door
