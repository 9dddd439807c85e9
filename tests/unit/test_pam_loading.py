"""PAM for the GUI's logins: libpam loaded by its soname (no ldconfig cache needed),
and a server without it refuses logins with a numbered message instead of failing."""

from __future__ import annotations

import pytest

from standfast.api.remote import sessions
from standfast.messages import StandfastError


def test_pam_loads_by_soname() -> None:
    pamela = sessions._pamela()
    assert callable(pamela.authenticate)


def test_no_libpam_is_a_numbered_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "PAM_SONAME", "libstandfast-no-such-pam.so.0")
    with pytest.raises(StandfastError) as got:
        sessions.pam_authenticate("nobody", "x", "standfast")
    assert got.value.code == "194010"
    assert "libstandfast-no-such-pam.so.0" in str(got.value)
