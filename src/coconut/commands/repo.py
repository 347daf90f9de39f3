"""``coconut repo``: the template repositories (offline: a repository manager in the user data dir)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from ecs_engine.errors import UsageError

app = typer.Typer(no_args_is_help=True)

OUTPUTS = ("text", "json", "yaml")


@contextlib.contextmanager
def open_manager(env) -> Iterator[Any]:
    """A RepoManager over ``env.data_dir`` whose defaults live in the configured configuration store."""
    from ecs_engine.config import Configuration
    from ecs_engine.repos import RepoManager

    ssh_key = env.settings.get("repos_ssh_key")
    with Configuration.open(env.settings.get("config_endpoint") or None, data_dir=env.data_dir) as config:
        yield RepoManager(
            env.data_dir,
            config,
            global_default_revision=env.settings.get("global_default_revision") or "master",
            ssh_key=Path(ssh_key).expanduser() if ssh_key else None,
        )


def check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise UsageError(f"--output: expected one of {', '.join(OUTPUTS)}, got '{output}'")
    return output


def print_data(env, data: Any, output: str) -> None:
    """JSON or YAML for scripts."""
    if output == "json":
        import json

        env.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        import yaml

        env.stdout.write(yaml.safe_dump(data, sort_keys=False))


@contextlib.contextmanager
def spinner(env, text: str) -> Iterator[None]:
    if env.spinner:
        with env.err_console.status(text):
            yield
    else:
        yield


def _command(*names: str) -> Callable:
    """Register a command under its upstream name and (hidden) aliases."""

    def register(func: Callable) -> Callable:
        app.command(names[0])(func)
        for alias in names[1:]:
            app.command(alias, hidden=True)(func)
        return func

    return register


OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")


@_command("list", "l", "ls")
def list_repos(
    ctx: typer.Context,
    revisions: bool = typer.Option(False, "-r", "--revisions", help="Also list each repository's branches and tags."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List the template repositories: index, identifier, default marker, default revision."""
    env = ctx.obj
    check_output(output)
    with open_manager(env) as manager:
        listing = manager.list(revisions=revisions)
    if output != "text":
        repos = []
        for r in listing.repos:
            row = {"id": r.index, "name": r.name, "default": r.default, "defaultRevision": r.default_revision}
            if revisions:
                row["revisions"] = list(r.revisions)
            repos.append(row)
        print_data(env, {"repos": repos, "globalDefaultRevision": listing.global_default_revision}, output)
        return
    if not listing.repos:
        env.echo("No repositories found.")
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
        cells = [str(r.index), r.name, "[blue]YES[/blue]" if r.default else "", revision]
        if revisions:
            cells.append(", ".join(r.revisions))
        table.add_row(*cells)
    env.console.print("Git repositories used as configuration sources:\n")
    env.console.print(table)
    env.console.print(f"Global default revision: [red]{listing.global_default_revision}[/red]")


@_command("add", "new", "a")
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
    env = ctx.obj
    with open_manager(env) as manager, spinner(env, f"Cloning {repository}..."):
        result = manager.add(repository, default_revision or None, cwd=env.cwd)
    env.echo("Repository successfully added.")
    env.echo(f"{result.repo.name} (index {result.repo.index}): {result.info}")


@_command("remove", "r", "delete", "del", "d")
def remove(ctx: typer.Context, index: int = typer.Argument(..., help="Index shown by 'coconut repo list'.")) -> None:
    """Remove a repository (its clone and generated JIT workflows); the lowest index becomes default if needed."""
    env = ctx.obj
    with open_manager(env) as manager:
        new_default = manager.remove(index)
    env.echo("Repository removed successfully.")
    if new_default:
        env.echo(f"New default repo is: {new_default}")


@_command("refresh", "update", "u")
def refresh(
    ctx: typer.Context,
    index: int = typer.Argument(None, help="Index shown by 'coconut repo list' (default: all)."),
) -> None:
    """Fetch new commits, branches and tags; drop generated JIT workflows of commits no longer reachable."""
    env = ctx.obj
    with open_manager(env) as manager, spinner(env, "Refreshing repositories..."):
        manager.refresh(index)
    env.echo("Repositories refreshed successfully" if index is None else "Repository refreshed successfully")


@_command("default")
def default(ctx: typer.Context, index: int = typer.Argument(..., help="Index shown by 'coconut repo list'.")) -> None:
    """Make a repository the default one (used by workflow names without a repository)."""
    env = ctx.obj
    with open_manager(env) as manager:
        name = manager.set_default_repo(index)
    env.echo(f"Default repository updated successfully: {name}")


@_command("default-revision")
def default_revision(
    ctx: typer.Context,
    args: list[str] = typer.Argument(..., metavar="[INDEX] REVISION", help="REVISION (global) or INDEX REVISION."),
) -> None:
    """Set the global default revision, or with an index the default revision of one repository."""
    env = ctx.obj
    if len(args) == 1:
        with open_manager(env) as manager:
            manager.set_global_default_revision(args[0])
        env.echo(f'The global default revision has been successfully updated to "{args[0]}".')
        return
    if len(args) != 2:
        raise UsageError(f"expected REVISION or INDEX REVISION, got {len(args)} arguments")
    if not args[0].isdigit():
        raise UsageError(f"INDEX: expected the repository's index from 'coconut repo list', got '{args[0]}'")
    with open_manager(env) as manager:
        name = manager.set_repo_default_revision(int(args[0]), args[1])
    env.echo(f'The default revision for {name} has been successfully updated to "{args[1]}".')


def print_templates(env, infos: list, output: str, *, details: bool, all_workflows: bool) -> None:
    """``template list``: a tree repository -> [revision] -> templates, or JSON/YAML rows."""
    if output != "text":
        rows = []
        for i in infos:
            row: dict[str, Any] = {"repo": i.repo, "template": i.template, "revision": i.revision, "public": i.public}
            if details:
                row["description"] = i.description
                row["varSpecMap"] = {k: v.as_dict() for k, v in i.varspecs.items()}
            rows.append(row)
        print_data(env, rows, output)
        return
    if not infos:
        env.echo("No templates found.")
        return
    import json

    from rich.markup import escape
    from rich.tree import Tree

    env.console.print("Available templates in loaded configuration:")
    repo_tree = revision_branch = None
    last: tuple[str, str] | None = None
    for i in infos:
        if repo_tree is None or last is None or last[0] != i.repo:
            if repo_tree is not None:
                env.console.print(repo_tree)
            repo_tree = Tree(f"[blue]{escape(i.repo)}[/blue]")
            last = None
        if last != (i.repo, i.revision):
            revision_branch = repo_tree.add(f"[yellow]\\[revision] {escape(i.revision)}[/yellow]")
            last = (i.repo, i.revision)
        label = escape(i.template) + (" [green](public)[/green]" if all_workflows and i.public else "")
        node = revision_branch.add(label)
        if details:
            if i.description:
                node.add(f"[dim]{escape(i.description)}[/dim]")
            for name, spec in sorted(i.varspecs.items(), key=lambda kv: (kv[1].index, kv[0])):
                what = ", ".join(x for x in (spec.type, spec.widget, spec.panel) if x)
                text = f"{escape(name)} = {escape(json.dumps(spec.value))} [dim]({escape(what)})[/dim]"
                if spec.label:
                    text += f" {escape(spec.label)}"
                node.add(text)
    if repo_tree is not None:
        env.console.print(repo_tree)
