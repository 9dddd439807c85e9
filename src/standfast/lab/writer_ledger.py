"""The lab writer's ledger: the lines :mod:`standfast.lab.nas_writer` appends to its
file on the NAS, and the overlaps they show (two servers running it at once).

Pure functions of the file's text: the safety checks read the application's own
ledger, never the cluster's opinion of itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WriterLine:
    ts: float
    server: str
    seq: int
    pid: int


def parse_writer_log(text: str) -> list[WriterLine]:
    """Lines of :mod:`standfast.lab.nas_writer`'s file, in file order (torn lines,
    such as the last line of a crashed writer, are skipped)."""
    out: list[WriterLine] = []
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) != 4:
            continue
        try:
            out.append(WriterLine(float(parts[0]), parts[1], int(parts[2]), int(parts[3])))
        except ValueError:
            continue
    return out


@dataclass(frozen=True)
class WriterRun:
    """A stretch of consecutive lines written by one server."""

    server: str
    first: float
    last: float
    lines: int


def writer_runs(lines: Sequence[WriterLine]) -> list[WriterRun]:
    runs: list[WriterRun] = []
    for line in lines:
        if runs and runs[-1].server == line.server:
            r = runs[-1]
            runs[-1] = WriterRun(r.server, min(r.first, line.ts), max(r.last, line.ts), r.lines + 1)
        else:
            runs.append(WriterRun(line.server, line.ts, line.ts, 1))
    return runs


def writer_overlaps(lines: Sequence[WriterLine], slack: float = 0.0) -> list[str]:
    """Evidence that the writer ran on two servers at once.

    Two rules, both from the file alone:

    * consecutive runs whose times overlap (the later one starts before the earlier
      one's last line, beyond *slack* seconds of clock difference);
    * one writer process (same server, same pid, its sequence still rising) that wrote
      both before and after another server's lines: it was alive all along, so the two
      ran side by side even when their lines interleave in time order.  A writer that
      was stopped and started again has a new process and starts its sequence afresh.
    """
    found = []
    for a, b in itertools.pairwise(writer_runs(lines)):
        if b.first + slack < a.last:
            found.append(
                f"{a.server} wrote until {a.last:.3f} but {b.server} already at {b.first:.3f}"
            )
    last_line: dict[tuple[str, int], tuple[int, WriterLine]] = {}  # process -> its last line
    last_of_server: dict[str, tuple[int, WriterLine]] = {}
    for i, line in enumerate(lines):
        key = (line.server, line.pid)
        before = last_line.get(key)
        if before is not None and line.seq > before[1].seq:
            between = [
                (j, other)
                for server, (j, other) in last_of_server.items()
                if server != line.server and j > before[0]
            ]
            for _, other in sorted(between, key=lambda x: x[0]):
                found.append(
                    f"{line.server} (pid {line.pid}) wrote at {before[1].ts:.3f} and "
                    f"{line.ts:.3f}, around {other.server}'s line at {other.ts:.3f}"
                )
        last_line[key] = (i, line)
        last_of_server[line.server] = (i, line)
    return found


__all__ = ["WriterLine", "WriterRun", "parse_writer_log", "writer_overlaps", "writer_runs"]
