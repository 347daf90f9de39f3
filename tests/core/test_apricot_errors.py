"""How apricot.Apricot fails over the wire: the status codes a GUI sees for requests of the wrong form.

The service runs in this process on a real gRPC server on loopback (port chosen by the system), over an in-memory
configuration; the client is the generated stub, as a developer's script.
"""

from __future__ import annotations

import grpc
import pytest

from ecs_engine.config import Configuration
from ecs_engine.protocols import apricot_pb2 as pb
from ecs_engine.protocols import apricot_pb2_grpc as pb_grpc
from ecs_engine.server.apricot import ApricotService, add_apricot

TREE = {"o2": {"hardware": {"detectors": {"TST": {"flps": {"flp001": {}}}}}}}


@pytest.fixture
async def apricot():
    server = grpc.aio.server()
    add_apricot(ApricotService(Configuration.from_tree(TREE)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.ApricotStub(channel)
    await server.stop(None)


@pytest.mark.parametrize(
    ("rpc", "request_", "reason"),
    [
        ("GetCRUCardsForHost", pb.HostRequest(hostname=""), "bad host name '': empty"),
        ("GetAliasedLinkIDsForDetector", pb.AliasedLinkIDsRequest(detector=""), "bad detector name '': empty"),
        ("GetLinkIDsForCRUEndpoint", pb.LinkIDsRequest(hostname="flp001"), "empty path segment"),
        ("SetRuntimeEntry", pb.SetRuntimeEntryRequest(component="COG-v1", key="../x", value="1"), "'..' is not"),
    ],
)
async def test_a_name_of_the_wrong_form_is_invalid_argument(apricot, rpc, request_, reason):
    """A request field that cannot be a key of the store is the client's mistake (it answered INTERNAL, which a GUI
    shows as a fault of the server)."""
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(apricot, rpc)(request_, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in refused.value.details()
    assert (await apricot.ListDetectors(pb.DetectorsRequest(), timeout=10)).detectors == ["TST"]  # still serving


async def test_an_unset_runtime_entry_is_not_found(apricot):
    """As upstream's apricot over Consul (an error the AliECS GUI turns into NOT_FOUND); it answered an empty payload,
    which the GUI then failed to parse as JSON."""
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await apricot.GetRuntimeEntry(
            pb.GetRuntimeEntryRequest(component="COG-v1", key="workflow-mappings"), timeout=10
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert missing.value.details() == "no runtime entry 'workflow-mappings' of component COG-v1"
    await apricot.SetRuntimeEntry(pb.SetRuntimeEntryRequest(component="COG-v1", key="empty", value=""), timeout=10)
    assert (await apricot.GetRuntimeEntry(pb.GetRuntimeEntryRequest(component="COG-v1", key="empty"))).payload == ""


async def test_a_runtime_entry_with_an_empty_key_is_the_component_itself(apricot):
    """Upstream joins component and key as a path: the AliECS GUI's status page reads its FLP suite version as
    component 'flp_suite_version', key '' (it was INVALID_ARGUMENT "component and key must not be empty")."""
    entry = pb.SetRuntimeEntryRequest(component="flp_suite_version", key="", value="v1.2.3")
    await apricot.SetRuntimeEntry(entry, timeout=10)
    read = pb.GetRuntimeEntryRequest(component="flp_suite_version", key="")
    assert (await apricot.GetRuntimeEntry(read, timeout=10)).payload == "v1.2.3"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await apricot.GetRuntimeEntry(pb.GetRuntimeEntryRequest(component="", key="x"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_empty_host_name_is_invalid_argument(apricot):
    """It was NOT_FOUND 'detector not found for host ' with the hint to add the host '' to the inventory."""
    for call in (
        apricot.GetDetectorForHost(pb.HostRequest(hostname=""), timeout=10),
        apricot.GetDetectorsForHosts(pb.HostsRequest(hosts=["flp001", ""]), timeout=10),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details() == "bad host name '': empty"
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await apricot.GetDetectorForHost(pb.HostRequest(hostname="flp999"), timeout=10)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
