"""The CLI examples of the README, docs/events.md, docs/kits.md, docs/maintenance.md and
docs/backup.md run, as written, against a real daemon."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.daemon

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = (
    README,
    ROOT / "docs" / "events.md",
    ROOT / "docs" / "kits.md",
    ROOT / "docs" / "maintenance.md",
    ROOT / "docs" / "backup.md",
)


def runnable_blocks(docs: tuple[Path, ...] = DOCS) -> list[list[list[str]]]:
    """Shell blocks whose first line is '# example: runnable', as argv lists."""
    blocks = []
    text = "".join(d.read_text() for d in docs)
    for body in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
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


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_each_doc_has_runnable_examples(doc: Path) -> None:
    assert runnable_blocks((doc,))


@pytest.mark.parametrize("block", range(len(runnable_blocks())))
def test_readme_example_runs(block: int, daemon: Daemon) -> None:
    for argv in runnable_blocks()[block]:
        assert argv[0] == "standfast", argv
        r = daemon.cli(*argv[1:])
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
