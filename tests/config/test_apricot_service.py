"""Every RPC of apricot.Apricot, called by a generic client built from spec/protocols.md alone.

``coconut apricot serve`` runs as a real process over a SQLite and an etcd store filled by the test; the
client encodes requests and decodes replies with the spec's field numbers (``tests/core/wire.Codec``) and
sends the owner's token. A core with ``apricot.listen`` serves the same service next to o2control.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import grpc
import pytest
import yaml

from ecs_engine.config import Configuration
from ecs_engine.config.configuration import tree_root
from ecs_engine.config.tree import flatten
from ecs_engine.plugins import backends
from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token, token_metadata
from tests.protocols import spec_tables

from ..core.wire import Codec
from ..e2e.conftest import free_port
from ..ports import own_port_range
from .conftest import open_empty

pytestmark = pytest.mark.shared  # reads ../shared/spec: skips without it, fails with CI=true (tests/conftest.py)

PHYSICS, ANY = 1, 300
TREE = {
    "o2": {
        "runtime": {"aliecs": {"defaults": {"a": " 1 "}, "vars": {"b": "2"}}, "run_number": "41"},
        "hardware": {
            "detectors": {
                "TPC": {
                    "flps": {
                        "flp001": {"cards": {"S1": {"links": {"0": {"alias": "TPC-L0"}, "2": {"alias": "TPC-L2"}}}}}
                    }
                },
                "TRG": {"flps": {"flp002": {"role": "trg"}}},
            },
            "flps": {
                "flp001": {
                    "cards": json.dumps(
                        {"0": {"serial": "S1", "endpoint": "0"}, "1": {"serial": "S1", "endpoint": "1"}}
                    )
                }
            },
        },
        "components": {
            "qc": {"ANY": {"any": {"cfg": "x={{ n }}"}}, "PHYSICS": {"flp001": {"cfg": "physics"}}},
            "readoutcard": {
                "flp001": {
                    "cru": {
                        "S1": {
                            "0": json.dumps({"link0": {"enabled": "true"}, "link1": {"enabled": "false"}}),
                            "1": "[link2]\nenabled = true\n",
                        }
                    }
                }
            },
        },
    }
}


class Client:
    """Calls ``/apricot.Apricot/<Rpc>`` with spec-encoded bytes."""

    def __init__(self, endpoint: str, token: str):
        spec = spec_tables.load()
        self.channel = grpc.insecure_channel(endpoint)
        self.metadata = token_metadata(token)
        self.codec = Codec(spec)
        (service,) = [s for s in spec.services if s.package == "apricot" and s.name == "Apricot"]
        self.rpcs = {r.name: r for r in service.rpcs}

    def __call__(self, rpc_name: str, /, **fields):
        rpc = self.rpcs[rpc_name]
        method = self.channel.unary_unary(rpc.path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        request = self.codec.encode("apricot", rpc.request, fields)
        return self.codec.decode("apricot", rpc.response, method(request, timeout=30.0, metadata=self.metadata))

    def error(self, rpc_name: str, /, **fields) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self(rpc_name, **fields)
        return caught.value


def wait_until_serving(client: Client, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            grpc.channel_ready_future(client.channel).result(timeout=0.2)
            return
        except grpc.FutureTimeoutError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"apricot serve ended: {process.stderr.read()}") from None  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"apricot not serving within {timeout} s"


@pytest.fixture(params=["sqlite", "etcd"])
def apricot(request, tmp_path):
    """``coconut apricot serve --port P`` over a store of the parameter's backend holding TREE."""
    store = open_empty(request.param, request, tmp_path)
    store.put_many(flatten(tree_root(TREE, "test tree")))
    url = store.url
    store.close()
    home = {name: tmp_path / name for name in ("config", "data", "state")}
    port = free_port()
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(home["config"]),
        "XDG_DATA_HOME": str(home["data"]),
        "XDG_STATE_HOME": str(home["state"]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "coconut", "--config-endpoint", url, "apricot", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state_dir = home["state"] / "coconut"
        client = Client(f"127.0.0.1:{port}", "")
        wait_until_serving(client, process)
        client.metadata = token_metadata(read_token(state_dir))
        yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_every_apricot_rpc(apricot):
    call = apricot
    assert call("NewRunNumber") == {"runNumber": 42}
    assert call("NewRunNumber") == {"runNumber": 43}
    assert call("GetDefaults") == {"stringMap": {"a": "1"}}
    assert call("GetVars") == {"stringMap": {"b": "2"}}
    raw = json.loads(call("RawGetRecursive", rawPath="o2/runtime/aliecs")["payload"])
    assert raw == {"defaults": {"a": " 1 "}, "vars": {"b": "2"}}

    # inventory
    assert call("ListDetectors") == {"detectors": ["TPC"]}
    assert call("ListDetectors", getAll=True) == {"detectors": ["TPC", "TRG"]}
    assert call("GetHostInventory", detector="TPC") == {"hosts": ["flp001"]}
    assert call("GetDetectorsInventory") == {
        "detectorEntries": {"TPC": {"flps": ["flp001"]}, "TRG": {"flps": ["flp002"]}}
    }
    assert call("GetDetectorForHost", hostname="flp002") == {"payload": "TRG"}
    assert call.error("GetDetectorForHost", hostname="nowhere").code() == grpc.StatusCode.NOT_FOUND
    assert call("GetDetectorsForHosts", hosts=["flp001", "flp002"]) == {"detectors": ["TPC", "TRG"]}
    assert json.loads(call("GetCRUCardsForHost", hostname="flp001")["cards"]) == ["S1"]
    assert call("GetEndpointsForCRUCard", hostname="flp001", cardSerial="S1") == {"endpoints": "0 1"}
    link_ids = {"hostname": "flp001", "cardSerial": "S1", "endpoint": "0"}
    assert call("GetLinkIDsForCRUEndpoint", **link_ids, onlyEnabled=True) == {"linkIDs": ["0"]}
    assert call("GetLinkIDsForCRUEndpoint", **link_ids) == {"linkIDs": ["0", "1"]}
    aliased = call("GetAliasedLinkIDsForDetector", detector="TPC", onlyEnabled=True)
    assert aliased == {"aliasedLinkIDs": ["TPC-L0", "TPC-L2"]}

    # runtime entries (the GUI's saved configurations and locks)
    assert call.error("GetRuntimeEntry", component="COG-v1", key="lock").code() == grpc.StatusCode.NOT_FOUND
    assert call("SetRuntimeEntry", component="COG-v1", key="lock", value="alice") == {}
    assert call("GetRuntimeEntry", component="COG-v1", key="lock") == {"payload": "alice"}
    assert call("GetRuntimeEntries", component="COG-v1") == {"stringMap": {"lock": "alice"}}
    assert call("ListRuntimeEntries", component="COG-v1") == {"payload": ["lock"]}

    # components
    assert call("ListComponents") == {"payload": ["qc", "readoutcard"]}
    assert call("ListComponentEntries", path="qc") == {"payload": ["ANY/any/cfg", "PHYSICS/flp001/cfg"]}
    query = {"component": "qc", "runType": PHYSICS, "machineRole": "flp001"}
    assert call("ListComponentEntries", query=query) == {"payload": ["cfg"]}
    assert call("GetComponentConfiguration", path="qc/PHYSICS/flp001/cfg") == {"payload": "physics"}
    processed = call(
        "GetComponentConfiguration",
        query={"component": "qc", "runType": ANY, "machineRole": "any", "entry": "cfg"},
        processTemplate=True,
        varStack={"n": "5"},
    )
    assert processed == {"payload": "x=5"}
    with_index = call("GetComponentConfigurationWithLastIndex", path="qc/PHYSICS/flp001/cfg")
    assert with_index["payload"] == "physics" and with_index["lastIndex"] > 0
    wanted = {"component": "qc", "runType": PHYSICS, "machineRole": "flp002", "entry": "cfg"}
    assert call("ResolveComponentQuery", **wanted) == {
        "component": "qc",
        "runType": ANY,
        "machineRole": "any",
        "entry": "cfg",
    }
    imported = call("ImportComponentConfiguration", query=wanted, payload="x={{ n }}!")
    assert imported == {"existingComponentUpdated": True}  # the entry is new: existingEntryUpdated false
    assert call("ResolveComponentQuery", **wanted) == wanted
    refused = call.error("ImportComponentConfiguration", query={**wanted, "component": "nope"}, payload="p")
    assert refused.code() == grpc.StatusCode.NOT_FOUND and "component nope does not exist" in refused.details()
    assert call("InvalidateComponentTemplateCache") == {}

    # the owner's token, as the core; the refusal names apricot, not the core
    call.metadata = ()
    refused = call.error("ListDetectors")
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused.details() == "apricot admits only its owner: this call carries no token"


@pytest.mark.slow
def test_the_core_serves_apricot_when_apricot_listen_is_set(tmp_path):
    config = Configuration.open(f"sqlite:///{tmp_path / 'config.sqlite'}", backends())
    config.store.put_many(flatten(tree_root(TREE, "test tree")))
    config.close()
    apricot_endpoint = f"127.0.0.1:{free_port()}"
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "config_endpoint": f"sqlite:///{tmp_path / 'config.sqlite'}",
                "core": {"ports": own_port_range()},
                "apricot": {"listen": apricot_endpoint},
            }
        )
    )
    state = tmp_path / "state"
    daemon.start(
        endpoint=f"127.0.0.1:{free_port()}", data_dir=tmp_path / "data", state_dir=state, settings_path=settings
    )
    try:
        client = Client(apricot_endpoint, read_token(state))
        wait_until_serving(client)
        assert client("ListDetectors", getAll=True) == {"detectors": ["TPC", "TRG"]}
        assert client("NewRunNumber") == {"runNumber": 42}
        client.metadata = ()
        assert client.error("ListDetectors").code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        daemon.stop(state)
