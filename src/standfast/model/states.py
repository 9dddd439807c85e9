"""Resource states and switchback types, as cluster administrators know them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    ISP = "ISP"  # in service, protected
    ISU = "ISU"  # in service, unprotected (a check failed, recovery pending)
    OSU = "OSU"  # out of service, unimpaired
    OSF = "OSF"  # out of service, failed
    UNKNOWN = "UNKNOWN"

    @property
    def in_service(self) -> bool:
        return self in (State.ISP, State.ISU)


class Switchback(StrEnum):
    INTELLIGENT = "intelligent"
    AUTOMATIC = "automatic"
