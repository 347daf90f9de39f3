from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunPrepareRequest(_message.Message):
    __slots__ = ("runtype", "detectors")
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    runtype: str
    detectors: str
    def __init__(self, runtype: _Optional[str] = ..., detectors: _Optional[str] = ...) -> None: ...

class RunLoadRequest(_message.Message):
    __slots__ = ("runn", "config", "detectors", "ctp_readout_included")
    RUNN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    CTP_READOUT_INCLUDED_FIELD_NUMBER: _ClassVar[int]
    runn: int
    config: str
    detectors: str
    ctp_readout_included: bool
    def __init__(self, runn: _Optional[int] = ..., config: _Optional[str] = ..., detectors: _Optional[str] = ..., ctp_readout_included: _Optional[bool] = ...) -> None: ...

class RunStartRequest(_message.Message):
    __slots__ = ("runn", "config", "mode", "ph_bc", "ph_rnd", "detector")
    class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        NULL: _ClassVar[RunStartRequest.Mode]
        TRIG: _ClassVar[RunStartRequest.Mode]
        CONT: _ClassVar[RunStartRequest.Mode]
    NULL: RunStartRequest.Mode
    TRIG: RunStartRequest.Mode
    CONT: RunStartRequest.Mode
    RUNN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PH_BC_FIELD_NUMBER: _ClassVar[int]
    PH_RND_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    runn: int
    config: str
    mode: RunStartRequest.Mode
    ph_bc: str
    ph_rnd: str
    detector: str
    def __init__(self, runn: _Optional[int] = ..., config: _Optional[str] = ..., mode: _Optional[_Union[RunStartRequest.Mode, str]] = ..., ph_bc: _Optional[str] = ..., ph_rnd: _Optional[str] = ..., detector: _Optional[str] = ...) -> None: ...

class RunStatusRequest(_message.Message):
    __slots__ = ("runn",)
    RUNN_FIELD_NUMBER: _ClassVar[int]
    runn: int
    def __init__(self, runn: _Optional[int] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunStopRequest(_message.Message):
    __slots__ = ("runn", "detector")
    RUNN_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    runn: int
    detector: str
    def __init__(self, runn: _Optional[int] = ..., detector: _Optional[str] = ...) -> None: ...

class RunReply(_message.Message):
    __slots__ = ("rc", "msg")
    RC_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    rc: int
    msg: str
    def __init__(self, rc: _Optional[int] = ..., msg: _Optional[str] = ...) -> None: ...
