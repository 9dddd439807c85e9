"""``standfast config ...`` and ``standfast tunables ...``: backups and the defaults file."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import click

from standfast.cli import render
from standfast.cli.common import Settings, reports_errors, show_outcome
from standfast.config.paths import server_name
from standfast.config.tunables import defaults_path, load_tunables
from standfast.messages import Notice, StandfastError
from standfast.model.event_query import LIMIT_MAX


@click.group()
def config() -> None:
    """Back up and restore the configuration (hierarchies, dependencies, priorities)."""


@config.command("backup")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--include-key",
    is_flag=True,
    help="Put the cluster key into the archive too (it then must be kept as the key is).",
)
@click.pass_obj
@reports_errors
def config_backup(settings: Settings, file: Path, include_key: bool) -> None:
    """Write one archive (tar.gz, mode 0600) to FILE: the cluster definition, the
    defaults file, the configuration and this server's event history, with a manifest;
    the cluster key only with --include-key."""
    from standfast.config import backup_archive as ba
    from standfast.config.backup_local import backup_files, read_local, write_file

    paths = settings.paths
    local = read_local(paths)
    client = settings.client()
    data = client.get("/v1/config")
    events = client.get(f"/v1/events/history?limit={LIMIT_MAX}")
    files = backup_files(paths, local, data, events, include_key=include_key)
    server = server_name()
    archive = ba.build_archive(
        server=server,
        cluster=local.name,
        members=list(local.definition.servers) if local.definition else [server],
        key_fingerprints=local.fingerprints if local.definition else [],
        created=time.time(),
        files=files,
    )
    write_file(file, archive, mode=0o600)
    if include_key:
        warning = Notice.of(
            "198111", path=file, fingerprint=local.fingerprints[0], cluster=local.name
        ).to_dict(settings.lang)
        render.print_notices([warning])
        render.err.print(f"  {warning['action']}", markup=False)
    done = Notice.of(
        "198113",
        server=server,
        cluster=local.name or ba.NONE,
        version=data["version"],
        events=len(events),
        files=", ".join(n for n in ba.MEMBERS if n in files or n == ba.MANIFEST),
        path=file,
    )
    render.out.print(done.text(settings.lang), markup=False)


@config.command("restore")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--server-files",
    is_flag=True,
    help="On a rebuilt server: write the cluster definition, the key (if the archive"
    " holds it) and the defaults file, so the daemon started next rejoins the cluster."
    " Needs no daemon; restores no resource configuration.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def config_restore(settings: Settings, file: Path, server_files: bool, as_json: bool) -> None:
    """Restore FILE: an archive of config backup or a plain JSON backup (format 1).

    Without --server-files: replace the configuration (everything must be out of
    service here) and add the events this server's history lacks (it keeps its own);
    an archive must be of this server's cluster."""
    from standfast.config import backup_archive as ba
    from standfast.config.backup_local import read_local, restore_server_files

    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise StandfastError("198101", path=file, reason=exc.strerror or exc) from None
    if not ba.is_archive(raw):
        if server_files:
            raise StandfastError("198112", path=file, reason="a format 1 backup")
        show_outcome(settings.client().post("/v1/config", {"config": _legacy(raw, file)}), as_json)
        return
    archive = ba.parse_archive(raw, str(file))
    if server_files:
        notices = restore_server_files(archive, settings.paths, server_name(), str(file))
        certificate = _certificate(settings)
        if as_json:
            body = {"notices": [n.to_dict(settings.lang) for n in notices], **certificate}
            click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        else:
            render.print_notices(n.to_dict(settings.lang) for n in notices)
            if certificate:
                render.out.print(
                    f"HTTPS certificate {certificate['certificate']}\n"
                    f"  SHA-256 {certificate['sha256']}",
                    markup=False,
                )
        return
    local = read_local(settings.paths)
    if archive.manifest.cluster is not None and local.definition is None:
        raise StandfastError("198109", cluster=archive.manifest.cluster, path=file)
    ba.check_same_cluster(archive.manifest, str(file), local.name, local.fingerprints)
    data = archive.config()
    me = server_name()
    if archive.manifest.server != me:  # the history is per server: not another's events
        data["events"] = []
        note = Notice.of("198115", path=file, backup=archive.manifest.server, server=me)
        render.print_notices([note.to_dict(settings.lang)])
    show_outcome(settings.client().post("/v1/config", {"config": data}), as_json)


def _legacy(raw: bytes, file: Path) -> dict[str, object]:
    """A format 1 backup: the configuration and its events as one JSON object."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise StandfastError("190206", detail=f"{file}: {exc}") from None
    if not isinstance(data, dict):
        raise StandfastError("190206", detail=f"{file}: not a JSON object")
    return data


def _certificate(settings: Settings) -> dict[str, str]:
    """The HTTPS certificate this server will serve, made (once) as ``cluster import``
    makes it for a joining server: its file and SHA-256 fingerprint."""
    from standfast.api.tls import ensure_certificate, fingerprint
    from standfast.cluster.definition import load_definition

    definition = load_definition(settings.paths.cluster_definition)
    me = server_name()
    if definition is None or me not in definition.servers:
        return {}
    addresses = list(definition.servers[me].addresses.values())
    cert, _key = ensure_certificate(settings.paths.data_dir / "tls", me, addresses)
    return {"certificate": str(cert), "sha256": fingerprint(cert.read_text())}


@click.group()
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
    notices += _environment_notices(values.environment)
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


def _environment_notices(environment: Mapping[str, str]) -> list[Notice]:
    """The daemon's own settings that stand in the defaults file, checked as the daemon
    checks them at start (systemd hands it the same file as its environment)."""
    if not environment:
        return []
    from standfast.api.remote import RemoteSettings

    return RemoteSettings.from_env(environment)[1]
