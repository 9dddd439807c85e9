"""``standfast cluster rekey`` and ``standfast cluster keygen``: changing the cluster key
(engine/rekey.py; docs/cluster.md "Changing the cluster key")."""

from __future__ import annotations

import base64
from pathlib import Path

import click

from standfast.cli import render
from standfast.cli.common import Settings, reports_errors, show_outcome
from standfast.messages import StandfastError


@click.command("rekey")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Change to the key in this file (made with cluster keygen), not a random one.",
)
@click.option(
    "--finish",
    is_flag=True,
    help="Complete a rotation that stopped half-way, to the key this server seals with.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reports_errors
def cluster_rekey(settings: Settings, key_file: Path | None, finish: bool, as_json: bool) -> None:
    """Change the cluster key on every server while the cluster runs: each accepts the
    new key, then seals with it, then forgets the old one. Every server must be up
    (191020). A TCP witness is given the new key by hand (docs/cluster.md)."""
    from standfast.cluster.keyring import KeyFileError, load_key

    body: dict[str, object] = {"finish": finish}
    if key_file is not None:
        if finish:
            raise StandfastError("000002")
        try:
            key = load_key(key_file)
        except KeyFileError as exc:
            raise StandfastError(exc.code, path=key_file, reason=exc.text, minimum=32) from None
        body["key"] = base64.b64encode(key).decode("ascii")
    show_outcome(settings.client().post("/v1/cluster/rekey", body), as_json)


@click.command("keygen")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
@reports_errors
def cluster_keygen(settings: Settings, path: Path) -> None:
    """Write a new random cluster key to PATH (mode 0600; an existing file is kept),
    for cluster rekey --key and a TCP witness's key file."""
    from standfast.cluster.keyring import fingerprint, generate_key

    try:
        key = generate_key(path)
    except FileExistsError:
        raise StandfastError("191008", path=path, reason="the file exists already") from None
    except OSError as exc:
        raise StandfastError("191008", path=path, reason=exc.strerror or str(exc)) from None
    render.out.print(f"{path}: new cluster key {fingerprint(key)}", markup=False)
