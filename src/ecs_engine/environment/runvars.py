"""The run variables: what START and STOP push to tasks, and the time stamps kept on the root role.

Each pushed key goes twice, snake_case and lowerCamelCase, as OCClib-based processes read either.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecs_engine.events.model import now_ms

FILL_INFO_KEYS = (
    "fill_info_fill_number",
    "fill_info_filling_scheme",
    "fill_info_beam_type",
    "fill_info_stable_beams_start_ms",
    "fill_info_stable_beams_end_ms",
)
START_KEYS = (
    *FILL_INFO_KEYS,
    "run_number",
    "run_type",
    "run_start_time_ms",
    "run_end_time_ms",
    "lhc_period",
    "pdp_beam_type",
    "pdp_override_run_start_time",
    "original_run_number",
)
STOP_KEYS = (*FILL_INFO_KEYS, "run_end_time_ms")
#: copied from the configuration store's vars/defaults into the root vars when a run starts
COPIED_AT_START = ("lhc_period", "pdp_n_hbf_per_tf")
#: a run's times, emptied when the next run's number is taken: a time not known yet is "", never the previous run's
RUN_TIME_KEYS = ("run_start_completion_time_ms", "run_end_time_ms", "run_end_completion_time_ms")
#: the trigger's times of a run (set by the trg plugin on the root role; CCDB and Bookkeeping read them): removed
#: when the next run's number is taken, as above (and not shown where no trigger runs)
TRIGGER_TIME_KEYS = ("trg_start_time_ms", "trg_end_time_ms")


def now_ms_text() -> str:
    return str(now_ms())


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def pushed(stack: Mapping[str, str], keys: tuple[str, ...], *, camel_too: bool = True) -> dict[str, str]:
    """The ``keys`` present in ``stack``, under their own name and (if ``camel_too``) in lowerCamelCase."""
    out = {}
    for key in keys:
        if key in stack:
            out[key] = stack[key]
            if camel_too:
                out[camel(key)] = stack[key]
    return out


def start_arguments(stack: Mapping[str, str], run_number: int) -> dict[str, str]:
    args = {"runNumber": str(run_number), "cleanup": stack.get("__fmq_cleanup_count", "0")}
    args.update(pushed(stack, START_KEYS))
    return args


def stop_arguments(stack: Mapping[str, str], *, camel_too: bool = True) -> dict[str, str]:
    return pushed(stack, STOP_KEYS, camel_too=camel_too)
