"""A run whose SmartHR read is read again (SPEC §16): the run's planner gets the pages as they
come and starts again when the source does, so the pass thrown away leaves nothing behind: no
one read twice in it is a duplicate, no one it missed is disabled, nobody is counted twice."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.smarthr.conftest import smarthr_keys
from tests.smarthr.emulator import SmartHrEmulator, make_crew
from tests.web.conftest import RESET_URL


def test_a_pass_thrown_away_leaves_nothing_in_the_run(
    workspace: Workspace, emulator: SmartHrEmulator
) -> None:
    emulator.crews = [make_crew(n) for n in range(1, 251)]
    workspace.configure(reset_url=RESET_URL, source=smarthr_keys(emulator))
    first = workspace.sync()
    assert (first["status"], first["counts"]["created"]) == ("succeeded", 250)

    joined: list[int] = []

    def join_once(page: int) -> None:
        # after page 1 of the first pass a joiner comes first: the pass reads crew 100 twice,
        # misses crew 250, and its count changes
        if page == 1 and not joined:
            joined.append(1)
            emulator.crews.insert(0, make_crew(900))

    emulator.after_page = join_once
    again = workspace.sync("--full")
    assert (again["exit"], again["status"], again["full"]) == (0, "succeeded", True)
    assert again["source"]["users_read"] == 251
    assert again["counts"]["created"] == 1 and again["counts"]["disabled"] == 0
    assert again["issues"] == []
    accounts = workspace.accounts()
    assert len(accounts) == 251
    assert all(a["status"] == "active" for a in accounts.values())
