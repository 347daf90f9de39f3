"""The event model: the messages of events.proto themselves, with builders that stamp them.

The model classes *are* the protocol classes (``events_pb2.Event`` and its payloads), so what the bus
carries, what the journal stores and what Subscribe or Kafka send are the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ecs_engine.protocols import common_pb2, events_pb2

Event = events_pb2.Event
OpStatus = events_pb2.OpStatus
NULL = events_pb2.NULL
STARTED = events_pb2.STARTED
ONGOING = events_pb2.ONGOING
DONE_OK = events_pb2.DONE_OK
DONE_ERROR = events_pb2.DONE_ERROR
DONE_TIMEOUT = events_pb2.DONE_TIMEOUT


def now_ms() -> int:
    """Milliseconds since the epoch: the unit of every timestamp in events and o2control replies."""
    return time.time_ns() // 1_000_000


def traits(trigger: str = "", await_: str = "", timeout: str = "", critical: bool = True) -> events_pb2.Traits:
    return events_pb2.Traits(trigger=trigger, timeout=timeout, critical=critical, **{"await": await_})


def user(name: str = "", external_id: int | None = None, user_id: int | None = None) -> common_pb2.User:
    msg = common_pb2.User(name=name)
    if external_id is not None:
        msg.externalId = external_id
    if user_id is not None:
        msg.id = user_id
    return msg


def special_user(kind: str) -> common_pb2.User:
    """The user AliECS credits automated actions to: ``TIMER`` (65) or ``LHC`` (60)."""
    return user(kind, external_id=common_pb2.SpecialUserId.Value(kind))


def _stamp(**payload: Any) -> events_pb2.Event:
    """The event, stamped now, with its payload given as a dict of the payload message's fields: built in place
    (a payload message made first was then copied into the event: twice the cost, paid per task per transition)."""
    return events_pb2.Event(timestamp=now_ms(), **payload)


def environment_event(
    environment_id: str,
    *,
    state: str = "",
    run_number: int = 0,
    error: str = "",
    message: str = "",
    transition: str = "",
    step: str = "",
    status: OpStatus = NULL,
    variables: Mapping[str, str] | None = None,
    request_user: common_pb2.User | None = None,
    template: common_pb2.WorkflowTemplateInfo | None = None,
    severity: str = "",
) -> events_pb2.Event:
    """``severity``: ``warning`` for what an operator should look at that is no failure (``severity_of``)."""
    ev = {
        "environmentId": environment_id,
        "state": state,
        "runNumber": run_number,
        "error": error,
        "message": message,
        "transition": transition,
        "transitionStep": step,
        "transitionStatus": status,
        "vars": variables or {},
        "lastRequestUser": request_user,
        "workflowTemplateInfo": template,
    }
    return _stamp(environmentEvent=ev, severity=severity)


def task_event(
    environment_id: str,
    *,
    name: str,
    task_id: str,
    state: str,
    status: str,
    hostname: str = "",
    class_name: str = "",
    path: str = "",
    task_traits: events_pb2.Traits | None = None,
) -> events_pb2.Event:
    event = events_pb2.Event(timestamp=now_ms())
    ev = event.taskEvent  # fields set one by one: a dict of them took 1.5x the CPU (upb), per task per transition
    ev.name = name
    ev.taskid = task_id
    ev.state = state
    ev.status = status
    ev.hostname = hostname
    ev.className = class_name
    if task_traits is not None:
        ev.traits.CopyFrom(task_traits)
    ev.environmentId = environment_id
    ev.path = path
    return event


def role_event(environment_id: str, *, name: str, path: str, status: str, state: str) -> events_pb2.Event:
    event = events_pb2.Event(timestamp=now_ms())
    ev = event.roleEvent
    ev.name = name
    ev.status = status
    ev.state = state
    ev.rolePath = path
    ev.environmentId = environment_id
    return event


def call_event(
    environment_id: str,
    *,
    func: str,
    path: str,
    status: OpStatus,
    call_traits: events_pb2.Traits | None = None,
    output: str = "",
    error: str = "",
    returned: str = "",
) -> events_pb2.Event:
    ev = {
        "func": func,
        "callStatus": status,
        "traits": call_traits,
        "output": output,
        "error": error,
        "environmentId": environment_id,
        "path": path,
        "return": returned,
    }
    return _stamp(callEvent=ev)


def run_event(
    environment_id: str,
    *,
    run_number: int,
    state: str,
    transition: str,
    status: OpStatus,
    error: str = "",
    request_user: common_pb2.User | None = None,
) -> events_pb2.Event:
    ev = {
        "environmentId": environment_id,
        "runNumber": run_number,
        "state": state,
        "error": error,
        "transition": transition,
        "transitionStatus": status,
        "lastRequestUser": request_user,
    }
    return _stamp(runEvent=ev)


def integrated_service_event(
    environment_id: str,
    *,
    service: str,
    operation: str,
    status: OpStatus,
    step: str = "",
    step_status: OpStatus = NULL,
    error: str = "",
    payload: str = "",
) -> events_pb2.Event:
    """A plugin's operation progress; ``service`` is the calling role path, as upstream fills ``name``."""
    ev = {
        "name": service,
        "error": error,
        "operationName": operation,
        "operationStatus": status,
        "operationStep": step,
        "operationStepStatus": step_status,
        "environmentId": environment_id,
        "payload": payload,
    }
    return _stamp(integratedServiceEvent=ev)


def core_start_event(framework_id: str) -> events_pb2.Event:
    """What the core publishes once each time it starts (topic ``aliecs.core``), as upstream's CoreStart."""
    return _stamp(coreStartEvent=events_pb2.Ev_MetaEvent_CoreStart(frameworkId=framework_id))


def kind_of(event: events_pb2.Event) -> str:
    """The payload field set on ``event`` (``environmentEvent``, ``taskEvent``, ...), or ""."""
    return event.WhichOneof("Payload") or ""


def environment_id_of(event: events_pb2.Event) -> str:
    """The environment an event belongs to ("" for core/meta events)."""
    return kind_and_environment_id(event)[1]


def kind_and_environment_id(event: events_pb2.Event) -> tuple[str, str]:
    """``kind_of`` and ``environment_id_of`` with one look at the payload (the bus and the journal ask for both
    of every event)."""
    kind = event.WhichOneof("Payload")
    if kind is None:
        return "", ""
    return kind, getattr(getattr(event, kind), "environmentId", "")


def severity_of(event: events_pb2.Event) -> str:
    """The severity its publisher gave (``warning``), else ``error`` for an event that reports a failure (an error
    text, a DONE_ERROR/DONE_TIMEOUT, an ERROR state), else ``info``."""
    if event.severity:
        return event.severity
    kind = event.WhichOneof("Payload")
    if kind is None:
        return "info"
    payload = getattr(event, kind)
    failed = (DONE_ERROR, DONE_TIMEOUT)
    for field in ("transitionStatus", "callStatus", "operationStatus", "operationStepStatus"):
        if getattr(payload, field, NULL) in failed:
            return "error"
    if getattr(payload, "error", "") or getattr(payload, "state", "") == "ERROR":
        return "error"
    return "info"


def to_dict(event: events_pb2.Event) -> dict[str, Any]:
    """The event as a JSON-ready dict with protocol field names (for ``-o json`` and logs)."""
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(event, preserving_proto_field_name=True)
