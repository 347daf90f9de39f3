"""A watchdog on a runtime entry of the configuration store, on a real core with real OCC processes: it stops the
run once its condition has held for the grace time, as its named user, and starts a new run when it clears."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import remember
from tests.waiting import eventually

pytestmark = pytest.mark.slow

GRACE = 1.5
MAGNET = {
    "magnet-trip": {
        "runtime": "lab/magnet_current",
        "when": "< 100",
        "grace": f"{GRACE}s",
        "user": "magnet-watchdog",
        "resume": True,
    }
}


def test_a_runtime_condition_stops_the_run_after_its_grace_and_a_new_run_starts_when_it_clears(core_with, pair):
    coconut = core_with({"watchdogs": MAGNET})
    coconut("config", "runtime", "set", "lab", "magnet_current", "500")
    environment_id = coconut("env", "create", "-w", "pair", "--repo", str(pair), "-o", "json").json()["environment"][
        "id"
    ]
    coconut("env", "control", environment_id, "-e", "START")
    remember(coconut)
    run = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["currentRunNumber"]

    coconut("config", "runtime", "set", "lab", "magnet_current", "20")
    tripped = time.monotonic()
    eventually(lambda: coconut.state(environment_id) == "CONFIGURED", timeout=15, what="the watchdog's stop")
    assert time.monotonic() - tripped >= GRACE - 0.1  # not before its grace time
    stopped = coconut("runs", "show", str(run), "-o", "json").json()["run"]
    assert stopped["stoppedBy"] == "magnet-watchdog"

    coconut("config", "runtime", "set", "lab", "magnet_current", "480")
    eventually(lambda: coconut.state(environment_id) == "RUNNING", timeout=15, what="the new run")
    resumed = coconut("env", "show", environment_id, "-o", "json").json()["environment"]["currentRunNumber"]
    assert resumed == run + 1
    assert coconut("runs", "show", str(resumed), "-o", "json").json()["run"]["startedBy"] == "magnet-watchdog"
    remember(coconut)

    shown = coconut("watchdog", "show", "magnet-trip", "-o", "json").json()["watchdog"]
    assert shown["state"] == "clear" and shown["values"] == {"": "480"}
    assert any(f"resumed {environment_id}: run {resumed}" in h["message"] for h in shown["history"])
    coconut("env", "destroy", environment_id, "--allow-in-running-state")


def test_a_core_with_a_bad_watchdog_does_not_start_and_says_which_and_why(core_with):
    coconut = core_with({"watchdogs": {"magnet-trip": {"runtime": "lab/magnet_current", "when": "below 100"}}})
    failed = coconut("core", "start", check=False)
    assert failed.status != 0
    assert "watchdog magnet-trip (settings): when: 'below 100': expected OP VALUE" in failed.err
