"""The lab's state records: a process that died unseen never hides the live one."""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from pathlib import Path

import pytest

from standfast.lab.image import shares_for
from standfast.lab.state import LabState, proc_start_time, process_alive


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_the_newest_live_record_wins_over_a_dead_one_before_it() -> None:
    st = LabState()
    gone = dead_pid()
    st.add_process(gone, "daemon", "server1")
    st.add_process(os.getpid(), "daemon", "server1")
    rec = st.find_process("daemon", "server1")
    assert rec is not None and rec.pid == os.getpid()
    st.forget_dead("daemon", "server1")
    assert [p.pid for p in st.processes] == [os.getpid()]


def test_only_dead_records_give_the_newest_dead_one() -> None:
    st = LabState()
    a, b = dead_pid(), dead_pid()
    st.add_process(a, "daemon", "s")
    st.add_process(b, "daemon", "s")
    rec = st.find_process("daemon", "s")
    assert rec is not None and rec.pid == b and not rec.alive()
    assert st.find_process("daemon", "other") is None


def test_a_process_counts_as_alive_until_its_last_thread_is_gone() -> None:
    """A killed multi-threaded process shows its main thread as a zombie while its
    other threads still exit; it holds its files (TAPs) until the last one does."""
    if platform.machine() != "x86_64":
        pytest.skip("uses the x86_64 number of the exit system call")
    code = (
        "import ctypes, os, threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(4), os._exit(0))).start()\n"
        # exit(2), not exit_group(2): the main thread alone ends, first.
        "ctypes.CDLL(None, use_errno=True).syscall(60, 0)\n"
    )
    p = subprocess.Popen(["python3", "-c", code])
    try:
        # Python's start-up takes a while on a loaded machine: wait for the main
        # thread's exit (well inside the other thread's 4 s).
        deadline = time.monotonic() + 3.0
        while True:
            stat = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if stat == "Z" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert stat == "Z"  # the main thread is a zombie ...
        assert process_alive(p.pid)  # ... but the process is not gone
        assert proc_start_time(p.pid) is not None
    finally:
        threading.Thread(target=p.wait).start()
        p.wait(10)
    assert not process_alive(p.pid)


def test_shares_for_a_checkout_under_tmp(tmp_path: Path) -> None:
    assert shares_for([Path("/usr/lib/python3"), Path("/srv/x")]) == []
    checkout = Path("/tmp/sf-checkout-test")
    assert shares_for([checkout / ".venv", checkout / "src"]) == [str(checkout)]
