"""AliECS's configuration service ``apricot.Apricot`` (protocols.md §6), answered from the configuration store.

The AliECS GUI asks it for the detectors, their hosts and its saved configurations and locks (runtime entries
of the component ``COG-v1``); other AliECS clients for run numbers, components and the CRU inventory. Every
call reaches the store through ``offload`` (a store may wait on its network). The core serves it on
``apricot.listen`` (off unless set); ``coconut apricot serve`` serves it apart (``run_apart``). Both admit
only the owner's token unless ``core.require_token`` is false, as the core does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeAlias

import grpc

from ecs_engine.config.paths import ComponentQuery
from ecs_engine.errors import NotFoundError, UsageError
from ecs_engine.offload import offload
from ecs_engine.protocols import apricot_pb2 as pb
from ecs_engine.protocols import apricot_pb2_grpc as pb_grpc

from .auth import TokenCheck, ensure_token
from .listening import SERVER_OPTIONS, bind
from .rpc_errors import rpc

if TYPE_CHECKING:
    from ecs_engine.config import Configuration

    from .settings import CoreSettings

log = logging.getLogger(__name__)

DEFAULT_PORT = 32101
add_apricot = pb_grpc.add_ApricotServicer_to_server
Context: TypeAlias = grpc.aio.ServicerContext


def runtype_name(number: int) -> str:
    try:
        return pb.RunType.Name(number)
    except ValueError:
        raise UsageError(f"bad run type {number}: not an apricot.RunType") from None


def component_query(query: pb.ComponentQuery) -> ComponentQuery:
    return ComponentQuery.of(query.component, runtype_name(query.runType), query.machineRole, query.entry)


class ApricotService(pb_grpc.ApricotServicer):
    """Every apricot RPC over one ``Configuration``."""

    def __init__(self, config: Configuration):
        self.config = config

    # --- run numbers, defaults, raw trees ------------------------------------------------------------------

    @rpc
    async def NewRunNumber(self, request: pb.Empty, context: Context) -> pb.RunNumberResponse:
        return pb.RunNumberResponse(runNumber=await offload(self.config.next_run_number))

    @rpc
    async def GetDefaults(self, request: pb.Empty, context: Context) -> pb.StringMap:
        return pb.StringMap(stringMap=await offload(self.config.global_defaults))

    @rpc
    async def GetVars(self, request: pb.Empty, context: Context) -> pb.StringMap:
        return pb.StringMap(stringMap=await offload(self.config.global_vars))

    @rpc
    async def RawGetRecursive(self, request: pb.RawGetRecursiveRequest, context: Context) -> pb.ComponentResponse:
        tree = await offload(self.config.raw_tree, request.rawPath)
        return pb.ComponentResponse(payload=json.dumps(tree, sort_keys=True))

    # --- inventory -----------------------------------------------------------------------------------------

    @rpc
    async def ListDetectors(self, request: pb.DetectorsRequest, context: Context) -> pb.DetectorsResponse:
        return pb.DetectorsResponse(detectors=await offload(self.config.detectors, get_all=request.getAll))

    @rpc
    async def GetHostInventory(self, request: pb.HostGetRequest, context: Context) -> pb.HostEntriesResponse:
        return pb.HostEntriesResponse(hosts=await offload(self.config.hosts_for_detector, request.detector))

    @rpc
    async def GetDetectorsInventory(self, request: pb.Empty, context: Context) -> pb.DetectorEntriesResponse:
        inventory = await offload(self.config.detectors_inventory)
        entries = {det: pb.DetectorInventoryResponse(flps=hosts) for det, hosts in inventory.items()}
        return pb.DetectorEntriesResponse(detectorEntries=entries)

    @rpc
    async def GetDetectorForHost(self, request: pb.HostRequest, context: Context) -> pb.DetectorResponse:
        return pb.DetectorResponse(payload=await offload(self.config.detector_for_host, request.hostname))

    @rpc
    async def GetDetectorsForHosts(self, request: pb.HostsRequest, context: Context) -> pb.DetectorsResponse:
        return pb.DetectorsResponse(detectors=await offload(self.config.detectors_for_hosts, list(request.hosts)))

    @rpc
    async def GetCRUCardsForHost(self, request: pb.HostRequest, context: Context) -> pb.CRUCardsResponse:
        from ecs_engine.template.expr import go_json

        cards = await offload(self.config.cru_cards_for_host, request.hostname)
        return pb.CRUCardsResponse(cards=go_json(cards))  # a JSON list of serials, as upstream

    @rpc
    async def GetEndpointsForCRUCard(self, request: pb.CardRequest, context: Context) -> pb.CRUCardEndpointResponse:
        endpoints = await offload(self.config.endpoints_for_cru_card, request.hostname, request.cardSerial)
        return pb.CRUCardEndpointResponse(endpoints=" ".join(endpoints))  # space-separated, as upstream

    @rpc
    async def GetLinkIDsForCRUEndpoint(self, request: pb.LinkIDsRequest, context: Context) -> pb.LinkIDsResponse:
        ids = await offload(
            self.config.link_ids_for_cru_endpoint,
            request.hostname,
            request.cardSerial,
            request.endpoint,
            only_enabled=request.onlyEnabled,
        )
        return pb.LinkIDsResponse(linkIDs=ids)

    @rpc
    async def GetAliasedLinkIDsForDetector(
        self, request: pb.AliasedLinkIDsRequest, context: Context
    ) -> pb.AliasedLinkIDsResponse:
        aliases = await offload(
            self.config.aliased_link_ids_for_detector, request.detector, only_enabled=request.onlyEnabled
        )
        return pb.AliasedLinkIDsResponse(aliasedLinkIDs=aliases)

    # --- runtime entries -----------------------------------------------------------------------------------

    @rpc
    async def GetRuntimeEntry(self, request: pb.GetRuntimeEntryRequest, context: Context) -> pb.ComponentResponse:
        """An unset entry is NOT_FOUND: upstream's Consul backend fails it ("nil response for key ..."), which the
        AliECS GUI reads as NOT_FOUND; an empty payload would be JSON it cannot parse."""
        value = await offload(self.config.runtime_get, request.component, request.key)
        if value is None:
            raise NotFoundError(f"no runtime entry '{request.key}' of component {request.component}")
        return pb.ComponentResponse(payload=value)

    @rpc
    async def SetRuntimeEntry(self, request: pb.SetRuntimeEntryRequest, context: Context) -> pb.Empty:
        await offload(self.config.runtime_set, request.component, request.key, request.value)
        return pb.Empty()

    @rpc
    async def GetRuntimeEntries(self, request: pb.GetRuntimeEntriesRequest, context: Context) -> pb.StringMap:
        return pb.StringMap(stringMap=await offload(self.config.runtime_entries, request.component))

    @rpc
    async def ListRuntimeEntries(
        self, request: pb.ListRuntimeEntriesRequest, context: Context
    ) -> pb.ComponentEntriesResponse:
        entries = await offload(self.config.runtime_entries, request.component)
        return pb.ComponentEntriesResponse(payload=sorted(entries))

    # --- components ----------------------------------------------------------------------------------------

    @rpc
    async def ListComponents(self, request: pb.Empty, context: Context) -> pb.ComponentEntriesResponse:
        return pb.ComponentEntriesResponse(payload=await offload(self.config.components))

    @rpc
    async def ListComponentEntries(
        self, request: pb.ListComponentEntriesRequest, context: Context
    ) -> pb.ComponentEntriesResponse:
        """``component`` lists ``RUNTYPE/role/entry`` of all; ``component/RUNTYPE/role`` or a query its entries."""
        if request.WhichOneof("queryPath") == "query":
            q = request.query
            parts = [q.component, runtype_name(q.runType), q.machineRole]
        else:
            parts = request.path.strip().strip("/").split("/")
        if len(parts) == 1:
            entries = await offload(self.config.component_entries, parts[0])
        elif len(parts) == 3:
            entries = await offload(self.config.entries_in, *parts)
        else:
            raise UsageError(
                f"bad component entries path {request.path!r}: expected component or component/RUNTYPE/role"
            )
        return pb.ComponentEntriesResponse(payload=entries)

    @rpc
    async def GetComponentConfiguration(self, request: pb.ComponentRequest, context: Context) -> pb.ComponentResponse:
        return pb.ComponentResponse(payload=await offload(self._payload, request))

    @rpc
    async def GetComponentConfigurationWithLastIndex(
        self, request: pb.ComponentRequest, context: Context
    ) -> pb.ComponentResponseWithLastIndex:
        payload, index = await offload(lambda: (self._payload(request), self.config.store.revision()))
        return pb.ComponentResponseWithLastIndex(payload=payload, lastIndex=index)

    def _payload(self, request: pb.ComponentRequest) -> str:
        """The payload at the request's path or query (exactly there: resolving is ResolveComponentQuery's)."""
        path = component_query(request.query).path if request.WhichOneof("queryPath") == "query" else request.path
        if not request.processTemplate:
            return self.config.get_component(path)
        return self.config.get_component(
            path, process=True, varstack=request.varStack, objects=helpers(request.varStack)
        )

    @rpc
    async def ResolveComponentQuery(self, request: pb.ComponentQuery, context: Context) -> pb.ComponentQuery:
        query = component_query(request)
        resolved = await offload(self.config.resolve, query.component, query.runtype, query.role, query.entry)
        component, runtype, role, entry = resolved.split("/", 3)
        return pb.ComponentQuery(component=component, runType=pb.RunType.Value(runtype), machineRole=role, entry=entry)

    @rpc
    async def ImportComponentConfiguration(
        self, request: pb.ImportComponentConfigurationRequest, context: Context
    ) -> pb.ImportComponentConfigurationResponse:
        query = component_query(request.query)
        imported = await offload(
            self.config.import_component,
            query.component,
            query.runtype,
            query.role,
            query.entry,
            request.payload,
            new_component=request.newComponent,
        )
        return pb.ImportComponentConfigurationResponse(
            existingComponentUpdated=imported.component_existed, existingEntryUpdated=imported.entry_existed
        )

    @rpc
    async def InvalidateComponentTemplateCache(self, request: pb.Empty, context: Context) -> pb.Empty:
        self.config.invalidate_template_cache()  # drops a reference under a lock held only by CPU work
        return pb.Empty()


def helpers(varstack: Mapping[str, str]) -> dict[str, object]:
    """The objects a processed payload sees besides its variables (as ``coconut config show -s``)."""
    from ecs_engine.template.functions import Util, static_objects

    return {**static_objects(), "util": Util(dict(varstack))}


def apart_listen(settings: CoreSettings, port: int | None) -> str:
    """Where ``coconut apricot serve`` listens: ``apricot.listen`` (default 127.0.0.1:32101), ``port`` replacing
    its port."""
    from .settings import split_endpoint

    host, configured = split_endpoint(
        settings.apricot_listen or f"127.0.0.1:{DEFAULT_PORT}", what="setting apricot.listen"
    )
    listen = f"{host}:{port or configured}"
    settings.check_listen(listen, "--port" if port else "setting apricot.listen")
    return listen


def run_apart(settings: CoreSettings, config: Configuration, listen: str) -> None:
    """Serve ``config`` on ``listen`` until SIGTERM/SIGINT/SIGHUP, with the core's token rule."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = ensure_token(settings.state_dir)
    asyncio.run(_serve(settings, config, listen, token))


async def _serve(settings: CoreSettings, config: Configuration, listen: str, token: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    interceptors = [TokenCheck(token, "apricot")] if settings.require_token else []
    server = grpc.aio.server(options=SERVER_OPTIONS, interceptors=interceptors)
    add_apricot(ApricotService(config), server)
    bind(
        server,
        listen,
        tls_cert=settings.tls_cert,
        tls_key=settings.tls_key,
        who="apricot",
        hint="choose another --port",
    )
    await server.start()
    if not settings.require_token:  # only once it listens: a refused port is the one message
        log.warning("core.require_token is false: anyone who reaches %s reads and writes the configuration", listen)
    log.info("apricot listening on %s (configuration %s)", listen, config.store.url)
    try:
        await stop.wait()
    finally:
        await server.stop(2.0)
