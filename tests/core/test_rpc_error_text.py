"""What a gRPC client that is not coconut (the AliECS GUI, a script) reads of the core's refusals and errors.

The status details are shown verbatim by such a client: they hold the message and, where the error has one, the
hint meant for any client (in the request's terms, in parentheses), never coconut's flags or commands nor its
"  hint: " line. coconut's client reads its own hint from the trailing metadata and shows the error as before.
A real core in this test's event loop, on loopback gRPC, with the fast OCC peer's tasks (a RUNNING environment).
"""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest

from ecs_engine.errors import HandledError, RefusedError
from ecs_engine.occ.multipeer import host_names
from ecs_engine.protocols import o2control_pb2 as pb
from ecs_engine.protocols import o2control_pb2_grpc as pb_grpc
from ecs_engine.server.auth import read_token, token_metadata
from ecs_engine.server.client import CoreClient

from .conftest import fast_peer_core

pytestmark = pytest.mark.slow

TASKS = 10
#: coconut's words, which no other client has: its flags and commands, its hint line
COCONUT_WORDS = ("--", "coconut", "hint:")


@pytest.fixture
async def core(tmp_path):
    """A started core; a plain Control stub to it (with the owner's token, as any client of the owner's); coconut's
    client to it; the fast peer's workflow repository."""
    async with fast_peer_core(tmp_path, TASKS) as (_, settings, repo):
        token = read_token(tmp_path / "state")
        coconut = CoreClient(settings.listen, timeout=60, token=token)
        try:
            async with grpc.aio.insecure_channel(settings.listen) as channel:
                yield pb_grpc.ControlStub(channel), token_metadata(token), coconut, repo
        finally:
            coconut.close()


async def refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def coconut_error(coconut: CoreClient, rpc: str, request) -> HandledError:
    """The error coconut's (blocking) client raises for ``request``, called off the loop the core runs on."""
    with pytest.raises(HandledError) as caught:
        await asyncio.to_thread(coconut.call, rpc, request)
    return caught.value


async def test_a_refused_destroy_reads_in_the_request_s_terms_and_coconut_keeps_its_flags(core):
    stub, metadata, coconut, repo = core
    request = pb.NewEnvironmentRequest(
        workflowTemplate=f"{repo}/workflows/scale", vars={"hosts": json.dumps(host_names(TASKS))}
    )
    environment_id = (await stub.NewEnvironment(request, metadata=metadata, timeout=120)).environment.id
    start = pb.ControlEnvironmentRequest(id=environment_id, type=pb.ControlEnvironmentRequest.START_ACTIVITY)
    assert (await stub.ControlEnvironment(start, metadata=metadata, timeout=120)).state == "RUNNING"

    destroy = pb.DestroyEnvironmentRequest(id=environment_id)
    error = await refused(stub.DestroyEnvironment(destroy, metadata=metadata, timeout=120))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (
        f"environment {environment_id} is RUNNING: stop it first, or destroy it allowing the running state"
        " (STOP_ACTIVITY first) or by force (DestroyEnvironment's allowInRunningState or force)"
    )
    assert not any(word in error.details() for word in COCONUT_WORDS)

    shown = await coconut_error(coconut, "DestroyEnvironment", destroy)
    assert isinstance(shown, RefusedError)
    assert shown.render() == (
        f"environment {environment_id} is RUNNING: stop it first, or destroy it allowing the running state"
        " (STOP_ACTIVITY first) or by force\n  hint: destroy with -a/--allow-in-running-state or -f/--force"
    )

    forced = pb.DestroyEnvironmentRequest(id=environment_id, force=True)
    await stub.DestroyEnvironment(forced, metadata=metadata, timeout=120)


async def test_an_unknown_workflow_names_no_coconut_flag_and_coconut_still_shows_its_hint(core):
    stub, metadata, coconut, _ = core
    request = pb.NewEnvironmentRequest(workflowTemplate="no-such-workflow")
    error = await refused(stub.NewEnvironment(request, metadata=metadata, timeout=120))
    assert error.code() == grpc.StatusCode.INTERNAL  # as upstream, with the failed environment as a detail
    assert error.details() == (
        "cannot create new environment: workflow 'no-such-workflow' is neither in the default repository nor in the"
        " built-in examples (name a repository (REPO/workflows/NAME) or a directory of the core's machine)"
    )
    assert not any(word in error.details() for word in COCONUT_WORDS)

    shown = await coconut_error(coconut, "NewEnvironment", request)
    assert shown.render() == (
        "cannot create new environment: workflow 'no-such-workflow' is neither in the default repository nor in the"
        " built-in examples\n  hint: name a repository (REPO/workflows/NAME), pass --repo DIR, or see 'coconut"
        " template list'"
    )


async def test_a_hint_for_every_client_follows_the_message_and_coconut_shows_it_as_its_hint_line(core):
    stub, metadata, coconut, _ = core
    request = pb.RemoveRepoRequest(index=99)
    error = await refused(stub.RemoveRepo(request, metadata=metadata, timeout=120))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "no repository with index 99: there are no repositories (add one first)"
    assert not any(word in error.details() for word in COCONUT_WORDS)

    shown = await coconut_error(coconut, "RemoveRepo", request)
    assert shown.render() == (
        "no repository with index 99: there are no repositories\n  hint: add one with 'coconut repo add'"
    )
