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
    _emit(data, as_json, lambda d: render.out.print(render.status_table(d)))


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
        render.out.print(render.rows_table(rows, ["time", "kind", "tag", "detail"]))

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
            render.rows_table(rows, ["mount_point", "source", "fstype", "protected"])
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


def main() -> None:
    cli(prog_name="standfast")
