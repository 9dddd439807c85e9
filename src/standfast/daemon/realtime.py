"""The daemon's claim on the CPU and on memory when the server is busy, as corosync
takes it for its own: a real-time scheduling class and memory locked as it is used.

Why: heartbeats, the control loop and the API run in the daemon's event-loop thread.
Under load (an application writing hard, a CLI call, a burst of imports) a thread of
the normal class can be kept off the CPU, or wait for pages swapped out, long enough to
miss its heartbeats, and a peer then declares this server failed. SCHED_RR at a modest
priority (SF_REALTIME_PRIORITY, default 10) runs that thread before every normal
process while it has work. With SCHED_RESET_ON_FORK everything it starts is of the
normal class again: the worker threads that wait on kit actions and the commands they
run (checks, agents), so nothing but the loop runs real-time and a runaway command
cannot starve the machine. ``mlockall`` with MCL_ONFAULT keeps the pages the daemon has
used in memory without faulting in what it never touches (thread stacks, reserved
heap), so its RSS does not grow.

Contracts: :func:`claim` is called once, at start, in the event loop's thread. It
never raises: what the system refuses (no CAP_SYS_NICE or CAP_IPC_LOCK, a cgroup
without a real-time budget, an RLIMIT_MEMLOCK) comes back as a notice, and the daemon
runs on without it. Priority 0 claims nothing. Written by hand: ``os`` has
``sched_setscheduler``, and ``mlockall`` is one libc call (ctypes); no maintained
library wraps the pair.
"""

from __future__ import annotations

import ctypes
import os

from standfast.messages import Notice

MCL_CURRENT = 1
MCL_FUTURE = 2
MCL_ONFAULT = 4  # Linux 4.4


def claim(priority: int) -> list[Notice]:
    """Real-time scheduling at ``priority`` (1-99) for the calling thread alone (what it
    starts, threads and processes, gets the normal class), and the process's memory
    locked on fault; what happened, as notices (190504 done, 190505 refused).
    ``priority`` 0: nothing is changed, nothing reported."""
    if priority <= 0:
        return []
    notices: list[Notice] = []
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError as exc:
        notices.append(Notice.of("190505", what="SCHED_RR", reason=exc.strerror or exc))
    else:
        notices.append(Notice.of("190504", what=f"SCHED_RR priority {priority}"))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0:
        reason = os.strerror(ctypes.get_errno())
        notices.append(Notice.of("190505", what="mlockall", reason=reason))
    else:
        notices.append(Notice.of("190504", what="memory locked on fault (mlockall)"))
    return notices


def current_policy(pid: int = 0) -> tuple[int, int]:
    """The scheduling policy (without its flags) and priority of ``pid`` (0: this
    thread), for status and tests."""
    policy = os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK
    return policy, os.sched_getparam(pid).sched_priority
