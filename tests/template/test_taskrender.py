"""Plan and deployment render a task the same way: the class's own fields see the class's variables."""

from __future__ import annotations

from ecs_engine.plugins import plugin_manager
from ecs_engine.tasks.requests import task_request
from ecs_engine.template.load import make_expander
from ecs_engine.template.plan import build_plan
from ecs_engine.template.sources import DirectorySource

SENDER = """
name: sender
defaults: {chan_type: push, chan_transport: zeromq, host_note: "on {{ task_hostname }}"}
vars: {chan_transport: shmem}
control: {mode: direct}
bind: [{name: out, type: "{{ chan_type }}", transport: "{{ chan_transport }}"}]
properties: {note: "{{ host_note }}"}
command: {value: sender}
"""


def expand(repo, role_bind="[]"):
    repo.task("sender", SENDER)
    repo.workflow(
        "w",
        f"""
        name: w
        roles:
          - name: s
            constraints: [{{attribute: machine_id, value: flp001}}]
            bind: {role_bind}
            task: {{load: sender}}
        """,
    )
    expander = make_expander(DirectorySource(repo.root), plugins=plugin_manager(), environment_id="envX")
    return expander, expander.expand("w")


def test_a_class_channel_sees_the_class_variables_in_plan_and_in_the_request(repo):
    expander, workflow = expand(repo)
    (planned,) = build_plan(expander, workflow)["tasks"]
    request = task_request(expander, workflow, workflow.task_roles()[0])
    assert [(c["name"], c["type"], c["transport"]) for c in planned["bind"]] == [("out", "push", "shmem")]
    assert [(c.name, c.type, c.transport) for c in request.bind] == [("out", "push", "shmem")]
    assert planned["properties"] == request.properties("flp001", "T1") == {"note": "on flp001"}


def test_a_role_channel_of_the_same_name_wins_over_the_class_channel(repo):
    expander, workflow = expand(repo, role_bind="[{name: out, type: pub}]")
    (planned,) = build_plan(expander, workflow)["tasks"]
    request = task_request(expander, workflow, workflow.task_roles()[0])
    assert [(c["name"], c["type"]) for c in planned["bind"]] == [("out", "pub")]
    assert [(c.name, c.type) for c in request.bind] == [("out", "pub")]
