"""Task requests from the example workflow's roles, and the channel keys pushed at CONFIGURE."""

from __future__ import annotations

import pytest

from ecs_engine.config import Configuration
from ecs_engine.examples import examples_dir
from ecs_engine.plugins import plugin_manager
from ecs_engine.tasks.channels import ChannelError, bind_map, channel_arguments
from ecs_engine.tasks.model import ChannelSpec, TaskProcess, TaskRequest
from ecs_engine.tasks.requests import task_request
from ecs_engine.tasks.resources import Node
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource
from ecs_engine.template.tasks import TaskCommand


@pytest.fixture
def demo():
    expander = make_expander(
        DirectorySource(examples_dir()),
        plugins=plugin_manager(),
        config=Configuration.from_tree({"o2": {}}),  # the example's hosts may come from the inventory
        user_vars={"hosts": '["flp001","flp002"]', "pdp_override_run_start_time": "1234"},
        environment_id="envX",
    )
    workflow = expander.expand("dataflow-demo")
    return {r.path: task_request(expander, workflow, r) for r in workflow.task_roles()}


def test_each_role_gets_its_mode_constraints_and_channels(demo):
    producer = demo["dataflow-demo.host-flp002.producer"]
    assert producer.mode == "direct" and producer.critical and producer.environment_id == "envX"
    assert producer.class_name == f"{examples_dir()}/tasks/demo-producer@local"
    assert producer.constraints == (("machine_id", "flp002"),)
    assert [(c.name, c.type, c.transport, c.addressing) for c in producer.bind] == [
        ("data-out", "push", "zeromq", "tcp")
    ]
    consumer = demo["dataflow-demo.host-flp002.consumer"]
    assert [(c.name, c.target) for c in consumer.connect] == [
        ("data-in", "dataflow-demo.host-flp002.producer:data-out")
    ]
    assert demo["dataflow-demo.host-flp001.monitor"].mode == "basic"
    assert not demo["dataflow-demo.host-flp001.monitor"].critical
    hook = demo["dataflow-demo.host-flp001.shm-cleanup"]
    assert hook.mode == "hook" and hook.hook_timeout == 10.0


def test_the_command_is_built_for_the_node_and_task_it_gets(demo):
    command = demo["dataflow-demo.host-flp001.producer"].build_command("flp001", "T1")
    assert command.argv() == [
        "python3",
        "-m",
        "ecs_engine.examples.producer",
        "--rate=200",
        "--payload-bytes=1024",
        "--max-messages=0",
    ]
    assert "O2_ROLE=flp001" in command.env and (command.stdout, command.stderr) == ("stdout", "all")
    hook = demo["dataflow-demo.host-flp001.shm-cleanup"].build_command("flp001", "T2")
    assert hook.argv() == ["/bin/sh", "-c", "echo cleaning shared memory of envX on flp001"]
    properties = demo["dataflow-demo.host-flp001.producer"].properties("flp001", "T1")
    assert properties == {"orbit-reset-time": "1234"}


def _task(path: str, bind=(), connect=(), bound=None, reachable=None) -> TaskProcess:
    request = TaskRequest(role_path=path, class_name="c", mode="direct", bind=bind, connect=connect)
    command = TaskCommand("x", False, "", [], [], "none", "none")
    return TaskProcess(
        id=path, request=request, node=Node("n"), command=command, bound=bound or {}, reachable=reachable or {}
    )


def test_channel_keys_follow_the_fairmq_layout():
    out = ChannelSpec("out", type="push", global_alias="feed")
    producer = _task("w.p", bind=(out,), bound={"out": "tcp://*:9000"}, reachable={"out": "tcp://127.0.0.1:9000"})
    consumer = _task("w.c", connect=(ChannelSpec("in", type="pull", target="::feed"),))
    literal = _task("w.l", connect=(ChannelSpec("in", type="sub", target="ipc://@x"),))
    targets = bind_map([producer, consumer, literal])
    assert targets == {"w.p:out": "tcp://127.0.0.1:9000", "::feed": "tcp://127.0.0.1:9000"}
    assert channel_arguments(producer, targets) == [
        ("chans.out.numSockets", "1"),
        ("chans.out.0.address", "tcp://*:9000"),
        ("chans.out.0.method", "bind"),
        ("chans.out.0.autoBind", "0"),
        ("chans.out.0.rateLogging", "0"),
        ("chans.out.0.rcvBufSize", "1000"),
        ("chans.out.0.rcvKernelSize", "0"),
        ("chans.out.0.sndBufSize", "1000"),
        ("chans.out.0.sndKernelSize", "0"),
        ("chans.out.0.transport", "default"),
        ("chans.out.0.type", "push"),
    ]
    assert dict(channel_arguments(consumer, targets))["chans.in.0.address"] == "tcp://127.0.0.1:9000"
    assert dict(channel_arguments(consumer, targets))["chans.in.0.method"] == "connect"
    assert dict(channel_arguments(literal, targets))["chans.in.0.address"] == "ipc://@x"


def test_channel_errors_name_the_channel_and_what_was_expected():
    lonely = _task("w.c", connect=(ChannelSpec("in", target="w.p:out"),))
    with pytest.raises(ChannelError, match=r"could not match target for outbound channel 'in' of w.c: 'w.p:out'"):
        channel_arguments(lonely, {})
    a = _task("w.a", bind=(ChannelSpec("o", global_alias="g"),), reachable={"o": "tcp://127.0.0.1:1"})
    b = _task("w.b", bind=(ChannelSpec("o", global_alias="g"),), reachable={"o": "tcp://127.0.0.1:2"})
    with pytest.raises(ChannelError, match=r"global channel alias 'g' is bound by both w.a:o and w.b:o"):
        bind_map([a, b])
