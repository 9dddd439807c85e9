"""The browser side of the GUI tests: Debian's Chromium driven by Playwright (sync API).

Shared by tests/gui (servers in network namespaces) and tests/e2e/test_gui_nas.py
(servers in the qemu lab). Each page records the JavaScript errors it raised
(``js_errors(page)``); screenshots go to artifacts/screenshots/.

Chromium aborts every request in flight with ``ERR_NETWORK_CHANGED`` (a fetch then
fails with "TypeError: Failed to fetch") whenever the interfaces of its network
namespace change, as they do when any test on this machine makes or removes bridges
and namespaces. :func:`isolated_network` gives the browser a namespace of its own,
joined to one bridge of the servers, so such changes elsewhere never reach it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 15000


class Credentials(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def password(self) -> str: ...


def have_chromium() -> bool:
    return Path(CHROMIUM).exists()


@contextlib.contextmanager
def launch(executable: str = CHROMIUM) -> Iterator[Browser]:
    """Debian's Chromium, headless (*executable*: see :func:`isolated_network`); closed
    on exit."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _ip(*args: str, check: bool = True) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _in_netns(name: str, *argv: str) -> None:
    r = subprocess.run(
        ["ip", "netns", "exec", name, *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} in {name}: {r.stderr.strip()}")


def _wait_settled(name: str, timeout: float = 10.0) -> None:
    """Until eth0 in namespace *name* has its carrier and no tentative address: the
    browser must start on interfaces that no longer change."""
    deadline = time.monotonic() + timeout
    while True:
        link = subprocess.run(
            ["ip", "-n", name, "-o", "link", "show", "eth0"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
        tentative = subprocess.run(
            ["ip", "-n", name, "-o", "addr", "show", "tentative"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
        if "LOWER_UP" in link and "NO-CARRIER" not in link and not tentative.strip():
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"the browser's network in {name} did not settle: {link}")
        time.sleep(0.05)


@contextlib.contextmanager
def isolated_network(workdir: Path, bridge: str, address: str) -> Iterator[str]:
    """A network namespace for the browser alone, joined to *bridge* by a veth pair with
    *address* (``a.b.c.d/len``) inside; yields the executable to give :func:`launch`:
    a small wrapper that runs Debian's chromium in that namespace (``ip netns exec``,
    argv only). The namespace and its link are removed on exit (needs root)."""
    ipaddress.ip_interface(address)  # refuse a malformed address before making anything
    name = f"sfgb{os.getpid()}"
    host_end = f"{name}h"[:15]
    ip_cmd = shutil.which("ip") or "/usr/sbin/ip"
    wrapper = workdir / "chromium-in-netns"
    wrapper.write_text(
        f"#!{sys.executable} -I\n"
        "import os, sys\n"
        f"os.execv({ip_cmd!r}, ['ip', 'netns', 'exec', {name!r}, {CHROMIUM!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    _ip("netns", "add", name)
    try:
        # No IPv6 in the browser's namespace (the servers are reached over IPv4): the
        # link-local address an interface gets ends its duplicate address detection
        # about 1.8 s after the link comes up, and Chromium takes that late address as
        # a network change that aborts every request in flight, the first page's
        # scripts among them.
        _in_netns(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        _in_netns(name, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", host_end, "master", bridge)
        _ip("link", "set", host_end, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", address, "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _wait_settled(name)
        yield str(wrapper)
    finally:
        _ip("netns", "del", name, check=False)  # takes the veth pair with it
        _ip("link", "del", host_end, check=False)


def new_page(browser: Browser, locale: str = "en-US") -> tuple[BrowserContext, Page]:
    """A fresh context (self-signed certificates accepted) and page that records its
    JavaScript errors (see :func:`js_errors`)."""
    ctx = browser.new_context(
        ignore_https_errors=True, viewport={"width": 1440, "height": 960}, locale=locale
    )
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors  # type: ignore[attr-defined]
    return ctx, page


def js_errors(page: Page) -> list[str]:
    """The uncaught JavaScript errors *page* has raised so far."""
    return list(page.js_errors)  # type: ignore[attr-defined]


def goto(page: Page, url: str) -> None:
    """Chromium aborts a navigation with ERR_NETWORK_CHANGED when any interface on the
    machine changes (tests here make bridges and namespaces); that one error is retried,
    a few times, anything else fails the test."""
    for attempt in range(5):
        try:
            page.goto(url)
            return
        except PlaywrightError as exc:
            if "ERR_NETWORK_CHANGED" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.5)


def log_in(page: Page, url: str, acc: Credentials) -> None:
    goto(page, url + "/")
    expect(page.locator("#login-form")).to_be_visible(timeout=WAIT_MS)
    page.fill("#login-user", acc.name)
    page.fill("#login-password", acc.password)
    page.click("#login-submit")
    expect(page.locator("#app-view")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live", timeout=WAIT_MS)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def wizard_next(page: Page) -> None:
    page.click("#wz-next")
