"""The run time limit in a real worker (SPEC §15) at the smallest value `config check` accepts
(a minute): a run held open past it is abandoned, recorded failed, and queued again; the next run
of the tenant succeeds. The limit's own logic is tested fast in test_run_limit.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.fleet.conftest import Roles
from tests.fleet.test_fleet_faults_suite import (
    EVERY_5S,
    TIMING,
    Holder,
    Rig,
    every_tenant_runs_after,
    nothing_twice,
    rig,
    running_worker,
)
from tests.ops.conftest import tenant


def test_a_run_past_the_limit_is_abandoned_and_runs_again(
    tmp_path: Path, worker_roles: Roles
) -> None:
    pipe = tmp_path / "held.csv"
    os.mkfifo(pipe)
    tenants = [tenant("held", pipe, schedule=EVERY_5S, auth_type="password")]
    timing = {**TIMING, "run_timeout_seconds": 60}
    with rig(tmp_path, worker_roles.owner_url, tenants, timing) as fleet:
        fleet.start_worker(worker_roles.worker_urls[0])
        holder = Holder(pipe, tmp_path)
        held = running_worker(fleet, pipe)
        worker = fleet.workers[held]
        worker.wait_for("the run passed its time limit (60s", 120)
        abandoned = time.time()
        holder.replace_with_file()
        every_tenant_runs_after(fleet, abandoned)
        holder.feed()  # the abandoned run reads on: it commits nothing
        worker.wait_for("abandoned run of held ended", 60)
        nothing_twice(fleet)
        assert _failed_runs(fleet) == 1


def _failed_runs(fleet: Rig) -> int:
    from tests.fleet.test_fleet_workers import run_rows

    return sum(1 for row in run_rows(fleet.engine) if row.status == "failed")
