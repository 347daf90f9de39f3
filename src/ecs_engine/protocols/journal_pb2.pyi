from ecs_engine.protocols import events_pb2 as _events_pb2
from ecs_engine.protocols import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventQuery(_message.Message):
    __slots__ = ("environmentId", "runNumber", "kinds", "sinceMs", "untilMs", "afterSeq", "limit", "fromNow")
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SINCEMS_FIELD_NUMBER: _ClassVar[int]
    UNTILMS_FIELD_NUMBER: _ClassVar[int]
    AFTERSEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FROMNOW_FIELD_NUMBER: _ClassVar[int]
    environmentId: str
    runNumber: int
    kinds: _containers.RepeatedScalarFieldContainer[str]
    sinceMs: int
    untilMs: int
    afterSeq: int
    limit: int
    fromNow: bool
    def __init__(self, environmentId: _Optional[str] = ..., runNumber: _Optional[int] = ..., kinds: _Optional[_Iterable[str]] = ..., sinceMs: _Optional[int] = ..., untilMs: _Optional[int] = ..., afterSeq: _Optional[int] = ..., limit: _Optional[int] = ..., fromNow: _Optional[bool] = ...) -> None: ...

class JournalEvent(_message.Message):
    __slots__ = ("seq", "runNumber", "severity", "event")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    runNumber: int
    severity: str
    event: _events_pb2.Event
    def __init__(self, seq: _Optional[int] = ..., runNumber: _Optional[int] = ..., severity: _Optional[str] = ..., event: _Optional[_Union[_events_pb2.Event, _Mapping]] = ...) -> None: ...

class EventPage(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[JournalEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[JournalEvent, _Mapping]]] = ...) -> None: ...

class RunsRequest(_message.Message):
    __slots__ = ("runNumber",)
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    def __init__(self, runNumber: _Optional[int] = ...) -> None: ...

class TransitionSpan(_message.Message):
    __slots__ = ("transition", "startMs", "endMs", "status", "user")
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    STARTMS_FIELD_NUMBER: _ClassVar[int]
    ENDMS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    transition: str
    startMs: int
    endMs: int
    status: str
    user: str
    def __init__(self, transition: _Optional[str] = ..., startMs: _Optional[int] = ..., endMs: _Optional[int] = ..., status: _Optional[str] = ..., user: _Optional[str] = ...) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("runNumber", "environmentId", "detectors", "runType", "startMs", "endMs", "startedBy", "stoppedBy", "outcome", "error", "transitions", "firstSeq", "lastSeq")
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    STARTMS_FIELD_NUMBER: _ClassVar[int]
    ENDMS_FIELD_NUMBER: _ClassVar[int]
    STARTEDBY_FIELD_NUMBER: _ClassVar[int]
    STOPPEDBY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    FIRSTSEQ_FIELD_NUMBER: _ClassVar[int]
    LASTSEQ_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    environmentId: str
    detectors: _containers.RepeatedScalarFieldContainer[str]
    runType: str
    startMs: int
    endMs: int
    startedBy: str
    stoppedBy: str
    outcome: str
    error: str
    transitions: _containers.RepeatedCompositeFieldContainer[TransitionSpan]
    firstSeq: int
    lastSeq: int
    def __init__(self, runNumber: _Optional[int] = ..., environmentId: _Optional[str] = ..., detectors: _Optional[_Iterable[str]] = ..., runType: _Optional[str] = ..., startMs: _Optional[int] = ..., endMs: _Optional[int] = ..., startedBy: _Optional[str] = ..., stoppedBy: _Optional[str] = ..., outcome: _Optional[str] = ..., error: _Optional[str] = ..., transitions: _Optional[_Iterable[_Union[TransitionSpan, _Mapping]]] = ..., firstSeq: _Optional[int] = ..., lastSeq: _Optional[int] = ...) -> None: ...

class RunsReply(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunRecord]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunRecord, _Mapping]]] = ...) -> None: ...
