"""The README's CLI examples run, as written, against a real daemon."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon

README = Path(__file__).resolve().parents[2] / "README.md"


def runnable_blocks() -> list[list[list[str]]]:
    """Shell blocks whose first line is '# example: runnable', as argv lists."""
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S):
        lines = body.replace("\\\n", " ").splitlines()
        if not lines or lines[0].strip() != "# example: runnable":
            continue
        cmds = []
        for line in lines[1:]:
            text = line.split("  #", 1)[0].strip()
            if text and not text.startswith("#"):
                cmds.append(shlex.split(text))
        blocks.append(cmds)
    return blocks


def test_readme_has_runnable_examples() -> None:
    assert runnable_blocks()


@pytest.mark.parametrize("block", range(len(runnable_blocks())))
def test_readme_example_runs(block: int, daemon: Daemon) -> None:
    for argv in runnable_blocks()[block]:
        assert argv[0] == "standfast", argv
        r = daemon.cli(*argv[1:])
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
