"""``standfast drill TAG``: the switchover drill (engine/drill.py, docs/cluster.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from standfast.cli import render
from standfast.cli.common import Settings, reports_errors


@click.command()
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def drill(settings: Settings, tag: str, as_json: bool) -> None:
    """Switch TAG's hierarchy over to every server holding a copy, in priority order,
    deep-check it on each and bring it back where it started, timing every move.
    Refused (193030) unless the hierarchy is healthy everywhere. Exit status 1 when a
    step failed."""
    body: dict[str, Any] = settings.client().post("/v1/drill", {"tag": tag})
    report = body.get("result", {})
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        rows = [
            {
                "server": s["server"],
                "seconds": f"{s['seconds']:.2f}",
                "result": ("back: " if s.get("return") else "") + ("ok" if s["ok"] else "FAILED"),
                "checks": ", ".join(
                    f"{c['tag']} {'ok' if c['ok'] else c['code']}" for c in s.get("checks", [])
                ),
                "detail": s.get("detail", ""),
            }
            for s in report.get("steps", [])
        ]
        title = f"drill of {report.get('tag', tag)} from {report.get('start', '?')}"
        render.out.print(
            render.rows_table(
                rows, ["server", "seconds", "result", "checks", "detail"], title=title
            )
        )
        render.print_notices(body.get("notices", []))
    if not report.get("ok", False):
        if not as_json:
            render.err.print(f"drill: failed: {report.get('reason', '')}", markup=False)
        sys.exit(1)
