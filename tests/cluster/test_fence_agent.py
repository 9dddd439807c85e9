"""Fencing through a real fence agent (Debian's fence-agents ``fence_dummy``, which
keeps each "power switch" in a status file) between real daemons in network
namespaces: a hung holder is fenced with its own parameters on the agent's stdin, the
``status`` confirmation says "off" (exit 2) before the takeover, and the password
given to the agent is in none of the daemons' logs, events or ``cluster show``.

The agent is ``/usr/sbin/fence_dummy`` behind a recording shim: the shim appends each
run's stdin to ``agent.log``, SIGKILLs the target's daemon when told ``action=off``
(what cutting the power does), then feeds the same stdin to fence_dummy and returns
its exit code, so the protocol spoken and answered is the real agent's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from standfast.lab.netns import dump, net_cluster

pytestmark = [pytest.mark.root, pytest.mark.daemon]

FENCE_DUMMY = Path("/usr/sbin/fence_dummy")
SECRET = "Fd-7qX2-never-shown"


def shim(work: Path) -> Path:
    path = work / "fence_recorded"
    path.write_text(
        "#!/bin/sh\n"
        "input=$(cat)\n"
        f'printf "start %s\\n%s\\n" "$(date +%s.%N)" "$input" >> {work}/agent.log\n'
        "node=$(printf '%s\\n' \"$input\" | sed -n 's/^nodename=//p')\n"
        'case "$input" in action=off*)\n'
        f'  kill -9 "$(cat {work}/$node.pid)" ;;\n'
        "esac\n"
        f"printf '%s\\n' \"$input\" | {FENCE_DUMMY}\n"
        "rc=$?\n"
        f'printf "end %s rc=%s\\n--\\n" "$(date +%s.%N)" "$rc" >> {work}/agent.log\n'
        "exit $rc\n"
    )
    path.chmod(0o755)
    return path


def runs(work: Path) -> list[dict[str, str]]:
    """Each agent run: its stdin as a mapping, plus ``_start``, ``_end``, ``_rc``."""
    out = []
    for block in (work / "agent.log").read_text().split("--\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        run: dict[str, str] = {}
        for line in lines[1:-1]:
            name, _, value = line.partition("=")
            run[name] = value
        run["_start"] = lines[0].split()[1]
        end = lines[-1].split()
        run["_end"], run["_rc"] = end[1], end[2].removeprefix("rc=")
        out.append(run)
    return out


def test_a_hung_holder_is_fenced_through_fence_dummy(tmp_path: Path) -> None:
    if not FENCE_DUMMY.exists():
        pytest.skip("needs Debian's fence-agents (fence_dummy)")
    work = tmp_path / "c"
    work.mkdir()
    power = {name: work / f"{name}.power" for name in ("server1", "server2")}
    for f in power.values():
        f.write_text("on")
    fencing = {
        "agent": str(shim(work)),
        "parameters": {"login": "admin", "passwd": SECRET, "plug": "{server}"},
        "per_server": {name: {"status_file": str(f)} for name, f in power.items()},
        "action": "off",
        "timeout": 15,
        "confirm_timeout": 10,
    }
    extra = {"fencing": fencing}
    with net_cluster(
        work, count=2, tag="fa", defaults="SF_QUICKCHECK_INTERVAL=0.5\n", quorum="none",
        definition_extra=extra,
    ) as c:  # fmt: skip
        c.start_all()
        for name in c.servers:
            (work / f"{name}.pid").write_text(str(c.pid(name)))
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "app", *c.app_props("app"))
        r = c.cli("server1", "resource", "extend", "app", "--target", "server2")
        assert "Pre Extend checks were successful" in r.stdout
        c.hang("server1")
        c.wait_for("app", "server2", timeout=20)

        done = runs(work)
        assert [(r["action"], r["nodename"]) for r in done][:2] == [
            ("off", "server1"),
            ("status", "server1"),
        ], done
        off, confirm = done[0], done[-1]
        # server1's own parameters and the common ones, nothing of server2's.
        assert off["status_file"] == str(power["server1"]) and off["plug"] == "server1"
        assert off["login"] == "admin" and off["passwd"] == SECRET and off["_rc"] == "0"
        assert confirm["action"] == "status" and confirm["_rc"] == "2"  # 2: off
        assert power["server1"].read_text() == "off" and power["server2"].read_text() == "on"
        # Taken over only once the agent had confirmed "off".
        started = c.ledger_intervals("app")["server2"][0][0]
        assert started > float(confirm["_end"]), dump(c)

        shown = c.cli("server2", "cluster", "show", "--json").stdout
        assert json.loads(shown)["fencing"]["parameters"]["passwd"] == "***"
        events = c.cli("server2", "events", "--json").stdout
        fenced = [e for e in json.loads(events) if e["kind"] == "fenced"]
        assert fenced and fenced[-1]["tag"] == "server1", events
        assert fenced[-1]["data"]["confirmed"] is True
        logs = "".join(s.log_file.read_text() for s in c.servers.values())
        assert "192042" in logs and "192046" in logs  # fenced, confirmed
        for text in (shown, events, logs):
            assert SECRET not in text
