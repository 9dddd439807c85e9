"""``standfast events``: the lasting event history of this server, filtered."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

import click

from standfast.cli import render
from standfast.cli.common import Settings, emit, reports_errors
from standfast.messages import StandfastError
from standfast.model.event_query import DEFAULT_LIMIT, LIMIT_MAX, EventQuery, parse_time


def build_query(
    since: str | None,
    until: str | None,
    kinds: tuple[str, ...],
    tag: str | None,
    limit: str,
    now: float,
) -> EventQuery:
    """The options as a checked query; the numbered refusal of the first bad one."""
    text = limit.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise StandfastError("196003", limit=limit[:40], maximum=LIMIT_MAX)
    return EventQuery(
        since=parse_time(since, "--since", now) if since is not None else None,
        until=parse_time(until, "--until", now) if until is not None else None,
        kinds=kinds,
        tag=tag,
        limit=int(text),
    ).checked()


def _human(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        r["time"] = time.strftime("%m/%d/%Y %H:%M:%S", time.localtime(float(r["ts"])))
        data = r.get("data") or {}
        took = data.get("detect_to_in_service_seconds", data.get("restore_seconds"))
        r["seconds"] = f"{float(took):.2f}" if took is not None else ""
    render.out.print(render.rows_table(rows, ["time", "kind", "tag", "detail", "seconds"]))


@click.command()
@click.option("--since", default=None, help="From this time: ISO 8601, or ago (2h, 7d).")
@click.option("--until", default=None, help="Up to this time: ISO 8601, or ago (30m).")
@click.option("--kind", "kinds", multiple=True, help="Only events of this kind (repeatable).")
@click.option("--tag", default=None, help="Only events of this resource tag or server.")
@click.option(
    "--limit",
    default=str(DEFAULT_LIMIT),
    show_default=True,
    help="The newest N matching events.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
@reports_errors
def events(
    settings: Settings,
    since: str | None,
    until: str | None,
    kinds: tuple[str, ...],
    tag: str | None,
    limit: str,
    as_json: bool,
) -> None:
    """Actions, state changes, failovers (with their timelines) and failures, from
    this server's lasting event history, oldest first."""
    query = build_query(since, until, kinds, tag, limit, time.time())
    data = settings.client().get("/v1/events/history?" + urlencode(query.to_params(), doseq=True))
    emit(data, as_json, _human)
