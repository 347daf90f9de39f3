from ecs_engine.protocols import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union
from ecs_engine.protocols.common_pb2 import User as User
from ecs_engine.protocols.common_pb2 import WorkflowTemplateInfo as WorkflowTemplateInfo
from ecs_engine.protocols.common_pb2 import BeamInfo as BeamInfo
from ecs_engine.protocols.common_pb2 import SpecialUserId as SpecialUserId
from ecs_engine.protocols.common_pb2 import BeamMode as BeamMode

DESCRIPTOR: _descriptor.FileDescriptor
INVALID: _common_pb2.SpecialUserId
LHC: _common_pb2.SpecialUserId
TIMER: _common_pb2.SpecialUserId
UNKNOWN: _common_pb2.BeamMode
SETUP: _common_pb2.BeamMode
ABORT: _common_pb2.BeamMode
INJECTION_PROBE_BEAM: _common_pb2.BeamMode
INJECTION_SETUP_BEAM: _common_pb2.BeamMode
INJECTION_PHYSICS_BEAM: _common_pb2.BeamMode
PREPARE_RAMP: _common_pb2.BeamMode
RAMP: _common_pb2.BeamMode
FLAT_TOP: _common_pb2.BeamMode
SQUEEZE: _common_pb2.BeamMode
ADJUST: _common_pb2.BeamMode
STABLE_BEAMS: _common_pb2.BeamMode
LOST_BEAMS: _common_pb2.BeamMode
UNSTABLE_BEAMS: _common_pb2.BeamMode
BEAM_DUMP_WARNING: _common_pb2.BeamMode
BEAM_DUMP: _common_pb2.BeamMode
RAMP_DOWN: _common_pb2.BeamMode
CYCLING: _common_pb2.BeamMode
RECOVERY: _common_pb2.BeamMode
INJECT_AND_DUMP: _common_pb2.BeamMode
CIRCULATE_AND_DUMP: _common_pb2.BeamMode
NO_BEAM: _common_pb2.BeamMode

class OpStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL: _ClassVar[OpStatus]
    STARTED: _ClassVar[OpStatus]
    ONGOING: _ClassVar[OpStatus]
    DONE_OK: _ClassVar[OpStatus]
    DONE_ERROR: _ClassVar[OpStatus]
    DONE_TIMEOUT: _ClassVar[OpStatus]
NULL: OpStatus
STARTED: OpStatus
ONGOING: OpStatus
DONE_OK: OpStatus
DONE_ERROR: OpStatus
DONE_TIMEOUT: OpStatus

class Ev_MetaEvent_MesosHeartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Ev_MetaEvent_CoreStart(_message.Message):
    __slots__ = ("frameworkId",)
    FRAMEWORKID_FIELD_NUMBER: _ClassVar[int]
    frameworkId: str
    def __init__(self, frameworkId: _Optional[str] = ...) -> None: ...

class Ev_MetaEvent_FrameworkEvent(_message.Message):
    __slots__ = ("frameworkId", "message")
    FRAMEWORKID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    frameworkId: str
    message: str
    def __init__(self, frameworkId: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Ev_EnvironmentEvent(_message.Message):
    __slots__ = ("environmentId", "state", "runNumber", "error", "message", "transition", "transitionStep", "transitionStatus", "vars", "lastRequestUser", "workflowTemplateInfo")
    class VarsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONSTEP_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONSTATUS_FIELD_NUMBER: _ClassVar[int]
    VARS_FIELD_NUMBER: _ClassVar[int]
    LASTREQUESTUSER_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWTEMPLATEINFO_FIELD_NUMBER: _ClassVar[int]
    environmentId: str
    state: str
    runNumber: int
    error: str
    message: str
    transition: str
    transitionStep: str
    transitionStatus: OpStatus
    vars: _containers.ScalarMap[str, str]
    lastRequestUser: _common_pb2.User
    workflowTemplateInfo: _common_pb2.WorkflowTemplateInfo
    def __init__(self, environmentId: _Optional[str] = ..., state: _Optional[str] = ..., runNumber: _Optional[int] = ..., error: _Optional[str] = ..., message: _Optional[str] = ..., transition: _Optional[str] = ..., transitionStep: _Optional[str] = ..., transitionStatus: _Optional[_Union[OpStatus, str]] = ..., vars: _Optional[_Mapping[str, str]] = ..., lastRequestUser: _Optional[_Union[_common_pb2.User, _Mapping]] = ..., workflowTemplateInfo: _Optional[_Union[_common_pb2.WorkflowTemplateInfo, _Mapping]] = ...) -> None: ...

class Traits(_message.Message):
    __slots__ = ("trigger", "timeout", "critical")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    AWAIT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    trigger: str
    timeout: str
    critical: bool
    def __init__(self, trigger: _Optional[str] = ..., timeout: _Optional[str] = ..., critical: _Optional[bool] = ..., **kwargs) -> None: ...

class Ev_TaskEvent(_message.Message):
    __slots__ = ("name", "taskid", "state", "status", "hostname", "className", "traits", "environmentId", "path")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TASKID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CLASSNAME_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    name: str
    taskid: str
    state: str
    status: str
    hostname: str
    className: str
    traits: Traits
    environmentId: str
    path: str
    def __init__(self, name: _Optional[str] = ..., taskid: _Optional[str] = ..., state: _Optional[str] = ..., status: _Optional[str] = ..., hostname: _Optional[str] = ..., className: _Optional[str] = ..., traits: _Optional[_Union[Traits, _Mapping]] = ..., environmentId: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class Ev_CallEvent(_message.Message):
    __slots__ = ("func", "callStatus", "traits", "output", "error", "environmentId", "path")
    FUNC_FIELD_NUMBER: _ClassVar[int]
    CALLSTATUS_FIELD_NUMBER: _ClassVar[int]
    RETURN_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    func: str
    callStatus: OpStatus
    traits: Traits
    output: str
    error: str
    environmentId: str
    path: str
    def __init__(self, func: _Optional[str] = ..., callStatus: _Optional[_Union[OpStatus, str]] = ..., traits: _Optional[_Union[Traits, _Mapping]] = ..., output: _Optional[str] = ..., error: _Optional[str] = ..., environmentId: _Optional[str] = ..., path: _Optional[str] = ..., **kwargs) -> None: ...

class Ev_RoleEvent(_message.Message):
    __slots__ = ("name", "status", "state", "rolePath", "environmentId")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROLEPATH_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    state: str
    rolePath: str
    environmentId: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., state: _Optional[str] = ..., rolePath: _Optional[str] = ..., environmentId: _Optional[str] = ...) -> None: ...

class Ev_IntegratedServiceEvent(_message.Message):
    __slots__ = ("name", "error", "operationName", "operationStatus", "operationStep", "operationStepStatus", "environmentId", "payload")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OPERATIONNAME_FIELD_NUMBER: _ClassVar[int]
    OPERATIONSTATUS_FIELD_NUMBER: _ClassVar[int]
    OPERATIONSTEP_FIELD_NUMBER: _ClassVar[int]
    OPERATIONSTEPSTATUS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    name: str
    error: str
    operationName: str
    operationStatus: OpStatus
    operationStep: str
    operationStepStatus: OpStatus
    environmentId: str
    payload: str
    def __init__(self, name: _Optional[str] = ..., error: _Optional[str] = ..., operationName: _Optional[str] = ..., operationStatus: _Optional[_Union[OpStatus, str]] = ..., operationStep: _Optional[str] = ..., operationStepStatus: _Optional[_Union[OpStatus, str]] = ..., environmentId: _Optional[str] = ..., payload: _Optional[str] = ...) -> None: ...

class Ev_RunEvent(_message.Message):
    __slots__ = ("environmentId", "runNumber", "state", "error", "transition", "transitionStatus", "lastRequestUser")
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONSTATUS_FIELD_NUMBER: _ClassVar[int]
    LASTREQUESTUSER_FIELD_NUMBER: _ClassVar[int]
    environmentId: str
    runNumber: int
    state: str
    error: str
    transition: str
    transitionStatus: OpStatus
    lastRequestUser: _common_pb2.User
    def __init__(self, environmentId: _Optional[str] = ..., runNumber: _Optional[int] = ..., state: _Optional[str] = ..., error: _Optional[str] = ..., transition: _Optional[str] = ..., transitionStatus: _Optional[_Union[OpStatus, str]] = ..., lastRequestUser: _Optional[_Union[_common_pb2.User, _Mapping]] = ...) -> None: ...

class Ev_BeamModeEvent(_message.Message):
    __slots__ = ("timestamp", "beamInfo")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    BEAMINFO_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    beamInfo: _common_pb2.BeamInfo
    def __init__(self, timestamp: _Optional[int] = ..., beamInfo: _Optional[_Union[_common_pb2.BeamInfo, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("timestamp", "timestampNano", "sequence", "severity", "environmentEvent", "taskEvent", "roleEvent", "callEvent", "integratedServiceEvent", "runEvent", "frameworkEvent", "mesosHeartbeatEvent", "coreStartEvent", "beamModeEvent")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPNANO_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTEVENT_FIELD_NUMBER: _ClassVar[int]
    TASKEVENT_FIELD_NUMBER: _ClassVar[int]
    ROLEEVENT_FIELD_NUMBER: _ClassVar[int]
    CALLEVENT_FIELD_NUMBER: _ClassVar[int]
    INTEGRATEDSERVICEEVENT_FIELD_NUMBER: _ClassVar[int]
    RUNEVENT_FIELD_NUMBER: _ClassVar[int]
    FRAMEWORKEVENT_FIELD_NUMBER: _ClassVar[int]
    MESOSHEARTBEATEVENT_FIELD_NUMBER: _ClassVar[int]
    CORESTARTEVENT_FIELD_NUMBER: _ClassVar[int]
    BEAMMODEEVENT_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    timestampNano: int
    sequence: int
    severity: str
    environmentEvent: Ev_EnvironmentEvent
    taskEvent: Ev_TaskEvent
    roleEvent: Ev_RoleEvent
    callEvent: Ev_CallEvent
    integratedServiceEvent: Ev_IntegratedServiceEvent
    runEvent: Ev_RunEvent
    frameworkEvent: Ev_MetaEvent_FrameworkEvent
    mesosHeartbeatEvent: Ev_MetaEvent_MesosHeartbeat
    coreStartEvent: Ev_MetaEvent_CoreStart
    beamModeEvent: Ev_BeamModeEvent
    def __init__(self, timestamp: _Optional[int] = ..., timestampNano: _Optional[int] = ..., sequence: _Optional[int] = ..., severity: _Optional[str] = ..., environmentEvent: _Optional[_Union[Ev_EnvironmentEvent, _Mapping]] = ..., taskEvent: _Optional[_Union[Ev_TaskEvent, _Mapping]] = ..., roleEvent: _Optional[_Union[Ev_RoleEvent, _Mapping]] = ..., callEvent: _Optional[_Union[Ev_CallEvent, _Mapping]] = ..., integratedServiceEvent: _Optional[_Union[Ev_IntegratedServiceEvent, _Mapping]] = ..., runEvent: _Optional[_Union[Ev_RunEvent, _Mapping]] = ..., frameworkEvent: _Optional[_Union[Ev_MetaEvent_FrameworkEvent, _Mapping]] = ..., mesosHeartbeatEvent: _Optional[_Union[Ev_MetaEvent_MesosHeartbeat, _Mapping]] = ..., coreStartEvent: _Optional[_Union[Ev_MetaEvent_CoreStart, _Mapping]] = ..., beamModeEvent: _Optional[_Union[Ev_BeamModeEvent, _Mapping]] = ...) -> None: ...
