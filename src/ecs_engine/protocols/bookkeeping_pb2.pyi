from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Detector(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DETECTOR_NULL: _ClassVar[Detector]
    DETECTOR_TPC: _ClassVar[Detector]
    DETECTOR_TRD: _ClassVar[Detector]
    DETECTOR_TOF: _ClassVar[Detector]
    DETECTOR_HMP: _ClassVar[Detector]
    DETECTOR_PHS: _ClassVar[Detector]
    DETECTOR_CPV: _ClassVar[Detector]
    DETECTOR_MCH: _ClassVar[Detector]
    DETECTOR_ZDC: _ClassVar[Detector]
    DETECTOR_EMC: _ClassVar[Detector]
    DETECTOR_TST: _ClassVar[Detector]
    DETECTOR_ITS: _ClassVar[Detector]
    DETECTOR_FDD: _ClassVar[Detector]
    DETECTOR_FT0: _ClassVar[Detector]
    DETECTOR_FV0: _ClassVar[Detector]
    DETECTOR_MFT: _ClassVar[Detector]
    DETECTOR_MID: _ClassVar[Detector]

class RunQuality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_QUALITY_NULL: _ClassVar[RunQuality]
    RUN_QUALITY_BAD: _ClassVar[RunQuality]
    RUN_QUALITY_GOOD: _ClassVar[RunQuality]
    RUN_QUALITY_TEST: _ClassVar[RunQuality]
    RUN_QUALITY_NONE: _ClassVar[RunQuality]

class RunType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_TYPE_NULL: _ClassVar[RunType]
    RUN_TYPE_PHYSICS: _ClassVar[RunType]
    RUN_TYPE_TECHNICAL: _ClassVar[RunType]
    RUN_TYPE_PEDESTAL: _ClassVar[RunType]
    RUN_TYPE_PULSER: _ClassVar[RunType]
    RUN_TYPE_LASER: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_ITHR_TUNING: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_VCASN_TUNING: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_THR_SCAN: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_DIGITAL_SCAN: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_ANALOG_SCAN: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_FHR: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_ALPIDE_SCAN: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION: _ClassVar[RunType]
    RUN_TYPE_COSMICS: _ClassVar[RunType]
    RUN_TYPE_SYNTHETIC: _ClassVar[RunType]
    RUN_TYPE_NOISE: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_PULSE_LENGTH: _ClassVar[RunType]
    RUN_TYPE_CALIBRATION_VRESETD: _ClassVar[RunType]

class LogOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_ORIGIN_NULL: _ClassVar[LogOrigin]
    LOG_ORIGIN_HUMAN: _ClassVar[LogOrigin]
    LOG_ORIGIN_PROCESS: _ClassVar[LogOrigin]

class LogSubtype(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_SUBTYPE_NULL: _ClassVar[LogSubtype]
    LOG_SUBTYPE_RUN: _ClassVar[LogSubtype]
    LOG_SUBTYPE_ANNOUNCEMENT: _ClassVar[LogSubtype]
    LOG_SUBTYPE_INTERVENTION: _ClassVar[LogSubtype]
    LOG_SUBTYPE_COMMENT: _ClassVar[LogSubtype]

class RunRelations(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_RELATIONS_NULL: _ClassVar[RunRelations]
    RUN_RELATIONS_LHC_FILL: _ClassVar[RunRelations]
DETECTOR_NULL: Detector
DETECTOR_TPC: Detector
DETECTOR_TRD: Detector
DETECTOR_TOF: Detector
DETECTOR_HMP: Detector
DETECTOR_PHS: Detector
DETECTOR_CPV: Detector
DETECTOR_MCH: Detector
DETECTOR_ZDC: Detector
DETECTOR_EMC: Detector
DETECTOR_TST: Detector
DETECTOR_ITS: Detector
DETECTOR_FDD: Detector
DETECTOR_FT0: Detector
DETECTOR_FV0: Detector
DETECTOR_MFT: Detector
DETECTOR_MID: Detector
RUN_QUALITY_NULL: RunQuality
RUN_QUALITY_BAD: RunQuality
RUN_QUALITY_GOOD: RunQuality
RUN_QUALITY_TEST: RunQuality
RUN_QUALITY_NONE: RunQuality
RUN_TYPE_NULL: RunType
RUN_TYPE_PHYSICS: RunType
RUN_TYPE_TECHNICAL: RunType
RUN_TYPE_PEDESTAL: RunType
RUN_TYPE_PULSER: RunType
RUN_TYPE_LASER: RunType
RUN_TYPE_CALIBRATION_ITHR_TUNING: RunType
RUN_TYPE_CALIBRATION_VCASN_TUNING: RunType
RUN_TYPE_CALIBRATION_THR_SCAN: RunType
RUN_TYPE_CALIBRATION_DIGITAL_SCAN: RunType
RUN_TYPE_CALIBRATION_ANALOG_SCAN: RunType
RUN_TYPE_CALIBRATION_FHR: RunType
RUN_TYPE_CALIBRATION_ALPIDE_SCAN: RunType
RUN_TYPE_CALIBRATION: RunType
RUN_TYPE_COSMICS: RunType
RUN_TYPE_SYNTHETIC: RunType
RUN_TYPE_NOISE: RunType
RUN_TYPE_CALIBRATION_PULSE_LENGTH: RunType
RUN_TYPE_CALIBRATION_VRESETD: RunType
LOG_ORIGIN_NULL: LogOrigin
LOG_ORIGIN_HUMAN: LogOrigin
LOG_ORIGIN_PROCESS: LogOrigin
LOG_SUBTYPE_NULL: LogSubtype
LOG_SUBTYPE_RUN: LogSubtype
LOG_SUBTYPE_ANNOUNCEMENT: LogSubtype
LOG_SUBTYPE_INTERVENTION: LogSubtype
LOG_SUBTYPE_COMMENT: LogSubtype
RUN_RELATIONS_NULL: RunRelations
RUN_RELATIONS_LHC_FILL: RunRelations

class Run(_message.Message):
    __slots__ = ("runNumber", "environmentId", "bytesReadOut", "createdAt", "Id", "nDetectors", "nEpns", "nFlps", "nSubtimeframes", "pdpConfigOption", "pdpTopologyDescriptionLibraryFile", "pdpWorkflowParameters", "pdpBeamType", "readoutCfgUri", "runQuality", "runType", "tfbDdMode", "timeO2End", "timeO2Start", "timeTrgEnd", "timeTrgStart", "triggerValue", "rawCtpTriggerConfiguration", "odcTopologyFullName", "ddFlp", "dcs", "epn", "epnTopology", "detectors", "updatedAt", "lhcPeriod")
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    BYTESREADOUT_FIELD_NUMBER: _ClassVar[int]
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NDETECTORS_FIELD_NUMBER: _ClassVar[int]
    NEPNS_FIELD_NUMBER: _ClassVar[int]
    NFLPS_FIELD_NUMBER: _ClassVar[int]
    NSUBTIMEFRAMES_FIELD_NUMBER: _ClassVar[int]
    PDPCONFIGOPTION_FIELD_NUMBER: _ClassVar[int]
    PDPTOPOLOGYDESCRIPTIONLIBRARYFILE_FIELD_NUMBER: _ClassVar[int]
    PDPWORKFLOWPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PDPBEAMTYPE_FIELD_NUMBER: _ClassVar[int]
    READOUTCFGURI_FIELD_NUMBER: _ClassVar[int]
    RUNQUALITY_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    TFBDDMODE_FIELD_NUMBER: _ClassVar[int]
    TIMEO2END_FIELD_NUMBER: _ClassVar[int]
    TIMEO2START_FIELD_NUMBER: _ClassVar[int]
    TIMETRGEND_FIELD_NUMBER: _ClassVar[int]
    TIMETRGSTART_FIELD_NUMBER: _ClassVar[int]
    TRIGGERVALUE_FIELD_NUMBER: _ClassVar[int]
    RAWCTPTRIGGERCONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    ODCTOPOLOGYFULLNAME_FIELD_NUMBER: _ClassVar[int]
    DDFLP_FIELD_NUMBER: _ClassVar[int]
    DCS_FIELD_NUMBER: _ClassVar[int]
    EPN_FIELD_NUMBER: _ClassVar[int]
    EPNTOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    LHCPERIOD_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    environmentId: str
    bytesReadOut: int
    createdAt: int
    Id: int
    nDetectors: int
    nEpns: int
    nFlps: int
    nSubtimeframes: int
    pdpConfigOption: str
    pdpTopologyDescriptionLibraryFile: str
    pdpWorkflowParameters: str
    pdpBeamType: str
    readoutCfgUri: str
    runQuality: RunQuality
    runType: RunType
    tfbDdMode: str
    timeO2End: int
    timeO2Start: int
    timeTrgEnd: int
    timeTrgStart: int
    triggerValue: str
    rawCtpTriggerConfiguration: str
    odcTopologyFullName: str
    ddFlp: bool
    dcs: bool
    epn: bool
    epnTopology: str
    detectors: _containers.RepeatedScalarFieldContainer[Detector]
    updatedAt: int
    lhcPeriod: str
    def __init__(self, runNumber: _Optional[int] = ..., environmentId: _Optional[str] = ..., bytesReadOut: _Optional[int] = ..., createdAt: _Optional[int] = ..., Id: _Optional[int] = ..., nDetectors: _Optional[int] = ..., nEpns: _Optional[int] = ..., nFlps: _Optional[int] = ..., nSubtimeframes: _Optional[int] = ..., pdpConfigOption: _Optional[str] = ..., pdpTopologyDescriptionLibraryFile: _Optional[str] = ..., pdpWorkflowParameters: _Optional[str] = ..., pdpBeamType: _Optional[str] = ..., readoutCfgUri: _Optional[str] = ..., runQuality: _Optional[_Union[RunQuality, str]] = ..., runType: _Optional[_Union[RunType, str]] = ..., tfbDdMode: _Optional[str] = ..., timeO2End: _Optional[int] = ..., timeO2Start: _Optional[int] = ..., timeTrgEnd: _Optional[int] = ..., timeTrgStart: _Optional[int] = ..., triggerValue: _Optional[str] = ..., rawCtpTriggerConfiguration: _Optional[str] = ..., odcTopologyFullName: _Optional[str] = ..., ddFlp: _Optional[bool] = ..., dcs: _Optional[bool] = ..., epn: _Optional[bool] = ..., epnTopology: _Optional[str] = ..., detectors: _Optional[_Iterable[_Union[Detector, str]]] = ..., updatedAt: _Optional[int] = ..., lhcPeriod: _Optional[str] = ...) -> None: ...

class LHCFill(_message.Message):
    __slots__ = ("fillNumber", "stableBeamsStart", "stableBeamsEnd", "stableBeamsDuration", "beamType", "fillingSchemeName")
    FILLNUMBER_FIELD_NUMBER: _ClassVar[int]
    STABLEBEAMSSTART_FIELD_NUMBER: _ClassVar[int]
    STABLEBEAMSEND_FIELD_NUMBER: _ClassVar[int]
    STABLEBEAMSDURATION_FIELD_NUMBER: _ClassVar[int]
    BEAMTYPE_FIELD_NUMBER: _ClassVar[int]
    FILLINGSCHEMENAME_FIELD_NUMBER: _ClassVar[int]
    fillNumber: int
    stableBeamsStart: int
    stableBeamsEnd: int
    stableBeamsDuration: int
    beamType: str
    fillingSchemeName: str
    def __init__(self, fillNumber: _Optional[int] = ..., stableBeamsStart: _Optional[int] = ..., stableBeamsEnd: _Optional[int] = ..., stableBeamsDuration: _Optional[int] = ..., beamType: _Optional[str] = ..., fillingSchemeName: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("externalId", "id", "name")
    EXTERNALID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    externalId: int
    id: int
    name: str
    def __init__(self, externalId: _Optional[int] = ..., id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class EorReason(_message.Message):
    __slots__ = ("id", "category", "title", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: int
    category: str
    title: str
    description: str
    def __init__(self, id: _Optional[int] = ..., category: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnvironmentCreationRequest(_message.Message):
    __slots__ = ("id", "status", "statusMessage", "rawConfiguration")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUSMESSAGE_FIELD_NUMBER: _ClassVar[int]
    RAWCONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    statusMessage: str
    rawConfiguration: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., statusMessage: _Optional[str] = ..., rawConfiguration: _Optional[str] = ...) -> None: ...

class EnvironmentUpdateRequest(_message.Message):
    __slots__ = ("id", "status", "statusMessage")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUSMESSAGE_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    statusMessage: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ..., statusMessage: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("id", "createdAt", "updatedAt", "status", "statusMessage", "runs")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUSMESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    id: str
    createdAt: int
    updatedAt: int
    status: str
    statusMessage: str
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    def __init__(self, id: _Optional[str] = ..., createdAt: _Optional[int] = ..., updatedAt: _Optional[int] = ..., status: _Optional[str] = ..., statusMessage: _Optional[str] = ..., runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ...) -> None: ...

class FlpCreationRequest(_message.Message):
    __slots__ = ("name", "hostname", "runNumber")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    name: str
    hostname: str
    runNumber: int
    def __init__(self, name: _Optional[str] = ..., hostname: _Optional[str] = ..., runNumber: _Optional[int] = ...) -> None: ...

class ManyFlpsCreationRequest(_message.Message):
    __slots__ = ("flps",)
    FLPS_FIELD_NUMBER: _ClassVar[int]
    flps: _containers.RepeatedCompositeFieldContainer[FlpCreationRequest]
    def __init__(self, flps: _Optional[_Iterable[_Union[FlpCreationRequest, _Mapping]]] = ...) -> None: ...

class UpdateCountersRequest(_message.Message):
    __slots__ = ("flpName", "runNumber", "nSubTimeframes", "nEquipmentBytes", "nRecordingBytes", "nFairMQBytes")
    FLPNAME_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    NSUBTIMEFRAMES_FIELD_NUMBER: _ClassVar[int]
    NEQUIPMENTBYTES_FIELD_NUMBER: _ClassVar[int]
    NRECORDINGBYTES_FIELD_NUMBER: _ClassVar[int]
    NFAIRMQBYTES_FIELD_NUMBER: _ClassVar[int]
    flpName: str
    runNumber: int
    nSubTimeframes: int
    nEquipmentBytes: int
    nRecordingBytes: int
    nFairMQBytes: int
    def __init__(self, flpName: _Optional[str] = ..., runNumber: _Optional[int] = ..., nSubTimeframes: _Optional[int] = ..., nEquipmentBytes: _Optional[int] = ..., nRecordingBytes: _Optional[int] = ..., nFairMQBytes: _Optional[int] = ...) -> None: ...

class FlpList(_message.Message):
    __slots__ = ("flps",)
    FLPS_FIELD_NUMBER: _ClassVar[int]
    flps: _containers.RepeatedCompositeFieldContainer[Flp]
    def __init__(self, flps: _Optional[_Iterable[_Union[Flp, _Mapping]]] = ...) -> None: ...

class Flp(_message.Message):
    __slots__ = ("id", "name", "hostname", "createdAt", "updatedAt", "bytesEquipmentReadOut", "bytesFairMQReadOut", "bytesProcessed", "bytesRecordingReadOut", "nTimeframes")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    BYTESEQUIPMENTREADOUT_FIELD_NUMBER: _ClassVar[int]
    BYTESFAIRMQREADOUT_FIELD_NUMBER: _ClassVar[int]
    BYTESPROCESSED_FIELD_NUMBER: _ClassVar[int]
    BYTESRECORDINGREADOUT_FIELD_NUMBER: _ClassVar[int]
    NTIMEFRAMES_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    hostname: str
    createdAt: int
    updatedAt: int
    bytesEquipmentReadOut: int
    bytesFairMQReadOut: int
    bytesProcessed: int
    bytesRecordingReadOut: int
    nTimeframes: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., hostname: _Optional[str] = ..., createdAt: _Optional[int] = ..., updatedAt: _Optional[int] = ..., bytesEquipmentReadOut: _Optional[int] = ..., bytesFairMQReadOut: _Optional[int] = ..., bytesProcessed: _Optional[int] = ..., bytesRecordingReadOut: _Optional[int] = ..., nTimeframes: _Optional[int] = ...) -> None: ...

class LastLhcFillFetchRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LhcFillWithRelations(_message.Message):
    __slots__ = ("lhcFill",)
    LHCFILL_FIELD_NUMBER: _ClassVar[int]
    lhcFill: LHCFill
    def __init__(self, lhcFill: _Optional[_Union[LHCFill, _Mapping]] = ...) -> None: ...

class LogCreationRequest(_message.Message):
    __slots__ = ("title", "text", "runNumbers", "parentLogId")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBERS_FIELD_NUMBER: _ClassVar[int]
    PARENTLOGID_FIELD_NUMBER: _ClassVar[int]
    title: str
    text: str
    runNumbers: _containers.RepeatedScalarFieldContainer[int]
    parentLogId: int
    def __init__(self, title: _Optional[str] = ..., text: _Optional[str] = ..., runNumbers: _Optional[_Iterable[int]] = ..., parentLogId: _Optional[int] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("createdAt", "encoding", "fileName", "id", "logId", "mimeType", "originalName", "path", "size", "updatedAt")
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LOGID_FIELD_NUMBER: _ClassVar[int]
    MIMETYPE_FIELD_NUMBER: _ClassVar[int]
    ORIGINALNAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    createdAt: int
    encoding: str
    fileName: str
    id: int
    logId: int
    mimeType: str
    originalName: str
    path: str
    size: int
    updatedAt: int
    def __init__(self, createdAt: _Optional[int] = ..., encoding: _Optional[str] = ..., fileName: _Optional[str] = ..., id: _Optional[int] = ..., logId: _Optional[int] = ..., mimeType: _Optional[str] = ..., originalName: _Optional[str] = ..., path: _Optional[str] = ..., size: _Optional[int] = ..., updatedAt: _Optional[int] = ...) -> None: ...

class Log(_message.Message):
    __slots__ = ("attachments", "author", "CreatedAt", "id", "origin", "parentLogId", "Replies", "rootLogId", "runs", "subtype", "tags", "text", "title", "updatedAt")
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PARENTLOGID_FIELD_NUMBER: _ClassVar[int]
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    ROOTLOGID_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    SUBTYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    author: User
    CreatedAt: int
    id: int
    origin: LogOrigin
    parentLogId: int
    Replies: int
    rootLogId: int
    runs: _containers.RepeatedCompositeFieldContainer[MinimalRun]
    subtype: LogSubtype
    tags: _containers.RepeatedCompositeFieldContainer[Tag]
    text: str
    title: str
    updatedAt: int
    def __init__(self, attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., author: _Optional[_Union[User, _Mapping]] = ..., CreatedAt: _Optional[int] = ..., id: _Optional[int] = ..., origin: _Optional[_Union[LogOrigin, str]] = ..., parentLogId: _Optional[int] = ..., Replies: _Optional[int] = ..., rootLogId: _Optional[int] = ..., runs: _Optional[_Iterable[_Union[MinimalRun, _Mapping]]] = ..., subtype: _Optional[_Union[LogSubtype, str]] = ..., tags: _Optional[_Iterable[_Union[Tag, _Mapping]]] = ..., text: _Optional[str] = ..., title: _Optional[str] = ..., updatedAt: _Optional[int] = ...) -> None: ...

class MinimalRun(_message.Message):
    __slots__ = ("runNumber", "id")
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    id: int
    def __init__(self, runNumber: _Optional[int] = ..., id: _Optional[int] = ...) -> None: ...

class Tag(_message.Message):
    __slots__ = ("createdAt", "id", "text", "email", "mattermost", "updatedAt", "lastEditedName", "description")
    CREATEDAT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    MATTERMOST_FIELD_NUMBER: _ClassVar[int]
    UPDATEDAT_FIELD_NUMBER: _ClassVar[int]
    LASTEDITEDNAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    createdAt: int
    id: int
    text: str
    email: str
    mattermost: str
    updatedAt: int
    lastEditedName: str
    description: str
    def __init__(self, createdAt: _Optional[int] = ..., id: _Optional[int] = ..., text: _Optional[str] = ..., email: _Optional[str] = ..., mattermost: _Optional[str] = ..., updatedAt: _Optional[int] = ..., lastEditedName: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class RunFetchRequest(_message.Message):
    __slots__ = ("runNumber", "relations")
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    RELATIONS_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    relations: _containers.RepeatedScalarFieldContainer[RunRelations]
    def __init__(self, runNumber: _Optional[int] = ..., relations: _Optional[_Iterable[_Union[RunRelations, str]]] = ...) -> None: ...

class RunWithRelations(_message.Message):
    __slots__ = ("run", "lhcFill")
    RUN_FIELD_NUMBER: _ClassVar[int]
    LHCFILL_FIELD_NUMBER: _ClassVar[int]
    run: Run
    lhcFill: LHCFill
    def __init__(self, run: _Optional[_Union[Run, _Mapping]] = ..., lhcFill: _Optional[_Union[LHCFill, _Mapping]] = ...) -> None: ...

class RunCreationRequest(_message.Message):
    __slots__ = ("environmentId", "nDetectors", "nEpns", "nFlps", "runNumber", "runType", "dd_flp", "dcs", "epn", "epnTopology", "odcTopologyFullName", "detectors", "userO2Start", "userO2Stop")
    ENVIRONMENTID_FIELD_NUMBER: _ClassVar[int]
    NDETECTORS_FIELD_NUMBER: _ClassVar[int]
    NEPNS_FIELD_NUMBER: _ClassVar[int]
    NFLPS_FIELD_NUMBER: _ClassVar[int]
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    RUNTYPE_FIELD_NUMBER: _ClassVar[int]
    DD_FLP_FIELD_NUMBER: _ClassVar[int]
    DCS_FIELD_NUMBER: _ClassVar[int]
    EPN_FIELD_NUMBER: _ClassVar[int]
    EPNTOPOLOGY_FIELD_NUMBER: _ClassVar[int]
    ODCTOPOLOGYFULLNAME_FIELD_NUMBER: _ClassVar[int]
    DETECTORS_FIELD_NUMBER: _ClassVar[int]
    USERO2START_FIELD_NUMBER: _ClassVar[int]
    USERO2STOP_FIELD_NUMBER: _ClassVar[int]
    environmentId: str
    nDetectors: int
    nEpns: int
    nFlps: int
    runNumber: int
    runType: RunType
    dd_flp: bool
    dcs: bool
    epn: bool
    epnTopology: str
    odcTopologyFullName: str
    detectors: _containers.RepeatedScalarFieldContainer[Detector]
    userO2Start: User
    userO2Stop: User
    def __init__(self, environmentId: _Optional[str] = ..., nDetectors: _Optional[int] = ..., nEpns: _Optional[int] = ..., nFlps: _Optional[int] = ..., runNumber: _Optional[int] = ..., runType: _Optional[_Union[RunType, str]] = ..., dd_flp: _Optional[bool] = ..., dcs: _Optional[bool] = ..., epn: _Optional[bool] = ..., epnTopology: _Optional[str] = ..., odcTopologyFullName: _Optional[str] = ..., detectors: _Optional[_Iterable[_Union[Detector, str]]] = ..., userO2Start: _Optional[_Union[User, _Mapping]] = ..., userO2Stop: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class RunUpdateRequest(_message.Message):
    __slots__ = ("runNumber", "timeO2Start", "timeO2End", "timeTrgStart", "timeTrgEnd", "triggerValue", "rawCtpTriggerConfiguration", "pdpConfigOption", "pdpTopologyDescriptionLibraryFile", "tfbDdMode", "lhcPeriod", "odcTopologyFullName", "pdpWorkflowParameters", "pdpBeamType", "readoutCfgUri", "eorReasons", "userO2Start", "userO2Stop")
    RUNNUMBER_FIELD_NUMBER: _ClassVar[int]
    TIMEO2START_FIELD_NUMBER: _ClassVar[int]
    TIMEO2END_FIELD_NUMBER: _ClassVar[int]
    TIMETRGSTART_FIELD_NUMBER: _ClassVar[int]
    TIMETRGEND_FIELD_NUMBER: _ClassVar[int]
    TRIGGERVALUE_FIELD_NUMBER: _ClassVar[int]
    RAWCTPTRIGGERCONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    PDPCONFIGOPTION_FIELD_NUMBER: _ClassVar[int]
    PDPTOPOLOGYDESCRIPTIONLIBRARYFILE_FIELD_NUMBER: _ClassVar[int]
    TFBDDMODE_FIELD_NUMBER: _ClassVar[int]
    LHCPERIOD_FIELD_NUMBER: _ClassVar[int]
    ODCTOPOLOGYFULLNAME_FIELD_NUMBER: _ClassVar[int]
    PDPWORKFLOWPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PDPBEAMTYPE_FIELD_NUMBER: _ClassVar[int]
    READOUTCFGURI_FIELD_NUMBER: _ClassVar[int]
    EORREASONS_FIELD_NUMBER: _ClassVar[int]
    USERO2START_FIELD_NUMBER: _ClassVar[int]
    USERO2STOP_FIELD_NUMBER: _ClassVar[int]
    runNumber: int
    timeO2Start: int
    timeO2End: int
    timeTrgStart: int
    timeTrgEnd: int
    triggerValue: str
    rawCtpTriggerConfiguration: str
    pdpConfigOption: str
    pdpTopologyDescriptionLibraryFile: str
    tfbDdMode: str
    lhcPeriod: str
    odcTopologyFullName: str
    pdpWorkflowParameters: str
    pdpBeamType: str
    readoutCfgUri: str
    eorReasons: _containers.RepeatedCompositeFieldContainer[EorReason]
    userO2Start: User
    userO2Stop: User
    def __init__(self, runNumber: _Optional[int] = ..., timeO2Start: _Optional[int] = ..., timeO2End: _Optional[int] = ..., timeTrgStart: _Optional[int] = ..., timeTrgEnd: _Optional[int] = ..., triggerValue: _Optional[str] = ..., rawCtpTriggerConfiguration: _Optional[str] = ..., pdpConfigOption: _Optional[str] = ..., pdpTopologyDescriptionLibraryFile: _Optional[str] = ..., tfbDdMode: _Optional[str] = ..., lhcPeriod: _Optional[str] = ..., odcTopologyFullName: _Optional[str] = ..., pdpWorkflowParameters: _Optional[str] = ..., pdpBeamType: _Optional[str] = ..., readoutCfgUri: _Optional[str] = ..., eorReasons: _Optional[_Iterable[_Union[EorReason, _Mapping]]] = ..., userO2Start: _Optional[_Union[User, _Mapping]] = ..., userO2Stop: _Optional[_Union[User, _Mapping]] = ...) -> None: ...
