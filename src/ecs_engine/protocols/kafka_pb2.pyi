from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NewStateNotification(_message.Message):
    __slots__ = ("envInfo", "timestamp")
    ENVINFO_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    envInfo: EnvInfo
    timestamp: int
    def __init__(self, envInfo: _Optional[_Union[EnvInfo, _Mapping]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class ActiveRunsList(_message.Message):
    __slots__ = ("activeRuns", "timestamp")
    ACTIVERUNS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    activeRuns: _containers.RepeatedCompositeFieldContainer[EnvInfo]
    timestamp: int
    def __init__(self, activeRuns: _Optional[_Iterable[_Union[EnvInfo, _Mapping]]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class EnvInfo(_message.Message):
    __slots__ = ("environmentId", "runNumber", "runType", "state", "detectors", "enterStateTimestamp")
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    ENTERSTATETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    environmentId: str
    runNumber: int
    runType: str
    state: str
    detectors: _containers.RepeatedScalarFieldContainer[str]
    enterStateTimestamp: int
    def __init__(self, environmentId: _Optional[str] = ..., runNumber: _Optional[int] = ..., runType: _Optional[str] = ..., state: _Optional[str] = ..., detectors: _Optional[_Iterable[str]] = ..., enterStateTimestamp: _Optional[int] = ...) -> None: ...
