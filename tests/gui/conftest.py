"""Shared by the GUI modules: the PAM accounts the browser logs in with (one per role,
made on this host and removed after the module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.remote_support import Accounts, accounts


@pytest.fixture(scope="module")
def users() -> Iterator[Accounts]:
    with accounts() as acc:
        yield acc
