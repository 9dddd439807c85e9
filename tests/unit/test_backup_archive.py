"""The backup archive (config/backup_archive.py): manifest, format checks, the
same-cluster rule; the server files a restore writes (config/backup_local.py); and
``config backup`` / ``config restore`` through the CLI with a stand-in for the daemon."""

from __future__ import annotations

import io
import json
import stat
import tarfile
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from standfast.cli.common import Settings
from standfast.cli.main import cli
from standfast.cluster.keyring import fingerprint, load_keys
from standfast.config import backup_archive as ba
from standfast.config.backup_local import read_local, restore_server_files
from standfast.config.paths import Paths
from standfast.messages import StandfastError

CONFIG = {"version": 7, "resources": [], "dependencies": [], "targets": {}}
EVENTS = [{"ts": 1.0, "kind": "create", "tag": "web", "detail": "", "data": {}}]
DEFINITION = {"name": "prod", "servers": {"s1": {"addresses": {"net1": "10.0.0.1"}}}}
KEY = b"k" * 32


def archive(**over: Any) -> bytes:
    files = {
        ba.CONFIG: json.dumps(CONFIG).encode(),
        ba.EVENTS: json.dumps(EVENTS).encode(),
        ba.DEFINITION: json.dumps(DEFINITION).encode(),
        ba.DEFAULTS: b"LKNFSSYSCALLTO=30\n",
    }
    files.update(over.pop("files", {}))
    kw: dict[str, Any] = {
        "server": "s1",
        "cluster": "prod",
        "members": ["s1"],
        "key_fingerprints": [fingerprint(KEY)],
        "created": 1_790_000_000.0,
        "files": {k: v for k, v in files.items() if v is not None},
    }
    kw.update(over)
    return ba.build_archive(**kw)


def refused(code: str, data: bytes) -> StandfastError:
    with pytest.raises(StandfastError) as exc:
        ba.parse_archive(data, "b.tgz")
    assert exc.value.code == code, exc.value
    return exc.value


def retar(data: bytes, edit: Any) -> bytes:
    """The archive with its members passed through ``edit(name, bytes) -> bytes``."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as src,
        tarfile.open(fileobj=out, mode="w:gz") as dst,
    ):
        for info in src:
            f = src.extractfile(info)
            assert f is not None
            body = edit(info.name, f.read())
            info.size = len(body)
            dst.addfile(info, io.BytesIO(body))
    return out.getvalue()


def new_manifest(**fields: Any) -> Any:
    def edit(name: str, body: bytes) -> bytes:
        if name != ba.MANIFEST:
            return body
        return json.dumps({**json.loads(body), **fields}).encode()

    return edit


# -- the archive itself ---------------------------------------------------------------


def test_an_archive_is_a_plain_tar_gz_with_a_manifest_and_reads_back() -> None:
    data = archive()
    assert ba.is_archive(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == [
        ba.MANIFEST,
        ba.DEFINITION,
        ba.DEFAULTS,
        ba.CONFIG,
        ba.EVENTS,
    ]
    assert all(i.isfile() and i.mode == 0o600 for i in infos)
    got = ba.parse_archive(data, "b.tgz")
    m = got.manifest
    assert (m.format, m.cluster, m.server, m.members) == (ba.FORMAT, "prod", "s1", ("s1",))
    assert m.key_fingerprints == (fingerprint(KEY),)
    assert m.created == "2026-09-21T14:13:20+00:00"
    assert not got.has_key
    assert got.config() == {**CONFIG, "events": EVENTS}
    assert archive() == data  # the same input, the same bytes


def test_the_manifest_never_holds_the_key() -> None:
    data = archive(files={ba.KEY: b"a2V5\n"})
    manifest = ba.parse_archive(data, "b.tgz").files[ba.MANIFEST]
    assert KEY not in manifest and b"a2V5" not in manifest
    assert ba.parse_archive(data, "b.tgz").has_key


def test_a_newer_format_is_refused_before_anything_else_is_read() -> None:
    newer = retar(archive(), new_manifest(format=3, standfast_version="9.0", files="x"))
    err = refused("198102", newer)
    assert err.params["format"] == 3 and err.params["supported"] == 2
    assert err.params["version"] == "9.0"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x1f\x8bnot really gzip", "not a readable"),
        (archive()[:60], "not a readable"),
        (retar(archive(), new_manifest(format=1)), "not an archive format"),
        (retar(archive(), new_manifest(format="2")), "not an archive format"),
        (retar(archive(), new_manifest(server="")), "server"),
        (retar(archive(), new_manifest(cluster="other")), "names cluster"),
        (retar(archive(), new_manifest(files={})), "manifest"),
        (retar(archive(), lambda n, b: b + b"x" if n == ba.CONFIG else b), "SHA-256"),
        (retar(archive(), lambda n, b: b"{" if n == ba.MANIFEST else b), "not JSON"),
        (archive(files={ba.CONFIG: b"[]"}), "JSON object"),
        (archive(files={ba.EVENTS: b"{}"}), "JSON list"),
        (archive(files={ba.DEFINITION: None}), "disagree"),
    ],
)
def test_a_malformed_archive_is_refused(data: bytes, why: str) -> None:
    assert why in refused("198101", data).params["reason"]  # type: ignore[operator]


def test_members_outside_the_set_or_not_regular_files_are_refused() -> None:
    for name, kind in (("../etc/passwd", tarfile.REGTYPE), (ba.KEY, tarfile.SYMTYPE)):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/shadow" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info, io.BytesIO(b""))
        refused("198101", out.getvalue())


@pytest.mark.parametrize(
    ("backup", "fps", "local", "local_fps", "same"),
    [
        ("prod", ["aa"], "prod", ["aa"], True),
        ("prod", ["aa"], "prod", ["bb", "aa"], True),  # a rotation under way here
        ("prod", ["aa"], "prod", ["bb"], False),  # same name, another key
        ("prod", ["aa"], "test", ["aa"], False),
        ("prod", ["aa"], None, [], False),
        (None, [], None, [], True),  # lone servers
        ("prod", ["aa"], "prod", [], True),  # no key here yet: the name decides
    ],
)
def test_same_cluster(
    backup: str | None, fps: list[str], local: str | None, local_fps: list[str], same: bool
) -> None:
    m = ba.parse_archive(archive(), "b.tgz").manifest
    m = ba.Manifest(**{**m.__dict__, "cluster": backup, "key_fingerprints": tuple(fps)})
    assert ba.same_cluster(m, local, local_fps) is same


def test_another_clusters_backup_is_refused_naming_both() -> None:
    m = ba.parse_archive(archive(), "b.tgz").manifest
    with pytest.raises(StandfastError) as exc:
        ba.check_same_cluster(m, "b.tgz", "test", ["bb"])
    assert exc.value.code == "198103"
    assert exc.value.params == {
        "path": "b.tgz",
        "backup": "prod",
        "backup_key": fingerprint(KEY),
        "local": "test",
        "local_key": "bb",
    }


# -- the server files ------------------------------------------------------------------


def key_file_text(key: bytes = KEY) -> bytes:
    import base64

    return base64.b64encode(key) + b"\n"


def test_server_files_are_written_with_their_modes(tmp_path: Path) -> None:
    paths = Paths.from_env({}, home=tmp_path)
    data = archive(files={ba.KEY: key_file_text()})
    notices = restore_server_files(ba.parse_archive(data, "b.tgz"), paths, "s1", "b.tgz")
    assert [n.code for n in notices] == ["198108"]
    assert json.loads(paths.cluster_definition.read_text()) == DEFINITION
    assert load_keys(paths.cluster_key) == [KEY]
    for p in (paths.cluster_definition, paths.cluster_key):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert paths.defaults.read_bytes() == b"LKNFSSYSCALLTO=30\n"
    # Again: the same files are there, nothing to change.
    notices = restore_server_files(ba.parse_archive(data, "b.tgz"), paths, "s1", "b.tgz")
    assert [n.code for n in notices] == ["198108"]


def test_without_the_key_it_says_where_to_copy_it(tmp_path: Path) -> None:
    paths = Paths.from_env({}, home=tmp_path)
    paths.defaults.parent.mkdir(parents=True, exist_ok=True)
    paths.defaults.write_text("SF_OLD=1\n")
    notices = restore_server_files(ba.parse_archive(archive(), "b.tgz"), paths, "s1", "b.tgz")
    assert [n.code for n in notices] == ["198107", "198106", "198108"]
    assert not paths.cluster_key.exists()
    saved = paths.defaults.with_name("defaults.before-restore")
    assert saved.read_text() == "SF_OLD=1\n"


def refusal_changes_nothing(tmp_path: Path, data: bytes, server: str, code: str) -> None:
    paths = Paths.from_env({}, home=tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(StandfastError) as exc:
        restore_server_files(ba.parse_archive(data, "b.tgz"), paths, server, "b.tgz")
    assert exc.value.code == code
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_server_files_refusals_change_nothing(tmp_path: Path) -> None:
    refusal_changes_nothing(tmp_path, archive(), "s9", "198105")
    lone = archive(cluster=None, key_fingerprints=[], files={ba.DEFINITION: None})
    refusal_changes_nothing(tmp_path, lone, "s1", "198112")
    bad_key = archive(files={ba.KEY: b"short\n"})
    refusal_changes_nothing(tmp_path, bad_key, "s1", "198101")
    # A key left here from another cluster.
    paths = Paths.from_env({}, home=tmp_path)
    paths.data_dir.mkdir(parents=True)
    paths.cluster_key.write_bytes(key_file_text(b"o" * 32))
    paths.cluster_key.chmod(0o600)
    refusal_changes_nothing(tmp_path, archive(), "s1", "198103")
    # The same key, but a definition of this cluster that differs.
    paths.cluster_key.write_bytes(key_file_text())
    other = {**DEFINITION, "peer_port": 7901}
    paths.cluster_definition.write_text(json.dumps(other))
    refusal_changes_nothing(tmp_path, archive(), "s1", "198104")


# -- the CLI ----------------------------------------------------------------------------


class FakeClient:
    """Stands in for the daemon's socket: GETs answer the configuration and events."""

    posted: ClassVar[list[Any]] = []

    def get(self, path: str) -> Any:
        return dict(CONFIG) if path == "/v1/config" else list(EVENTS)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        FakeClient.posted.append((path, body))
        return {"transcript": [], "notices": [], "result": {"version": 8}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(Settings, "client", lambda self: FakeClient())
    FakeClient.posted = []
    h = tmp_path / "sf"
    r = run(h, "cluster", "init", "prod", "--server", "s1", "--address", "net1=10.0.0.1")
    assert r.exit_code == 0, r.output
    return h


def run(home: Path, *args: str) -> Result:
    env = {"STANDFAST_HOME": str(home), "STANDFAST_SERVER": "s1", "COLUMNS": "200"}
    return CliRunner(env={**env, "LANG": "C.UTF-8"}).invoke(cli, list(args))


def names(path: Path) -> list[str]:
    with tarfile.open(path, "r:gz") as tar:
        return tar.getnames()


def test_backup_holds_the_key_only_when_asked_and_then_warns(home: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.tgz"
    r = run(home, "config", "backup", str(plain))
    assert r.exit_code == 0, r.output
    assert "198113" in r.output and "198111" not in r.output
    assert ba.KEY not in names(plain)
    assert {ba.MANIFEST, ba.DEFINITION, ba.CONFIG, ba.EVENTS} <= set(names(plain))
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    keyed = tmp_path / "keyed.tgz"
    r = run(home, "config", "backup", str(keyed), "--include-key")
    assert r.exit_code == 0, r.output
    assert "198111" in r.stderr and "0600" in r.stderr
    assert ba.KEY in names(keyed)
    got = ba.parse_archive(keyed.read_bytes(), str(keyed))
    assert got.files[ba.KEY] == (home / "lib" / "cluster.key").read_bytes()
    assert stat.S_IMODE(keyed.stat().st_mode) == 0o600


def test_restore_posts_an_archive_of_this_cluster_and_refuses_others(
    home: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.tgz"
    assert run(home, "config", "backup", str(mine)).exit_code == 0
    r = run(home, "config", "restore", str(mine))
    assert r.exit_code == 0, r.output
    assert FakeClient.posted == [("/v1/config", {"config": {**CONFIG, "events": EVENTS}})]
    other = tmp_path / "other.tgz"
    other.write_bytes(archive())  # "prod" too, but another key
    r = run(home, "config", "restore", str(other))
    assert r.exit_code == 1 and r.stderr.startswith("198103:"), r.output
    newer = tmp_path / "newer.tgz"
    newer.write_bytes(retar(mine.read_bytes(), new_manifest(format=3)))
    r = run(home, "config", "restore", str(newer))
    assert r.exit_code == 1 and r.stderr.startswith("198102:"), r.output
    assert len(FakeClient.posted) == 1  # the refusals sent nothing
    # Another server's archive of this cluster: its configuration, not its events.
    r = CliRunner(
        env={"STANDFAST_HOME": str(home), "STANDFAST_SERVER": "s2", "LANG": "C.UTF-8"}
    ).invoke(cli, ["config", "restore", str(mine)])
    assert r.exit_code == 0 and "198115" in r.stderr, r.output
    assert FakeClient.posted[-1] == ("/v1/config", {"config": {**CONFIG, "events": []}})


def test_restore_still_reads_a_format_1_backup(home: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**CONFIG, "events": EVENTS}))
    assert run(home, "config", "restore", str(old)).exit_code == 0
    assert FakeClient.posted == [("/v1/config", {"config": {**CONFIG, "events": EVENTS}})]
    r = run(home, "config", "restore", str(old), "--server-files")
    assert r.exit_code == 1 and r.stderr.startswith("198112:"), r.output


def test_a_rebuilt_server_needs_its_server_files_first(home: Path, tmp_path: Path) -> None:
    backup = tmp_path / "b.tgz"
    assert run(home, "config", "backup", str(backup), "--include-key").exit_code == 0
    rebuilt = tmp_path / "rebuilt"
    r = run(rebuilt, "config", "restore", str(backup))
    assert r.exit_code == 1 and r.stderr.startswith("198109:"), r.output
    r = run(rebuilt, "config", "restore", str(backup), "--server-files")
    assert r.exit_code == 0, r.output
    assert "198108" in r.stderr
    local = read_local(Paths.from_env({}, home=rebuilt))
    assert local.name == "prod"
    assert local.keys == read_local(Paths.from_env({}, home=home)).keys
    assert (rebuilt / "lib" / "tls").is_dir()  # its HTTPS certificate, as after import
    r = run(rebuilt, "config", "restore", str(backup), "--server-files", "--json")
    body = json.loads(r.stdout)  # again: nothing left to write, and JSON alone
    assert [n["code"] for n in body["notices"]] == ["198108"] and len(body["sha256"]) > 20
    assert FakeClient.posted == []
