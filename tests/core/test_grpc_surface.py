"""Every RPC of o2control.Control, called by a generic client built from spec/protocols.md alone.

Requests are encoded and replies decoded with the spec's field numbers and types (``wire.Codec``), over
raw gRPC method paths taken from the spec's service table, against a real core process on loopback. As
any client of the owner's, it sends the core's token (``authorization`` metadata).
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from google.rpc import status_pb2

from ecs_engine.server import daemon
from ecs_engine.server.auth import read_token, token_metadata
from tests.protocols import spec_tables

from ..e2e.conftest import free_port
from ..ports import own_port_range
from .wire import Codec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.shared,
]


@pytest.fixture(scope="module")
def spec():
    return spec_tables.load()


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    root = tmp_path_factory.mktemp("core")
    endpoint = f"127.0.0.1:{free_port()}"
    settings = root / "settings.yaml"
    settings.write_text(f"core:\n  ports: {own_port_range()}\n")  # its tasks' ports: the session's own range
    daemon.start(endpoint=endpoint, data_dir=root / "data", state_dir=root / "state", settings_path=settings)
    yield endpoint, root
    daemon.stop(root / "state")


class Client:
    """Calls ``/o2control.Control/<Rpc>`` with spec-encoded bytes."""

    def __init__(self, endpoint: str, spec: spec_tables.Spec, token: str):
        self.channel = grpc.insecure_channel(endpoint)
        self.metadata = token_metadata(token)
        self.codec = Codec(spec)
        (service,) = [s for s in spec.services if s.package == "o2control" and s.name == "Control"]
        self.rpcs = {r.name: r for r in service.rpcs}

    def _method(self, name: str):
        rpc = self.rpcs[name]
        factory = self.channel.unary_stream if rpc.streaming == "server-stream" else self.channel.unary_unary
        return rpc, factory(rpc.path, request_serializer=lambda b: b, response_deserializer=lambda b: b)

    def _type(self, type_name: str) -> tuple[str, str]:
        package, _, name = type_name.rpartition(".")
        return (package, name) if package in ("events", "common") else ("o2control", type_name)

    def __call__(self, rpc_name: str, /, **fields):
        rpc, method = self._method(rpc_name)
        request = self.codec.encode(*self._type(rpc.request), fields)
        return self.codec.decode(*self._type(rpc.response), method(request, timeout=120.0, metadata=self.metadata))

    def stream(self, rpc_name: str, /, **fields):
        rpc, method = self._method(rpc_name)
        call = method(self.codec.encode(*self._type(rpc.request), fields), metadata=self.metadata)
        return call, (self.codec.decode(*self._type(rpc.response), data) for data in call)

    def error(self, rpc_name: str, /, **fields) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self(rpc_name, **fields)
        return caught.value


@pytest.fixture(scope="module")
def client(core, spec):
    client = Client(core[0], spec, read_token(core[1] / "state"))
    yield client
    client.channel.close()


def test_the_spec_lists_the_rpcs_the_core_serves(client):
    assert len(client.rpcs) == 26


def test_framework_detectors_and_services(client):
    info = client("GetFrameworkInfo")
    assert info["frameworkId"] and info["state"] == "CONNECTED" and info["timestamp"] > 0
    assert info["version"]["productName"] == "coconut-ecs" and info["hostsCount"] >= 1
    assert client("GetActiveDetectors").get("detectors", []) == []
    assert "timestamp" in client("GetAvailableDetectors")
    services = client("GetIntegratedServices")["services"]
    assert services["testplugin"]["enabled"] is True


def role_paths(client: Client, environment_id: str, path_spec: str) -> list[str]:
    """GetRoles's full paths for a glob (``*`` within one level, ``**`` across levels)."""
    return [r["fullPath"] for r in client("GetRoles", envId=environment_id, pathSpec=path_spec).get("roles", [])]


def test_an_environment_through_its_life(client):
    created = client("NewEnvironment", workflowTemplate="dataflow-demo", vars={"monitor_enabled": "false"}, public=True)
    environment = created["environment"]
    environment_id = environment["id"]
    assert environment["state"] == "CONFIGURED" and created["public"] is True
    assert {t["state"] for t in environment["tasks"]} == {"CONFIGURED", "STANDBY"}
    assert environment["numberOfTasks"] == 3 and environment["vars"]["__fmq_cleanup_count"] == "0"

    listed = client("GetEnvironments", showTaskInfos=True)["environments"]
    assert [e["id"] for e in listed] == [environment_id]
    shown = client("GetEnvironment", id=environment_id, showWorkflowTree=True)
    assert shown["workflow"]["fullPath"] == "dataflow-demo"
    assert shown["workflow"]["roles"][0]["roles"][0]["consolidatedStack"]["environment_id"] == environment_id

    started = client("ControlEnvironment", id=environment_id, type=1)
    assert started["state"] == "RUNNING" and started["currentRunNumber"] >= 1
    assert started["endOfTransition"] >= started["startOfTransition"]
    noop = client.error("ControlEnvironment", id=environment_id, type=0)
    assert noop.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot prepare invalid transition NOOP" in noop.details()

    roles = client("GetRoles", envId=environment_id, pathSpec="dataflow-demo.*.producer")["roles"]
    assert [r["fullPath"] for r in roles] == ["dataflow-demo.host-localhost.producer"]
    host = "dataflow-demo.host-localhost"
    tasks = [f"{host}.producer", f"{host}.consumer", f"{host}.shm-cleanup"]
    every_role = ["dataflow-demo", host, *tasks, "dataflow-demo.announce"]
    assert role_paths(client, environment_id, "") == every_role  # no pattern: every role
    assert role_paths(client, environment_id, "**") == every_role
    assert role_paths(client, environment_id, "dataflow-demo.**") == every_role[1:]  # not the root itself
    assert role_paths(client, environment_id, "dataflow-demo.*") == [host, "dataflow-demo.announce"]
    assert role_paths(client, environment_id, "dataflow-demo.**.*") == tasks
    assert role_paths(client, environment_id, "**.producer") == [f"{host}.producer"]
    assert role_paths(client, environment_id, "*.producer") == []  # one level only
    assert role_paths(client, environment_id, "dataflow-demo.**.{consumer,announce}") == [f"{host}.consumer"]
    (task_id,) = roles[0]["taskIds"]
    task = client("GetTask", taskId=task_id)["task"]
    assert task["taskPath"] == "dataflow-demo.host-localhost.producer" and task["envId"] == environment_id
    assert task["commandInfo"]["arguments"][:2] == ["-m", "ecs_engine.examples.producer"]
    assert [c["name"] for c in task["inboundChannels"]] == ["data-out"]
    assert len(client("GetTasks")["tasks"]) == 3
    assert client.error("GetTask", taskId="nope").code() == grpc.StatusCode.NOT_FOUND
    assert client("CleanupTasks").get("killedTasks", []) == []  # tasks of an environment are not touched

    destroyed = client("DestroyEnvironment", id=environment_id, allowInRunningState=True)
    assert len(destroyed["cleanupTasksReply"]["killedTasks"]) == 3
    missing = client.error("GetEnvironment", id=environment_id)
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert missing.details() == f"no environment with id {environment_id}"  # one phrase, said once
    assert client.error("GetEnvironment", id="not/an id").code() == grpc.StatusCode.INVALID_ARGUMENT


def test_destroy_reports_only_its_own_running_tasks(client):
    """``runningTasks``: this environment's tasks left running (all of them with keepTasks), not others'."""
    vars = {"monitor_enabled": "false"}
    first, second = (client("NewEnvironment", workflowTemplate="dataflow-demo", vars=vars) for _ in range(2))
    destroyed = client("DestroyEnvironment", id=first["environment"]["id"])["cleanupTasksReply"]
    assert len(destroyed["killedTasks"]) == 3 and destroyed.get("runningTasks", []) == []
    kept = client("DestroyEnvironment", id=second["environment"]["id"], keepTasks=True)["cleanupTasksReply"]
    second_tasks = {t["taskId"] for t in second["environment"]["tasks"]}
    assert kept.get("killedTasks", []) == [] and {t["taskId"] for t in kept["runningTasks"]} == second_tasks
    assert {t["taskId"] for t in client("CleanupTasks")["killedTasks"]} == second_tasks


def status_detail(error: grpc.RpcError, codec: Codec) -> dict:
    """The o2control.EnvironmentInfo a failed NewEnvironment carries as its google.rpc.Status detail."""
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.INTERNAL.value[0] and status.message == error.details()
    (detail,) = status.details
    assert detail.type_url == "type.googleapis.com/o2control.EnvironmentInfo"
    return codec.decode("o2control", "EnvironmentInfo", detail.value)


def test_a_failed_creation_carries_the_environment_as_upstream(client):
    """INTERNAL "cannot create new environment: ..." with the environment's id as the AliECS GUI decodes it."""
    failed = client.error("NewEnvironment", workflowTemplate="dataflow-demo", vars={"hosts": '["nowhere"]'})
    assert failed.code() == grpc.StatusCode.INTERNAL
    assert failed.details().startswith("cannot create new environment: ")
    info = status_detail(failed, client.codec)
    assert info["id"] == dict(failed.initial_metadata())["ecs-environment-id"]
    assert info["state"] == "ERROR" and info["createdWhen"] > 0

    unknown = client.error("NewEnvironment", workflowTemplate="no-such-workflow")
    assert unknown.code() == grpc.StatusCode.INTERNAL
    assert unknown.details().startswith("cannot create new environment: ")
    assert status_detail(unknown, client.codec)["state"] == "ERROR"  # a fresh id, as upstream's

    # a template error: the prefix, then its file and line (the prefix landed after them, mid-sentence)
    bad = client.error("NewEnvironment", workflowTemplate="dataflow-demo", vars={"hosts": "flp001"})
    assert bad.details().startswith("cannot create new environment: /") and "dataflow-demo.yaml:" in bad.details()
    assert bad.details().count("cannot create new environment") == 1


def test_new_environment_with_auto_transition_answers_once_configured_or_with_the_creation_error(client):
    """As upstream: a synchronous create with autoTransition answers when DEPLOY and CONFIGURE are done (the run
    goes on), and one that fails fails the call as any create does; it answered OK in STANDBY before either."""
    auto = {"monitor_enabled": "false", "max_messages": "20"}
    created = client("NewEnvironment", workflowTemplate="dataflow-demo", vars=auto, autoTransition=True)
    assert created["environment"]["state"] in ("CONFIGURED", "RUNNING"), created["environment"]["state"]

    failed = client.error(
        "NewEnvironment", workflowTemplate="dataflow-demo", vars={**auto, "hosts": '["nowhere"]'}, autoTransition=True
    )
    assert failed.code() == grpc.StatusCode.INTERNAL
    assert failed.details().startswith("cannot create new environment: ") and "nowhere" in failed.details()
    assert status_detail(failed, client.codec)["id"] == dict(failed.initial_metadata())["ecs-environment-id"]


def test_async_creation_returns_at_once(client):
    created = client("NewEnvironmentAsync", workflowTemplate="dataflow-demo", vars={"monitor_enabled": "false"})
    environment_id = created["environment"]["id"]
    deadline = time.monotonic() + 30
    while client("GetEnvironment", id=environment_id)["environment"]["state"] != "CONFIGURED":
        assert time.monotonic() < deadline, "the asynchronous creation did not finish"
        time.sleep(0.05)
    client("DestroyEnvironment", id=environment_id)


def follow_async_creation(client: Client, until: str, **request) -> tuple[str, list[dict]]:
    """As a newer GUI: subscribe (no id: every environment's events), NewEnvironmentAsync, then the created
    environment's events up to the one whose message is ``until``; its id and those events."""
    call, events = client.stream("Subscribe")
    call.initial_metadata()  # subscribed
    timer = threading.Timer(60, call.cancel)  # a creation that never gets there fails the test instead of hanging
    timer.start()
    seen: list[dict] = []
    try:
        created = client("NewEnvironmentAsync", **request)
        environment_id = created["environment"]["id"]  # answered at once: DEPLOY under way (or already failed)
        for event in events:
            env_event = event.get("environmentEvent", {})
            if env_event.get("environmentId") == environment_id:
                seen.append(env_event)
                if env_event.get("message") == until:
                    return environment_id, seen
    finally:
        timer.cancel()
        call.cancel()
    raise AssertionError(f"the stream ended before '{until}': {seen}")


def test_an_async_creation_is_followed_to_configured_through_subscribe(client):
    vars = {"monitor_enabled": "false"}
    environment_id, seen = follow_async_creation(
        client, "created new environment", workflowTemplate="dataflow-demo", vars=vars
    )
    steps = [e.get("transitionStep", "") for e in seen]
    assert seen[-1]["state"] == "CONFIGURED" and "before_DEPLOY" in steps and "after_CONFIGURE" in steps
    client("DestroyEnvironment", id=environment_id)

    failing = {"monitor_enabled": "false", "hosts": '["nowhere"]'}
    _, seen = follow_async_creation(
        client, "cannot create new environment", workflowTemplate="dataflow-demo", vars=failing
    )
    assert "nowhere" in seen[-1]["error"]

    auto = {"monitor_enabled": "false", "max_messages": "20"}
    _, seen = follow_async_creation(
        client, "environment destroyed", workflowTemplate="dataflow-demo", vars=auto, autoTransition=True
    )
    steps = [e.get("transitionStep", "") for e in seen]
    assert "before_START_ACTIVITY" in steps and "after_STOP_ACTIVITY" in steps  # autoTransition: a run, then gone


def test_an_auto_environment_streams_its_events_until_it_is_gone(client):
    call, events = client.stream("Subscribe", id="stream-1")
    call.initial_metadata()
    requested = threading.Thread(
        target=client,
        args=("NewAutoEnvironment",),
        kwargs={
            "workflowTemplate": "dataflow-demo",
            "vars": {"monitor_enabled": "false", "max_messages": "20"},
            "id": "stream-1",
        },
    )
    requested.start()
    received = list(events)  # ends when the environment is destroyed
    requested.join()
    steps = [e["environmentEvent"].get("transitionStep", "") for e in received if "environmentEvent" in e]
    assert "after_CREATE" in steps and "before_START_ACTIVITY" in steps and "after_STOP_ACTIVITY" in steps
    assert any("taskEvent" in e for e in received) and all(e["timestamp"] > 0 for e in received)
    assert received[-1]["environmentEvent"]["message"] == "environment destroyed"


def test_the_gui_create_page_lists_the_examples_of_a_fresh_core(client):
    """The AliECS GUI asks every repository's templates at every revision ('*', '*'): a core with no repository
    added answers the built-in examples (it answered NOT_FOUND "no repository matches '*'")."""
    templates = client("GetWorkflowTemplates", repoPattern="*", revisionPattern="*")["workflowTemplates"]
    assert ("examples", "local", "dataflow-demo") in {(t["repo"], t["revision"], t["template"]) for t in templates}
    unknown = client.error("GetWorkflowTemplates", repoPattern="nosuch*", revisionPattern="*")
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and "no repository matches 'nosuch*'" in unknown.details()


def test_templates_and_repositories(client, core, tmp_path):
    templates = client("GetWorkflowTemplates")["workflowTemplates"]
    demo = next(t for t in templates if t["template"] == "dataflow-demo")
    assert (demo["repo"], demo["revision"]) == ("examples", "local")
    assert demo["varSpecMap"]["hosts"]["defaultValue"] == '["localhost"]'
    # the GUI's create page groups public variables by panel (and fails on one without)
    panels = {name: spec.get("panel") for name, spec in demo["varSpecMap"].items()}
    assert panels == {"hosts": "General_Configuration", "rate_hz": "General_Configuration", "detectors": "Detectors"}
    # a fresh core lists the built-in examples as its default repository (the AliECS GUI needs one)
    (examples,) = client("ListRepos", getRevisions=True)["repos"]
    assert examples == {"name": "examples", "default": True, "defaultRevision": "local", "revisions": ["local"]}
    (tmp_path / "workflows").mkdir()
    added = client("AddRepo", name=str(tmp_path))
    assert "timestamp" in added
    repo, examples = client("ListRepos")["repos"]
    assert repo["default"] is True and examples == {"name": "examples", "defaultRevision": "local"}
    for rpc in ("RemoveRepo", "RefreshRepos", "SetDefaultRepo"):  # the examples' index: refused, naming them
        refused = client.error(rpc, index=1)
        assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION, rpc
        assert refused.details() == (
            "repository 1 is the built-in examples: it cannot be removed, refreshed or changed (the added ones are 0-0)"
        )
    client("SetDefaultRepo", index=0)
    client("SetGlobalDefaultRevision", revision="main")
    assert client("ListRepos")["globalDefaultRevision"] == "main"
    assert "local" in client("SetRepoDefaultRevision", index=0, revision="v1").get("info", "")
    client("RefreshRepos", index=-1)
    assert "timestamp" in client("RemoveRepo", index=0)


@pytest.mark.parametrize("rpc", ["Teardown", "ModifyEnvironment"])
def test_rpcs_without_a_feature_say_so(client, rpc):
    error = client.error(rpc)
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.details().startswith(f"{rpc} is not implemented")
