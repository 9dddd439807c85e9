from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "sf", defaults="SF_QUICKCHECK_INTERVAL=0.5\n").start()
    yield d
    d.stop()
