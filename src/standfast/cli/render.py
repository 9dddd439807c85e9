"""Human output: tables and trees for operators (``--json`` bypasses all of this).

Nothing from the daemon, the configuration or a file is ever read as rich markup:
every cell, title and message line is a :class:`rich.text.Text` (styles are set on it,
not written into it), so an id, a property value or a command's output that contains
``[/x]`` or ``[bold]`` prints as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATE_STYLE = {"ISP": "green", "ISU": "yellow", "OSU": "bright_black", "OSF": "red"}

# No emoji codes: ":ab:" in a fingerprint or a path must print as written.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def plain(value: object, style: str = "") -> Text:
    """``value`` as text that rich prints as written (no markup, no emoji codes)."""
    return Text(str(value), style=style)


def _title(title: str) -> Text | None:
    return plain(title) if title else None


def _state(state: str) -> Text:
    return plain(state, STATE_STYLE.get(state, "white"))


def _walk(node: Mapping[str, Any], depth: int) -> Iterable[tuple[int, Mapping[str, Any]]]:
    yield depth, node
    for child in node.get("children", []):
        yield from _walk(child, depth + 1)


MAINTENANCE = "MAINTENANCE"


def status_table(status: Mapping[str, Any]) -> Table:
    title = f"Server {status['server']}  (configuration version {status['config_version']})"
    maint = status.get("maintenance") or {}
    if maint.get("cluster"):
        title += f"  {MAINTENANCE} MODE (cluster)"
    if status.get("standby"):
        title += "  STANDBY"
    table = Table(title=plain(title), title_justify="left")
    for col in ("TAG", "KIT", "ID", "STATE", "SWITCHBACK", "PRIORITY", "MODE"):
        table.add_column(col)
    for root in status["hierarchies"]:
        for depth, n in _walk(root, 0):
            table.add_row(
                plain(("  " * depth + ("└ " if depth else "")) + str(n["tag"])),
                plain(n["kit"]),
                plain(n["id"]),
                _state(str(n["state"])),
                plain(n["switchback"]),
                plain(n["priority"]),
                plain(MAINTENANCE, "bold magenta") if n.get("maintenance") else plain(""),
            )
    return table


def kv_table(data: Mapping[str, Any], title: str = "") -> Table:
    table = Table(title=_title(title), show_header=False, title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("value")
    for k, v in data.items():
        if isinstance(v, Mapping):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        table.add_row(plain(k), plain(v))
    return table


def rows_table(rows: Sequence[Mapping[str, Any]], columns: list[str], title: str = "") -> Table:
    table = Table(title=_title(title), title_justify="left")
    for c in columns:
        table.add_column(c.upper(), overflow="fold")
    for r in rows:
        table.add_row(*(plain(r.get(c, "")) for c in columns))
    return table


def print_notices(notices: Iterable[Mapping[str, Any]]) -> None:
    for n in notices:
        style = {"info": "", "warning": "yellow"}.get(str(n.get("severity")), "red")
        err.print(plain(f"{n['code']}: {n['message']}", style))


def cluster_tables(status: Mapping[str, Any]) -> list[Table]:
    """Servers with comm paths and quorum, then each hierarchy's state by server."""
    c = status["cluster"]
    q = c["quorum"]
    servers = Table(
        title=plain(
            f"Cluster {c['name']}  quorum: "
            f"{'yes' if q['has_quorum'] else 'NO'} ({q['votes']}/{q['needed'] or '-'} votes, "
            f"{q['mode']})"
        ),
        title_justify="left",
    )
    for col in ("SERVER", "ALIVE", "COMM PATHS", "FAILOVER", "STANDBY"):
        servers.add_column(col)
    for name, s in c["servers"].items():
        paths = Text(", ").join(
            Text.assemble(f"{net}:", (str(st), "green" if st == "ALIVE" else "red"))
            for net, st in sorted(s["paths"].items())
        ) or plain("(this server)" if s["local"] else "-")
        servers.add_row(
            plain(name + (" *" if s["local"] else "")),
            plain("yes", "green") if s["alive"] else plain("no", "red"),
            paths,
            plain("blocked" if s["failover_blocked"] else ""),
            plain("STANDBY", "bold magenta") if s.get("standby") else plain(""),
        )
    names = list(c["servers"])
    hier = Table(title=plain("Hierarchies by server (state/priority)"), title_justify="left")
    hier.add_column("HIERARCHY")
    for n in names:
        hier.add_column(plain(n.upper()), overflow="fold")
    hier.add_column("TARGET")
    for h in c["hierarchies"]:
        by_server = {cp["server"]: cp for cp in h["copies"]}
        cells: list[Text] = []
        for n in names:
            cp = by_server.get(n)
            if cp is None:
                cells.append(plain(""))
                continue
            cells.append(Text.assemble(_state(str(cp["state"])), f"/{cp['priority']}"))
        t = h["target"]
        target = (
            "in service" + (f" on {t['server']}" if t["server"] else "")
            if t["in_service"]
            else "out of service"
        )
        if h.get("maintenance"):
            target += f" ({MAINTENANCE})"
        hier.add_row(plain(h["tag"]), *cells, plain(target))
    return [servers, hier]
