"""Issue 14's acceptance: readout-dataflow of the corpus (v1.45.0) through a real core with DCS, the trigger,
Bookkeeping and the CCDB enabled, each service a mock in a process of its own, on the local backend's virtual
nodes flp001 (TPC) and flp002 (ITS). create → START → STOP → START → STOP → destroy; the scenario and the record
checks are readout_dataflow.py's, shared with the same run on Slurm (tests/slurm/test_readout_dataflow_slurm.py).
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Coconut, alive, read_pidfile

from .readout_dataflow import FLPS, Services, check_records, create, run_twice, stand_in_repository

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def test_readout_dataflow_runs_twice_through_dcs_trg_bookkeeping_and_ccdb(tmp_path):
    repo = stand_in_repository(tmp_path / "repo")
    with Services(tmp_path) as services:
        coconut = Coconut(tmp_path / "site", {"core": {"nodes": list(FLPS), **services.core_settings()}})
        coconut.seen_pids = set()
        try:
            environment_id = create(coconut, tmp_path, repo)
            seen = run_twice(coconut, environment_id)
            coconut("env", "destroy", environment_id)
        finally:
            if read_pidfile(coconut.state_dir) is not None:
                coconut("core", "stop", "--force")
        leftovers = [pid for pid in coconut.seen_pids if alive(pid)]
        assert not leftovers, f"task processes left behind: {leftovers}"
    check_records(services, environment_id, seen)
