"""``coconut role`` (``r``): query the roles of an environment by path glob."""

from __future__ import annotations

import typer

from ..aliases import command, command_group
from ..context import CliContext
from ..core_connection import connect
from ..output import OUTPUT_OPTION, check_output, message_dict, print_data, vars_block

app = command_group()


@command(app, "query", "q")
def query(
    ctx: typer.Context,
    environment_id: str = typer.Argument(..., metavar="ENV_ID", help="Environment id."),
    path_spec: str = typer.Argument(
        ..., metavar="GLOB", help="Role path glob ('.' separates levels: * within one, ** across)."
    ),
    output: str = OUTPUT_OPTION,
) -> None:
    """Roles whose path matches: status, state, variables, consolidated stack and subtree."""
    from rich.markup import escape
    from rich.tree import Tree

    from ecs_engine.protocols import o2control_pb2 as pb

    cli: CliContext = ctx.obj
    check_output(output)
    with connect(cli) as core:
        reply = core.call("GetRoles", pb.GetRolesRequest(envId=environment_id, pathSpec=path_spec))
    if output != "text":
        print_data(cli, {"roles": [message_dict(r) for r in reply.roles]}, output)
        return
    if not reply.roles:
        single = "*" in path_spec and "**" not in path_spec  # why a name that is there may not match
        hint = " ('*' stays within one level of the path, '.' separating levels: '**' crosses them)" if single else ""
        cli.echo(f"no role of {environment_id} matches '{path_spec}'{hint}")
        return
    for role in reply.roles:
        cli.console.print(f"[bold]{escape(role.fullPath)}[/bold]  status {role.status}  state {role.state}")
        if role.taskIds:
            cli.echo(f"  task: {', '.join(role.taskIds)}")
        vars_block(cli, "defaults", dict(role.defaults))
        vars_block(cli, "vars", dict(role.vars))
        vars_block(cli, "user vars", dict(role.userVars))
        vars_block(cli, "consolidated stack", dict(role.consolidatedStack))
        if role.roles:

            def add(tree, child) -> None:
                branch = tree.add(f"{escape(child.name)}  {child.status}  {child.state}")
                for grandchild in child.roles:
                    add(branch, grandchild)

            tree = Tree("subtree")
            for child in role.roles:
                add(tree, child)
            cli.console.print(tree)
        cli.echo("")
