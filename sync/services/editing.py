"""The edit use case (SPEC §14), one door for the command line and the console: the tenant as it
is now, its sync lock, one transaction for the edit and a password, then the notice delivered.

The lock is the one a run takes (sync.services.runner): a run plans names from what it read, so
an edit landing between its plan and its apply would be overwritten by the run, or make the run
fail on a name the edit just took. An edit therefore waits for a running sync (up to
`wait_seconds`) and is refused, changing nothing, when the run is still going.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from sync.config.settings import Settings
from sync.mail.deliver import deliver_due
from sync.mail.queue import message_domain
from sync.model.actor import Actor
from sync.services.accounts import Edit, Edited, edit_account
from sync.services.current import tenant_now
from sync.services.passwords import set_password
from sync.services.policy import Refused
from sync.store.engine import writing
from sync.store.locks import named_lock


@dataclass(frozen=True, slots=True)
class EditRequest:
    """One administrator's edit of one account; `password` set too when given."""

    tenant_id: str
    name: str
    edit: Edit
    actor: Actor
    now: datetime
    password: str | None = None
    wait_seconds: float = 60  # for a run of the tenant under way
    deliver_wait_seconds: float = 10  # for another delivery, before the notice is sent


def edit_now(settings: Settings, engine: Engine, request: EditRequest) -> Edited:
    """Applies the edit (and the password) under the tenant's lock; Refused changes nothing."""
    tenant = tenant_now(settings, engine, request.tenant_id)
    if tenant is None:
        raise Refused(f"tenant {request.tenant_id!r} is not configured (or disabled)")
    name, said, queued = request.name, [], False
    with named_lock(engine, f"tenant:{tenant.id}", request.wait_seconds) as held:
        if not held:
            raise Refused(
                f"tenant {tenant.id!r} is being synced; nothing was changed: try again after "
                "the run"
            )
        with writing(engine) as conn:
            if not request.edit.is_empty() or request.password is None:
                domain = message_domain(settings, tenant)
                edited = edit_account(conn, tenant, name, request.edit, now=request.now,
                                      domain=domain, actor=request.actor)  # fmt: skip
                name, said, queued = edited.name, list(edited.said), edited.queued
            if request.password is not None:
                set_password(conn, tenant.id, name, request.password, request.now, request.actor)
                said.append("password set")
    if queued:  # the account_renamed notice goes now
        deliver_due(engine, settings, wait_seconds=request.deliver_wait_seconds)
    return Edited(name, said, queued)
