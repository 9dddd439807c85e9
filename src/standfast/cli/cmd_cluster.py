"""``standfast cluster ...``: the cluster definition, its key and certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from standfast.cli import render
from standfast.cli.cmd_cluster_key import cluster_keygen, cluster_rekey
from standfast.cli.common import Settings, emit, reports_errors
from standfast.config.paths import Paths, server_name
from standfast.messages import StandfastError


@click.group()
def cluster() -> None:
    """The cluster definition this server shares with the others (restart the daemon
    after a change)."""


def _parse_addresses(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        net, sep, addr = pair.partition("=")
        if not sep or not net or not addr:
            raise StandfastError("000002")
        out[net] = addr
    return out


@cluster.command("init")
@click.argument("name")
@click.option("--server", required=True, help="The first server's name.")
@click.option(
    "--address",
    "addresses",
    multiple=True,
    required=True,
    metavar="NET=IP",
    help="The server's address on a comm-path network (repeat; two or more "
    "networks are recommended).",
)
@click.option("--heartbeat-port", type=int, default=7800, show_default=True)
@click.option("--peer-port", type=int, default=7801, show_default=True)
@click.option(
    "--quorum",
    type=click.Choice(["majority", "none"]),
    default="majority",
    show_default=True,
    help="majority applies from three servers.",
)
@click.option(
    "--interval", type=float, default=0.3, show_default=True, help="Heartbeat interval (seconds)."
)
@click.option(
    "--miss-count",
    type=int,
    default=5,
    show_default=True,
    help="Heartbeats missed before a comm path is DEAD.",
)
@click.pass_obj
@reports_errors
def cluster_init(
    settings: Settings,
    name: str,
    server: str,
    addresses: tuple[str, ...],
    heartbeat_port: int,
    peer_port: int,
    quorum: str,
    interval: float,
    miss_count: int,
) -> None:
    """Create the cluster definition and a new cluster key on this server."""
    from standfast.cluster.auth import generate_key
    from standfast.cluster.definition import definition_from_dict, save_definition

    paths = settings.paths
    definition = definition_from_dict(
        {
            "name": name,
            "heartbeat_port": heartbeat_port,
            "peer_port": peer_port,
            "quorum": quorum,
            "heartbeat": {"interval": interval, "miss_count": miss_count},
            "servers": {server: {"addresses": _parse_addresses(addresses)}},
        }
    )
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    if not paths.cluster_key.exists():
        generate_key(paths.cluster_key)
    save_definition(paths.cluster_definition, definition)
    render.out.print(
        f"cluster {name}: definition {paths.cluster_definition}, key {paths.cluster_key}",
        markup=False,
    )
    _https_certificate(paths, server, list(definition.servers[server].addresses.values()))


@cluster.command("add-server")
@click.argument("server")
@click.option("--address", "addresses", multiple=True, required=True, metavar="NET=IP")
@click.option("--block-failover", is_flag=True, help="Never fail over to this server.")
@click.pass_obj
@reports_errors
def cluster_add_server(
    settings: Settings, server: str, addresses: tuple[str, ...], block_failover: bool
) -> None:
    """Add (or redefine) a server in this server's cluster definition."""
    from standfast.cluster.definition import (
        definition_from_dict,
        load_definition,
        save_definition,
    )

    paths = settings.paths
    current = load_definition(paths.cluster_definition)
    if current is None:
        raise StandfastError("193008", path=paths.cluster_definition)
    data = current.to_dict()
    data["servers"][server] = {
        "addresses": _parse_addresses(addresses),
        "failover_blocked": block_failover,
    }
    save_definition(paths.cluster_definition, definition_from_dict(data))
    render.out.print(f"server {server} added to {current.name}", markup=False)


@cluster.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def cluster_show(settings: Settings, as_json: bool) -> None:
    """Print this server's cluster definition."""
    from standfast.cluster.definition import load_definition

    current = load_definition(settings.paths.cluster_definition)
    if current is None:
        raise StandfastError("193008", path=settings.paths.cluster_definition)
    data = current.to_dict()
    if data.get("fencing"):
        from standfast.cluster.fence_agent import public_fencing

        data["fencing"] = public_fencing(data["fencing"])  # never print a secret
    if "alerts" in data:
        from standfast.alerts.config import parse_alerts

        alerts = parse_alerts(data["alerts"])  # never print a secret
        data["alerts"] = {
            "version": alerts.version,
            "recipients": [r.public() for r in alerts.recipients],
        }

    def human(d: dict[str, Any]) -> None:
        rows = [
            {
                "server": n,
                **{f"net:{k}": v for k, v in s["addresses"].items()},
                "failover_blocked": s["failover_blocked"],
            }
            for n, s in d["servers"].items()
        ]
        cols = [
            "server",
            *sorted({k for r in rows for k in r if k.startswith("net:")}),
            "failover_blocked",
        ]
        render.out.print(render.rows_table(rows, cols, title=f"cluster {d['name']}"))
        cert = settings.paths.data_dir / "tls" / "remote.crt"
        if cert.exists():
            from standfast.api.tls import fingerprint

            render.out.print(
                f"HTTPS certificate {cert}\n  SHA-256 {fingerprint(cert.read_text())}",
                markup=False,
            )

    emit(data, as_json, human)


@cluster.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The definition to check (default: this server's).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def cluster_check(settings: Settings, path: Path | None, as_json: bool) -> None:
    """Check a cluster definition as the daemon reads it: every setting known and
    valid (a numbered message and exit 1 for the first that is not)."""
    from standfast.cluster.definition import load_definition

    path = path or settings.paths.cluster_definition
    parsed = load_definition(path)
    if parsed is None:
        raise StandfastError("193008", path=path)
    summary = {
        "file": str(path),
        "cluster": parsed.name,
        "servers": sorted(parsed.servers),
        "quorum": parsed.quorum,
        "fencing": bool(parsed.fencing),
        **_check_fence_agent(parsed),
        **_check_etcd(parsed),
    }
    emit(
        summary,
        as_json,
        lambda d: render.out.print(
            f"{d['file']}: cluster {d['cluster']}, servers {', '.join(d['servers'])}, "
            f"quorum {d['quorum']}: valid",
            markup=False,
        ),
    )


def _check_etcd(parsed: Any) -> dict[str, object]:
    """With quorum etcd: every endpoint answers and this server may write under the
    prefix (199011 naming each endpoint that does not)."""
    import asyncio

    from standfast.cluster.definition import etcd_settings
    from standfast.cluster.etcd_arbiter import probe
    from standfast.config.paths import server_name

    if parsed.quorum != "etcd":
        return {}
    rows = asyncio.run(probe(etcd_settings(parsed), server_name()))
    bad = [r for r in rows if not r["ok"]]
    if bad:
        raise StandfastError(
            "199011",
            endpoints="; ".join(f"{r['endpoint']}: {r.get('error', '')}" for r in bad),
        )
    return {"etcd": rows}


def _check_fence_agent(parsed: Any) -> dict[str, str]:
    """A configured fence agent must run on this server and know every parameter
    given (its ``-o metadata``): 192070 / 192071 otherwise."""
    from standfast.cluster.definition import fence_config
    from standfast.cluster.fence_agent import check_agent_parameters

    config = fence_config(parsed)
    if config is None or config.agent is None:
        return {}
    names = set(config.parameters)
    for own in config.server_parameters.values():
        names |= set(own)
    check_agent_parameters(config.agent, names)
    return {"fence_agent": config.agent}


@cluster.command("import")
@click.argument("definition", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The cluster key file copied from another server.",
)
@click.pass_obj
@reports_errors
def cluster_import(settings: Settings, definition: Path, key_file: Path) -> None:
    """Join this server to a cluster: take another server's definition and key."""
    import os
    import shutil

    from standfast.cluster.auth import KeyFileError, load_key
    from standfast.cluster.definition import load_definition, save_definition

    paths = settings.paths
    parsed = load_definition(definition)  # a numbered refusal for bad JSON or settings
    if parsed is None:
        raise StandfastError("193008", path=definition)
    try:
        load_key(key_file)
    except KeyFileError as exc:
        raise StandfastError(exc.code, path=key_file, reason=exc.text, minimum=32) from None
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(key_file, paths.cluster_key)
    os.chmod(paths.cluster_key, 0o600)
    save_definition(paths.cluster_definition, parsed)
    render.out.print(f"joined cluster {parsed.name}", markup=False)
    me = server_name()
    if me in parsed.servers:
        _https_certificate(paths, me, list(parsed.servers[me].addresses.values()))


def _https_certificate(paths: Paths, server: str, addresses: list[str]) -> None:
    """The certificate this server's GUI and remote API will serve, made now (once) so
    the administrator can note its fingerprint before the first browser connects."""
    from standfast.api.tls import ensure_certificate, fingerprint

    cert, _key = ensure_certificate(paths.data_dir / "tls", server, addresses)
    render.out.print(
        f"HTTPS certificate {cert}\n  SHA-256 {fingerprint(cert.read_text())}", markup=False
    )


cluster.add_command(cluster_rekey)
cluster.add_command(cluster_keygen)
