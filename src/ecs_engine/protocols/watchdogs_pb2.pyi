from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchdogsRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("timeMs", "message")
    TIMEMS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    timeMs: int
    message: str
    def __init__(self, timeMs: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Watchdog(_message.Message):
    __slots__ = ("name", "origin", "source", "subject", "condition", "graceSeconds", "action", "user", "appliesTo", "resume", "state", "values", "sinceMs", "history", "warnings")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    GRACESECONDS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    APPLIESTO_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SINCEMS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    origin: str
    source: str
    subject: str
    condition: str
    graceSeconds: float
    action: str
    user: str
    appliesTo: str
    resume: bool
    state: str
    values: _containers.ScalarMap[str, str]
    sinceMs: int
    history: _containers.RepeatedCompositeFieldContainer[HistoryEntry]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., origin: _Optional[str] = ..., source: _Optional[str] = ..., subject: _Optional[str] = ..., condition: _Optional[str] = ..., graceSeconds: _Optional[float] = ..., action: _Optional[str] = ..., user: _Optional[str] = ..., appliesTo: _Optional[str] = ..., resume: _Optional[bool] = ..., state: _Optional[str] = ..., values: _Optional[_Mapping[str, str]] = ..., sinceMs: _Optional[int] = ..., history: _Optional[_Iterable[_Union[HistoryEntry, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchdogsReply(_message.Message):
    __slots__ = ("watchdogs",)
    WATCHDOGS_FIELD_NUMBER: _ClassVar[int]
    watchdogs: _containers.RepeatedCompositeFieldContainer[Watchdog]
    def __init__(self, watchdogs: _Optional[_Iterable[_Union[Watchdog, _Mapping]]] = ...) -> None: ...
