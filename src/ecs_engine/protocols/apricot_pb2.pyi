from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NULL: _ClassVar[RunType]
    PHYSICS: _ClassVar[RunType]
    TECHNICAL: _ClassVar[RunType]
    PEDESTAL: _ClassVar[RunType]
    PULSER: _ClassVar[RunType]
    LASER: _ClassVar[RunType]
    CALIBRATION_ITHR_TUNING: _ClassVar[RunType]
    CALIBRATION_VCASN_TUNING: _ClassVar[RunType]
    CALIBRATION_THR_SCAN: _ClassVar[RunType]
    CALIBRATION_DIGITAL_SCAN: _ClassVar[RunType]
    CALIBRATION_ANALOG_SCAN: _ClassVar[RunType]
    CALIBRATION_FHR: _ClassVar[RunType]
    CALIBRATION_ALPIDE_SCAN: _ClassVar[RunType]
    CALIBRATION: _ClassVar[RunType]
    COSMICS: _ClassVar[RunType]
    SYNTHETIC: _ClassVar[RunType]
    NOISE: _ClassVar[RunType]
    CALIBRATION_PULSE_LENGTH: _ClassVar[RunType]
    CALIBRATION_VRESETD: _ClassVar[RunType]
    ANY: _ClassVar[RunType]
NULL: RunType
PHYSICS: RunType
TECHNICAL: RunType
PEDESTAL: RunType
PULSER: RunType
LASER: RunType
CALIBRATION_ITHR_TUNING: RunType
CALIBRATION_VCASN_TUNING: RunType
CALIBRATION_THR_SCAN: RunType
CALIBRATION_DIGITAL_SCAN: RunType
CALIBRATION_ANALOG_SCAN: RunType
CALIBRATION_FHR: RunType
CALIBRATION_ALPIDE_SCAN: RunType
CALIBRATION: RunType
COSMICS: RunType
SYNTHETIC: RunType
NOISE: RunType
CALIBRATION_PULSE_LENGTH: RunType
CALIBRATION_VRESETD: RunType
ANY: RunType

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ComponentQuery(_message.Message):
    __slots__ = ("component", "runType", "machineRole", "entry")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    MACHINEROLE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    component: str
    runType: RunType
    machineRole: str
    entry: str
    def __init__(self, component: _Optional[str] = ..., runType: _Optional[_Union[RunType, str]] = ..., machineRole: _Optional[str] = ..., entry: _Optional[str] = ...) -> None: ...

class ComponentRequest(_message.Message):
    __slots__ = ("path", "query", "processTemplate", "varStack")
    class VarStackEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PROCESSTEMPLATE_FIELD_NUMBER: _ClassVar[int]
    VARSTACK_FIELD_NUMBER: _ClassVar[int]
    path: str
    query: ComponentQuery
    processTemplate: bool
    varStack: _containers.ScalarMap[str, str]
    def __init__(self, path: _Optional[str] = ..., query: _Optional[_Union[ComponentQuery, _Mapping]] = ..., processTemplate: _Optional[bool] = ..., varStack: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ComponentResponse(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: str
    def __init__(self, payload: _Optional[str] = ...) -> None: ...

class ComponentResponseWithLastIndex(_message.Message):
    __slots__ = ("payload", "lastIndex")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    LASTINDEX_FIELD_NUMBER: _ClassVar[int]
    payload: str
    lastIndex: int
    def __init__(self, payload: _Optional[str] = ..., lastIndex: _Optional[int] = ...) -> None: ...

class HostRequest(_message.Message):
    __slots__ = ("hostname",)
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    def __init__(self, hostname: _Optional[str] = ...) -> None: ...

class HostsRequest(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hosts: _Optional[_Iterable[str]] = ...) -> None: ...

class DetectorResponse(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: str
    def __init__(self, payload: _Optional[str] = ...) -> None: ...

class DetectorInventoryResponse(_message.Message):
    __slots__ = ("flps",)
    FLPS_FIELD_NUMBER: _ClassVar[int]
    flps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, flps: _Optional[_Iterable[str]] = ...) -> None: ...

class DetectorEntriesResponse(_message.Message):
    __slots__ = ("detectorEntries",)
    class DetectorEntriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: DetectorInventoryResponse
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[DetectorInventoryResponse, _Mapping]] = ...) -> None: ...
    DETECTORENTRIES_FIELD_NUMBER: _ClassVar[int]
    detectorEntries: _containers.MessageMap[str, DetectorInventoryResponse]
    def __init__(self, detectorEntries: _Optional[_Mapping[str, DetectorInventoryResponse]] = ...) -> None: ...

class RunNumberResponse(_message.Message):
    __slots__ = ("runNumber",)
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    def __init__(self, runNumber: _Optional[int] = ...) -> None: ...

class StringMap(_message.Message):
    __slots__ = ("stringMap",)
    class StringMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STRINGMAP_FIELD_NUMBER: _ClassVar[int]
    stringMap: _containers.ScalarMap[str, str]
    def __init__(self, stringMap: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RawGetRecursiveRequest(_message.Message):
    __slots__ = ("rawPath",)
    RAWPATH_FIELD_NUMBER: _ClassVar[int]
    rawPath: str
    def __init__(self, rawPath: _Optional[str] = ...) -> None: ...

class GetRuntimeEntryRequest(_message.Message):
    __slots__ = ("component", "key")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    component: str
    key: str
    def __init__(self, component: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class SetRuntimeEntryRequest(_message.Message):
    __slots__ = ("component", "key", "value")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    component: str
    key: str
    value: str
    def __init__(self, component: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetRuntimeEntriesRequest(_message.Message):
    __slots__ = ("component",)
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    component: str
    def __init__(self, component: _Optional[str] = ...) -> None: ...

class ListRuntimeEntriesRequest(_message.Message):
    __slots__ = ("component",)
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    component: str
    def __init__(self, component: _Optional[str] = ...) -> None: ...

class ComponentEntriesQuery(_message.Message):
    __slots__ = ("component", "runType", "machineRole")
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    MACHINEROLE_FIELD_NUMBER: _ClassVar[int]
    component: str
    runType: RunType
    machineRole: str
    def __init__(self, component: _Optional[str] = ..., runType: _Optional[_Union[RunType, str]] = ..., machineRole: _Optional[str] = ...) -> None: ...

class ListComponentEntriesRequest(_message.Message):
    __slots__ = ("path", "query")
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    path: str
    query: ComponentEntriesQuery
    def __init__(self, path: _Optional[str] = ..., query: _Optional[_Union[ComponentEntriesQuery, _Mapping]] = ...) -> None: ...

class ComponentEntriesResponse(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, payload: _Optional[_Iterable[str]] = ...) -> None: ...

class DetectorsRequest(_message.Message):
    __slots__ = ("getAll",)
    GETALL_FIELD_NUMBER: _ClassVar[int]
    getAll: bool
    def __init__(self, getAll: _Optional[bool] = ...) -> None: ...

class DetectorsResponse(_message.Message):
    __slots__ = ("detectors",)
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    detectors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, detectors: _Optional[_Iterable[str]] = ...) -> None: ...

class HostGetRequest(_message.Message):
    __slots__ = ("detector",)
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    detector: str
    def __init__(self, detector: _Optional[str] = ...) -> None: ...

class HostEntriesResponse(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, hosts: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportComponentConfigurationRequest(_message.Message):
    __slots__ = ("query", "payload", "newComponent")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    NEWCOMPONENT_FIELD_NUMBER: _ClassVar[int]
    query: ComponentQuery
    payload: str
    newComponent: bool
    def __init__(self, query: _Optional[_Union[ComponentQuery, _Mapping]] = ..., payload: _Optional[str] = ..., newComponent: _Optional[bool] = ...) -> None: ...

class ImportComponentConfigurationResponse(_message.Message):
    __slots__ = ("existingComponentUpdated", "existingEntryUpdated")
    EXISTINGCOMPONENTUPDATED_FIELD_NUMBER: _ClassVar[int]
    EXISTINGENTRYUPDATED_FIELD_NUMBER: _ClassVar[int]
    existingComponentUpdated: bool
    existingEntryUpdated: bool
    def __init__(self, existingComponentUpdated: _Optional[bool] = ..., existingEntryUpdated: _Optional[bool] = ...) -> None: ...

class CRUCardsResponse(_message.Message):
    __slots__ = ("cards",)
    CARDS_FIELD_NUMBER: _ClassVar[int]
    cards: str
    def __init__(self, cards: _Optional[str] = ...) -> None: ...

class CardRequest(_message.Message):
    __slots__ = ("hostname", "cardSerial")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CARDSERIAL_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    cardSerial: str
    def __init__(self, hostname: _Optional[str] = ..., cardSerial: _Optional[str] = ...) -> None: ...

class CRUCardEndpointResponse(_message.Message):
    __slots__ = ("endpoints",)
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    endpoints: str
    def __init__(self, endpoints: _Optional[str] = ...) -> None: ...

class LinkIDsRequest(_message.Message):
    __slots__ = ("hostname", "cardSerial", "endpoint", "onlyEnabled")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CARDSERIAL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ONLYENABLED_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    cardSerial: str
    endpoint: str
    onlyEnabled: bool
    def __init__(self, hostname: _Optional[str] = ..., cardSerial: _Optional[str] = ..., endpoint: _Optional[str] = ..., onlyEnabled: _Optional[bool] = ...) -> None: ...

class LinkIDsResponse(_message.Message):
    __slots__ = ("linkIDs",)
    LINKIDS_FIELD_NUMBER: _ClassVar[int]
    linkIDs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, linkIDs: _Optional[_Iterable[str]] = ...) -> None: ...

class AliasedLinkIDsRequest(_message.Message):
    __slots__ = ("detector", "onlyEnabled")
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    ONLYENABLED_FIELD_NUMBER: _ClassVar[int]
    detector: str
    onlyEnabled: bool
    def __init__(self, detector: _Optional[str] = ..., onlyEnabled: _Optional[bool] = ...) -> None: ...

class AliasedLinkIDsResponse(_message.Message):
    __slots__ = ("aliasedLinkIDs",)
    ALIASEDLINKIDS_FIELD_NUMBER: _ClassVar[int]
    aliasedLinkIDs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, aliasedLinkIDs: _Optional[_Iterable[str]] = ...) -> None: ...
