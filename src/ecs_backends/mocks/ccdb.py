"""``coconut mock ccdb``: a stand-in for ``o2-ecs-grp-create`` that checks and records its arguments.

Not a server: the ``ccdb`` integration runs a command, so its mock is a command. A site without O2 points the
setting ``ccdbGrpCreateCommand`` at ``coconut mock ccdb --record FILE --`` (the plugin appends the GRP
arguments); each run records one request (``GrpCreate``: the parsed arguments) and exits as the script says.
Arguments the real tool would refuse (no ``-r``, a run type that is not a number) exit 2 with the reason.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .framework import MockService, Recorder, Script

SCRIPT_HELP = """\
Script (YAML or JSON), every key optional:

  exit_status: 0      # the status every run exits with (non-zero: the GRP object was not made)
  delay: 2s           # how long each run takes (the plugin kills it at its call's timeout)
  output: "..."       # printed before exiting (the plugin logs it on a failure)

Run it as the plugin does: coconut mock ccdb --record FILE -- -p LHC22a -r 1 -n 128 -t 1 ..."""


@dataclass(frozen=True)
class GrpScript:
    exit_status: int = 0
    delay: float = 0.0
    output: str = ""


def load_script(script: Script) -> GrpScript:
    root = script.root
    script.check_keys(root, ("exit_status", "delay", "output"), "the script")
    status = script.text(root, "exit_status", "0")
    if not status.lstrip("-").isdigit():
        raise script.error(f"'exit_status' must be a whole number, not '{status}'", root.line_of("exit_status"))
    return GrpScript(int(status), script.seconds(root, "delay"), script.text(root, "output"))


def grp_parser() -> argparse.ArgumentParser:
    """The arguments of ``o2-ecs-grp-create`` that the plugin passes (integrations.md §1.7)."""
    p = argparse.ArgumentParser(prog="coconut mock ccdb --", description="A mock o2-ecs-grp-create.")
    p.add_argument("-p", dest="period", required=True, help="LHC period")
    p.add_argument("-r", dest="run", type=int, required=True, help="run number")
    p.add_argument("--refresh", action="store_true", help="refresh the object (start of run)")
    p.add_argument("-n", dest="hbf_per_tf", type=int, required=True, help="HBFs per TF")
    p.add_argument("-t", dest="run_type", type=int, required=True, help="run type (number)")
    p.add_argument("-d", dest="detectors", default="", help="comma-separated detectors")
    p.add_argument("-s", dest="start", type=int, help="run start time (ms)")
    p.add_argument("-e", dest="end", type=int, help="run end time (ms)")
    p.add_argument("--start-time-ctp", dest="start_ctp", type=int, help="CTP start time (ms)")
    p.add_argument("--end-time-ctp", dest="end_ctp", type=int, help="CTP end time (ms)")
    p.add_argument("-f", dest="flps", default="", help="comma-separated FLP ids")
    p.add_argument("-o", dest="original_run", type=int, help="original run number")
    p.add_argument("--ccdb-server", dest="server", required=True, help="CCDB URL")
    return p


def run(script: Script, recorder: Recorder, args: list[str], options: Mapping[str, str]) -> int:
    """One GRP creation: check the arguments, record them, wait, print, exit as scripted (no options)."""
    behaviour = load_script(script)
    parsed = grp_parser().parse_args(args)  # exits 2 with the reason, as the real tool
    fields = dict(vars(parsed))
    fields["detectors"] = [d for d in parsed.detectors.split(",") if d]
    fields["flps"] = [f for f in parsed.flps.split(",") if f]
    recorder.record("GrpCreate", fields, argv=args)
    if behaviour.delay > 0:
        time.sleep(behaviour.delay)
    print(behaviour.output or f"mock o2-ecs-grp-create: run {parsed.run}, detectors {parsed.detectors or '-'}")
    return behaviour.exit_status


MOCK = MockService(
    name="ccdb",
    summary="A GRP-creation command (o2-ecs-grp-create) that records its arguments: the ccdb plugin's stand-in.",
    script_help=SCRIPT_HELP,
    run=run,
    arguments="o2-ecs-grp-create's arguments, as the ccdb plugin passes them",
)
