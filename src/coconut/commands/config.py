"""``coconut config``: the configuration store (components, inventory, runtime KV, migration).

The store is the one named by ``--config-endpoint`` / setting ``config_endpoint`` (default: SQLite in
the user data dir). Command names, aliases, flags and messages follow upstream coconut.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from ecs_engine.errors import NotFoundError, UsageError

app = typer.Typer(no_args_is_help=True)
inventory_app = typer.Typer(no_args_is_help=True)
runtime_app = typer.Typer(no_args_is_help=True)

OUTPUTS = ("text", "json", "yaml")
IMPORT_FORMATS = ("json", "yaml", "yml", "ini", "toml")
OUTPUT_OPTION = typer.Option("text", "-o", "--output", help="text, json or yaml.")


@contextlib.contextmanager
def open_config(env) -> Iterator[Any]:
    from ecs_engine.config import Configuration

    with Configuration.open(env.settings.get("config_endpoint") or None, data_dir=env.data_dir) as config:
        yield config


def _command(typer_app: typer.Typer, *names: str) -> Callable:
    """Register a command under its upstream name and (hidden) aliases."""

    def register(func: Callable) -> Callable:
        typer_app.command(names[0])(func)
        for alias in names[1:]:
            typer_app.command(alias, hidden=True)(func)
        return func

    return register


def _check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise UsageError(f"--output: expected one of {', '.join(OUTPUTS)}, got '{output}'")
    return output


def _print_data(env, data: Any, output: str) -> None:
    """Lists and maps as text lines, JSON or YAML."""
    from ecs_engine.config.tree import serialize

    if output == "text":
        items = data.items() if isinstance(data, dict) else ((item, None) for item in data)
        for key, value in items:
            env.echo(key if value is None else f"{key}: {value}")
    else:
        env.stdout.write(serialize(data, output))


def _query(args: list[str], runtype: str | None, role: str | None, what: str):
    """A ComponentQuery from ``c/RT/r/e`` or ``component entry`` with -r/--runtype and -l/--role."""
    from ecs_engine.config import ComponentQuery

    if len(args) == 1:
        if runtype or role:
            raise UsageError(f"{what}: -r/--runtype and -l/--role only apply to the 'component entry' form")
        if args[0].count("/") < 3:
            raise UsageError(f"{what}: please provide entry name (expected component/RUNTYPE/role/entry)")
        return ComponentQuery.parse(args[0])
    if len(args) == 2:
        for arg in args:
            if "/" in arg or "@" in arg:
                raise UsageError(f"{what}: component and entry names cannot contain `/` or `@` in this form")
        return ComponentQuery.of(args[0], runtype or "ANY", role or "any", args[1])
    if len(args) == 4:
        if runtype or role:
            raise UsageError(f"{what}: -r/--runtype and -l/--role cannot be combined with RUNTYPE and role arguments")
        return ComponentQuery.of(*args)
    raise UsageError(
        f"{what}: accepts component/RUNTYPE/role/entry, 'component entry' or 'component RUNTYPE role entry',"
        f" but received {len(args)} argument(s)"
    )


@_command(app, "list", "l", "ls")
def list_components(
    ctx: typer.Context,
    component: str = typer.Argument(None, help="List this component's entries instead of the components."),
    output: str = OUTPUT_OPTION,
    timestamp: bool = typer.Option(
        False, "-t", "--timestamp", help="Accepted for compatibility: entries are not versioned, nothing changes."
    ),
) -> None:
    """List the components, or the RUNTYPE/role/entry paths of one component."""
    env = ctx.obj
    _check_output(output)
    if component is not None and ("/" in component or "@" in component):
        raise UsageError("component and entry names cannot contain `/` or `@`")
    with open_config(env) as config:
        items = config.component_entries(component) if component else config.components()
    if not items and output == "text":
        raise NotFoundError(f"no entries for component {component}" if component else "no components found")
    _print_data(env, items, output)


@_command(app, "show", "s")
def show(
    ctx: typer.Context,
    args: list[str] = typer.Argument(..., help="component/RUNTYPE/role/entry, or: component entry"),
    runtype: str = typer.Option(None, "-r", "--runtype", help="Run type for the 'component entry' form (ANY)."),
    role: str = typer.Option(None, "-l", "--role", help="Machine role for the 'component entry' form (any)."),
    simulate: bool = typer.Option(False, "-s", "--simulate", help="Render the payload template."),
    extra_vars: list[str] = typer.Option(
        None, "-e", "--extra-vars", help="Variables for -s: k=v,k2=v2 or a JSON object."
    ),
) -> None:
    """Print one payload (exact path, no ANY/any fallback); -s renders it as a template."""
    from ecs_engine.uservars import parse_vars

    env = ctx.obj
    query = _query(args, runtype, role, "show")
    if extra_vars and not simulate:
        raise UsageError("-e/--extra-vars only applies with -s/--simulate")
    variables = parse_vars(extra_vars or [], argument="-e/--extra-vars")
    with open_config(env) as config:
        if simulate:
            from ecs_engine.template.functions import Util, static_objects

            objects = {**static_objects(), "util": Util(variables)}
            payload = config.get_component(query.path, process=True, varstack=variables, objects=objects)
        else:
            payload = config.get_component(query.path)
    if payload == "":
        raise NotFoundError("no data was found", hint=f"the entry {query.path} exists but is empty")
    env.echo(payload.rstrip("\n"))


@_command(app, "import", "i", "imp")
def import_entry(
    ctx: typer.Context,
    args: list[str] = typer.Argument(
        ..., help="component/RUNTYPE/role/entry FILE, component entry FILE, or component RUNTYPE role entry FILE"
    ),
    runtype: str = typer.Option(None, "-r", "--runtype", help="Run type for the 'component entry' form (ANY)."),
    role: str = typer.Option(None, "-l", "--role", help="Machine role for the 'component entry' form (any)."),
    new_component: bool = typer.Option(False, "-n", "--new-component", help="Create the component."),
    fmt: str = typer.Option(
        None, "-f", "--format", help="Payload format when the file has no known extension: json, yaml, ini, toml."
    ),
) -> None:
    """Store a file (- reads stdin) as a component payload."""
    env = ctx.obj
    if len(args) < 2:
        raise UsageError("import: expected the configuration path and then the file to import")
    query = _query(args[:-1], runtype, role, "import")
    source = args[-1]
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
        payload = env.stdin.read()
    else:
        try:
            payload = Path(source).read_text()
        except FileNotFoundError:
            raise NotFoundError(f"{source}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{source}: cannot read the file: {exc}") from None
    with open_config(env) as config:
        component_existed, entry_existed = config.import_component(
            query.component, query.runtype, query.role, query.entry, payload, new_component=new_component
        )
    console = env.console
    if not component_existed:
        console.print(f"New component created: [bright_red]{query.component}[/]")
    console.print(f"{'Entry updated' if entry_existed else 'New entry created'}: [bright_blue]{query.entry}[/]")
    console.print(
        f"Configuration imported: [bright_red]{query.component}[/]/[bright_blue]{query.runtype}[/]/"
        f"[bright_red]{query.role}[/]/[bright_blue]{query.entry}[/]"
    )


@_command(app, "dump", "d")
def dump(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Key of the subtree, e.g. o2/components/readout (o2/ is optional)."),
    fmt: str = typer.Option("json", "-f", "--format", help="json, yaml or toml."),
) -> None:
    """Print the subtree below a key as a nested map (a leaf key prints its value)."""
    from ecs_engine.config.tree import FORMATS, serialize

    env = ctx.obj
    if fmt.lower() not in FORMATS:
        raise UsageError(f"-f/--format: expected one of {', '.join(FORMATS)}, got '{fmt}'")
    with open_config(env) as config:
        tree = config.raw_tree(key)
    if isinstance(tree, str):
        env.echo(tree.rstrip("\n"))
    else:
        env.stdout.write(serialize(tree, fmt.lower()))


@_command(app, "migrate")
def migrate(
    ctx: typer.Context,
    from_url: str = typer.Option(None, "--from", help="Source store URL (default: the configured store)."),
    to_url: str = typer.Option(None, "--to", help="Target store URL, or file:///PATH.yaml to export."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be written, write nothing."),
) -> None:
    """Copy a whole tree between stores (e.g. a file into etcd); running it twice writes nothing."""
    from ecs_engine.config.migrate import migrate as copy

    env = ctx.obj
    configured = env.settings.get("config_endpoint") or ""
    if from_url is None and to_url is None:
        raise UsageError("migrate: give --from URL, --to URL or both (the other is the configured store)")
    source, target = from_url or configured, to_url or configured
    report = copy(source or None, target or None, data_dir=env.data_dir, dry_run=dry_run)
    verb = "would write" if dry_run else "written"
    env.echo(f"{len(report.written)} keys {verb}, {report.unchanged} unchanged")
    if env.verbose:
        for key in report.written:
            env.echo(f"  {key}")
    if report.kept_run_number:
        src, dst = report.kept_run_number
        env.error(f"coconut: warning: kept the target's run counter {dst} (the source's {src} would reuse run numbers)")


app.add_typer(inventory_app, name="inventory", help="The hardware inventory: detectors, FLP hosts, readout cards.")
app.add_typer(inventory_app, name="inv", hidden=True)


@_command(inventory_app, "detectors", "det")
def inventory_detectors(
    ctx: typer.Context,
    get_all: bool = typer.Option(False, "-a", "--all", help="Include private detectors (TRG)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Detectors with their FLP hosts."""
    env = ctx.obj
    _check_output(output)
    with open_config(env) as config:
        inventory = config.detectors_inventory()
        shown = set(config.detectors(get_all=get_all))
    data = {det: hosts for det, hosts in inventory.items() if det in shown}
    if output != "text":
        _print_data(env, data, output)
        return
    if not data:
        raise NotFoundError("no detectors in the inventory", hint="hardware/detectors/<DET>/flps/<host> keys")
    from rich.table import Table

    table = Table(box=None)
    table.add_column("detector", style="bold")
    table.add_column("FLP hosts")
    for det, hosts in data.items():
        table.add_row(det, " ".join(hosts))
    env.console.print(table)


@_command(inventory_app, "hosts", "flps")
def inventory_hosts(
    ctx: typer.Context,
    detector: str = typer.Argument("", help="Detector (default: every FLP of hardware/flps)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """FLP hosts of a detector."""
    env = ctx.obj
    _check_output(output)
    with open_config(env) as config:
        hosts = config.hosts_for_detector(detector)
    if not hosts and output == "text":
        raise NotFoundError(f"no hosts for detector {detector}" if detector else "no FLP hosts in the inventory")
    _print_data(env, hosts, output)


@_command(inventory_app, "cards", "cru")
def inventory_cards(
    ctx: typer.Context,
    host: str = typer.Argument(..., help="FLP host name."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Detector, readout cards and their endpoints of one host."""
    env = ctx.obj
    _check_output(output)
    with open_config(env) as config:
        detector = config.detector_for_host(host)
        cards = {serial: config.endpoints_for_cru_card(host, serial) for serial in config.cru_cards_for_host(host)}
    if output != "text":
        _print_data(env, {"host": host, "detector": detector, "cards": cards}, output)
        return
    env.echo(f"host: {host}")
    env.echo(f"detector: {detector}")
    if not cards:
        env.echo("cards: none")
    for serial, endpoints in cards.items():
        env.echo(f"card {serial}: endpoints {' '.join(endpoints)}")


app.add_typer(runtime_app, name="runtime", help="Runtime key-value entries (o2/runtime/<component>/<key>).")
app.add_typer(runtime_app, name="rt", hidden=True)


@_command(runtime_app, "get", "g")
def runtime_get(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs or trg/ltu."),
    key: str = typer.Argument(..., help="Key within the component."),
) -> None:
    """Print one runtime entry."""
    env = ctx.obj
    with open_config(env) as config:
        value = config.runtime_get(component, key)
    if value is None:
        raise NotFoundError(f"no runtime entry {component}/{key}")
    env.echo(value)


@_command(runtime_app, "set", "s")
def runtime_set(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs."),
    key: str = typer.Argument(..., help="Key within the component."),
    value: str = typer.Argument(..., help="Value to store."),
) -> None:
    """Set one runtime entry."""
    env = ctx.obj
    with open_config(env) as config:
        config.runtime_set(component, key, value)
    env.echo(f"{component}/{key} set")


@_command(runtime_app, "list", "ls", "l")
def runtime_list(
    ctx: typer.Context,
    component: str = typer.Argument(..., help="Component, e.g. aliecs."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Every runtime entry of a component."""
    env = ctx.obj
    _check_output(output)
    with open_config(env) as config:
        entries = config.runtime_entries(component)
    if not entries and output == "text":
        raise NotFoundError(f"no runtime entries for component {component}")
    _print_data(env, entries, output)
