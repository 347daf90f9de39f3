"""``coconut config inventory`` (``inv``): the hardware inventory of the configuration store: detectors,
FLP hosts, readout cards and their endpoints."""

from __future__ import annotations

import typer

from ecs_engine.errors import NotFoundError

from ..aliases import command, command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output, print_entries
from ..stores import open_config

app = command_group()


@command(app, "detectors", "det")
def inventory_detectors(
    ctx: typer.Context,
    get_all: bool = typer.Option(False, "-a", "--all", help="Include private detectors (TRG)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Detectors with their FLP hosts."""
    cli: CliContext = ctx.obj
    check_output(output)
    with open_config(cli) as config:
        inventory = config.detectors_inventory()
        shown = set(config.detectors(get_all=get_all))
    data = {det: hosts for det, hosts in inventory.items() if det in shown}
    if output != "text":
        print_entries(cli, data, output)
        return
    if not data:
        raise NotFoundError("no detectors in the inventory", hint="hardware/detectors/<DET>/flps/<host> keys")
    from rich.table import Table

    table = Table(box=None)
    table.add_column("detector", style="bold")
    table.add_column("FLP hosts")
    for det, hosts in data.items():
        table.add_row(det, " ".join(hosts))
    cli.console.print(table)


@command(app, "hosts", "flps")
def inventory_hosts(
    ctx: typer.Context,
    detector: str = typer.Argument("", help="Detector (default: every FLP, of any detector or with cards)."),
    output: str = OUTPUT_OPTION,
) -> None:
    """FLP hosts of a detector."""
    cli: CliContext = ctx.obj
    check_output(output)
    with open_config(cli) as config:
        hosts = config.hosts_for_detector(detector) if detector else config.every_flp()
    if not hosts and output == "text":
        raise NotFoundError(f"no hosts for detector {detector}" if detector else "no FLP hosts in the inventory")
    print_entries(cli, hosts, output)


@command(app, "add")
def inventory_add(
    ctx: typer.Context,
    detector: str = typer.Argument(..., help="Detector, e.g. TST."),
    hosts: list[str] = typer.Argument(..., help="FLP host names."),
) -> None:
    """Add FLP hosts to a detector (keys hardware/detectors/DET/flps/HOST/); remove one with 'config delete'."""
    from ecs_engine.config.store import check_key

    cli: CliContext = ctx.obj
    keys = {
        check_key(f"hardware/detectors/{detector}/flps/{host}/", what="detector or host name"): "" for host in hosts
    }
    with open_config(cli) as config:
        config.store.put_many(keys)
    cli.echo(f"detector {detector}: {', '.join(hosts)} added")


@command(app, "cards", "cru")
def inventory_cards(
    ctx: typer.Context,
    host: str = typer.Argument(..., help="FLP host name."),
    output: str = OUTPUT_OPTION,
) -> None:
    """Detector, readout cards and their endpoints of one host."""
    cli: CliContext = ctx.obj
    check_output(output)
    with open_config(cli) as config:
        detector = config.detector_for_host(host)
        cards = {serial: config.endpoints_for_cru_card(host, serial) for serial in config.cru_cards_for_host(host)}
    if output != "text":
        print_entries(cli, {"host": host, "detector": detector, "cards": cards}, output)
        return
    cli.echo(f"host: {host}")
    cli.echo(f"detector: {detector}")
    if not cards:
        cli.echo("cards: none")
    for serial, endpoints in cards.items():
        cli.echo(f"card {serial}: endpoints {' '.join(endpoints)}")
