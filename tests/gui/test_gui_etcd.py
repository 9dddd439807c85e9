"""The GUI of a cluster arbitrated by etcd (``"quorum": "etcd"``), in Debian's
Chromium: two real daemons and a real three-member etcd (TLS), each in its own network
namespace. The badge shows this server's lease and who holds each hierarchy's key, and
follows a switchover and a lost etcd."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from standfast.lab.etcd_lab import EtcdLab
from tests.api.remote_support import Accounts, RemoteNetCluster
from tests.gui.browser import (
    WAIT_MS,
    have_chromium,
    isolated_network,
    js_errors,
    launch,
    log_in,
    new_page,
    shot,
)

pytestmark = [pytest.mark.root, pytest.mark.daemon, pytest.mark.gui]

if not have_chromium():  # pragma: no cover - the bootstrap installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


def test_the_badge_shows_the_lease_and_the_holders(tmp_path: Path, users: Accounts) -> None:
    work = tmp_path / "c"
    lab = EtcdLab(work / "etcd", "sfcgt", "sfcgtbr1")
    extra: dict[str, Any] = {"etcd": lab.settings(ttl=4, timeout=0.5)}
    c = RemoteNetCluster(
        work, count=2, tag="gt", defaults="SF_QUICKCHECK_INTERVAL=0.5\n", quorum="etcd",
        definition_extra=extra,
    )  # fmt: skip
    try:
        c.up()
        lab.up()
        c.host_address(1)
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "web", *c.app_props("web"))
        c.cli("server1", "resource", "extend", "web", "--target", "server2")
        (tmp_path / "browser").mkdir()
        with (
            isolated_network(tmp_path / "browser", "sfcgtbr1", "10.249.1.250/24") as chromium,
            launch(chromium) as browser,
        ):
            check_badge(c, lab, users, browser)
    finally:
        lab.down()
        c.down()


def check_badge(c: RemoteNetCluster, lab: EtcdLab, users: Accounts, browser: Browser) -> None:
    ctx, page = new_page(browser)
    log_in(page, c.url("server2"), users["operator"])
    badge = page.locator("#etcd-badge")
    expect(badge).to_be_visible(timeout=WAIT_MS)
    expect(badge).to_have_class("badge ok")
    expect(badge).to_have_attribute("data-holders", '{"web":"server1"}', timeout=WAIT_MS)
    expect(badge).to_contain_text("etcd lease 3 s · web → server1")
    shot(page, "etcd-badge")
    # A switchover: the holder follows at once (the watch, not a ttl).
    c.cli("server2", "resource", "in-service", "web")
    expect(badge).to_have_attribute("data-holders", '{"web":"server2"}', timeout=WAIT_MS)
    # etcd cut off server2: its lease counts down, then it is lost.
    c.block("server2", [m.address for m in lab.members.values()])
    expect(badge).to_have_class("badge bad", timeout=WAIT_MS)
    expect(badge).to_contain_text("No etcd lease")
    expect(page.locator("#quorum-badge")).to_have_attribute("data-quorum", "false")
    assert not js_errors(page)
    ctx.close()
