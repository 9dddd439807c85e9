"""Quorum: may this server run resources, given whom it can see? (pure, no I/O)

The engine asks :func:`decide_quorum` once per cycle with what the heartbeat layer and
the witness client last reported, and gets one :class:`QuorumStatus` back.

Rules
-----
* Every configured server has ``votes`` (default 1). With a witness (TCP or storage)
  the witness has ``witness_votes`` more. ``total`` is the sum of all of them.
* A server counts its own votes, those of the peers it sees alive, and the witness's
  votes when the witness is currently granted to it: the TCP witness granted the
  tie-break vote to the partition this server asked for, or this server holds the
  storage lease. A grant is only counted until its ``valid_until`` (local monotonic
  clock), so a grant the witness may already have handed to the other side is never
  used.
* It has quorum when those votes are **strictly more than half** of ``total``.
* Tie-break (deterministic): if the votes present are **exactly half** of ``total`` and
  ``config.tie_breaker`` names a server that is on this side (the local server or a
  peer it sees), this side has quorum. Disjoint sides cannot both contain that server,
  and a strict majority on one side leaves less than half to the other, so at most one
  side ever has quorum. Without a tie-breaker an exact half has no quorum (the
  behaviour of corosync votequorum without ``auto_tie_breaker``).
* Mode ``etcd``: no votes. A server has quorum while its etcd lease is valid by its
  own clock (``WitnessView.granted_at``); the lease is one per server, and starting a
  hierarchy needs the holder key besides (``cluster/etcd_arbiter.py``), so quorum here
  only says "may keep running". With ``keep_on_arbiter_loss`` (``on_loss: keep``) a
  server that cannot reach etcd at all keeps quorum while it counts every configured
  server in its partition (a cut from any peer ends it).
* Mode ``none`` always has quorum: no split-brain protection at all (a single server,
  or fencing alone guards the data).

Why the witness keeps this safe: the TCP witness grants at most one partition at a
time and the storage lease has at most one holder, so the witness's votes are added to
at most one side. With two servers and a witness (total 3, need 2) a server that sees
its peer has quorum; a server alone has quorum only with the witness's vote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from standfast.messages import StandfastError
from standfast.messages.quorum_codes import BAD_QUORUM_CONFIG

LossAction = Literal["out_of_service", "halt"]
LOSS_ACTIONS: tuple[LossAction, ...] = ("out_of_service", "halt")
MAX_VOTES = 255
_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class QuorumMode(StrEnum):
    MAJORITY = "majority"
    TCP_WITNESS = "tcp_witness"
    STORAGE_WITNESS = "storage_witness"
    ETCD = "etcd"
    NONE = "none"


class QuorumConfigError(StandfastError):
    """A quorum configuration was refused (message 192061)."""

    def __init__(self, reason: str) -> None:
        super().__init__(BAD_QUORUM_CONFIG, reason=reason)
        self.reason = reason


def valid_server_name(name: object) -> bool:
    """A server name usable as a command argument: no leading ``-``, no spaces or NUL."""
    return isinstance(name, str) and _SERVER_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class WitnessView:
    """What a witness (TCP or storage) last said to this server.

    ``granted`` means the witness's votes are this server's: the TCP witness granted
    the partition it asked for, or this server holds the storage lease. ``valid_until``
    is on the local ``time.monotonic()`` clock; after it the grant is not counted (the
    witness may have handed it over). ``holder`` names who holds the vote or lease, when
    known.
    """

    reachable: bool
    granted: bool
    detail: str = ""
    holder: tuple[str, ...] = ()
    valid_until: float | None = None

    def granted_at(self, now: float | None) -> bool:
        if not (self.reachable and self.granted):
            return False
        return self.valid_until is None or now is None or now <= self.valid_until


@dataclass(frozen=True, slots=True)
class QuorumConfig:
    """Quorum settings, validated on construction (:class:`QuorumConfigError`).

    ``votes`` defaults to 1 for each server (servers missing from it get 1).
    ``witness_votes`` only counts in the witness modes. ``tie_breaker`` is a server
    name (see the module docstring).

    Refused configurations, and why:

    * ``majority`` with exactly two servers and no tie-breaker: the survivor of a
      failure would hold 1 of 2 votes and never take over, which is almost always a
      mistake. Use a witness or a tie-breaker, or set ``allow_no_failover`` to accept a
      cluster that protects data but never fails over automatically.
    * a witness mode with a single server: there is nobody to arbitrate against.
    * a witness whose votes are not less than the servers' total: then even all the
      servers together are not a majority, so a witness failure alone would take
      every resource out of service.
    * a tie-breaker with an odd total: an exact half cannot happen, so the setting is
      surely a misunderstanding.
    """

    mode: QuorumMode
    servers: tuple[str, ...]
    votes: Mapping[str, int] = field(default_factory=dict)
    witness_votes: int = 1
    loss_action: LossAction = "out_of_service"
    tie_breaker: str | None = None
    allow_no_failover: bool = False
    keep_on_arbiter_loss: bool = False  # etcd, on_loss keep (see the module docstring)

    def __post_init__(self) -> None:
        try:
            mode = QuorumMode(self.mode)
        except ValueError:
            known = ", ".join(m.value for m in QuorumMode)
            raise QuorumConfigError(f"unknown mode {self.mode!r} (use {known})") from None
        object.__setattr__(self, "mode", mode)
        servers = tuple(self.servers)
        if not servers:
            raise QuorumConfigError("no servers are configured")
        for name in servers:
            if not valid_server_name(name):
                raise QuorumConfigError(f"server name {name!r} is not valid")
        if len(set(servers)) != len(servers):
            raise QuorumConfigError("a server is listed twice")
        object.__setattr__(self, "servers", servers)
        unknown = sorted(set(self.votes) - set(servers))
        if unknown:
            raise QuorumConfigError(f"votes given for unknown servers: {', '.join(unknown)}")
        votes: dict[str, int] = {}
        for name in servers:
            value = self.votes.get(name, 1)
            if not _is_vote_count(value, minimum=1):
                raise QuorumConfigError(
                    f"server {name} has {value!r} votes: use a whole number from 1 to {MAX_VOTES}"
                )
            votes[name] = value
        object.__setattr__(self, "votes", MappingProxyType(votes))
        if self.loss_action not in LOSS_ACTIONS:
            raise QuorumConfigError(
                f"quorum-loss action {self.loss_action!r} is unknown (use out_of_service or halt)"
            )
        server_total = sum(votes.values())
        if mode in (QuorumMode.TCP_WITNESS, QuorumMode.STORAGE_WITNESS):
            if not _is_vote_count(self.witness_votes, minimum=1):
                raise QuorumConfigError(
                    f"the witness has {self.witness_votes!r} votes: use a whole number "
                    f"from 1 to {MAX_VOTES}"
                )
            if len(servers) < 2:
                raise QuorumConfigError("a witness needs at least two servers to arbitrate")
            if self.witness_votes >= server_total:
                raise QuorumConfigError(
                    f"the witness has {self.witness_votes} votes, not fewer than the "
                    f"{server_total} votes of all servers"
                )
        if self.tie_breaker is not None:
            if self.tie_breaker not in votes:
                raise QuorumConfigError(f"tie-breaker {self.tie_breaker!r} is not a server")
            if mode is QuorumMode.NONE:
                raise QuorumConfigError("a tie-breaker means nothing in mode none")
            if self.total_votes % 2:
                raise QuorumConfigError(
                    f"a tie-breaker needs an even vote total; the total is {self.total_votes}"
                )
        if (
            mode is QuorumMode.MAJORITY
            and len(servers) == 2
            and self.tie_breaker is None
            and not self.allow_no_failover
        ):
            raise QuorumConfigError(
                "majority quorum with two servers never fails over (the survivor has 1 of "
                "2 votes): configure a witness or a tie-breaker"
            )

    @property
    def has_witness(self) -> bool:
        return self.mode in (QuorumMode.TCP_WITNESS, QuorumMode.STORAGE_WITNESS)

    @property
    def total_votes(self) -> int:
        total = sum(self.votes.values())
        return total + self.witness_votes if self.has_witness else total

    @property
    def votes_needed(self) -> int:
        """Strictly more than half of all votes."""
        return self.total_votes // 2 + 1


def _is_vote_count(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_VOTES


@dataclass(frozen=True, slots=True)
class QuorumInput:
    """One server's view: itself, the peers it sees alive, and its witness's last answer.

    ``now`` (local ``time.monotonic()``) lets :func:`decide_quorum` ignore a witness
    grant past its ``valid_until``; without it the grant is taken at face value.
    """

    local: str
    alive_peers: frozenset[str]
    witness: WitnessView | None = None
    now: float | None = None


@dataclass(frozen=True, slots=True)
class QuorumStatus:
    has_quorum: bool
    votes_present: int
    votes_needed: int
    reason: str
    members: tuple[str, ...] = ()
    witness_counted: bool = False
    tie_break: bool = False


def decide_quorum(config: QuorumConfig, given: QuorumInput) -> QuorumStatus:
    """Whether ``given.local`` has quorum. Never raises; peers not configured count 0."""
    if given.local not in config.votes:
        return QuorumStatus(
            False, 0, config.votes_needed, f"server {given.local} is not in the quorum config"
        )
    members = tuple(s for s in config.servers if s == given.local or (s in given.alive_peers))
    present = sum(config.votes[s] for s in members)
    names = ", ".join(members)
    if config.mode is QuorumMode.NONE:
        return QuorumStatus(True, present, 0, "quorum checking is disabled (mode none)", members)
    if config.mode is QuorumMode.ETCD:
        return _etcd_quorum(config, given, members)
    witness_counted = False
    witness_note = ""
    if config.has_witness:
        view = given.witness
        if view is None:
            witness_note = "; witness not asked"
        elif view.granted_at(given.now):
            witness_counted = True
            present += config.witness_votes
            witness_note = f"; witness vote ({config.witness_votes})"
        elif not view.reachable:
            witness_note = "; witness unreachable"
        elif view.granted:
            witness_note = "; witness grant expired"
        else:
            held = f" (held by {', '.join(view.holder)})" if view.holder else ""
            witness_note = f"; witness refused{held}"
    total = config.total_votes
    needed = config.votes_needed
    counted = f"{present} of {total} votes, {needed} needed: {names}{witness_note}"
    if present >= needed:
        return QuorumStatus(True, present, needed, f"majority, {counted}", members, witness_counted)
    if config.tie_breaker is not None and present * 2 == total and config.tie_breaker in members:
        return QuorumStatus(
            True,
            present,
            needed,
            f"exact half with tie-breaker {config.tie_breaker}, {counted}",
            members,
            witness_counted,
            tie_break=True,
        )
    return QuorumStatus(False, present, needed, f"no majority, {counted}", members, witness_counted)


def _etcd_quorum(
    config: QuorumConfig, given: QuorumInput, members: tuple[str, ...]
) -> QuorumStatus:
    view = given.witness
    if view is not None and view.granted_at(given.now):
        return QuorumStatus(True, 1, 1, "etcd lease valid", members, witness_counted=True)
    why = "etcd not asked yet" if view is None else f"no valid etcd lease ({view.detail})"
    everyone = set(members) == set(config.servers)
    if config.keep_on_arbiter_loss and view is not None and not view.reachable and everyone:
        return QuorumStatus(
            True, len(members), len(config.servers), f"{why}; every server counted (keep)", members
        )
    return QuorumStatus(False, 0, 1, why, members)


def validate_timing(*, check_interval: float, io_timeout: float, ttl: float) -> None:
    """Refuse witness timings that let a grant lapse between renewals.

    As Patroni's ``loop_wait + 2*retry_timeout <= ttl``: a holder renews every
    ``check_interval`` and each renewal may take up to ``io_timeout``, so two renewals
    (one may fail) must fit in the ttl.
    """
    for name, value in (("check_interval", check_interval), ("io_timeout", io_timeout)):
        if not (math.isfinite(value) and value > 0):
            raise QuorumConfigError(f"{name} must be a positive number of seconds")
    if not (math.isfinite(ttl) and ttl > 0):
        raise QuorumConfigError("the witness ttl must be a positive number of seconds")
    if check_interval + 2 * io_timeout > ttl:
        raise QuorumConfigError(
            f"check interval {check_interval:g} s + 2 x I/O timeout {io_timeout:g} s is more "
            f"than the witness ttl {ttl:g} s"
        )


__all__ = [
    "LOSS_ACTIONS",
    "LossAction",
    "QuorumConfig",
    "QuorumConfigError",
    "QuorumInput",
    "QuorumMode",
    "QuorumStatus",
    "WitnessView",
    "decide_quorum",
    "valid_server_name",
    "validate_timing",
]
