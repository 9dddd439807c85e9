"""``standfast alert list|add|remove|test``: who is told what happened (docs/alerts.md).

Secrets (a webhook's shared secret, an SMTP password) are read from files, never from
the command line (which any user can see in the process list), and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from standfast.cli import render
from standfast.cli.common import Settings, emit, reports_errors
from standfast.messages import StandfastError


@click.group()
def alert() -> None:
    """Alert recipients: executables, webhooks and e-mail (kept in the cluster
    definition, replicated to every server)."""


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise StandfastError("190206", detail=f"{what} {path}: {exc}") from None


@alert.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def alert_list(settings: Settings, as_json: bool) -> None:
    """The recipients (secrets masked), with their delivery counts on this server."""
    data = settings.client().get("/v1/alerts")

    def human(d: dict[str, Any]) -> None:
        rows = [
            {
                "name": r["name"],
                "type": r["type"],
                "target": _target(r),
                "kinds": ",".join(r["kinds"]),
                "timeout": f"{r['timeout']:g}",
                "delivered": r["delivered"],
                "given_up": r["given_up"],
            }
            for r in d["recipients"]
        ]
        cols = ["name", "type", "target", "kinds", "timeout", "delivered", "given_up"]
        render.out.print(render.rows_table(rows, cols, title=f"alerts (version {d['version']})"))

    emit(data, as_json, human)


def _target(r: dict[str, Any]) -> str:
    if r["type"] == "exec":
        return " ".join([r["path"], *r.get("args", [])])
    if r["type"] == "webhook":
        return str(r["url"])
    return f"{','.join(r['to'])} via {r['smtp_host']}:{r['smtp_port']}"


def _smtp(name: str, value: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (an IPv6 address in brackets), port 587 by default."""
    host, port = value, "587"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not host or not port.isdigit():
        raise StandfastError("197001", name=name, reason="--smtp HOST[:PORT]")
    return host, int(port)


@alert.command("add")
@click.argument("name")
@click.option("--exec", "exec_path", metavar="PATH", help="Run this executable (absolute path).")
@click.option("--arg", "args", multiple=True, help="An argument for --exec (repeat).")
@click.option("--webhook", "url", metavar="URL", help="POST to this https:// URL.")
@click.option(
    "--secret-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The webhook's shared secret (at least 16 characters).",
)
@click.option("--email", "to", multiple=True, metavar="ADDRESS", help="Mail to (repeat).")
@click.option("--smtp", "smtp", metavar="HOST[:PORT]", help="The SMTP server (port 587).")
@click.option("--sender", metavar="ADDRESS", help="The From address.")
@click.option("--user", "username", help="SMTP user (needs --password-file).")
@click.option("--password-file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--no-starttls", is_flag=True, help="Plain SMTP (refused with --user).")
@click.option(
    "--ca-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Trust this CA certificate (PEM) for the webhook or SMTP server.",
)
@click.option("--kinds", default="all", show_default=True, help="Comma-separated alert kinds.")
@click.option("--timeout", type=float, default=None, help="Seconds per attempt.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def alert_add(settings: Settings, /, name: str, **o: Any) -> None:
    """Add recipient NAME: one of --exec, --webhook or --email."""
    chosen = [
        t for t, key in (("exec", "exec_path"), ("webhook", "url"), ("email", "to")) if o[key]
    ]
    if len(chosen) != 1:
        raise StandfastError("197001", name=name, reason="give one of --exec, --webhook, --email")
    body: dict[str, Any] = {"name": name, "type": chosen[0], "kinds": o["kinds"]}
    if o["timeout"] is not None:
        body["timeout"] = o["timeout"]
    ca = _read(o["ca_file"], "CA file")
    if ca:
        body["ca_pem"] = ca
    if chosen[0] == "exec":
        body.update(path=o["exec_path"], args=list(o["args"]))
    elif chosen[0] == "webhook":
        body.update(url=o["url"], secret=_read(o["secret_file"], "secret file") or "")
    else:
        host, port = _smtp(name, str(o["smtp"] or ""))
        body.update(smtp_host=host, smtp_port=port, sender=o["sender"] or "", to=list(o["to"]))
        body["starttls"] = not o["no_starttls"]
        if o["username"]:
            body.update(username=o["username"], password=_read(o["password_file"], "password file"))
    reply = settings.client().post("/v1/alerts", body)
    result = reply["result"]

    def human(r: dict[str, Any]) -> None:
        peers = ", ".join(r["replicated_to"]) or "no other server reachable now"
        render.out.print(
            f"alert recipient {name} added (version {r['version']}; sent to {peers})",
            markup=False,
        )

    emit(result, o["as_json"], human)


@alert.command("remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def alert_remove(settings: Settings, name: str, as_json: bool) -> None:
    """Remove recipient NAME."""
    result = settings.client().request("DELETE", "/v1/alerts/{}", params=[name])["result"]

    def human(r: dict[str, Any]) -> None:
        peers = ", ".join(r["replicated_to"]) or "no other server reachable now"
        render.out.print(
            f"alert recipient {name} removed (version {r['version']}; sent to {peers})",
            markup=False,
        )

    emit(result, as_json, human)


@alert.command("test")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def alert_test(settings: Settings, name: str | None, as_json: bool) -> None:
    """Send a test alert to every recipient (or NAME) now; exit status 1 if any failed."""
    result = settings.client().post("/v1/alerts/test", {"name": name})["result"]

    def human(r: dict[str, Any]) -> None:
        rows = [
            {
                "name": n,
                "type": v["type"],
                "result": "delivered" if v["delivered"] else "FAILED",
                "detail": v["detail"],
            }
            for n, v in r["results"].items()
        ]
        render.out.print(
            render.rows_table(rows, ["name", "type", "result", "detail"], title="test alert")
        )

    emit(result, as_json, human)
    if not all(v["delivered"] for v in result["results"].values()):
        raise SystemExit(1)
