from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN: _ClassVar[ReplyStatus]
    SUCCESS: _ClassVar[ReplyStatus]
    ERROR: _ClassVar[ReplyStatus]

class SessionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_: _ClassVar[SessionStatus]
    RUNNING: _ClassVar[SessionStatus]
    STOPPED: _ClassVar[SessionStatus]
UNKNOWN: ReplyStatus
SUCCESS: ReplyStatus
ERROR: ReplyStatus
UNKNOWN_: SessionStatus
RUNNING: SessionStatus
STOPPED: SessionStatus

class Error(_message.Message):
    __slots__ = ("msg", "code")
    MSG_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    msg: str
    code: int
    def __init__(self, msg: _Optional[str] = ..., code: _Optional[int] = ...) -> None: ...

class GeneralReply(_message.Message):
    __slots__ = ("msg", "status", "error", "exectime", "partitionid", "sessionid", "state", "runnr", "hosts", "rmsjobids")
    MSG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXECTIME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    SESSIONID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    RMSJOBIDS_FIELD_NUMBER: _ClassVar[int]
    msg: str
    status: ReplyStatus
    error: Error
    exectime: int
    partitionid: str
    sessionid: str
    state: str
    runnr: int
    hosts: _containers.RepeatedScalarFieldContainer[str]
    rmsjobids: str
    def __init__(self, msg: _Optional[str] = ..., status: _Optional[_Union[ReplyStatus, str]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., exectime: _Optional[int] = ..., partitionid: _Optional[str] = ..., sessionid: _Optional[str] = ..., state: _Optional[str] = ..., runnr: _Optional[int] = ..., hosts: _Optional[_Iterable[str]] = ..., rmsjobids: _Optional[str] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("id", "state", "path", "ignored", "host", "expendable", "rmsjobid")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    EXPENDABLE_FIELD_NUMBER: _ClassVar[int]
    RMSJOBID_FIELD_NUMBER: _ClassVar[int]
    id: int
    state: str
    path: str
    ignored: bool
    host: str
    expendable: bool
    rmsjobid: str
    def __init__(self, id: _Optional[int] = ..., state: _Optional[str] = ..., path: _Optional[str] = ..., ignored: _Optional[bool] = ..., host: _Optional[str] = ..., expendable: _Optional[bool] = ..., rmsjobid: _Optional[str] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ("id", "state", "path", "host")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    id: int
    state: str
    path: str
    host: str
    def __init__(self, id: _Optional[int] = ..., state: _Optional[str] = ..., path: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class StateRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "path", "detailed")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DETAILED_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    path: str
    detailed: bool
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., path: _Optional[str] = ..., detailed: _Optional[bool] = ...) -> None: ...

class StateReply(_message.Message):
    __slots__ = ("reply", "devices", "collections")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    reply: GeneralReply
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, reply: _Optional[_Union[GeneralReply, _Mapping]] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class PartitionStatus(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "sessionid", "status", "state")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SESSIONID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    sessionid: str
    status: SessionStatus
    state: str
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., sessionid: _Optional[str] = ..., status: _Optional[_Union[SessionStatus, str]] = ..., state: _Optional[str] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("msg", "status", "error", "exectime", "partitions")
    MSG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXECTIME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    msg: str
    status: ReplyStatus
    error: Error
    exectime: int
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionStatus]
    def __init__(self, msg: _Optional[str] = ..., status: _Optional[_Union[ReplyStatus, str]] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., exectime: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[PartitionStatus, _Mapping]]] = ...) -> None: ...

class InitializeRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "sessionid")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SESSIONID_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    sessionid: str
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., sessionid: _Optional[str] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "plugin", "resources")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    plugin: str
    resources: str
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., plugin: _Optional[str] = ..., resources: _Optional[str] = ...) -> None: ...

class ActivateRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "topology", "content", "script")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    topology: str
    content: str
    script: str
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., topology: _Optional[str] = ..., content: _Optional[str] = ..., script: _Optional[str] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "topology", "content", "script", "plugin", "resources", "extractTopoResources")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    EXTRACTTOPORESOURCES_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    topology: str
    content: str
    script: str
    plugin: str
    resources: str
    extractTopoResources: bool
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., topology: _Optional[str] = ..., content: _Optional[str] = ..., script: _Optional[str] = ..., plugin: _Optional[str] = ..., resources: _Optional[str] = ..., extractTopoResources: _Optional[bool] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "topology", "content", "script")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SCRIPT_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    topology: str
    content: str
    script: str
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., topology: _Optional[str] = ..., content: _Optional[str] = ..., script: _Optional[str] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ...) -> None: ...

class Property(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class SetPropertiesRequest(_message.Message):
    __slots__ = ("partitionid", "runnr", "timeout", "path", "properties")
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    RUNNR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    partitionid: str
    runnr: int
    timeout: int
    path: str
    properties: _containers.RepeatedCompositeFieldContainer[Property]
    def __init__(self, partitionid: _Optional[str] = ..., runnr: _Optional[int] = ..., timeout: _Optional[int] = ..., path: _Optional[str] = ..., properties: _Optional[_Iterable[_Union[Property, _Mapping]]] = ...) -> None: ...

class ConfigureRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: StateRequest
    def __init__(self, request: _Optional[_Union[StateRequest, _Mapping]] = ...) -> None: ...

class StartRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: StateRequest
    def __init__(self, request: _Optional[_Union[StateRequest, _Mapping]] = ...) -> None: ...

class StopRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: StateRequest
    def __init__(self, request: _Optional[_Union[StateRequest, _Mapping]] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: StateRequest
    def __init__(self, request: _Optional[_Union[StateRequest, _Mapping]] = ...) -> None: ...

class TerminateRequest(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: StateRequest
    def __init__(self, request: _Optional[_Union[StateRequest, _Mapping]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("running",)
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    running: bool
    def __init__(self, running: _Optional[bool] = ...) -> None: ...
