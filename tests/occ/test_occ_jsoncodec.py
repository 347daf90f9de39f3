"""The OCClite JSON codec: the exact JSON the FairMQ plugin and the Go client exchange (protocols.md §5)."""

from __future__ import annotations

import json

import pytest

from ecs_engine.occ import jsoncodec
from ecs_engine.protocols import occ_pb2


def test_client_requests_leave_zero_values_out_like_go_omitempty():
    assert jsoncodec.encode(occ_pb2.GetStateRequest()) == b"{}"
    request = occ_pb2.TransitionRequest(srcState="IDLE", transitionEvent="INIT DEVICE")
    assert json.loads(jsoncodec.encode(request)) == {"srcState": "IDLE", "transitionEvent": "INIT DEVICE"}
    request.arguments.add(key="k", value="v")
    assert json.loads(jsoncodec.encode(request))["arguments"] == [{"key": "k", "value": "v"}]


def test_server_replies_write_every_field_with_enums_as_numbers():
    reply = occ_pb2.TransitionReply(trigger=occ_pb2.EXECUTOR, state="READY", transitionEvent="INIT TASK", ok=True)
    assert json.loads(jsoncodec.encode(reply, omit_empty=False)) == {
        "trigger": 0,
        "state": "READY",
        "transitionEvent": "INIT TASK",
        "ok": True,
    }
    event = occ_pb2.EventStreamReply(event=occ_pb2.DeviceEvent(type=occ_pb2.NULL_DEVICE_EVENT))
    assert jsoncodec.encode(event, omit_empty=False) == b'{"event":{"type":0}}'


def test_decoding_is_forgiving_like_go():
    reply = jsoncodec.decode(b'{"STATE":"IDLE","Pid":42,"unknown":[1]}', occ_pb2.GetStateReply)
    assert (reply.state, reply.pid) == ("IDLE", 42)
    request = jsoncodec.decode(
        b'{"srcState":"IDLE","arguments":[{"key":"a"},{"value":"x"}]}', occ_pb2.TransitionRequest
    )
    assert [(a.key, a.value) for a in request.arguments] == [("a", ""), ("", "x")]
    assert jsoncodec.decode(b'{"trigger":2,"ok":false}', occ_pb2.TransitionReply).trigger == occ_pb2.DEVICE_ERROR


@pytest.mark.parametrize("payload", [b"", b"not json", b"[1, 2]", b'{"pid": "many"}'])
def test_unreadable_payloads_are_errors(payload):
    with pytest.raises(jsoncodec.CodecError):
        jsoncodec.decode(payload, occ_pb2.GetStateReply)
