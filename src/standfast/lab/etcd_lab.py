"""A real etcd cluster for the lab's netns backend: Debian's ``etcd`` members, each in
its own network namespace on a bridge the test made, with TLS on the client and peer
ports and client-certificate authentication (a CA, a certificate per member, one
client certificate for the Standfast servers), all made here with ``cryptography``.

Faults, from outside the members: ``kill`` (SIGKILL by PID), ``start`` again, and
``isolate`` (blackhole routes in the member's namespace to the other members).
Everything made here is removed by ``down()``; processes are stopped by PID only.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from standfast.lab.netns import ip

CLIENT_PORT, PEER_PORT = 2379, 2380


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


@dataclass
class Pki:
    """A CA, and certificates it signs (ECDSA P-256, valid for a day)."""

    folder: Path
    ca_key: ec.EllipticCurvePrivateKey = field(init=False)
    ca_cert: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("standfast lab etcd CA"))
            .issuer_name(_name("standfast lab etcd CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    def issue(self, name: str, addresses: list[str]) -> tuple[Path, Path]:
        """(certificate, key) for ``name``, for TLS servers and clients alike."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = [x509.DNSName(name)]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        return cert_path, key_path


@dataclass
class Member:
    name: str
    ns: str
    address: str
    host_link: str
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class EtcdLab:
    """``count`` etcd members on ``bridge``, at ``10.249.{net_no}.{201..}``."""

    workdir: Path
    prefix: str  # for namespace and link names (short: interface names are 15 bytes)
    bridge: str
    net_no: int = 1
    count: int = 3
    members: dict[str, Member] = field(default_factory=dict)
    pki: Pki = field(init=False)

    def __post_init__(self) -> None:
        if shutil.which("etcd") is None:
            raise RuntimeError("etcd is not installed: run ./scripts/bootstrap")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(self.workdir / "pki")
        self.client_cert, self.client_key = self.pki.issue("standfast", [])

    def address(self, i: int) -> str:
        return f"10.249.{self.net_no}.{200 + i}"

    @property
    def endpoints(self) -> list[str]:
        """Known before ``up`` (the definition is written before the bridge exists)."""
        return [f"https://{self.address(i)}:{CLIENT_PORT}" for i in range(1, self.count + 1)]

    def settings(self, **extra: object) -> dict[str, object]:
        """The cluster definition's ``etcd`` section for these members."""
        return {
            "endpoints": self.endpoints,
            "ca": str(self.pki.ca),
            "cert": str(self.client_cert),
            "key": str(self.client_key),
            "prefix": "/standfast/lab",
            **extra,
        }

    def up(self, timeout: float = 30.0) -> EtcdLab:
        for i in range(1, self.count + 1):
            name = f"etcd{i}"
            ns, link = f"{self.prefix}-{name}", f"{self.prefix}e{i}"
            address = self.address(i)
            ip("netns", "add", ns)
            member = Member(name, ns, address, link, self.workdir / name)
            self.members[name] = member
            ip("link", "set", "lo", "up", ns=ns)
            ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", link, "master", self.bridge)
            ip("link", "set", link, "up")
            ip("addr", "add", f"{address}/24", "dev", "eth0", ns=ns)
            ip("link", "set", "eth0", "up", ns=ns)
        for name in self.members:
            self.start(name, new=True)
        self.wait_healthy(timeout)
        return self

    def _argv(self, m: Member, new: bool) -> list[str]:
        cert, key = self.pki.issue(m.name, [m.address])
        cluster = ",".join(
            f"{o.name}=https://{o.address}:{PEER_PORT}" for o in self.members.values()
        )
        return [
            "etcd",
            "--name", m.name,
            "--data-dir", str(m.data_dir),
            "--listen-client-urls", f"https://{m.address}:{CLIENT_PORT}",
            "--advertise-client-urls", f"https://{m.address}:{CLIENT_PORT}",
            "--listen-peer-urls", f"https://{m.address}:{PEER_PORT}",
            "--initial-advertise-peer-urls", f"https://{m.address}:{PEER_PORT}",
            "--initial-cluster", cluster,
            "--initial-cluster-state", "new" if new else "existing",
            "--initial-cluster-token", self.prefix,
            "--client-cert-auth", "--trusted-ca-file", str(self.pki.ca),
            "--cert-file", str(cert), "--key-file", str(key),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", str(self.pki.ca),
            "--peer-cert-file", str(cert), "--peer-key-file", str(key),
            # The lab's faults are seconds long: elections within a second.
            "--heartbeat-interval", "100", "--election-timeout", "1000",
        ]  # fmt: skip

    def start(self, name: str, *, new: bool = False) -> None:
        m = self.members[name]
        m.proc = subprocess.Popen(
            ["ip", "netns", "exec", m.ns, *self._argv(m, new)],
            stdout=open(self.workdir / f"{name}.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        m = self.members[name]
        if m.proc is not None and m.proc.poll() is None:
            m.proc.send_signal(signal.SIGKILL)
            m.proc.wait(10)

    def isolate(self, name: str, cut: bool = True) -> None:
        """Blackhole (or restore) the routes from ``name`` to the other members."""
        m = self.members[name]
        for other in self.members.values():
            if other.name != name:
                verb = "add" if cut else "del"
                ip("route", verb, "blackhole", f"{other.address}/32", ns=m.ns, check=cut)

    def healthy(self, name: str) -> bool:
        m = self.members[name]
        r = subprocess.run(
            [
                "ip", "netns", "exec", m.ns, "etcdctl",
                f"--endpoints=https://{m.address}:{CLIENT_PORT}",
                f"--cacert={self.pki.ca}", f"--cert={self.client_cert}",
                f"--key={self.client_key}", "--command-timeout=2s", "endpoint", "health",
            ],
            capture_output=True, text=True, timeout=10, check=False,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )  # fmt: skip
        return r.returncode == 0

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.healthy(n) for n in self.members):
                return
            time.sleep(0.3)
        logs = {n: (self.workdir / f"{n}.log").read_text()[-1500:] for n in self.members}
        raise TimeoutError(f"etcd members not healthy within {timeout} s: {logs}")

    def down(self) -> None:
        for name in self.members:
            with contextlib.suppress(Exception):
                self.kill(name)
        for m in self.members.values():
            ip("link", "del", m.host_link, check=False)
            ip("netns", "del", m.ns, check=False)
