"""What an operator reads from coconut about environments: hidden ones, transitions under way, services, failures."""

from __future__ import annotations

import re
import textwrap
import threading

import pytest

from tests.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def gated(tmp_path):
    """A template directory whose workflow waits at before_CONFIGURE until its gate file exists."""
    root = tmp_path / "gated-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    (root / "tasks" / "gate.yaml").write_text(
        "name: gate\ncontrol:\n  mode: basic\ncommand:\n  shell: true\n  value: '{{ gate_command }}'\n"
    )
    (root / "workflows" / "gated.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: gated
            defaults:
              gate_command: "while [ ! -e {tmp_path}/gate ]; do sleep 0.05; done"
            roles:
              - name: gate
                task: {{load: gate, trigger: before_CONFIGURE, timeout: 60s}}
            """
        )
    )
    return root


def test_env_list_tells_how_many_environments_it_hides(coconut, gated, tmp_path):
    (tmp_path / "gate").touch()  # --private: the template decides, and its name is not !public
    created = coconut("env", "create", "-w", "gated", "--repo", str(gated), "--private", "-o", "json").json()
    created = created["environment"]
    listed = coconut("env", "list").out
    assert "no public environments; 1 non-public environment hidden (show with -s/--show-all)" in listed
    assert created["id"] in coconut("env", "list", "-s").out
    shown = coconut("env", "show", created["id"], "-s").out
    assert "integrated services: none" in shown
    coconut("env", "destroy", created["id"])
    assert coconut("env", "list").out.strip() == "no environments"


def test_env_list_marks_an_environment_in_a_transition(coconut, gated, tmp_path):
    coconut("env", "create", "-w", "gated", "--repo", str(gated), "-y")
    (environment,) = coconut("env", "list", "-o", "json").json()["environments"]
    eventually(
        lambda: re.search(r"\(CONFIGURE\.\.\.\)", coconut("env", "list").out),
        what="env list shows the CONFIGURE under way",
    )
    (tmp_path / "gate").touch()
    eventually(lambda: coconut.state(environment["id"]) == "CONFIGURED", what="configured")
    assert "..." not in coconut("env", "list").out
    coconut("env", "destroy", environment["id"])


def test_core_stop_refuses_while_a_run_is_going_unless_forced(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
    coconut("env", "control", created["id"], "-e", "START")
    refused = coconut("core", "stop", check=False)
    assert refused.status == 5
    assert (
        f"the core has 1 RUNNING environment ({created['id']}): stopping it kills its tasks and ends its run"
        in refused.err
    )
    assert "-f/--force" in refused.err
    assert coconut.state(created["id"]) == "RUNNING"
    assert "core stopped" in coconut("core", "stop", "--force").out


def test_role_query_that_matches_nothing_says_that_star_stays_within_one_level(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
    missed = coconut("role", "query", created["id"], "*producer*")
    assert (missed.status, missed.out.strip()) == (
        0,
        f"no role of {created['id']} matches '*producer*'"
        " ('*' stays within one level of the path, '.' separating levels: '**' crosses them)",
    )
    assert "dataflow-demo.host-localhost.producer" in coconut("role", "query", created["id"], "**producer**").out
    plain = coconut("role", "query", created["id"], "nothing").out.strip()
    assert plain == f"no role of {created['id']} matches 'nothing'"
    coconut("env", "destroy", created["id"])


def test_task_show_and_task_logs_follow_until_the_task_ends(coconut):
    created = coconut("env", "create", "-w", "dataflow-demo", "-o", "json").json()["environment"]
    (consumer,) = [t for t in coconut.tasks() if "consumer" in t["className"]]
    shown = coconut("task", "show", consumer["taskId"]).out
    assert re.search(rf"task id:\s+{consumer['taskId']}", shown) and re.search(
        rf"environment:\s+{created['id']}", shown
    )
    assert "command:" in shown and "consumer" in shown
    assert coconut("task", "show", "nosuchtask", check=False).status == 1

    coconut("env", "control", created["id"], "-e", "START")
    followed: list = []
    follower = threading.Thread(
        target=lambda: followed.append(coconut("task", "logs", consumer["taskId"], "-s", "stdout", "-f")), daemon=True
    )
    follower.start()
    eventually(lambda: "received" in logs_of(coconut, consumer["taskId"]), what="the consumer reports a run")
    coconut("env", "destroy", created["id"], "-a")
    follower.join(30)
    assert not follower.is_alive(), "task logs -f did not end with its task"
    (result,) = followed
    assert result.status == 0 and "has ended" in result.err
    assert re.search(r"run 1: received [1-9]\d* messages", result.out)


def test_task_logs_follow_of_a_basic_task_that_already_ended_returns_with_how(coconut, repo):
    repo.task(
        "short",
        "name: short\ncontrol: {mode: basic}\ncommand: {shell: true, stderr: all, value: 'echo bye >&2; exit 3'}",
    )
    repo.task("long", "name: long\ncontrol: {mode: basic}\ncommand: {shell: true, value: 'sleep 60'}")
    repo.workflow(
        "short", "name: short\nroles:\n  - {name: short, task: {load: short}}\n  - {name: long, task: {load: long}}"
    )
    root = repo.root
    created = coconut("env", "create", "-w", "short", "--repo", str(root), "-o", "json").json()["environment"]
    coconut("env", "control", created["id"], "-e", "START")
    (short,) = [t for t in coconut.tasks() if t["className"].endswith("short@local")]
    eventually(lambda: "exited with code 3" in coconut("task", "show", short["taskId"]).out, what="its end known")
    results: list = []
    follower = threading.Thread(target=lambda: results.append(coconut("task", "logs", short["taskId"], "-f")))
    follower.daemon = True
    follower.start()
    follower.join(30)
    assert not follower.is_alive(), "task logs -f went on after the task's process had ended"
    (followed,) = results
    assert "bye" in followed.out
    assert f"task {short['taskId']} has ended: exited with code 3" in followed.err
    journal = coconut("events", "query", "--env", created["id"], "-o", "json").json()
    said = [e["event"].get("environmentEvent", {}).get("message", "") for e in journal]
    assert any(m.endswith("(short.short) exited with code 3") for m in said), said
    coconut("env", "control", created["id"], "-e", "STOP")
    coconut("env", "destroy", created["id"])


def logs_of(coconut, task_id: str) -> str:
    return coconut("task", "logs", task_id, "-s", "stdout").out


def test_an_asynchronous_create_that_fails_says_why_in_env_show(coconut, gated):
    created = coconut(
        "env", "create", "-w", "gated", "--repo", str(gated), "-y", "-e", "gate_command=exit 3", "-o", "json"
    )
    environment_id = created.json()["environment"]["id"]
    eventually(lambda: coconut.state(environment_id) == "ERROR", what="the failed environment listed in ERROR")
    shown = coconut("env", "show", environment_id)  # kept, torn down, until destroyed (issue 16)
    assert re.search(r"error:.*exit code 3", shown.out), shown.out
    assert environment_id in coconut("env", "list", "-s").out
    coconut("env", "destroy", environment_id)
    gone = coconut("env", "show", environment_id, check=False)
    assert f"environment {environment_id} was not created: " in gone.err and "exit" in gone.err, gone.err
    assert "Traceback" not in gone.err


def test_env_create_auto_prints_the_environment_id_and_runs_it_once(coconut):
    done = coconut("env", "create", "-w", "dataflow-demo", "-a", "-e", "monitor_enabled=false,max_messages=20")
    (environment_id,) = re.findall(r"coconut: environment (\S+) exists, running it once", done.err)
    assert "environment destroyed" in done.out
    journal = coconut("events", "query", "--env", environment_id, "-o", "json").json()
    messages = [e["event"].get("environmentEvent", {}).get("message", "") for e in journal]
    assert "environment destroyed" in messages and any(e["run_number"] for e in journal)


def test_env_create_auto_whose_create_fails_exits_1_with_the_reason(coconut, gated):
    failed = coconut(
        "env", "create", "-w", "gated", "--repo", str(gated), "-a", "-e", "gate_command=exit 3", check=False
    )
    assert failed.status == 1, failed.out
    (last,) = failed.err.strip().splitlines()[-1:]
    assert re.match(r"coconut: error: environment \S+: .*exit code 3", last), failed.err
    assert "environment destroyed" in failed.out and "destroy it to remove it" not in failed.out
    assert "Traceback" not in failed.err
    both = coconut("env", "create", "-w", "gated", "--repo", str(gated), "-a", "-y", check=False)  # -y did nothing
    assert both.status == 2 and "cannot be combined with -y/--asynchronous" in both.err


def test_a_failure_whose_reason_spans_lines_is_shown_by_env_show(coconut, tmp_path):
    root = tmp_path / "noisy-repo"
    (root / "workflows").mkdir(parents=True)
    (root / "tasks").mkdir()
    (root / "tasks" / "noisy.yaml").write_text(
        "name: noisy\ncontrol:\n  mode: direct\ncommand:\n  shell: true\n  stderr: all\n"
        "  value: 'echo first line >&2; echo second line >&2; exit 1'\n"
    )
    (root / "workflows" / "noisy.yaml").write_text("name: noisy\nroles:\n  - name: noisy\n    task: {load: noisy}\n")
    created = coconut("env", "create", "-w", "noisy", "--repo", str(root), "-y", "-o", "json").json()
    environment_id = created["environment"]["id"]
    eventually(lambda: coconut.state(environment_id) == "ERROR", what="the failed environment listed in ERROR")
    shown = coconut("env", "show", environment_id)  # the reason holds the task's two last lines of output
    assert re.search(r"error:.*exited with code 1 before reaching STANDBY.*\n.*first line\n.*second line", shown.out)
    coconut("env", "destroy", environment_id)


def test_the_cores_template_list_keeps_the_healthy_repositories_when_one_is_broken(coconut, tmp_path):
    """What the GUI asks (GetWorkflowTemplates): a repository whose directory went away is logged, the others and
    the examples listed (the whole reply failed before)."""
    import shutil

    from ecs_engine.protocols import o2control_pb2 as pb
    from ecs_engine.server.auth import read_token
    from ecs_engine.server.client import CoreClient

    coconut("core", "start")
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    for root in (kept, gone):
        (root / "workflows").mkdir(parents=True)
        (root / "workflows" / f"{root.name}-flow.yaml").write_text(f"name: !public {root.name}-flow\nroles: []\n")
    with CoreClient(f"127.0.0.1:{coconut.port}", token=read_token(coconut.state_dir)) as core:
        for root in (kept, gone):
            core.call("AddRepo", pb.AddRepoRequest(name=str(root)))
        shutil.rmtree(gone)
        listed = core.call("GetWorkflowTemplates", pb.GetWorkflowTemplatesRequest()).workflowTemplates
    assert {(t.repo, t.template) for t in listed} >= {(str(kept), "kept-flow"), ("examples", "dataflow-demo")}
    assert all(t.repo != str(gone) for t in listed)


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("{value: /bin/true, user: no-such-user-x9}", "cannot run as user 'no-such-user-x9'"),
        ("{value: /no/such/program}", "cannot start '/no/such/program'"),
        ("{shell: true, stderr: all, value: 'echo no luck >&2; exit 3'}", "exited with code 3 before reaching STANDBY"),
        (
            "{shell: true, stdout: stdout, value: 'echo no luck >&2; exit 3'}",
            "exited with code 3 before reaching STANDBY; it wrote nothing to stdout, and its stderr is not kept "
            "(its task template's command.stderr: 'none')",  # not "it wrote nothing": its error went unseen
        ),
    ],
    ids=["no-such-user", "not-executable", "exits-at-startup", "stderr-not-kept"],
)
def test_a_task_that_failed_to_start_is_found_by_the_id_its_error_names(coconut, repo, command, error):
    """The create's error names the task (and sends its reader to 'coconut task logs'): show and logs find it,
    failed, with that error, though the core has forgotten it."""
    repo.task("bad", f"name: bad\ncontrol: {{mode: direct}}\ncommand: {command}")
    repo.workflow("bad", "name: bad\nroles:\n  - {name: bad, task: {load: bad}}")
    failed = coconut("env", "create", "-w", "bad", "--repo", str(repo.root), check=False)
    assert failed.status == 1 and error in failed.err, failed.err
    task_id = re.search(r"\(task (?:bad\.bad \()?(\w+)", failed.err).group(1)
    shown = coconut("task", "show", task_id).out
    assert re.search(r"role path:\s+bad\.bad", shown) and re.search(r"status:\s+INACTIVE", shown), shown
    assert re.search(r"state:\s+ERROR", shown) and re.search(rf"ended\s+.*{re.escape(error)}", shown), shown
    if "stderr: all" in command:
        followed = coconut("task", "logs", task_id, "-f")
        assert "no luck" in followed.out and f"task {task_id} has ended: " in followed.err
