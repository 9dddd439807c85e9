"""``standfast maintenance on|off [--hierarchy TAG]`` and ``standfast server
standby|unstandby NAME`` (docs/maintenance.md)."""

from __future__ import annotations

import click

from standfast.cli.common import Settings, reports_errors, show_outcome

_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command()
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option(
    "--hierarchy",
    "tag",
    default=None,
    metavar="TAG",
    help="Only the hierarchy this resource of this server belongs to (default: the cluster).",
)
@_JSON
@click.pass_obj
@reports_errors
def maintenance(settings: Settings, state: str, tag: str | None, as_json: bool) -> None:
    """Maintenance mode on or off: no checks, no local recovery, no automatic failover
    or switchback while on; states are kept and operator actions still work."""
    body = settings.client().post("/v1/maintenance", {"on": state == "on", "tag": tag})
    show_outcome(body, as_json)


@click.group()
def server() -> None:
    """Servers of the cluster: standby."""


@server.command()
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Even when it is the last server able to run a hierarchy it serves (it keeps"
    " that one until another server can take it).",
)
@_JSON
@click.pass_obj
@reports_errors
def standby(settings: Settings, name: str, force: bool, as_json: bool) -> None:
    """Put NAME in standby: its hierarchies move to the next server by priority, and
    it takes none until unstandby."""
    body = settings.client().post("/v1/standby", {"server": name, "on": True, "force": force})
    show_outcome(body, as_json)


@server.command()
@click.argument("name")
@_JSON
@click.pass_obj
@reports_errors
def unstandby(settings: Settings, name: str, as_json: bool) -> None:
    """Bring NAME out of standby: it may take hierarchies again (none moves back by
    itself)."""
    body = settings.client().post("/v1/standby", {"server": name, "on": False})
    show_outcome(body, as_json)
