"""Template hooks: plugin objects in expressions (ecs_template_objects) and JIT generation (ecs_dpl_generate)."""

from __future__ import annotations

import pytest

from ecs_engine.config import Configuration
from ecs_engine.hookspecs import hookimpl
from ecs_engine.plugins import plugin_manager
from ecs_engine.template.jit import jit_name
from ecs_engine.template.load import make_expander
from ecs_engine.template.sources import DirectorySource


class Greeter:
    def __init__(self, stack):
        self._who = stack.get("who", "nobody")

    def Hello(self) -> str:
        return f"hello {self._who}"


class GreeterPlugin:
    def __init__(self):
        self.calls = 0

    @hookimpl
    def ecs_template_objects(self, stack):
        self.calls += 1
        return {"greeter": Greeter(stack)}


class FakeDpl:
    def __init__(self):
        self.calls = []

    @hookimpl
    def ecs_dpl_generate(self, command, name, workdir):
        self.calls.append((command, name))
        return f"name: {name}\nroles:\n  - name: proc\n    call: {{func: x(), trigger: after_CONFIGURE}}\n"


@pytest.fixture
def registered():
    pm = plugin_manager()
    added = []

    def register(plugin):
        pm.register(plugin)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        pm.unregister(plugin)


def test_ecs_template_objects_reach_expressions(repo, registered):
    registered(GreeterPlugin())
    repo.workflow("w", 'name: w\ndefaults: {who: flp}\nroles:\n  - {name: c, call: {func: "{{ greeter.Hello() }}"}}\n')
    wf = make_expander(DirectorySource(repo.root), plugins=plugin_manager(), config=Configuration.from_tree({})).expand(
        "w"
    )
    assert wf.call_roles()[0].func == "hello flp"


def test_ecs_template_objects_are_asked_once_per_stack_not_per_field(repo, registered):
    """A role's vars render over one stack: four templated ones ask the plugins as often as one does (asking per
    field was a third of rendering a real template). Each role still gets the objects of its own stack."""

    def calls_and_values(fields: int) -> tuple[int, list[str]]:
        plugin = registered(GreeterPlugin())
        own = ", ".join(f'v{i}: "{{{{ greeter.Hello() }}}}"' for i in range(fields))
        roles = "".join(
            f"  - {{name: r{who}, defaults: {{who: {who}}}, vars: {{{own}}}, call: {{func: x()}}}}\n" for who in "ab"
        )
        repo.workflow("w", f"name: w\nroles:\n{roles}")
        workflow = make_expander(DirectorySource(repo.root), plugins=plugin_manager()).expand("w")
        return plugin.calls, [role.vars["v0"] for role in workflow.call_roles()]

    one, values = calls_and_values(1)
    four, _ = calls_and_values(4)
    assert four == one
    assert values == ["hello a", "hello b"]


def test_ecs_dpl_generate_runs_once_and_the_result_is_cached(repo, registered):
    dpl = registered(FakeDpl())
    repo.workflow("w", "name: w\nroles:\n  - {name: d, include: \"{{ dpl.Generate('o2-run --x') }}\"}\n")
    source = DirectorySource(repo.root)
    wf = make_expander(source, plugins=plugin_manager(), config=Configuration.from_tree({})).expand("w")
    assert [r.path for r in wf.call_roles()] == ["w.d.proc"]
    name = jit_name("o2-run --x", {})
    assert dpl.calls == [("o2-run --x", name)]
    assert (repo.root / "workflows" / f"{name}.yaml").exists()
    make_expander(source, plugins=plugin_manager(), config=Configuration.from_tree({})).expand("w")
    assert len(dpl.calls) == 1


def test_an_offline_expansion_uses_a_generated_workflow_without_saving_it(repo, registered):
    dpl = registered(FakeDpl())
    repo.workflow("w", "name: w\nroles:\n  - {name: d, include: \"{{ dpl.Generate('o2-run --x') }}\"}\n")
    source = DirectorySource(repo.root)
    wf = make_expander(source, plugins=plugin_manager(), offline=True).expand("w")  # as `template plan`
    assert [r.path for r in wf.call_roles()] == ["w.d.proc"] and len(dpl.calls) == 1
    assert sorted(p.name for p in (repo.root / "workflows").iterdir()) == ["w.yaml"]
    assert wf.source.display() == source.display()
