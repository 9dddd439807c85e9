"""The cluster definition's witness settings are checked when it is read: a bad one is
refused with 193001 (and so never starts a daemon that silently lacks its witness)."""

from __future__ import annotations

from typing import Any

import pytest

from standfast.cluster.definition import definition_from_dict
from standfast.messages import StandfastError


def data(**witness: Any) -> dict[str, Any]:
    return {
        "name": "c",
        "quorum": "storage_witness",
        "witness": witness,
        "servers": {
            "s1": {"addresses": {"net1": "10.0.0.1"}},
            "s2": {"addresses": {"net1": "10.0.0.2"}},
        },
    }


def test_a_sound_storage_witness_is_accepted() -> None:
    d = definition_from_dict(data(lease_path="/nas/lease", ttl=6.0, io_timeout=2.0))
    assert d.quorum == "storage_witness" and d.witness["ttl"] == 6.0


@pytest.mark.parametrize(
    ("witness", "words"),
    [
        ({"lease_path": "nas/lease"}, "absolute lease_path"),
        ({"lease_path": "/nas/lease", "ttl": 3.0, "io_timeout": 2.0}, "at least twice"),
        ({"lease_path": "/nas/lease", "io_timeout": 0}, "at least twice"),
        ({"lease_path": "/nas/lease", "ttl": "soon"}, "soon"),
    ],
)
def test_a_bad_storage_witness_is_refused(witness: dict[str, Any], words: str) -> None:
    with pytest.raises(StandfastError) as exc:
        definition_from_dict(data(**witness))
    assert exc.value.code == "193001"
    assert words in exc.value.text("en")
