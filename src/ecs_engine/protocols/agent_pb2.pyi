from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentMessage(_message.Message):
    __slots__ = ("hello", "started", "ended")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    started: Started
    ended: Ended
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., started: _Optional[_Union[Started, _Mapping]] = ..., ended: _Optional[_Union[Ended, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("node", "jobId", "features", "address", "running")
    NODE_FIELD_NUMBER: _ClassVar[int]
    JOBID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    node: str
    jobId: str
    features: _containers.RepeatedScalarFieldContainer[str]
    address: str
    running: _containers.RepeatedCompositeFieldContainer[RunningTask]
    def __init__(self, node: _Optional[str] = ..., jobId: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., address: _Optional[str] = ..., running: _Optional[_Iterable[_Union[RunningTask, _Mapping]]] = ...) -> None: ...

class RunningTask(_message.Message):
    __slots__ = ("taskId", "pid")
    TASKID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    taskId: str
    pid: int
    def __init__(self, taskId: _Optional[str] = ..., pid: _Optional[int] = ...) -> None: ...

class Started(_message.Message):
    __slots__ = ("taskId", "pid", "error")
    TASKID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    taskId: str
    pid: int
    error: str
    def __init__(self, taskId: _Optional[str] = ..., pid: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Ended(_message.Message):
    __slots__ = ("taskId", "known", "code", "reason")
    TASKID_FIELD_NUMBER: _ClassVar[int]
    KNOWN_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    taskId: str
    known: bool
    code: int
    reason: str
    def __init__(self, taskId: _Optional[str] = ..., known: _Optional[bool] = ..., code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class CoreMessage(_message.Message):
    __slots__ = ("launch", "signal")
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    launch: Launch
    signal: Signal
    def __init__(self, launch: _Optional[_Union[Launch, _Mapping]] = ..., signal: _Optional[_Union[Signal, _Mapping]] = ...) -> None: ...

class Launch(_message.Message):
    __slots__ = ("taskId", "argv", "env", "cwd", "user", "stdoutPath", "stderrPath")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASKID_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    STDOUTPATH_FIELD_NUMBER: _ClassVar[int]
    STDERRPATH_FIELD_NUMBER: _ClassVar[int]
    taskId: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    cwd: str
    user: str
    stdoutPath: str
    stderrPath: str
    def __init__(self, taskId: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., cwd: _Optional[str] = ..., user: _Optional[str] = ..., stdoutPath: _Optional[str] = ..., stderrPath: _Optional[str] = ...) -> None: ...

class Signal(_message.Message):
    __slots__ = ("taskId", "signum")
    TASKID_FIELD_NUMBER: _ClassVar[int]
    SIGNUM_FIELD_NUMBER: _ClassVar[int]
    taskId: str
    signum: int
    def __init__(self, taskId: _Optional[str] = ..., signum: _Optional[int] = ...) -> None: ...
