"""OCF roots for the ocf kit's tests: the real resource-agents installation (its
function library and heartbeat agents, by symlink) plus, optionally, the test's own
``ocf:standfast-test:Probe`` agent. A root without the Probe agent is a server where
that agent is really not installed."""

from __future__ import annotations

import shutil
from pathlib import Path

SYSTEM_ROOT = Path("/usr/lib/ocf")
PROBE_SOURCE = Path(__file__).with_name("ocf_probe_agent.sh")
PROBE = "ocf:standfast-test:Probe"


def make_ocf_root(path: Path, *, probe: bool) -> Path:
    (path / "resource.d").mkdir(parents=True, exist_ok=True)
    (path / "lib").symlink_to(SYSTEM_ROOT / "lib")
    (path / "resource.d" / "heartbeat").symlink_to(SYSTEM_ROOT / "resource.d" / "heartbeat")
    if probe:
        provider = path / "resource.d" / "standfast-test"
        provider.mkdir()
        shutil.copy(PROBE_SOURCE, provider / "Probe")
        (provider / "Probe").chmod(0o755)
    return path
