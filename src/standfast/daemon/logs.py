"""Log format of the reference product: ``07/27/2001 15:36:37 create: BEGIN ...``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATEFMT = "%m/%d/%Y %H:%M:%S"


def setup_logging(log_file: Path, *, to_stderr: bool = True, level: int = logging.INFO) -> None:
    root = logging.getLogger("standfast")
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter(FORMAT, DATEFMT)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fh = logging.FileHandler(log_file, encoding="utf-8")
    fh.setFormatter(fmt)
    root.addHandler(fh)
    if to_stderr:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        root.addHandler(sh)
    root.propagate = False
