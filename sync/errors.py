"""One error vocabulary for the whole worker (STYLE.md 6).

- `TransientError`: worth retrying with back-off (a 429, a dropped connection).
- `StopRun`: the run cannot go on (configuration, authentication, an incomplete read); nothing is
  disabled. Its message is shown to the administrator, so it never carries a secret.
- Per-user problems are not exceptions: they are `UserIssue`s (sync.model) in the report.
"""

from __future__ import annotations

from sync.model.issues import UserIssue

__all__ = [
    "ConfigError",
    "IncompleteRead",
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


class TransientError(SyncError):
    """A failure that a later attempt may not meet (rate limits, 5xx, dropped connections).

    `retry_after` is the server's own hint (a Retry-After header), in seconds, or 0: sync.retry
    never waits less than it.
    """

    def __init__(self, message: str, retry_after: float = 0) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, retry_after)


class UsageError(SyncError):
    """The command line asked for something that cannot be done (an unknown tenant or account)."""
