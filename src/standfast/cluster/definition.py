"""The cluster definition every daemon shares: servers, their addresses on each
comm-path network, ports, heartbeat tunables and quorum settings.

It is a JSON file next to the configuration database (``cluster.json``) with the
cluster key beside it (``cluster.key``, mode 0600). ``standfast cluster ...``
commands write it; the same file goes to every server.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from standfast.cluster.comm_paths import CommPath
from standfast.cluster.definition_keys import check_all_keys, port
from standfast.cluster.heartbeat_tunables import HeartbeatTunables
from standfast.host.atomic import write_atomic
from standfast.messages import StandfastError
from standfast.model.tags import validate_tag

if TYPE_CHECKING:
    from standfast.cluster.etcd_settings import EtcdSettings
    from standfast.cluster.fencing import FenceConfig

QuorumModeName = Literal["majority", "none", "tcp_witness", "storage_witness", "etcd"]
QUORUM_MODES = ("majority", "none", "tcp_witness", "storage_witness", "etcd")
LossAction = Literal["out_of_service", "halt"]


@dataclass(frozen=True)
class ServerDef:
    name: str
    addresses: Mapping[str, str]  # network name -> IP address
    # Failover to this server may be blocked by the administrator.
    failover_blocked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "addresses": dict(self.addresses),
            "failover_blocked": self.failover_blocked,
        }


@dataclass(frozen=True)
class ClusterDef:
    name: str
    servers: Mapping[str, ServerDef]
    heartbeat_port: int = 7800
    peer_port: int = 7801
    heartbeat: HeartbeatTunables = field(default_factory=HeartbeatTunables)
    quorum: QuorumModeName = "majority"
    quorum_loss_action: LossAction = "out_of_service"
    # tcp_witness: {"host", "port", "grant_ttl"}; storage_witness: {"lease_path", "ttl",
    # "io_timeout"}.
    witness: Mapping[str, Any] = field(default_factory=dict)
    # {"command": [argv with {server}], "timeout", "attempts", "confirm_command"}
    fencing: Mapping[str, Any] = field(default_factory=dict)
    # {"timeout": seconds, "default": "proceed" | "block"}: ask before a failover.
    confirm_failover: Mapping[str, Any] = field(default_factory=dict)
    # {"version": n, "recipients": [...]}: see standfast.alerts.config (secrets inside).
    alerts: Mapping[str, Any] = field(default_factory=dict)
    # quorum "etcd": endpoints, TLS files, prefix, ttl (standfast.cluster.etcd_settings).
    etcd: Mapping[str, Any] = field(default_factory=dict)

    @property
    def networks(self) -> list[str]:
        return sorted({n for s in self.servers.values() for n in s.addresses})

    def server(self, name: str) -> ServerDef:
        try:
            return self.servers[name]
        except KeyError:
            raise StandfastError("193002", server=name, cluster=self.name) from None

    def peers(self, local: str) -> list[str]:
        return sorted(s for s in self.servers if s != local)

    def comm_paths(self, local: str) -> list[CommPath]:
        """One path per peer per network both servers are on."""
        me = self.server(local)
        return [
            CommPath(
                local_server=local,
                peer_server=peer,
                local_address=me.addresses[net],
                peer_address=self.servers[peer].addresses[net],
                port=self.heartbeat_port,
                network_name=net,
            )
            for peer in self.peers(local)
            for net in sorted(me.addresses)
            if net in self.servers[peer].addresses
        ]

    def peer_endpoints(self, local: str) -> dict[str, list[tuple[str, int]]]:
        me = self.server(local)
        return {
            peer: [
                (self.servers[peer].addresses[net], self.peer_port)
                for net in sorted(me.addresses)
                if net in self.servers[peer].addresses
            ]
            for peer in self.peers(local)
        }

    def listen_endpoints(self, local: str) -> list[tuple[str, int]]:
        return [(a, self.peer_port) for _, a in sorted(self.server(local).addresses.items())]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "heartbeat_port": self.heartbeat_port,
            "peer_port": self.peer_port,
            "heartbeat": {
                "interval": self.heartbeat.interval,
                "miss_count": self.heartbeat.miss_count,
            },
            "quorum": self.quorum,
            "quorum_loss_action": self.quorum_loss_action,
            "witness": dict(self.witness),
            "fencing": dict(self.fencing),
            "confirm_failover": dict(self.confirm_failover),
            **({"alerts": dict(self.alerts)} if self.alerts else {}),
            **({"etcd": dict(self.etcd)} if self.etcd else {}),
            "servers": {n: s.to_dict() for n, s in sorted(self.servers.items())},
        }


def _ip(value: object, server: str, net: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise StandfastError("193003", address=value, server=server, network=net) from None


def definition_from_dict(data: Mapping[str, Any]) -> ClusterDef:
    """Validate a definition; every problem is a numbered refusal."""
    check_all_keys(data)
    try:
        name = validate_tag(str(data["name"]))
        servers: dict[str, ServerDef] = {}
        for sname, sdata in dict(data.get("servers", {})).items():
            validate_tag(sname)
            addresses = {
                str(net): _ip(addr, sname, str(net))
                for net, addr in dict(sdata.get("addresses", {})).items()
            }
            if not addresses:
                raise StandfastError("193004", server=sname)
            blocked = sdata.get("failover_blocked", False)
            if not isinstance(blocked, bool):  # "false" would otherwise mean blocked
                raise ValueError(f"failover_blocked of {sname} must be true or false")
            servers[sname] = ServerDef(sname, addresses, blocked)
        hb = HeartbeatTunables.from_mapping(dict(data.get("heartbeat", {})))
        quorum = str(data.get("quorum", "majority"))
        loss = str(data.get("quorum_loss_action", "out_of_service"))
        if quorum not in QUORUM_MODES:
            raise StandfastError("193005", value=quorum)
        if loss not in ("out_of_service", "halt"):
            raise StandfastError("193006", value=loss)
        definition = ClusterDef(
            name=name,
            servers=servers,
            heartbeat_port=port(data, "heartbeat_port", 7800),
            peer_port=port(data, "peer_port", 7801),
            heartbeat=hb,
            quorum=quorum,  # type: ignore[arg-type]
            quorum_loss_action=loss,  # type: ignore[arg-type]
            witness=dict(data.get("witness") or {}),
            fencing=dict(data.get("fencing") or {}),
            confirm_failover=dict(data.get("confirm_failover") or {}),
            alerts=dict(data.get("alerts") or {}),
            etcd=dict(data.get("etcd") or {}),
        )
        if definition.heartbeat_port == definition.peer_port:
            raise StandfastError("193029", key="peer_port", value=definition.peer_port)
        _check_options(definition)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StandfastError("193001", reason=exc) from None
    _check_addresses_unique(definition)
    return definition


def _check_options(d: ClusterDef) -> None:
    """Witness, fencing and confirmation settings, checked by the modules that use them."""
    if d.quorum == "tcp_witness":
        _ip(d.witness.get("host"), "witness", "witness")
        int(d.witness["port"])
    if d.quorum == "storage_witness":
        if not str(d.witness.get("lease_path", "")).startswith("/"):
            raise StandfastError("193001", reason="storage witness needs an absolute lease_path")
        ttl = float(d.witness.get("ttl", 6.0))
        io_timeout = float(d.witness.get("io_timeout", 2.0))
        if not (io_timeout > 0 and ttl >= 2 * io_timeout):
            # A lease must outlive the slowest renewal, or two holders could overlap.
            raise StandfastError(
                "193001",
                reason=f"storage witness: ttl ({ttl:g} s) must be at least twice "
                f"io_timeout ({io_timeout:g} s)",
            )
    if d.quorum == "etcd" or d.etcd:
        etcd_settings(d)
    if d.fencing:
        fence_config(d)  # raises FenceConfigError, a numbered refusal (192062)
    if d.confirm_failover:
        if str(d.confirm_failover.get("default", "proceed")) not in ("proceed", "block"):
            raise StandfastError("193001", reason="confirm_failover default: proceed or block")
        float(d.confirm_failover.get("timeout", 30))
    if d.alerts:
        from standfast.alerts.config import parse_alerts

        parse_alerts(d.alerts)  # a numbered refusal (197001, 197002, 197003)


def etcd_settings(d: ClusterDef) -> EtcdSettings:
    """The etcd section, checked (193001 naming the setting); only with quorum etcd."""
    from standfast.cluster.etcd_settings import parse_etcd

    if d.quorum != "etcd":
        raise StandfastError("193001", reason='an "etcd" section needs "quorum": "etcd"')
    return parse_etcd(d.etcd)


def fence_config(d: ClusterDef) -> FenceConfig | None:
    """The fencing section as a checked :class:`FenceConfig` (None: no fencing).

    Two forms: ``command`` (argv templates, ``per_server`` argv lists) or ``agent``
    (a fence agent, ``parameters`` and ``per_server`` objects of parameters, ``action``).
    Refusals: 192062, and 192070 for the agent settings (no secret in the message).
    """
    from standfast.cluster.fencing import FenceConfig, FenceConfigError

    if not d.fencing:
        return None
    f = d.fencing
    confirm = f.get("confirm_command")
    command = f.get("command")
    per_server = f.get("per_server") or {}
    if not isinstance(per_server, Mapping):
        raise FenceConfigError("per_server must map server names to fence commands")
    strangers = sorted(set(per_server) - set(d.servers))
    if strangers:
        raise FenceConfigError(f"per_server names servers not in the cluster: {strangers}")
    agent = f.get("agent")
    own: dict[str, Any] = {}
    if agent is not None:
        own, per_server = {str(s): p for s, p in per_server.items()}, {}
    elif "parameters" in f or "action" in f:
        from standfast.cluster.fence_agent import FenceAgentError

        raise FenceAgentError("parameters and action need an agent")
    wait = f.get("confirm_timeout")
    # FenceConfig checks each value (types, ranges, argv lists) with 192062 / 192070.
    return FenceConfig(
        command=_argv(command) if command is not None else None,
        timeout=f.get("timeout", 60.0),
        per_server={str(s): _argv(a) for s, a in per_server.items()},
        attempts=f.get("attempts", 3),
        retry_delay=f.get("retry_delay", 1.0),
        confirm_command=_argv(confirm) if confirm else None,
        confirm_timeout=wait,
        agent=agent,
        parameters=f.get("parameters") or {},
        server_parameters=own,
        action=f.get("action", "off"),
    )


def _argv(value: object) -> tuple[str, ...]:
    """A list of arguments as given (FenceConfig refuses anything else with 192062)."""
    return tuple(value) if isinstance(value, list | tuple) else value  # type: ignore[return-value]


def _check_addresses_unique(d: ClusterDef) -> None:
    seen: dict[str, str] = {}
    for s in d.servers.values():
        for addr in s.addresses.values():
            if addr in seen and seen[addr] != s.name:
                raise StandfastError("193007", address=addr, server=s.name, other=seen[addr])
            seen[addr] = s.name


def load_definition(path: Path) -> ClusterDef | None:
    """None when this server is not part of a cluster yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StandfastError("193001", reason=exc) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StandfastError("193001", reason=exc) from None
    return definition_from_dict(data)


def save_definition(path: Path, definition: ClusterDef) -> None:
    """Atomic: a crash leaves the old or the new file, never half of one (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(definition.to_dict(), indent=2, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=0o600)
