"""``coconut role`` (``r``): query the roles of an environment by path glob."""

from __future__ import annotations

import typer

from .core import connect
from .env import alias_group, aliased, message_dict, vars_block
from .repo import check_output, print_data

app = typer.Typer(no_args_is_help=True, cls=alias_group())


@aliased(app, "query", "q")
def query(
    ctx: typer.Context,
    environment_id: str = typer.Argument(..., metavar="ENV_ID", help="Environment id."),
    path_spec: str = typer.Argument(
        ..., metavar="GLOB", help="Role path glob ('.' separates levels: * within one, ** across)."
    ),
    output: str = typer.Option("text", "-o", "--output", help="text, json or yaml."),
) -> None:
    """Roles whose path matches: status, state, variables, consolidated stack and subtree."""
    from rich.markup import escape
    from rich.tree import Tree

    from ecs_engine.protocols import o2control_pb2 as pb

    env = ctx.obj
    check_output(output)
    with connect(env) as core:
        reply = core.call("GetRoles", pb.GetRolesRequest(envId=environment_id, pathSpec=path_spec))
    if output != "text":
        print_data(env, {"roles": [message_dict(r) for r in reply.roles]}, output)
        return
    if not reply.roles:
        env.echo(f"no role of {environment_id} matches '{path_spec}'")
        return
    for role in reply.roles:
        env.console.print(f"[bold]{escape(role.fullPath)}[/bold]  status {role.status}  state {role.state}")
        if role.taskIds:
            env.echo(f"  task: {', '.join(role.taskIds)}")
        vars_block(env, "defaults", dict(role.defaults))
        vars_block(env, "vars", dict(role.vars))
        vars_block(env, "user vars", dict(role.userVars))
        vars_block(env, "consolidated stack", dict(role.consolidatedStack))
        if role.roles:

            def add(tree, child) -> None:
                branch = tree.add(f"{escape(child.name)}  {child.status}  {child.state}")
                for grandchild in child.roles:
                    add(branch, grandchild)

            tree = Tree("subtree")
            for child in role.roles:
                add(tree, child)
            env.console.print(tree)
        env.echo("")
