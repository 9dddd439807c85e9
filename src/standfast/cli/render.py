"""Human output: tables and trees for operators (``--json`` bypasses all of this)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

STATE_STYLE = {"ISP": "green", "ISU": "yellow", "OSU": "bright_black", "OSF": "red"}

# No emoji codes: ":ab:" in a fingerprint or a path must print as written.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def _walk(node: Mapping[str, Any], depth: int) -> Iterable[tuple[int, Mapping[str, Any]]]:
    yield depth, node
    for child in node.get("children", []):
        yield from _walk(child, depth + 1)


def status_table(status: Mapping[str, Any]) -> Table:
    table = Table(
        title=f"Server {status['server']}  (configuration version {status['config_version']})",
        title_justify="left",
    )
    for col in ("TAG", "KIT", "ID", "STATE", "SWITCHBACK", "PRIORITY"):
        table.add_column(col)
    for root in status["hierarchies"]:
        for depth, n in _walk(root, 0):
            state = str(n["state"])
            table.add_row(
                ("  " * depth + ("└ " if depth else "")) + str(n["tag"]),
                str(n["kit"]),
                str(n["id"]),
                f"[{STATE_STYLE.get(state, 'white')}]{state}[/]",
                str(n["switchback"]),
                str(n["priority"]),
            )
    return table


def kv_table(data: Mapping[str, Any], title: str = "") -> Table:
    table = Table(title=title or None, show_header=False, title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("value")
    for k, v in data.items():
        if isinstance(v, Mapping):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        table.add_row(str(k), str(v))
    return table


def rows_table(rows: Sequence[Mapping[str, Any]], columns: list[str], title: str = "") -> Table:
    table = Table(title=title or None, title_justify="left")
    for c in columns:
        table.add_column(c.upper(), overflow="fold")
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in columns))
    return table


def print_notices(notices: Iterable[Mapping[str, Any]]) -> None:
    for n in notices:
        style = {"info": "", "warning": "yellow"}.get(str(n.get("severity")), "red")
        line = f"{n['code']}: {n['message']}"
        err.print(f"[{style}]{line}[/]" if style else line, markup=bool(style))


def cluster_tables(status: Mapping[str, Any]) -> list[Table]:
    """Servers with comm paths and quorum, then each hierarchy's state by server."""
    c = status["cluster"]
    q = c["quorum"]
    servers = Table(
        title=f"Cluster {c['name']}  quorum: "
        f"{'yes' if q['has_quorum'] else 'NO'} ({q['votes']}/{q['needed'] or '-'} votes, "
        f"{q['mode']})",
        title_justify="left",
    )
    for col in ("SERVER", "ALIVE", "COMM PATHS", "FAILOVER"):
        servers.add_column(col)
    for name, s in c["servers"].items():
        paths = ", ".join(
            f"{net}:[{'green' if st == 'ALIVE' else 'red'}]{st}[/]"
            for net, st in sorted(s["paths"].items())
        ) or ("(this server)" if s["local"] else "-")
        servers.add_row(
            name + (" *" if s["local"] else ""),
            "[green]yes[/]" if s["alive"] else "[red]no[/]",
            paths,
            "blocked" if s["failover_blocked"] else "",
        )
    names = list(c["servers"])
    hier = Table(title="Hierarchies by server (state/priority)", title_justify="left")
    hier.add_column("HIERARCHY")
    for n in names:
        hier.add_column(n.upper(), overflow="fold")
    hier.add_column("TARGET")
    for h in c["hierarchies"]:
        by_server = {cp["server"]: cp for cp in h["copies"]}
        cells = []
        for n in names:
            cp = by_server.get(n)
            if cp is None:
                cells.append("")
                continue
            st = str(cp["state"])
            cells.append(f"[{STATE_STYLE.get(st, 'white')}]{st}[/]/{cp['priority']}")
        t = h["target"]
        target = (
            "in service" + (f" on {t['server']}" if t["server"] else "")
            if t["in_service"]
            else "out of service"
        )
        hier.add_row(h["tag"], *cells, target)
    return [servers, hier]
