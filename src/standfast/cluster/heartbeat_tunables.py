"""Heartbeat tunables, validated when loaded.

Following the Patroni rule of checking timing relations at load time: the detection time
(``interval * miss_count``) must stay within ``max_detection`` (2.5 s by default) so that a
crashed server is declared failed within 3 s, one more interval of scheduling included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

INTERVAL_MIN = 0.05
INTERVAL_MAX = 10.0
MISS_COUNT_MIN = 2
MISS_COUNT_MAX = 100
DEFAULT_MAX_DETECTION = 2.5


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"heartbeat {name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"heartbeat {name} must be a finite number, got {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class HeartbeatTunables:
    """How often heartbeats are sent and how many may be missed before a path is DEAD.

    ``interval`` (seconds, 0.05-10) and ``miss_count`` (2-100); ``interval * miss_count``
    must not exceed ``max_detection`` seconds. Invalid values raise :class:`ValueError`.
    """

    interval: float = 0.3
    miss_count: int = 5
    max_detection: float = DEFAULT_MAX_DETECTION

    def __post_init__(self) -> None:
        interval = _number("interval", self.interval)
        if not INTERVAL_MIN <= interval <= INTERVAL_MAX:
            raise ValueError(
                f"heartbeat interval must be between {INTERVAL_MIN} and {INTERVAL_MAX} "
                f"seconds, got {self.interval!r}"
            )
        if isinstance(self.miss_count, bool) or not isinstance(self.miss_count, int):
            raise ValueError(f"heartbeat miss_count must be an integer, got {self.miss_count!r}")
        if not MISS_COUNT_MIN <= self.miss_count <= MISS_COUNT_MAX:
            raise ValueError(
                f"heartbeat miss_count must be between {MISS_COUNT_MIN} and {MISS_COUNT_MAX}, "
                f"got {self.miss_count!r}"
            )
        limit = _number("max_detection", self.max_detection)
        if limit <= 0:
            raise ValueError(f"heartbeat max_detection must be positive, got {limit!r}")
        # A tiny tolerance so 0.5 * 5 == 2.5 passes despite float rounding.
        if interval * self.miss_count > limit + 1e-9:
            raise ValueError(
                f"heartbeat interval * miss_count = {interval * self.miss_count:g} s exceeds "
                f"{limit:g} s: a crashed server would not be declared failed in time; "
                f"lower the interval or the miss count"
            )
        object.__setattr__(self, "interval", interval)
        object.__setattr__(self, "max_detection", limit)

    @property
    def detection_time(self) -> float:
        """Seconds of silence after which a path is declared DEAD."""
        return self.interval * self.miss_count

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> HeartbeatTunables:
        """Build from a configuration mapping; unknown keys are rejected."""
        known = {"interval", "miss_count", "max_detection"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown heartbeat tunable(s): {', '.join(unknown)}")
        kwargs: dict[str, object] = dict(data)
        return cls(**kwargs)  # type: ignore[arg-type]


__all__ = ["HeartbeatTunables"]
