"""Where the lab keeps its things by default (no imports: the CLI reads these on
every command, in the lab's slow emulated guests too)."""

from __future__ import annotations

from pathlib import Path

#: Guest kernel, initramfs and guest files (``standfast lab --cache-dir``).
DEFAULT_CACHE_DIR = Path("/var/cache/standfast/lab")
#: State, logs and consoles of the running lab (``standfast lab --lab-dir``).
DEFAULT_LAB_DIR = Path("/run/standfast-lab")

__all__ = ["DEFAULT_CACHE_DIR", "DEFAULT_LAB_DIR"]
