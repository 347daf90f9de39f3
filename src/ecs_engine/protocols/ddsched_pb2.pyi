from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartitionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IGNORE__: _ClassVar[PartitionState]
    PARTITION_UNKNOWN: _ClassVar[PartitionState]
    PARTITION_ERROR: _ClassVar[PartitionState]
    PARTITION_REQUEST_INVALID: _ClassVar[PartitionState]
    PARTITION_CONFIGURING: _ClassVar[PartitionState]
    PARTITION_CONFIGURED: _ClassVar[PartitionState]
    PARTITION_TERMINATING: _ClassVar[PartitionState]
    PARTITION_TERMINATED: _ClassVar[PartitionState]
IGNORE__: PartitionState
PARTITION_UNKNOWN: PartitionState
PARTITION_ERROR: PartitionState
PARTITION_REQUEST_INVALID: PartitionState
PARTITION_CONFIGURING: PartitionState
PARTITION_CONFIGURED: PartitionState
PARTITION_TERMINATING: PartitionState
PARTITION_TERMINATED: PartitionState

class PartitionInfo(_message.Message):
    __slots__ = ("environment_id", "partition_id")
    ENVIRONMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    environment_id: str
    partition_id: str
    def __init__(self, environment_id: _Optional[str] = ..., partition_id: _Optional[str] = ...) -> None: ...

class PartitionResponse(_message.Message):
    __slots__ = ("partition_state", "info_message")
    PARTITION_STATE_FIELD_NUMBER: _ClassVar[int]
    INFO_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    partition_state: PartitionState
    info_message: str
    def __init__(self, partition_state: _Optional[_Union[PartitionState, str]] = ..., info_message: _Optional[str] = ...) -> None: ...

class PartitionInitRequest(_message.Message):
    __slots__ = ("partition_info", "stfb_host_id_map", "stfs_host_id_map", "partition_params")
    class StfbHostIdMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class StfsHostIdMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PartitionParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARTITION_INFO_FIELD_NUMBER: _ClassVar[int]
    STFB_HOST_ID_MAP_FIELD_NUMBER: _ClassVar[int]
    STFS_HOST_ID_MAP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_PARAMS_FIELD_NUMBER: _ClassVar[int]
    partition_info: PartitionInfo
    stfb_host_id_map: _containers.ScalarMap[str, str]
    stfs_host_id_map: _containers.ScalarMap[str, str]
    partition_params: _containers.ScalarMap[str, str]
    def __init__(self, partition_info: _Optional[_Union[PartitionInfo, _Mapping]] = ..., stfb_host_id_map: _Optional[_Mapping[str, str]] = ..., stfs_host_id_map: _Optional[_Mapping[str, str]] = ..., partition_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PartitionTermRequest(_message.Message):
    __slots__ = ("partition_info",)
    PARTITION_INFO_FIELD_NUMBER: _ClassVar[int]
    partition_info: PartitionInfo
    def __init__(self, partition_info: _Optional[_Union[PartitionInfo, _Mapping]] = ...) -> None: ...
