"""What the VM lab's cluster does inside its guests besides starting daemons: asks
them (the local API through a stdlib helper) and waits on their answers; files, the
clock, accounts, mounts of the lab NAS, the writer's ledger, daemon logs.

:class:`GuestOps` is the base of :class:`~standfast.lab.cluster_vm.VmCluster`; it
needs only the lab (``self.lab``). Every guest command goes through the lab's control
agent with a timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from standfast.lab.vm import GuestError
from standfast.lab.vmlab import LabError, VmLab
from standfast.lab.writer_ledger import WriterLine, parse_writer_log

#: Debian's python: stdlib-only helpers start fast in a guest with it.
GUEST_PYTHON = "/usr/bin/python3"
SOCKET = "/run/standfast/standfast.sock"
LOG_FILE = "/var/log/standfast/standfast.log"
DAEMON_OUT = "/var/log/standfast-daemon.out"
#: How the lab mounts the NAS (``intr`` is accepted and ignored by today's kernels).
MOUNT_OPTIONS = "vers=3,hard,intr"
GUEST_API = str(Path(__file__).with_name("guest_api.py"))

#: Writes a file atomically: argv = path, octal mode; the content on stdin.
_WRITE_FILE = (
    "import os, sys\n"
    "p, mode = sys.argv[1], int(sys.argv[2], 8)\n"
    "os.makedirs(os.path.dirname(p), exist_ok=True)\n"
    "data = sys.stdin.buffer.read()\n"
    "t = p + '.lab-tmp'\n"
    "fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)\n"
    "os.fchmod(fd, mode)\n"
    "os.write(fd, data)\n"
    "os.close(fd)\n"
    "os.replace(t, p)\n"
)
#: Sets the guest clock to argv[1] (the host's time, seconds since the epoch).
_SET_CLOCK = "import sys, time\ntime.clock_settime(time.CLOCK_REALTIME, float(sys.argv[1]))\n"


class ClusterError(RuntimeError):
    """The lab cluster could not be formed or driven."""


class GuestOps:
    """See the module docstring."""

    lab: VmLab

    def servers(self) -> list[str]:
        return self.lab.servers()

    # ------------------------------------------------------------------ asking daemons

    def api(
        self, server: str, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int | None, Any]:
        """One API request in the guest (stdlib helper); (HTTP status or None, body)."""
        reply = self.api_reply(server, method, path, body, timeout)
        return reply.get("status"), reply.get("body", reply.get("error"))

    def api_reply(
        self, server: str, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """``api``'s whole answer: also ``seconds`` (the daemon's latency) and ``sent_at``
        (the guest's clock as the request left), see guest_api.py; ``status`` is None when
        the daemon could not be asked."""
        r = self.lab.exec(
            server,
            [GUEST_PYTHON, "-I", GUEST_API, method, path, SOCKET, f"{timeout:g}"],
            timeout=timeout + 10.0,
            stdin=None if body is None else json.dumps(body),
        )
        if r.timed_out or not r.stdout.strip():
            return {"status": None, "error": r.stderr.strip() or "timed out"}
        try:
            reply = json.loads(r.stdout)
        except ValueError:
            return {"status": None, "error": r.stdout}
        return reply if isinstance(reply, dict) else {"status": None, "error": r.stdout}

    def answer_seconds(self, server: str, path: str = "/v1/status", timeout: float = 10.0) -> float:
        """How long *server*'s daemon took to answer ``GET path``, timed inside the
        guest from connect to the last byte (no interpreter start, no control channel);
        raises ClusterError when it did not answer."""
        reply = self.api_reply(server, "GET", path, timeout=timeout)
        try:
            return float(reply["seconds"])
        except (ValueError, KeyError, TypeError):
            raise ClusterError(
                f"{server}: no answer to GET {path}: {reply.get('error') or reply}"
            ) from None

    def status(self, server: str, timeout: float = 10.0) -> dict[str, Any]:
        code, body = self.api(server, "GET", "/v1/status", timeout=timeout)
        if code != 200 or not isinstance(body, dict):
            raise ClusterError(f"{server}: no status ({code}: {str(body)[:300]})")
        return body

    def states(self, server: str) -> dict[str, str]:
        """tag -> state of every resource of *server*, as its daemon reports them."""
        out: dict[str, str] = {}

        def walk(node: Mapping[str, Any]) -> None:
            out[str(node["tag"])] = str(node["state"])
            for child in node.get("children", []):
                walk(child)

        for root in self.status(server).get("hierarchies", []):
            walk(root)
        return out

    def events(self, server: str) -> list[dict[str, Any]]:
        code, body = self.api(server, "GET", "/v1/events", timeout=20)
        if code != 200 or not isinstance(body, list):
            raise ClusterError(f"{server}: no events ({code}: {str(body)[:300]})")
        return body

    # ------------------------------------------------------------------ waiting

    def wait_answering(self, server: str, timeout: float = 120.0) -> float:
        t0 = time.monotonic()
        deadline = t0 + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                code, last = self.api(server, "GET", "/v1/status", timeout=5)
            except GuestError as exc:
                code, last = None, exc
            if code == 200:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise ClusterError(f"{server}: daemon not answering after {timeout:.0f} s ({last})")

    def formed(self, server: str) -> bool:
        """*server*'s daemon answers and sees every server of the cluster alive."""
        try:
            st = self.status(server, timeout=5)
        except (ClusterError, GuestError):
            return False
        servers = st.get("cluster", {}).get("servers", {})
        return bool(servers) and all(s.get("alive") for s in servers.values())

    def wait_formed(self, timeout: float = 180.0, servers: Sequence[str] | None = None) -> float:
        """Until every daemon (or those of *servers*, and every running one) sees all alive."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        names = list(servers) if servers else self.servers()
        pending = set(names)
        while time.monotonic() < deadline:
            pending = {s for s in pending if not self.formed(s)}
            if not pending:
                # Those we waited for see everyone; check the others once too.
                others = [s for s in self.servers() if s not in names]
                if all(self.formed(s) for s in others):
                    return time.monotonic() - t0
                pending = set(others)
            time.sleep(0.5)
        raise ClusterError(
            f"cluster not formed within {timeout:.0f} s (waiting for {sorted(pending)})\n"
            + self.logs(tail=40)
        )

    def wait_state(
        self, server: str, tag: str, wanted: str | Sequence[str], timeout: float = 60.0
    ) -> float:
        """Until *tag* on *server* is in state *wanted* (one or several); seconds waited."""
        want = {wanted} if isinstance(wanted, str) else set(wanted)
        t0 = time.monotonic()
        deadline = t0 + timeout
        seen: str | None = None
        while time.monotonic() < deadline:
            try:
                seen = self.states(server).get(tag)
            except (ClusterError, GuestError):
                seen = None
            if seen in want:
                return time.monotonic() - t0
            time.sleep(0.3)
        raise ClusterError(
            f"{tag} on {server} not {sorted(want)} within {timeout:.0f} s (last: {seen})"
        )

    def where(self, tag: str) -> list[str]:
        """Running servers whose copy of *tag* is in service (ISP/ISU)."""
        out = []
        for server in self.servers():
            if not self.lab.guest(server).running():
                continue
            try:
                if self.states(server).get(tag) in ("ISP", "ISU"):
                    out.append(server)
            except (ClusterError, GuestError):
                continue
        return out

    def write_file(self, server: str, path: str, content: str, mode: int = 0o644) -> None:
        r = self.lab.exec(
            server,
            [GUEST_PYTHON, "-I", "-c", _WRITE_FILE, path, f"{mode:o}"],
            timeout=30,
            stdin=content,
        )
        if not r.ok:
            raise ClusterError(f"{server}: cannot write {path}: {r.stderr.strip() or r}")

    def sync_clock(self, server: str) -> None:
        """Set the guest's clock to the host's (lines on the NAS carry guest times)."""
        t0 = time.time()
        r = self.lab.exec(server, [GUEST_PYTHON, "-I", "-c", _SET_CLOCK, f"{t0:.6f}"], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: cannot set the clock: {r.stderr.strip()}")

    def add_account(
        self, server: str, user: str, password: str, groups: Sequence[str] = ()
    ) -> None:
        """A local account in *server*'s guest for the GUI's PAM login, member of
        *groups* (made if missing: ``standfast-admin``, ``standfast-operator``...).
        The password goes to ``chpasswd`` on stdin, never on a command line. A guest
        keeps /etc on its tmpfs overlay: the account is gone after a restart."""
        for group in groups:
            if not self.lab.exec(server, ["/usr/bin/getent", "group", group], timeout=20).ok:
                r = self.lab.exec(server, ["/usr/sbin/groupadd", group], timeout=20)
                if not r.ok:
                    raise ClusterError(f"{server}: groupadd {group}: {r.stderr.strip() or r}")
        argv = ["/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        r = self.lab.exec(server, [*argv, user], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: useradd {user}: {r.stderr.strip() or r}")
        r = self.lab.exec(server, ["/usr/sbin/chpasswd"], timeout=20, stdin=f"{user}:{password}\n")
        if not r.ok:
            raise ClusterError(f"{server}: chpasswd for {user}: {r.stderr.strip() or r}")

    # ------------------------------------------------------------------ the NAS

    def nas_source(self, host: str | None = None) -> str:
        """``IP:/export`` (or ``HOST:/export``) of the lab NAS, as NFSv3 clients mount it."""
        nas = self.lab.info().nas
        if nas is None:
            raise ClusterError("this lab has no NAS")
        return f"{host or nas.address}:{nas.export_path}"

    def nas_host_path(self, name: str) -> Path:
        """A file of the export, seen from the host (outside the cluster)."""
        nas = self.lab.info().nas
        if nas is None:
            raise ClusterError("this lab has no NAS")
        return Path(nas.host_dir) / name

    def read_file(self, server: str, path: str, timeout: float = 20.0) -> str:
        r = self.lab.exec(server, ["/bin/cat", path], timeout=timeout)
        if not r.ok:
            raise ClusterError(f"{server}: cannot read {path}: {r.stderr.strip() or r}")
        return r.stdout

    def fstab(self, server: str) -> str:
        return self.read_file(server, "/etc/fstab")

    def add_fstab_line(self, server: str, line: str) -> None:
        text = self.fstab(server)
        if text and not text.endswith("\n"):
            text += "\n"
        self.write_file(server, "/etc/fstab", text + line.rstrip("\n") + "\n")

    def add_hosts_entry(self, server: str, name: str, address: str) -> None:
        text = self.read_file(server, "/etc/hosts")
        if text and not text.endswith("\n"):
            text += "\n"
        self.write_file(server, "/etc/hosts", f"{text}{address}\t{name}\n")

    def mount_nas(
        self,
        server: str,
        mount_point: str = "/mnt/data",
        *,
        host: str | None = None,
        options: str = MOUNT_OPTIONS,
        fstab: bool = True,
        timeout: float = 60.0,
    ) -> str:
        """Mount the NAS export on *server* (by IP, or by *host* name) as an
        administrator would, with an /etc/fstab line; returns the source mounted."""
        source = self.nas_source(host)
        r = self.lab.exec(server, ["/bin/mkdir", "-p", mount_point], timeout=20)
        if not r.ok:
            raise ClusterError(f"{server}: mkdir {mount_point}: {r.stderr.strip()}")
        r = self.lab.exec(
            server,
            ["/bin/mount", "-t", "nfs", "-o", options, source, mount_point],
            timeout=timeout,
        )
        if not r.ok:
            raise ClusterError(f"{server}: mount {source} {mount_point}: {r.stderr.strip() or r}")
        if fstab:
            self.add_fstab_line(server, f"{source} {mount_point} nfs {options} 0 0")
        return source

    def mounts(self, server: str) -> list[tuple[str, str, str]]:
        """(source, mount point, type) of every mount of *server* (/proc/mounts)."""
        out = []
        for line in self.read_file(server, "/proc/mounts").splitlines():
            parts = line.split()
            if len(parts) >= 3:
                out.append((parts[0], parts[1], parts[2]))
        return out

    def nfs_mounted(self, server: str, mount_point: str) -> str | None:
        """The NFS source mounted on *mount_point* of *server*, if any."""
        for source, mp, fstype in self.mounts(server):
            if mp == mount_point and fstype.startswith("nfs"):
                return source
        return None

    def writer_lines(self, name: str) -> list[WriterLine]:
        """The writer's file read on the host, straight from the NAS's export."""
        try:
            text = self.nas_host_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return []
        return parse_writer_log(text)

    # ------------------------------------------------------------------ diagnostics

    def logs(self, tail: int = 80, servers: Sequence[str] | None = None) -> str:
        """The last lines of every daemon's log and output (for failure reports)."""
        out: list[str] = []
        for server in servers or self.servers():
            try:
                if not self.lab.guest(server).running():
                    out.append(f"--- {server}: not running")
                    continue
            except LabError as exc:
                out.append(f"--- {server}: {exc}")
                continue
            # The daemon logs to both; its output also holds any traceback.
            for path, lines in ((LOG_FILE, tail), (DAEMON_OUT, min(tail, 15))):
                try:
                    r = self.lab.exec(server, ["/usr/bin/tail", "-n", str(lines), path], timeout=15)
                    text = r.stdout if r.ok else r.stderr
                except GuestError as exc:
                    text = str(exc)
                out.append(f"--- {server}:{path}\n{text.rstrip()}")
        return "\n".join(out)
