"""One error vocabulary for the whole worker (STYLE.md 6).

- `TransientError`: worth retrying with back-off (a 429, a dropped connection).
- `StopRun`: the run cannot go on (configuration, authentication, an incomplete read); nothing is
  disabled. Its message is shown to the administrator, so it never carries a secret.
- `MailError`: an email could not be built (`RenderError`) or delivered (`DeliveryFailed` for
  one message; `DeliveryStopped` when no message can go now: `ServerUnreachable`,
  `ServerThrottled`, `MailSetupError`).
- Per-user problems are not exceptions: they are `UserIssue`s (sync.model) in the report.
"""

from __future__ import annotations

from sync.model.issues import UserIssue

__all__ = [
    "ConfigError",
    "DeliveryFailed",
    "DeliveryStopped",
    "IncompleteRead",
    "LockLost",
    "MailError",
    "MailSetupError",
    "OutOfScope",
    "RenderError",
    "ServerThrottled",
    "ServerUnreachable",
    "SourceUnavailable",
    "StopRun",
    "SyncError",
    "TransientError",
    "UsageError",
    "UserIssue",
]


class SyncError(Exception):
    """Base of every error the worker raises on purpose."""


class ConfigError(SyncError):
    """The configuration is wrong; `problems` lists every problem, each naming file and key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StopRun(SyncError):
    """The run must stop; nothing it planned is applied."""


class SourceUnavailable(StopRun):
    """The source could not be reached or refused our credentials."""


class IncompleteRead(StopRun):
    """The source returned fewer users than it holds (a size limit, a page error, a cut link)."""


class LockLost(SyncError):
    """A run or a delivery lost the lock it held (SPEC §15): its time limit passed, its worker
    was fenced, or the lock's session ended. What it was doing must not be committed or sent:
    another worker may hold the lock now."""


class TransientError(SyncError):
    """A failure that a later attempt may not meet (rate limits, 5xx, dropped connections).

    `retry_after` is the server's own hint (a Retry-After header), in seconds, or 0: sync.retry
    never waits less than it.
    """

    def __init__(self, message: str, retry_after: float = 0) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, retry_after)


class MailError(SyncError):
    """An email could not be built or delivered (sync.mail)."""


class RenderError(MailError, ValueError):
    """This message cannot be built safely (a bad address, a header with a line break, a tenant
    no longer configured): it fails alone, for good."""


class DeliveryFailed(MailError):
    """The server (or the folder) did not take this one message. `permanent` when retrying cannot
    help (a 5xx reply); the message then fails alone and never holds back the queue."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class DeliveryStopped(MailError):
    """No message can be delivered now: the delivery pass ends. `tried` when the message in hand
    was sent and refused (it alone spends an attempt); the rest of the batch spends none."""

    def __init__(self, message: str, tried: bool = False, retry_after: float = 0) -> None:
        super().__init__(message)
        self.tried = tried
        self.retry_after = max(0.0, retry_after)


class ServerUnreachable(DeliveryStopped):
    """The server cannot be reached, or the connection broke and could not be opened again."""


class ServerThrottled(DeliveryStopped):
    """The server asks us to slow down: `421`, or a 4xx saying a rate or connection limit."""


class MailSetupError(DeliveryStopped):
    """A setting is wrong and retrying cannot help until an administrator fixes it (no STARTTLS
    offered, login refused, a certificate not trusted, a missing password, an unwritable
    folder). The messages stay pending and spend no attempt."""


class UsageError(SyncError):
    """The command line asked for something that cannot be done (an unknown tenant or account)."""


class OutOfScope(UsageError):
    """`sync --only` named a person outside the tenant's group scope: nothing is changed."""
