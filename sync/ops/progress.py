"""Progress bars for long reads and writes, on a terminal only.

Shown when standard error is a terminal, the command is not printing JSON, and the work runs on
the main thread (a scheduler's concurrent runs would interleave bars, so they never show one).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_state = {"enabled": False}


def enable(on: bool) -> None:
    _state["enabled"] = on


def active() -> bool:
    return (
        _state["enabled"]
        and threading.current_thread() is threading.main_thread()
        and sys.stderr.isatty()
    )


@contextmanager
def bar(
    description: str, total: int | None = None, unit: str = "users"
) -> Iterator[Callable[[int], object]]:
    """Yields `advance(n)`; a no-op when no bar is shown."""
    if not active():
        yield lambda _n: None
        return
    from tqdm import tqdm  # only with a terminal to draw on: unattended runs never load it

    with tqdm(
        total=total, desc=description, unit=f" {unit}", file=sys.stderr, leave=False
    ) as shown:
        yield shown.update
