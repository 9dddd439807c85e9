"""``standfast config ...`` and ``standfast tunables ...``: backups and the defaults file."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

import click

from standfast.cli import render
from standfast.cli.common import Settings, reports_errors, show_outcome
from standfast.config.paths import server_name
from standfast.config.tunables import defaults_path, load_tunables
from standfast.messages import Notice, StandfastError
from standfast.model.event_query import LIMIT_MAX


@click.group()
def config() -> None:
    """Back up and restore the configuration (hierarchies, dependencies, priorities)."""


@config.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
@reports_errors
def config_backup(settings: Settings, file: Path) -> None:
    """Write the configuration and this server's event history to FILE (JSON)."""
    client = settings.client()
    data = client.get("/v1/config")
    data["events"] = client.get(f"/v1/events/history?limit={LIMIT_MAX}")
    file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    render.out.print(
        f"configuration version {data['version']} and {len(data['events'])} events"
        f" written to {file}",
        markup=False,
    )


@config.command("restore")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def config_restore(settings: Settings, file: Path, as_json: bool) -> None:
    """Replace the configuration with FILE (everything must be out of service here) and
    add the events of FILE that this server's history lacks (it keeps its own)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StandfastError("190206", detail=f"{file}: {exc}") from None
    show_outcome(settings.client().post("/v1/config", {"config": data}), as_json)


@click.group()
def tunables() -> None:
    """The tunables of the defaults file."""


@tunables.command("check")
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path),
    default=None,
    help="Check this file instead of the configured defaults file.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def tunables_check(settings: Settings, file: Path | None, as_json: bool) -> None:
    """Print the effective values and any message about them."""
    path = file or settings.paths.defaults or defaults_path()
    values, notices = load_tunables(path, server_name())
    notices += _environment_notices(values.environment)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "file": str(path),
                    "values": values.as_dict(),
                    "sources": dict(values.sources),
                    "notices": [n.to_dict(settings.lang) for n in notices],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        render.out.print(render.kv_table(values.as_dict(), title=str(path)))
        render.print_notices(n.to_dict(settings.lang) for n in notices)
    if any(str(n.severity) != "info" for n in notices):
        sys.exit(1)


def _environment_notices(environment: Mapping[str, str]) -> list[Notice]:
    """The daemon's own settings that stand in the defaults file, checked as the daemon
    checks them at start (systemd hands it the same file as its environment)."""
    if not environment:
        return []
    from standfast.api.remote import RemoteSettings

    return RemoteSettings.from_env(environment)[1]
