"""``standfast``: the operator CLI. It talks to the local daemon; it never acts itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from standfast import __version__
from standfast.cli import render
from standfast.cli.client import ApiError, Client
from standfast.cli.lab import lab
from standfast.config.paths import Paths, server_name
from standfast.config.tunables import defaults_path, load_tunables
from standfast.messages import Lang, StandfastError, language_from_env
from standfast.messages.listing import catalogue_rows

P = ParamSpec("P")
R = TypeVar("R")


class Settings:
    def __init__(
        self,
        home: Path | None,
        socket: Path | None,
        defaults: Path | None,
        lang: Lang,
        timeout: float,
    ) -> None:
        self.paths = Paths.from_env(home=home, socket_path=socket, defaults=defaults)
        self.lang = lang
        self.timeout = timeout

    def client(self) -> Client:
        return Client(self.paths.socket, timeout=self.timeout, lang=self.lang)


def _fail(code_line: str, exit_code: int = 1) -> None:
    render.err.print(code_line, markup=False)
    sys.exit(exit_code)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Every refusal ends the command with its numbered message and a non-zero status."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            render.print_notices(exc.notices)
            _fail(f"{exc.error.get('code')}: {exc.error.get('message')}")
            raise AssertionError("unreachable") from None
        except StandfastError as exc:
            lang = click.get_current_context().find_object(Settings)
            _fail(exc.text(lang.lang if lang else None))
            raise AssertionError("unreachable") from None

    return wrapper


def _emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        human(data)


def _parse_props(pairs: tuple[str, ...]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise StandfastError("000002")
        props[name] = value
    return props


def _show_outcome(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for line in body.get("transcript", []):
        render.out.print(line, markup=False)
    render.print_notices(body.get("notices", []))
    render.out.print(render.kv_table(body.get("result", {})))


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
    type=float,
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
    """Servers and hierarchies with their states."""
    data = settings.client().get("/v1/status")

    def human(d: dict[str, Any]) -> None:
        if "cluster" in d:
            for table in render.cluster_tables(d):
                render.out.print(table)
        render.out.print(render.status_table(d))

    _emit(data, as_json, human)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def events(settings: Settings, as_json: bool) -> None:
    """Recent actions, state changes and failures."""
    data = settings.client().get("/v1/events")

    def human(rows: list[dict[str, Any]]) -> None:
        import time

        for r in rows:
            r["time"] = time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(float(r["ts"])))
            data = r.get("data") or {}
            took = data.get("detect_to_in_service_seconds", data.get("restore_seconds"))
            r["seconds"] = f"{float(took):.2f}" if took is not None else ""
        render.out.print(render.rows_table(rows, ["time", "kind", "tag", "detail", "seconds"]))

    _emit(data, as_json, human)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def kits(settings: Settings, as_json: bool) -> None:
    """The recovery kits and their properties."""
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

    _emit(data, as_json, human)


@cli.command("nfs-mounts")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def nfs_mounts(settings: Settings, as_json: bool) -> None:
    """NFS file systems mounted on this server (candidates for a NAS hierarchy)."""
    data = settings.client().get("/v1/nfs-mounts")
    _emit(
        data,
        as_json,
        lambda rows: render.out.print(
            render.rows_table(rows, ["mount_point", "source", "fstype", "protected", "default_tag"])
        ),
    )


@cli.group()
def resource() -> None:
    """Create, delete, show and operate resources."""


@resource.command("create")
@click.option("--kit", required=True, help="app, nas or filesys (see `standfast kits`).")
@click.option("--tag", default=None, help="Tag of the new (root) resource.")
@click.option("--id", "rid", default=None, help="Resource id; for nas/filesys the NFS mount point.")
@click.option(
    "--switchback", default="intelligent", show_default=True, help="intelligent or automatic."
)
@click.option(
    "--prop", "props", multiple=True, metavar="NAME=VALUE", help="A kit property (repeat)."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_create(
    settings: Settings,
    kit: str,
    tag: str | None,
    rid: str | None,
    switchback: str,
    props: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a hierarchy and bring it in service."""
    body = settings.client().post(
        "/v1/resources",
        {"kit": kit, "tag": tag, "id": rid, "switchback": switchback, "props": _parse_props(props)},
    )
    _show_outcome(body, as_json)


@resource.command("delete")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_delete(settings: Settings, tag: str, as_json: bool) -> None:
    """Delete the hierarchy rooted at TAG (it must be out of service)."""
    _show_outcome(settings.client().request("DELETE", f"/v1/resources/{tag}"), as_json)


@resource.command("show")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_show(settings: Settings, tag: str, as_json: bool) -> None:
    """Show one resource and its properties."""
    data = settings.client().get(f"/v1/resources/{tag}")
    _emit(data, as_json, lambda d: render.out.print(render.kv_table(d, title=tag)))


@resource.command("set")
@click.argument("tag")
@click.option("--prop", "props", multiple=True, metavar="NAME=VALUE")
@click.option("--switchback", default=None)
@click.option("--priority", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_set(
    settings: Settings,
    tag: str,
    props: tuple[str, ...],
    switchback: str | None,
    priority: int | None,
    as_json: bool,
) -> None:
    """Change a resource's properties, switchback type or priority."""
    body = settings.client().request(
        "PATCH",
        f"/v1/resources/{tag}",
        {"props": _parse_props(props), "switchback": switchback, "priority": priority},
    )
    _show_outcome(body, as_json)


@resource.command("in-service")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_in_service(settings: Settings, tag: str, as_json: bool) -> None:
    """Bring TAG and everything it depends on in service here."""
    _show_outcome(settings.client().post("/v1/in-service", {"tag": tag}), as_json)


@resource.command("out-of-service")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_out_of_service(settings: Settings, tag: str, as_json: bool) -> None:
    """Take TAG and everything that depends on it out of service."""
    _show_outcome(settings.client().post("/v1/out-of-service", {"tag": tag}), as_json)


@resource.command("extend")
@click.argument("tag")
@click.option("--target", required=True, help="The backup server to extend to.")
@click.option("--target-tag", default=None, help="Root tag on the target (default: same).")
@click.option(
    "--target-priority",
    type=int,
    default=None,
    help="1-999, unused (default: the next free of 10, 20, 30 ...).",
)
@click.option(
    "--template-priority",
    type=int,
    default=None,
    help="This server's priority (first extension only; default 1).",
)
@click.option("--switchback", default=None, help="intelligent or automatic.")
@click.option("--check-only", is_flag=True, help="Run the pre-extend checks only.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_extend(
    settings: Settings,
    tag: str,
    target: str,
    target_tag: str | None,
    target_priority: int | None,
    template_priority: int | None,
    switchback: str | None,
    check_only: bool,
    as_json: bool,
) -> None:
    """Extend the hierarchy of TAG (in service here) to a backup server. Options left
    out take their defaults, as the guide's "Accept Defaults"."""
    _show_outcome(
        settings.client().post(
            "/v1/extend",
            {
                "tag": tag,
                "target": target,
                "target_tag": target_tag,
                "target_priority": target_priority,
                "template_priority": template_priority,
                "switchback": switchback,
                "check_only": check_only,
            },
        ),
        as_json,
    )


@resource.command("unextend")
@click.argument("tag")
@click.option("--server", required=True, help="The server to remove the hierarchy from.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_unextend(settings: Settings, tag: str, server: str, as_json: bool) -> None:
    """Remove the hierarchy of TAG from SERVER (where it must not be in service)."""
    _show_outcome(settings.client().post("/v1/unextend", {"tag": tag, "server": server}), as_json)


@cli.group()
def dependency() -> None:
    """Create and delete dependencies between resources."""


@dependency.command("create")
@click.option("--parent", required=True)
@click.option("--child", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def dependency_create(settings: Settings, parent: str, child: str, as_json: bool) -> None:
    """Make PARENT depend on CHILD."""
    _show_outcome(
        settings.client().post("/v1/dependencies", {"parent": parent, "child": child}), as_json
    )


@dependency.command("delete")
@click.option("--parent", required=True)
@click.option("--child", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def dependency_delete(settings: Settings, parent: str, child: str, as_json: bool) -> None:
    """Remove the dependency of PARENT on CHILD."""
    _show_outcome(
        settings.client().request("DELETE", "/v1/dependencies", {"parent": parent, "child": child}),
        as_json,
    )


@cli.group()
def config() -> None:
    """Back up and restore the configuration (hierarchies, dependencies, priorities)."""


@config.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
@reports_errors
def config_backup(settings: Settings, file: Path) -> None:
    """Write the configuration to FILE (JSON)."""
    data = settings.client().get("/v1/config")
    file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    render.out.print(f"configuration version {data['version']} written to {file}", markup=False)


@config.command("restore")
@click.argument("file", type=click.Path(path_type=Path, exists=True))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def config_restore(settings: Settings, file: Path, as_json: bool) -> None:
    """Replace the configuration with FILE (everything must be out of service here)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StandfastError("190206", detail=f"{file}: {exc}") from None
    _show_outcome(settings.client().post("/v1/config", {"config": data}), as_json)


@cli.group()
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


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--lang", "lang", type=click.Choice(["en", "ja"]), default=None)
@click.pass_obj
def messages(settings: Settings, as_json: bool, lang: Lang | None) -> None:
    """The numbered message catalogue."""
    rows = catalogue_rows(lang or settings.lang)
    _emit(
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
    _show_outcome(
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


@cli.group()
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

    _emit(data, as_json, human)


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
    import json as _json
    import os
    import shutil

    from standfast.cluster.auth import KeyFileError, load_key
    from standfast.cluster.definition import definition_from_dict, save_definition

    paths = settings.paths
    parsed = definition_from_dict(_json.loads(definition.read_text()))
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


cli.add_command(lab)


def main() -> None:
    cli(prog_name="standfast")
