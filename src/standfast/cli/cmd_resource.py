"""``standfast resource ...`` and ``standfast dependency ...``: the operator's actions on
resources and hierarchies."""

from __future__ import annotations

import click

from standfast.cli import render
from standfast.cli.common import Settings, emit, parse_props, reports_errors, show_outcome
from standfast.cli.options import PRIORITY, checked_switchback


@click.group()
def resource() -> None:
    """Create, delete, show and operate resources."""


@resource.command("create")
@click.option("--kit", required=True, help="app, nas, filesys, ip or ocf (see `standfast kits`).")
@click.option(
    "--agent",
    default=None,
    metavar="ocf:PROVIDER:TYPE",
    help="For --kit ocf: the OCF agent (the property agent).",
)
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
    agent: str | None,
    tag: str | None,
    rid: str | None,
    switchback: str,
    props: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a hierarchy and bring it in service."""
    values = parse_props(props)
    if agent is not None:
        values["agent"] = agent
    body = settings.client().post(
        "/v1/resources",
        {
            "kit": kit,
            "tag": tag,
            "id": rid,
            "switchback": checked_switchback(switchback),
            "props": values,
        },
    )
    show_outcome(body, as_json)


@resource.command("delete")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_delete(settings: Settings, tag: str, as_json: bool) -> None:
    """Delete the hierarchy rooted at TAG (it must be out of service)."""
    show_outcome(settings.client().request("DELETE", "/v1/resources/{}", params=[tag]), as_json)


@resource.command("show")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_show(settings: Settings, tag: str, as_json: bool) -> None:
    """Show one resource and its properties."""
    data = settings.client().get("/v1/resources/{}", params=[tag])
    emit(data, as_json, lambda d: render.out.print(render.kv_table(d, title=tag)))


@resource.command("set")
@click.argument("tag")
@click.option("--prop", "props", multiple=True, metavar="NAME=VALUE")
@click.option("--switchback", default=None)
@click.option("--priority", type=PRIORITY, default=None)
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
        "/v1/resources/{}",
        {
            "props": parse_props(props),
            "switchback": checked_switchback(switchback),
            "priority": priority,
        },
        params=[tag],
    )
    show_outcome(body, as_json)


@resource.command("in-service")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_in_service(settings: Settings, tag: str, as_json: bool) -> None:
    """Bring TAG and everything it depends on in service here."""
    show_outcome(settings.client().post("/v1/in-service", {"tag": tag}), as_json)


@resource.command("out-of-service")
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def resource_out_of_service(settings: Settings, tag: str, as_json: bool) -> None:
    """Take TAG and everything that depends on it out of service."""
    show_outcome(settings.client().post("/v1/out-of-service", {"tag": tag}), as_json)


@resource.command("extend")
@click.argument("tag")
@click.option("--target", required=True, help="The backup server to extend to.")
@click.option("--target-tag", default=None, help="Root tag on the target (default: same).")
@click.option(
    "--target-priority",
    type=PRIORITY,
    default=None,
    help="1-999, unused (default: the next free of 10, 20, 30 ...).",
)
@click.option(
    "--template-priority",
    type=PRIORITY,
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
    show_outcome(
        settings.client().post(
            "/v1/extend",
            {
                "tag": tag,
                "target": target,
                "target_tag": target_tag,
                "target_priority": target_priority,
                "template_priority": template_priority,
                "switchback": checked_switchback(switchback),
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
    show_outcome(settings.client().post("/v1/unextend", {"tag": tag, "server": server}), as_json)


@click.group()
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
    show_outcome(
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
    show_outcome(
        settings.client().request("DELETE", "/v1/dependencies", {"parent": parent, "child": child}),
        as_json,
    )
