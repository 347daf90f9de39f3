from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Detector(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL_DETECTOR: _ClassVar[Detector]
    ITS: _ClassVar[Detector]
    MCH: _ClassVar[Detector]
    MFT: _ClassVar[Detector]
    TPC: _ClassVar[Detector]

class Clock(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL: _ClassVar[Clock]
    LOCAL: _ClassVar[Clock]
    BEAM1: _ClassVar[Clock]
NULL_DETECTOR: Detector
ITS: Detector
MCH: Detector
MFT: Detector
TPC: Detector
NULL: Clock
LOCAL: Clock
BEAM1: Clock

class DetectorInfo(_message.Message):
    __slots__ = ("detector", "holdover_ongoing")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    HOLDOVER_ONGOING_FIELD_NUMBER: _ClassVar[int]
    detector: Detector
    holdover_ongoing: bool
    def __init__(self, detector: _Optional[_Union[Detector, str]] = ..., holdover_ongoing: _Optional[bool] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("timestamp_nano", "detector_info", "clock", "clock_transition_expected", "ready")
    TIMESTAMP_NANO_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_INFO_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    CLOCK_TRANSITION_EXPECTED_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    timestamp_nano: int
    detector_info: _containers.RepeatedCompositeFieldContainer[DetectorInfo]
    clock: Clock
    clock_transition_expected: int
    ready: bool
    def __init__(self, timestamp_nano: _Optional[int] = ..., detector_info: _Optional[_Iterable[_Union[DetectorInfo, _Mapping]]] = ..., clock: _Optional[_Union[Clock, str]] = ..., clock_transition_expected: _Optional[int] = ..., ready: _Optional[bool] = ...) -> None: ...
