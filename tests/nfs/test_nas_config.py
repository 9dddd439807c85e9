"""NasServer configuration rendering and validation (no ganesha started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from standfast.lab.nas import NasExport, NasServer, render_config


def _render(*exports: NasExport, bind: str = "192.168.50.1", port: int = 2049) -> str:
    return render_config(exports, workdir=Path("/w"), bind_address=bind, nfs_port=port)


def test_open_and_restricted_exports() -> None:
    text = _render(
        NasExport(Path("/srv/a"), "/a", export_id=1),
        NasExport(Path("/srv/b"), "/b", clients="192.0.2.55, 10.0.0.0/24", export_id=2),
    )
    assert "Bind_addr = 192.168.50.1;" in text
    assert "NFS_Port = 2049;" in text
    assert 'RecoveryRoot = "/w/recovery";' in text
    assert "Graceless = true;" in text
    first, second = text.split("EXPORT {")[1:]
    assert 'Path = "/srv/a";' in first and "Access_Type = RW;" in first
    assert "CLIENT" not in first
    assert "Access_Type = None;" in second
    assert "Clients = 192.0.2.55, 10.0.0.0/24;" in second


@pytest.mark.parametrize(
    "export",
    [
        NasExport(Path("/srv/a"), "/a", clients="10.0.0.1; }", export_id=1),
        NasExport(Path("/srv/a"), "/a", clients='"quoted"', export_id=1),
        NasExport(Path("/srv/a"), "/a", clients=" , ", export_id=1),
        NasExport(Path("relative"), "/a", export_id=1),
        NasExport(Path('/srv/"a'), "/a", export_id=1),
        NasExport(Path("/srv/a"), "a", export_id=1),
        NasExport(Path("/srv/a"), "/a", export_id=0),
    ],
)
def test_bad_exports_are_refused(export: NasExport) -> None:
    with pytest.raises(ValueError):
        _render(export)


def test_duplicate_ids_bad_address_and_port_are_refused() -> None:
    a = NasExport(Path("/srv/a"), "/a", export_id=1)
    b = NasExport(Path("/srv/b"), "/b", export_id=1)
    with pytest.raises(ValueError):
        _render(a, b)
    with pytest.raises(ValueError):
        _render(a, bind="nas.example.com")
    with pytest.raises(ValueError):
        _render(a, port=0)


def test_server_validates_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        NasServer(tmp_path, [NasExport(Path("/srv/a"), "/a", clients="x;y", export_id=1)])
    server = NasServer(tmp_path, [NasExport(Path("/srv/a"), "/a", export_id=1)])
    assert server.pid is None and not server.running()
    assert server.address == "127.0.0.1"
    assert NasServer(tmp_path, [], bind_address="0.0.0.0").address == "127.0.0.1"
