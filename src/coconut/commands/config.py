"""``coconut config``: the configuration store's components, dumps and migration (its inventory and runtime
entries are ``coconut config inventory`` and ``coconut config runtime``).

The store is the one named by ``--config-endpoint`` / setting ``config_endpoint`` (default: SQLite in
the user data dir). Command names, aliases, flags and messages follow upstream coconut.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ecs_engine.errors import NotFoundError, UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, counted, print_data, print_entries, table
from ..stores import open_config

if TYPE_CHECKING:
    from ecs_engine.config import ComponentQuery

app = command_group()

IMPORT_FORMATS = ("json", "yaml", "yml", "ini", "toml")


def _query(args: list[str], runtype: str | None, role: str | None, what: str) -> ComponentQuery:
    """A ComponentQuery from ``c/RT/r/e`` or ``component entry`` with -r/--runtype and -l/--role."""
    from ecs_engine.config import ComponentQuery

    if len(args) == 1:
        if runtype or role:
            raise UsageError(f"{what}: -r/--runtype and -l/--role only apply to the 'component entry' form")
        if args[0].count("/") < 3:
            raise UsageError(f"{what}: please provide entry name (expected component/RUNTYPE/role/entry)")
        return ComponentQuery.parse(args[0])
    if len(args) == 2:
        component, entry = args
        if "/" in component or "@" in component or "@" in entry or entry.count("/") not in (0, 2):
            raise UsageError(
                f"{what}: expected 'component entry' with the entry's name or RUNTYPE/role/entry"
                " (as `coconut config list COMPONENT` prints it), or component/RUNTYPE/role/entry"
            )
        if "/" in entry:  # RUNTYPE/role/entry, as ``config list COMPONENT`` prints it
            if runtype or role:
                raise UsageError(f"{what}: -r/--runtype and -l/--role cannot be combined with an entry's RUNTYPE/role")
            return ComponentQuery.of(component, *entry.split("/"))
        return ComponentQuery.of(component, runtype or "ANY", role or "any", entry)
    if len(args) == 4:
        if runtype or role:
            raise UsageError(f"{what}: -r/--runtype and -l/--role cannot be combined with RUNTYPE and role arguments")
        return ComponentQuery.of(*args)
    raise UsageError(
        f"{what}: accepts component/RUNTYPE/role/entry, 'component entry' or 'component RUNTYPE role entry',"
        f" but received {len(args)} argument(s)"
    )


@command(app, "list", "l", "ls")
def list_components(
    ctx: typer.Context,
    component: str = typer.Argument(None, help="List this component's entries instead of the components."),
    output: str = OUTPUT_OPTION,
    timestamp: bool = typer.Option(
        False, "-t", "--timestamp", help="Accepted for compatibility: entries are not versioned, nothing changes."
    ),
) -> None:
    """List the components, or the RUNTYPE/role/entry paths of one component."""
    cli: CliContext = ctx.obj
    check_output(output)
    if component is not None and ("/" in component or "@" in component):
        raise UsageError("component and entry names cannot contain `/` or `@`")
    with open_config(cli) as config:
        items = config.component_entries(component) if component else config.components()
    if not items and output == "text":
        if component:
            raise NotFoundError(f"no entries for component {component}", hint="the components: 'coconut config list'")
        raise NotFoundError(
            f"no components found in {config.store.url}",
            hint="'coconut config init' writes the site file's; 'coconut config import COMPONENT ... FILE -n' one",
        )
    print_entries(cli, items, output)


@command(app, "show", "s")
def show(
    ctx: typer.Context,
    args: list[str] = typer.Argument(..., help="component/RUNTYPE/role/entry[?process=true&k=v], or: component entry"),
    runtype: str = typer.Option(None, "-r", "--runtype", help="Run type for the 'component entry' form (ANY)."),
    role: str = typer.Option(None, "-l", "--role", help="Machine role for the 'component entry' form (any)."),
    simulate: bool = typer.Option(False, "-s", "--simulate", help="Render the payload template."),
    extra_vars: list[str] = typer.Option(
        None, "-e", "--extra-vars", help="Variables for -s: k=v,k2=v2 or a JSON object."
    ),
) -> None:
    """Print one payload (exact path, no ANY/any fallback); -s (or ?process=true) renders it as a template."""
    from ecs_engine.uservars import parse_vars

    cli: CliContext = ctx.obj
    query = _query(args, runtype, role, "show")
    if simulate and query.process is False:
        raise UsageError("show: -s/--simulate and the path's ?process=false contradict each other")
    process = simulate or bool(query.process)
    if extra_vars and not process:
        raise UsageError("-e/--extra-vars only applies with -s/--simulate (or the path's ?process=true)")
    variables = parse_vars(extra_vars or [], argument="-e/--extra-vars")
    with open_config(cli) as config:
        if process:
            from ecs_engine.template.functions import Util, static_objects

            objects = {**static_objects(), "util": Util(variables)}
            payload = config.get_component(query.with_query(), process=True, varstack=variables, objects=objects)
        else:
            payload = config.get_component(query.path)
    if payload == "":
        raise NotFoundError("no data was found", hint=f"the entry {query.path} exists but is empty")
    cli.echo(payload.rstrip("\n"))


#: what 'config import' takes
IMPORT_FORMS = "component/RUNTYPE/role/entry FILE, component entry FILE, or component RUNTYPE role entry FILE"


@command(app, "import", "i", "imp")
def import_entry(
    ctx: typer.Context,
    args: list[str] = typer.Argument(..., help=IMPORT_FORMS),
    runtype: str = typer.Option(None, "-r", "--runtype", help="Run type for the 'component entry' form (ANY)."),
    role: str = typer.Option(None, "-l", "--role", help="Machine role for the 'component entry' form (any)."),
    new_component: bool = typer.Option(False, "-n", "--new-component", help="Create the component."),
    fmt: str = typer.Option(
        None, "-f", "--format", help="Payload format when the file has no known extension: json, yaml, ini, toml."
    ),
) -> None:
    """Store a file (- reads stdin) as a component payload."""
    cli: CliContext = ctx.obj
    if len(args) < 2:
        raise UsageError("import: expected the configuration path and then the file to import")
    query = _query(args[:-1], runtype, role, "import")
    if query.process is not None or query.vars:
        raise UsageError(f"import: the path {args[0]!r} has a query (?...): only config show takes one")
    source = args[-1]
    if source != "-" and not Path(source).exists():  # before its extension: 'import readout ANY any' lacks a file
        raise NotFoundError(f"{source}: no such file", hint=f"the forms: {IMPORT_FORMS} (the file last)")
    extension = Path(source).suffix.lstrip(".").lower()
    if fmt is not None:
        if fmt.lower() not in IMPORT_FORMATS:
            raise UsageError(f"-f/--format: expected one of json, yaml, ini, toml, got '{fmt}'")
    elif source != "-" and extension not in IMPORT_FORMATS:
        raise UsageError(
            f"{source}: supported file extensions: JSON, YAML, INI or TOML."
            " To force a specific configuration format, see flag --format/-f"
        )
    if source == "-":
        payload = cli.stdin.read()
    else:
        try:
            payload = Path(source).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{source}: cannot read the file: {exc}") from None
    with open_config(cli) as config:
        imported = config.import_component(
            query.component, query.runtype, query.role, query.entry, payload, new_component=new_component
        )
    console = cli.console
    if not imported.component_existed:
        console.print(f"New component created: [bright_red]{query.component}[/]")
    if not imported.changed:
        console.print(f"Entry unchanged: [bright_blue]{query.entry}[/] (it holds this payload already)")
        return
    console.print(
        f"{'Entry updated' if imported.entry_existed else 'New entry created'}: [bright_blue]{query.entry}[/]"
    )
    console.print(
        f"Configuration imported: [bright_red]{query.component}[/]/[bright_blue]{query.runtype}[/]/"
        f"[bright_red]{query.role}[/]/[bright_blue]{query.entry}[/]"
    )


@command(app, "dump", "d")
def dump(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Key of the subtree, e.g. o2/components/readout (o2/ is optional)."),
    fmt: str = typer.Option("json", "-f", "--format", help="json, yaml or toml."),
) -> None:
    """Print the subtree below a key as a nested map (a leaf key prints its value)."""
    from ecs_engine.config.tree import FORMATS, serialize

    cli: CliContext = ctx.obj
    if fmt.lower() not in FORMATS:
        raise UsageError(f"-f/--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    with open_config(cli) as config:
        tree = config.raw_tree(key)
    if isinstance(tree, str):
        cli.echo(tree.rstrip("\n"))
    else:
        cli.stdout.write(serialize(tree, fmt.lower()))


@command(app, "delete", "del", "rm")
def delete(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="The key, e.g. o2/hardware/detectors/TST/flps/localhost (o2/ is optional)."),
    recursive: bool = typer.Option(False, "-r", "--recursive", help="Also every key below it."),
) -> None:
    """Remove a key (with -r, its subtree) from the configuration store."""
    cli: CliContext = ctx.obj
    with open_config(cli) as config:
        rel = config.relative_key(key).rstrip("/")
        if not rel:
            raise UsageError(f"delete: '{key}' names the whole store; give a key below it")
        marker = rel + "/"  # what an empty map (a host of the inventory: ``flp001: {}``) is stored as
        below = [k for k in config.store.get_tree(marker) if k != marker]
        if below and not recursive:
            raise UsageError(f"delete: '{key}' has {len(below)} key(s) below it; -r/--recursive removes them too")
        if config.store.get(rel) is None and config.store.get(marker) is None and not below:
            raise NotFoundError(f"no configuration at '{config.store.prefix}{rel}'")
        config.store.delete(rel, recursive=True)
        config.store.delete(marker)
    cli.echo(f"deleted {config.store.prefix}{rel}" + (f" and {len(below)} key(s) below it" if below else ""))


@command(app, "history", "h")
def history(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A key or a subtree, e.g. components/readout (o2/ is optional)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """The recorded writes of a key and the keys below it, oldest first, with their times (SQLite: its last 100000;
    etcd: the revisions it keeps; a write by another tool has no time)."""
    import datetime

    cli: CliContext = ctx.obj
    check_output(output)
    with open_config(cli) as config:
        rel = config.relative_key(key).rstrip("/")
        changes = config.store.history(rel)
        prefix = config.store.prefix
    if not changes and output == "text":
        raise NotFoundError(f"no recorded writes of '{prefix}{rel}'")
    # when each was written (UTC), None where the store records no time
    moments = [None if c.time is None else datetime.datetime.fromtimestamp(c.time, datetime.UTC) for c in changes]
    if output != "text":
        data = [
            {
                "revision": c.seq,
                "time": None if moment is None else moment.isoformat(timespec="milliseconds"),
                "key": prefix + c.key,
                "value": c.value,
            }
            for c, moment in zip(changes, moments, strict=True)
        ]
        print_data(cli, data, output)
        return
    rows = [
        [
            str(c.seq),
            "(time not recorded)" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
            prefix + c.key,
            "(deleted)" if c.value is None else c.value.rstrip("\n").replace("\n", "\\n"),
        ]
        for c, moment in zip(changes, moments, strict=True)
    ]
    table(cli, ["revision", "time", "key", "value"], rows)


@command(app, "init")
def init(
    ctx: typer.Context,
    site: str = typer.Argument(None, metavar="[FILE]", help="A site file (default: the shipped examples/site.yaml)."),
    force: bool = typer.Option(False, "--force", help="Also replace keys the store holds with another value."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be written, write nothing."),
) -> None:
    """Write a site file's defaults, inventory and payloads (what the real templates read) into the store."""
    from ecs_engine.config import open_store
    from ecs_engine.examples import site_file
    from ecs_engine.plugins import backends

    cli: CliContext = ctx.obj
    path = Path(site) if site else site_file()
    path = path if path.is_absolute() else cli.cwd / path
    if not path.is_file():
        raise NotFoundError(f"{site}: no such file" if site else f"the shipped site file {path} is missing")
    with open_store(f"file://{path}", backends()) as source, open_config(cli) as config:
        wanted, present = source.get_tree(""), config.store.get_tree("")
        differing = sorted(k for k, v in wanted.items() if k in present and present[k] != v)
        changes = {k: v for k, v in wanted.items() if k not in present or (force and k in differing)}
        if changes and not dry_run:
            config.store.put_many(changes)
        target = config.store.url or type(config.store).__name__
    kept = [] if force else differing
    cli.echo(
        f"{path} into {target}: {counted(len(changes), 'key')} {'would be written' if dry_run else 'written'},"
        f" {len(wanted) - len(changes) - len(kept)} unchanged, {len(kept)} kept"
    )
    for key in kept:
        cli.echo(f"  kept {key} (the store's value differs; --force replaces it)")


@command(app, "migrate")
def migrate(
    ctx: typer.Context,
    from_url: str = typer.Option(None, "--from", help="Source store URL (default: the configured store)."),
    to_url: str = typer.Option(None, "--to", help="Target store URL, or file:///PATH.yaml to export."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be written, write nothing."),
) -> None:
    """Copy a whole tree between stores (e.g. a file into etcd); running it twice writes nothing."""
    from ecs_engine.config.migrate import migrate as copy
    from ecs_engine.plugins import backends

    cli: CliContext = ctx.obj
    configured = cli.settings.get("config_endpoint") or ""
    if from_url is None and to_url is None:
        raise UsageError("migrate: give --from URL, --to URL or both (the other is the configured store)")
    source, target = from_url or configured, to_url or configured
    report = copy(source or None, target or None, backends(), data_dir=cli.data_dir, dry_run=dry_run)
    cli.echo(
        f"{counted(len(report.written), 'key')} {'would be written' if dry_run else 'written'},"
        f" {report.unchanged} unchanged"
    )
    if cli.verbose:
        for key in report.written:
            cli.echo(f"  {key}")
    if report.kept_run_number:
        src, dst = report.kept_run_number
        cli.error(f"coconut: warning: kept the target's run counter {dst} (the source's {src} would reuse run numbers)")
