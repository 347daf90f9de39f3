"""``coconut repo``: the template repositories (offline: a repository manager in the user data dir)."""

from __future__ import annotations

import typer

from ecs_engine.errors import UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_data, spinner
from ..stores import open_repos

app = command_group()


def _index(text: str) -> int:
    """A repository index as typed; typer's own int check answers in pydantic's words."""
    if not text.strip().isdigit():
        raise typer.BadParameter(f"expected a number (the index shown by 'coconut repo list'), got '{text}'")
    return int(text)


INDEX_HELP = "Index shown by 'coconut repo list'."


@command(app, "list", "l", "ls")
def list_repos(
    ctx: typer.Context,
    revisions: bool = typer.Option(False, "-r", "--revisions", help="Also list each repository's branches and tags."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List the template repositories: index, identifier, default marker, default revision."""
    from dataclasses import replace

    from ecs_engine.repos import RepoStatus
    from ecs_engine.server.sources import EXAMPLES, EXAMPLES_REVISION, installed_examples

    cli: CliContext = ctx.obj
    check_output(output)
    with open_repos(cli) as manager:
        listing = manager.list(revisions=revisions)
    if installed_examples() is not None:  # as the core's ListRepos: last, the default while none is added
        names = (EXAMPLES_REVISION,) if revisions else ()
        examples = RepoStatus(
            len(listing.repos), EXAMPLES, "directory", "", not listing.repos, EXAMPLES_REVISION, names
        )
        listing = replace(listing, repos=[*listing.repos, examples])
    if output != "text":
        repos = []
        for r in listing.repos:
            row = {
                "id": r.index,
                "name": r.name,
                "default": r.default,
                "defaultRevision": r.default_revision,
                "defaultRevisionMissing": r.default_revision_missing,
            }
            if revisions:
                row["revisions"] = list(r.revisions)
            repos.append(row)
        print_data(cli, {"repos": repos, "globalDefaultRevision": listing.global_default_revision}, output)
        return
    if not listing.repos:
        cli.echo("No repositories found.")
        return
    from rich.box import SIMPLE
    from rich.table import Table

    table = Table(box=SIMPLE, header_style="bold blue")
    for column in ("id", "repository", "default", "default revision", *(["revisions"] if revisions else [])):
        table.add_column(column, overflow="fold")
    for r in listing.repos:
        revision = (
            f"[red]{r.default_revision}[/red]"
            if r.default_revision == listing.global_default_revision
            else r.default_revision
        )
        if r.default_revision_missing:
            revision += " [bold red](missing)[/bold red]"
        cells = [str(r.index), r.name, "[blue]YES[/blue]" if r.default else "", revision]
        if revisions:
            cells.append(", ".join(r.revisions))
        table.add_row(*cells)
    cli.console.print("Git repositories used as configuration sources:\n")
    cli.console.print(table)
    cli.console.print(f"Global default revision: [red]{listing.global_default_revision}[/red]")


@command(app, "add", "new", "a")
def add(
    ctx: typer.Context,
    repository: str = typer.Argument(
        ..., help="https://HOST/PATH/NAME, HOST/PATH/NAME, HOST:PATH (ssh), file:///PATH or a directory."
    ),
    default_revision: str = typer.Option(
        None, "-d", "--default-revision", help="Default revision (else the global default, master, then main)."
    ),
) -> None:
    """Add a template repository: clone it (plain directories are read in place) and choose its default revision."""
    cli: CliContext = ctx.obj
    with open_repos(cli) as manager, spinner(cli, f"Cloning {repository}..."):
        result = manager.add(repository, default_revision or None, cwd=cli.cwd)
    cli.echo("Repository successfully added.")
    cli.echo(f"{result.repo.name} (index {result.repo.index}): {result.info}")


@command(app, "remove", "r", "delete", "del", "d")
def remove(ctx: typer.Context, index: int = typer.Argument(..., parser=_index, help=INDEX_HELP)) -> None:
    """Remove a repository (its clone and generated JIT workflows); the lowest index becomes default if needed."""
    cli: CliContext = ctx.obj
    with open_repos(cli) as manager:
        new_default = manager.remove(index)
    cli.echo("Repository removed successfully.")
    if new_default:
        cli.echo(f"New default repo is: {new_default}")


@command(app, "refresh", "update", "u")
def refresh(
    ctx: typer.Context,
    index: int = typer.Argument(None, parser=_index, help="Index shown by 'coconut repo list' (default: all)."),
) -> None:
    """Fetch new commits, branches and tags; drop generated JIT workflows of commits no longer reachable."""
    cli: CliContext = ctx.obj
    with open_repos(cli) as manager, spinner(cli, "Refreshing repositories..."):
        warnings = manager.refresh(index)
    for warning in warnings:
        cli.error(f"coconut: warning: {warning}")
    cli.echo("Repositories refreshed successfully" if index is None else "Repository refreshed successfully")


@command(app, "default")
def default(ctx: typer.Context, index: int = typer.Argument(..., parser=_index, help=INDEX_HELP)) -> None:
    """Make a repository the default one (used by workflow names without a repository)."""
    cli: CliContext = ctx.obj
    with open_repos(cli) as manager:
        name = manager.set_default_repo(index)
    cli.echo(f"Default repository updated successfully: {name}")


@command(app, "default-revision")
def default_revision(
    ctx: typer.Context,
    args: list[str] = typer.Argument(..., metavar="[INDEX] REVISION", help="REVISION (global) or INDEX REVISION."),
) -> None:
    """Set the global default revision, or with an index the default revision of one repository."""
    cli: CliContext = ctx.obj
    if len(args) == 1:
        with open_repos(cli) as manager:
            manager.set_global_default_revision(args[0])
        cli.echo(f'The global default revision has been successfully updated to "{args[0]}".')
        return
    if len(args) != 2:
        raise UsageError(f"expected REVISION or INDEX REVISION, got {len(args)} arguments")
    try:
        index = _index(args[0])
    except typer.BadParameter as exc:
        raise UsageError(f"INDEX: {exc}") from None
    with open_repos(cli) as manager:
        name = manager.set_repo_default_revision(index, args[1])
    cli.echo(f'The default revision for {name} has been successfully updated to "{args[1]}".')
