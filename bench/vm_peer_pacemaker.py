"""The peer benchmark's Pacemaker side: Pacemaker+Corosync in the vm lab's guests.

Debian's corosync 3 and pacemaker 2.1 (installed on the host; the guests run the
host's binaries over the shared root) run in the same two guests Standfast uses, with
one ``ocf:heartbeat:Filesystem`` primitive ``fs`` on the lab NAS's NFSv3 export,
mounted at /mnt/data with the lab's MOUNT_OPTIONS (``vers=3,hard,intr``).  Corosync:
two nodes on net1, knet, crypto off, ``two_node: 1``.  Pacemaker: its defaults, except
``stonith-enabled=false`` (the lab has no fencing device) and a location preference
for server1 (``cli-prefer-fs``, what ``crm resource move fs server1`` writes).  No
systemd in the guests: ``corosync -f`` and ``pacemakerd`` run as background processes
started by the lab's agent.

Each run, measured by the shared outside observer (bench/vm_observer.py: a watcher
of /proc/mounts in the target guest, its clock converted to the host's):

1. crash: SIGKILL server1's qemu; seconds until the export is mounted on server2
   (server2's Pacemaker log adds an informative split: the node lost, the start
   initiated, the start's result; never the headline);
2. the preference is cleared (so the resource does not fall back by itself), server1
   is booted again, corosync and pacemaker started there, and the cluster left to
   settle with fs still on server2 (not timed);
3. switchover: ``crm_resource --move fs server1`` (what ``crm resource move`` runs,
   without crmsh's own start-up, 30-60 s of Python imports under TCG), timed until
   the export is mounted on server1.  The move's constraint is the next run's
   preference, so every run starts with server1 holding fs, as Standfast's do.

The Debian packages are installed on the host when missing (apt-get with an argv
list; refused, with the command to run, when no policy-rc.d keeps their services off
the host).  bench/vm_failover.py --peer pacemaker runs this after Standfast's runs.

usage: python bench/vm_peer_pacemaker.py [--runs N]  (root; a lab of its own)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vm_observer import MP, guest_offset, mounted_at, watch_mount
from standfast.lab.guest_ops import MOUNT_OPTIONS, GuestOps
from standfast.lab.image import DEFAULT_CACHE_DIR
from standfast.lab.vmlab import VmLab

PACKAGES = ("corosync", "pacemaker", "resource-agents", "crmsh")
INSTALL = [
    "apt-get",
    "install",
    "-y",
    "--no-install-recommends",
    *PACKAGES,
]
RESOURCE = "fs"
CRM_CONFIG = ["/usr/sbin/crm_attribute", "--type", "crm_config"]
PREFER = f"cli-prefer-{RESOURCE}"
COROSYNC_CONF = "/etc/corosync/corosync.conf"
COROSYNC_OUT = "/var/log/sfpeer-corosync.out"
PACEMAKER_OUT = "/var/log/sfpeer-pacemakerd.out"
PACEMAKER_LOG = "/var/log/pacemaker/pacemaker.log"
#: No syslog daemon in a guest: Pacemaker logs to its file only.
PACEMAKER_ENV = {"PCMK_logfile": PACEMAKER_LOG, "PCMK_logfacility": "none"}

COROSYNC_TEMPLATE = """\
totem {{
    version: 2
    cluster_name: sfpeer
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}}
nodelist {{
{nodes}}}
quorum {{
    provider: corosync_votequorum
    two_node: 1
}}
logging {{
    to_stderr: yes
    to_logfile: no
    to_syslog: no
    timestamp: on
}}
"""
NODE_TEMPLATE = """\
    node {{
        name: {name}
        nodeid: {nodeid}
        ring0_addr: {address}
    }}
"""


class PeerError(RuntimeError):
    """Pacemaker could not be set up or driven in the lab."""


def missing_packages() -> list[str]:
    """The PACKAGES not installed on the host (dpkg's view)."""
    missing = []
    for name in PACKAGES:
        r = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Status}", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode != 0 or not r.stdout.endswith(" installed"):
            missing.append(name)
    return missing


def ensure_packages() -> None:
    """Install the missing Debian packages on the host (the guests see its root).

    Debian starts services from postinst unless policy-rc.d says no; nothing of them
    needs to run on the host, so an absent policy-rc.d makes this refuse instead."""
    missing = missing_packages()
    if not missing:
        return
    if not Path("/usr/sbin/policy-rc.d").exists():
        raise PeerError(
            f"missing packages {' '.join(missing)} and no /usr/sbin/policy-rc.d to keep "
            f"their services off the host; install them by hand: "
            f"DEBIAN_FRONTEND=noninteractive {' '.join(INSTALL)}"
        )
    print(f"installing {' '.join(missing)} on the host", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    r = subprocess.run(INSTALL, env=env, capture_output=True, text=True, timeout=900, check=False)
    if r.returncode != 0 or missing_packages():
        raise PeerError(f"{' '.join(INSTALL)} failed ({r.returncode}):\n{r.stderr[-2000:]}")


def corosync_conf(lab: VmLab, network: str = "net1") -> str:
    """Two (or more) nodes named like the guests, on their *network* addresses."""
    servers = lab.info().servers
    names = sorted(servers, key=lambda n: int(n.removeprefix("server")))
    nodes = "".join(
        NODE_TEMPLATE.format(name=n, nodeid=i, address=servers[n].addresses[network])
        for i, n in enumerate(names, start=1)
    )
    return COROSYNC_TEMPLATE.format(nodes=nodes)


def primitive_xml(device: str) -> str:
    """``primitive fs Filesystem params device=... op monitor interval=20s``."""
    params = {"device": device, "directory": MP, "fstype": "nfs", "options": MOUNT_OPTIONS}
    nvpairs = "".join(
        f"<nvpair id={quoteattr(f'{RESOURCE}-instance_attributes-{k}')} name={quoteattr(k)} "
        f"value={quoteattr(v)}/>"
        for k, v in params.items()
    )
    return (
        f'<primitive id="{RESOURCE}" class="ocf" provider="heartbeat" type="Filesystem">'
        f'<instance_attributes id="{RESOURCE}-instance_attributes">{nvpairs}'
        f"</instance_attributes><operations>"
        f'<op id="{RESOURCE}-monitor-interval-20s" name="monitor" interval="20s"/>'
        f"</operations></primitive>"
    )


def location_xml(node: str) -> str:
    """``location cli-prefer-fs fs role=Started inf: NODE``."""
    return (
        f'<rsc_location id="{PREFER}" rsc="{RESOURCE}" role="Started" node="{node}" '
        f'score="INFINITY"/>'
    )


@dataclass
class CrmStatus:
    online: set[str]
    dc: bool
    #: Nodes where fs is active.
    holders: list[str]
    #: fs has an action in flight (starting, stopping...) or failed.
    busy: bool


def parse_crm_mon(xml: str) -> CrmStatus:
    root = ET.fromstring(xml)
    online = {
        str(n.get("name"))
        for n in root.iter("node")
        if n.get("online") == "true" and n.get("type", "member") == "member"
    }
    dc = any(e.get("present") == "true" for e in root.iter("current_dc"))
    holders: list[str] = []
    busy = False
    for res in root.iter("resource"):
        if res.get("id") != RESOURCE:
            continue
        if res.get("active") == "true":
            holders += [str(n.get("name")) for n in res.iter("node")]
        busy = busy or res.get("role") not in ("Started", "Stopped") or res.get("failed") == "true"
    return CrmStatus(online, dc, holders, busy)


@dataclass
class PacemakerCluster(GuestOps):
    """Corosync and Pacemaker in every guest of *lab* (see the module docstring)."""

    lab: VmLab

    def run(self, server: str, argv: list[str], timeout: float = 60.0) -> str:
        r = self.lab.exec(server, argv, timeout=timeout)
        if not r.ok:
            raise PeerError(
                f"{server}: {' '.join(argv)} failed ({r.returncode}, timed out "
                f"{r.timed_out}):\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}"
            )
        return r.stdout

    def provision(self, server: str) -> None:
        """The clock, corosync.conf and the mount point (a fresh guest has none)."""
        self.sync_clock(server)
        self.write_file(server, COROSYNC_CONF, corosync_conf(self.lab), 0o644)
        self.run(server, ["/bin/mkdir", "-p", MP])

    def start(self, server: str, timeout: float = 180.0) -> None:
        """Corosync, then (once it answers) pacemakerd, which starts the rest."""
        self.lab.spawn(server, ["/usr/sbin/corosync", "-f"], COROSYNC_OUT)
        deadline = time.monotonic() + timeout
        while not self.lab.exec(server, ["/usr/sbin/corosync-cfgtool", "-s"], timeout=30).ok:
            if time.monotonic() > deadline:
                raise PeerError(f"{server}: corosync not answering\n{self.tail(server)}")
            time.sleep(1.0)
        self.lab.spawn(server, ["/usr/sbin/pacemakerd"], PACEMAKER_OUT, env=PACEMAKER_ENV)

    def tail(self, server: str, lines: int = 30) -> str:
        out = []
        for path in (COROSYNC_OUT, PACEMAKER_OUT, PACEMAKER_LOG):
            r = self.lab.exec(server, ["/usr/bin/tail", f"-n{lines}", path], timeout=20)
            out.append(f"--- {server}:{path}\n{r.stdout}{r.stderr}")
        return "\n".join(out)

    def crm_status(self, server: str) -> CrmStatus | None:
        r = self.lab.exec(server, ["/usr/sbin/crm_mon", "-1", "--output-as=xml"], timeout=60)
        if not r.ok:
            return None
        try:
            return parse_crm_mon(r.stdout)
        except ET.ParseError:
            return None

    def wait_for(
        self, server: str, what: str, timeout: float, ok: Callable[[CrmStatus], bool]
    ) -> CrmStatus:
        """Poll ``crm_mon`` on *server* (every 2 s: light on a busy guest) until *ok*."""
        deadline = time.monotonic() + timeout
        last: CrmStatus | None = None
        while time.monotonic() < deadline:
            last = self.crm_status(server)
            if last is not None and ok(last):
                return last
            time.sleep(2.0)
        raise PeerError(f"{what} not within {timeout:.0f} s (last: {last})\n{self.tail(server)}")

    def wait_online(self, server: str, timeout: float = 300.0) -> CrmStatus:
        """Until *server*'s ``crm_mon -1`` shows every node online and a DC."""
        every = set(self.servers())
        return self.wait_for(
            server, "all nodes online", timeout, lambda s: s.dc and s.online == every
        )

    def wait_settled(self, server: str, holder: str, timeout: float = 180.0) -> None:
        """Until fs is started on *holder* alone and nothing is pending."""
        self.wait_for(
            server,
            f"{RESOURCE} settled on {holder}",
            timeout,
            lambda s: s.holders == [holder] and not s.busy,
        )
        # The scheduler's transition done too (crm_mon shows results, not plans).
        self.run(server, ["/usr/sbin/crm_resource", "--wait", "--timeout=120s"], timeout=150)

    def form(self, holder: str = "server1", timeout: float = 300.0) -> float:
        """Provision and start every guest, configure fs on *holder*; seconds."""
        t0 = time.monotonic()
        for server in self.servers():
            self.provision(server)
        for server in self.servers():
            self.start(server)
        self.wait_online(holder, timeout)
        self.configure(holder)
        self.wait_settled(holder, holder)
        return time.monotonic() - t0

    def configure(self, server: str) -> None:
        """Fencing off first (nothing starts while it is on without a device), then fs
        and its preference in one CIB update, so fs starts on the holder directly."""
        self.run(
            server,
            [*CRM_CONFIG, "--name", "stonith-enabled", "--update", "false"],
        )
        xml = f"<cib><configuration><resources>{primitive_xml(self.nas_source())}</resources>"
        xml += f"<constraints>{location_xml(server)}</constraints></configuration></cib>"
        r = self.lab.exec(
            server,
            ["/usr/sbin/cibadmin", "--modify", "--allow-create", "--xml-pipe"],
            60,
            stdin=xml,
        )
        if not r.ok:
            raise PeerError(f"{server}: cibadmin: {r.stdout}\n{r.stderr}")

    def configuration(self, server: str) -> str:
        """The CIB's configuration section, for the record."""
        return self.run(server, ["/usr/sbin/cibadmin", "--query", "--scope", "configuration"])

    def rejoin(self, server: str, holder: str, timeout: float = 300.0) -> float:
        """Boot a crashed *server* again and bring it into the cluster; seconds."""
        t0 = time.monotonic()
        self.lab.restart(server, timeout)
        self.provision(server)
        self.start(server)
        self.wait_online(holder, timeout)
        self.wait_settled(holder, holder)
        return time.monotonic() - t0


#: Pacemaker's own log lines for the (informative, not headline) split of a failover.
LOG_MARKS = {
    "lost": "state is now lost",
    "start_begun": f"Initiating start operation {RESOURCE}_start_0",
    "started": f"Result of start operation for {RESOURCE} on {{node}}: ok",
}


def log_time(line: str, year: int) -> float | None:
    """A pacemaker.log line's time (``Dec 03 11:48:16.860 ...``, the guest's UTC)."""
    try:
        stamp = dt.datetime.strptime(f"{year} {line[:19]}", "%Y %b %d %H:%M:%S.%f")
    except ValueError:
        return None
    return stamp.replace(tzinfo=dt.UTC).timestamp()


def log_marks(pm: PacemakerCluster, server: str, offset: float, since: float) -> dict[str, float]:
    """Seconds from *since* (host clock) to the first of each LOG_MARKS line after it
    in *server*'s Pacemaker log (the guest's times converted with *offset*)."""
    r = pm.lab.exec(server, ["/bin/cat", PACEMAKER_LOG], timeout=30)
    year = time.gmtime(since).tm_year
    out: dict[str, float] = {}
    for line in r.stdout.splitlines():
        for key, mark in LOG_MARKS.items():
            if key in out or mark.format(node=server) not in line:
                continue
            at = log_time(line, year)
            if at is not None and at - offset >= since:
                out[key] = at - offset - since
    return out


def crash_run(pm: PacemakerCluster, holder: str, survivor: str) -> dict[str, float]:
    lab = pm.lab
    offset, error = guest_offset(lab, survivor)
    watch_mount(lab, survivor)
    time.sleep(1.0)  # the watcher runs
    crashed = time.time()
    lab.crash(holder)
    mounted = mounted_at(lab, survivor, offset, timeout=240) - crashed
    marks = log_marks(pm, survivor, offset, crashed)
    return {"mounted": mounted, "clock_offset": offset, "clock_error": error, **marks}


def switchover_run(pm: PacemakerCluster, target: str) -> dict[str, float]:
    lab = pm.lab
    offset, _ = guest_offset(lab, target)
    watch_mount(lab, target)
    time.sleep(1.0)
    # Timed from the command's start in the guest (its clock), as Standfast's request
    # is: the lab's control channel is no part of either product.
    out = pm.run(
        target,
        [
            "/bin/sh",
            "-c",
            'date +%s.%N; exec /usr/sbin/crm_resource --move -r "$1" -N "$2"',
            "sh",
            RESOURCE,
            target,
        ],
        # crm_resource waits for the CIB; one move in ten took 40-60 s or more here.
        timeout=240.0,
    )
    t0 = float(out.split()[0]) - offset
    mounted = mounted_at(lab, target, offset, timeout=240) - t0
    return {"switchover_mounted": mounted}


def run_pacemaker(
    lab: VmLab, runs: int, log: Callable[[str], None] = print
) -> list[dict[str, float]]:
    """*runs* crash + switchover runs in *lab* (up, 2 servers, nothing mounted)."""
    pm = PacemakerCluster(lab)
    formed = pm.form("server1")
    log(f"pacemaker: both nodes online, {RESOURCE} on server1 after {formed:.1f} s")
    log(f"{COROSYNC_CONF}:\n{corosync_conf(lab)}")
    cib = pm.configuration("server1")
    log(f"CIB configuration (cibadmin --query --scope configuration):\n{cib}")
    results: list[dict[str, float]] = []
    for run in range(1, runs + 1):
        time.sleep(2.0)
        r = crash_run(pm, "server1", "server2")
        pm.wait_settled("server2", "server2")
        # Without the preference fs stays where it is when server1 comes back.
        pm.run("server2", ["/usr/sbin/crm_resource", "--clear", "-r", RESOURCE])
        rejoin = pm.rejoin("server1", "server2")
        r.update(switchover_run(pm, "server1"))
        pm.wait_settled("server1", "server1")
        results.append(r)
        split = ", ".join(f"{k} {r[k]:.2f}" for k in LOG_MARKS if k in r)
        log(
            f"pacemaker run {run}: crash -> mounted on server2 {r['mounted']:.2f} s after "
            f"the cut, seen in the guest (its clock {r['clock_offset']:+.2f} s +/- "
            f"{r['clock_error']:.2f} off the host's; its Pacemaker log: "
            f"{split or 'no marks'}); switchover -> mounted on server1 "
            f"{r['switchover_mounted']:.2f} s; "
            f"server1 rejoined in {rejoin:.1f} s"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lab-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args()
    ensure_packages()
    lab_dir = args.lab_dir or Path(tempfile.mkdtemp(prefix="sfpeer-", dir="/run"))
    lab = VmLab(lab_dir, args.cache_dir)
    lab.setup()
    try:
        lab.up(2)
        results = run_pacemaker(lab, args.runs, lambda line: print(line, flush=True))
    finally:
        lab.down()
        if args.lab_dir is None:
            shutil.rmtree(lab_dir, ignore_errors=True)
    for key in ("mounted", "switchover_mounted"):
        values = [r[key] for r in results]
        print(f"{key:20s} median {statistics.median(values):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
