"""One two-server qemu lab with a formed Standfast cluster, for an e2e test module."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from standfast.lab.cluster_vm import VmCluster
from standfast.lab.vmlab import VmLab


@contextlib.contextmanager
def lab_cluster(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[VmCluster]:
    """Boot the lab (two servers, net1, net2 and the NAS), form the cluster, yield it;
    the lab's own ``down`` removes everything afterwards."""
    if os.geteuid() != 0 or not Path("/dev/net/tun").exists():
        pytest.skip("the VM lab needs root and /dev/net/tun")
    cache = Path(os.environ.get("STANDFAST_LAB_CACHE", "/var/cache/standfast/lab"))
    lab = VmLab(tmp_path_factory.mktemp(name), cache)
    lab.setup()
    try:
        t0 = time.monotonic()
        info = lab.up(2)
        cluster = VmCluster(lab)
        formed = cluster.form()
        print(
            f"\nlab up and cluster formed in {time.monotonic() - t0:.1f} s "
            f"(boot {info.boot_seconds}, cluster {formed:.1f} s)"
        )
        yield cluster
    finally:
        lab.down()


def print_logs_on_failure(request: pytest.FixtureRequest, cl: VmCluster) -> Iterator[None]:
    """For an autouse fixture: the test's time, and the daemons' logs if it failed."""
    failed_before = request.session.testsfailed
    t0 = time.monotonic()
    yield
    print(f"[{request.node.name}: {time.monotonic() - t0:.1f} s]")
    if request.session.testsfailed > failed_before:
        print("\n===== daemon logs after the failure =====")
        print(cl.logs(tail=200))
