"""``standfast``: the operator CLI. It talks to the local daemon; it never acts itself."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from standfast import __version__
from standfast.cli import render, status_exit
from standfast.cli.cmd_alert import alert
from standfast.cli.cmd_cluster import cluster
from standfast.cli.cmd_config import config, tunables
from standfast.cli.cmd_drill import drill
from standfast.cli.cmd_events import events
from standfast.cli.cmd_maintenance import maintenance, server
from standfast.cli.cmd_resource import dependency, resource
from standfast.cli.common import Settings, emit, reports_errors, show_outcome
from standfast.cli.lab import lab
from standfast.cli.options import SECONDS
from standfast.config.paths import server_name
from standfast.messages import Lang, language_from_env
from standfast.messages.listing import catalogue_rows


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="standfast")
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="STANDFAST_HOME",
    help="Keep every file of this server under DIR (tests, the lab).",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(path_type=Path),
    envvar="STANDFAST_SOCKET",
    help="The daemon's API socket.",
)
@click.option(
    "--defaults",
    type=click.Path(path_type=Path),
    envvar="STANDFAST_DEFAULTS",
    help="The tunables file (default /etc/default/standfast).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "ja"]),
    default=None,
    help="Message language (default: from the locale).",
)
@click.option(
    "--timeout",
    type=SECONDS,
    default=600.0,
    show_default=True,
    help="Seconds to wait for the daemon to answer.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    socket_path: Path | None,
    defaults: Path | None,
    lang: Lang | None,
    timeout: float,
) -> None:
    """Standfast: high-availability failover cluster manager."""
    ctx.obj = Settings(home, socket_path, defaults, lang or language_from_env(), timeout)


@cli.command()
@click.option("--server", default=None, help="This server's name (default: host name).")
@click.pass_obj
@reports_errors
def daemon(settings: Settings, server: str | None) -> None:
    """Run this server's Standfast daemon in the foreground."""
    from standfast.daemon.main import run_daemon

    run_daemon(settings.paths, server or server_name())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
@reports_errors
def status(settings: Settings, as_json: bool) -> None:
    """Servers and hierarchies with their states. Exit status: 0 all well, 3 degraded
    (a resource ISU, a comm path down), 4 failed (a resource OSF, quorum lost), 1 no
    answer from the daemon. Maintenance mode and standby are shown (also on stderr)
    but do not change it."""
    data = settings.client().get("/v1/status")

    def human(d: dict[str, Any]) -> None:
        if "cluster" in d:
            for table in render.cluster_tables(d):
                render.out.print(table)
        render.out.print(render.status_table(d))

    emit(data, as_json, human)
    code, found = status_exit.problems(data)
    for line in [*found, *status_exit.notes(data)]:
        render.err.print(f"status: {line}", markup=False)
    if code:
        sys.exit(code)


@cli.command()
@click.option("--agent", default=None, metavar="ocf:PROVIDER:TYPE", help="One OCF agent.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def kits(settings: Settings, agent: str | None, as_json: bool) -> None:
    """The recovery kits and their properties, and the OCF agents installed here;
    with --agent, that OCF agent's properties (from its meta-data)."""
    if agent is not None:
        one = settings.client().get("/v1/kits/ocf/agents/{}", params=[agent])
        emit(one, as_json, lambda a: render.out.print(_agent_table(a)))
        return
    data = settings.client().get("/v1/kits")

    def human(rows: list[dict[str, Any]]) -> None:
        for k in rows:
            render.out.print(
                render.rows_table(
                    k["properties"],
                    ["name", "type", "default", "required", "help"],
                    title=f"{k['name']}: {k['description']}",
                )
            )
            if k.get("agents"):
                render.out.print(f"OCF agents installed ({len(k['agents'])}):")
                render.out.print("  " + "  ".join(k["agents"]))

    emit(data, as_json, human)


def _agent_table(a: dict[str, Any]) -> Any:
    return render.rows_table(
        a["properties"],
        ["name", "type", "default", "required", "help"],
        title=f"{a['agent']}: {a['description']}",
    )


@cli.command("nfs-mounts")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def nfs_mounts(settings: Settings, as_json: bool) -> None:
    """NFS file systems mounted on this server (candidates for a NAS hierarchy)."""
    data = settings.client().get("/v1/nfs-mounts")
    emit(
        data,
        as_json,
        lambda rows: render.out.print(
            render.rows_table(rows, ["mount_point", "source", "fstype", "protected", "default_tag"])
        ),
    )


@cli.command()
@click.argument("fault", type=click.Choice(["fail", "nas", "join"]))
@click.argument("server")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def simulate(settings: Settings, fault: str, server: str, as_json: bool) -> None:
    """What would happen if SERVER failed (fail), lost its NAS path (nas) or joined
    (join) now: where each hierarchy would go, what would be fenced or waited for, and
    why. Acts on nothing."""
    from urllib.parse import urlencode

    data = settings.client().get("/v1/simulate?" + urlencode({"fault": fault, "server": server}))

    def human(body: dict[str, Any]) -> None:
        rows = [
            {
                **h,
                "before": ", ".join(h["before"]) or "-",
                "after": ", ".join(h["after"]) or "-",
                "first": " ".join(
                    x for x in (f"fence {h['fence']}" if h["fence"] else "", h["wait"]) if x
                ),
            }
            for h in body["hierarchies"]
        ]
        title = f"if {body['server']} {_FAULT_WORDS[body['fault']]} (as seen by {body['asked']})"
        render.out.print(
            render.rows_table(rows, ["tag", "before", "after", "action", "first", "reason"], title)
        )

    emit(data, as_json, human)


_FAULT_WORDS = {"fail": "failed now", "nas": "lost its NAS path now", "join": "joined now"}


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--lang", "lang", type=click.Choice(["en", "ja"]), default=None)
@click.pass_obj
def messages(settings: Settings, as_json: bool, lang: Lang | None) -> None:
    """The numbered message catalogue."""
    rows = catalogue_rows(lang or settings.lang)
    emit(
        rows,
        as_json,
        lambda r: render.out.print(render.rows_table(r, ["code", "severity", "message", "action"])),
    )


@cli.command("failover-answer")
@click.argument("tag")
@click.argument("answer", type=click.Choice(["proceed", "block"]))
@click.pass_obj
@reports_errors
def failover_answer(settings: Settings, tag: str, answer: str) -> None:
    """Answer a pending failover confirmation for TAG (see `standfast status`)."""
    show_outcome(
        settings.client().post("/v1/failover/answer", {"tag": tag, "answer": answer}), False
    )


@cli.command()
@click.option("--listen", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=7802, show_default=True)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path),
    required=True,
    help="The cluster key file (the same as the servers').",
)
@click.option(
    "--grant-ttl",
    type=float,
    default=3.0,
    show_default=True,
    help="Seconds a grant lasts without renewal.",
)
def witness(listen: str, port: int, key_file: Path, grant_ttl: float) -> None:
    """Run a TCP quorum witness (on a host that is not a cluster server)."""
    from standfast.cluster.witness import main as witness_main

    sys.exit(
        witness_main(
            [
                "--listen",
                listen,
                "--port",
                str(port),
                "--key-file",
                str(key_file),
                "--grant-ttl",
                str(grant_ttl),
            ]
        )
    )


cli.add_command(events)
cli.add_command(drill)
cli.add_command(resource)
cli.add_command(dependency)
cli.add_command(config)
cli.add_command(tunables)
cli.add_command(cluster)
cli.add_command(alert)
cli.add_command(lab)
cli.add_command(maintenance)
cli.add_command(server)


def main() -> None:
    cli(prog_name="standfast")
