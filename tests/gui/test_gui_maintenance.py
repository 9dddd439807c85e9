"""Maintenance mode and standby from the web GUI (docs/maintenance.md), in Debian's
Chromium against three real daemons in network namespaces, hierarchy ``web`` on
server1 extended to server2 and server3.

An administrator turns cluster-wide maintenance on and off from the Cluster menu, a
hierarchy's from its context menus, and puts servers in standby and out of it from
their cards and column headers (``force`` once 198002 refused the last server); every
change is checked outside the GUI, with the CLI or the API of another daemon. Guests
and operators (the API lets administrators alone change these) find every control
disabled and are refused (194020) if they call the API themselves. Screenshots go to
artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

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
    wizard_next,
)

pytestmark = [pytest.mark.root, pytest.mark.daemon, pytest.mark.gui]

DEFAULTS = "SF_QUICKCHECK_INTERVAL=0.5\n"
MODE_ACTIONS = (
    "maintenance_on",
    "maintenance_off",
    "hierarchy_maintenance_on",
    "hierarchy_maintenance_off",
    "standby",
    "unstandby",
)

if not have_chromium():  # pragma: no cover - the bootstrap installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteNetCluster]:
    c = RemoteNetCluster(
        tmp_path_factory.mktemp("guim") / "c", count=3, tag="gm", defaults=DEFAULTS
    )
    try:
        c.up()
        c.host_address(1)  # the browser's way to the servers
        c.start_all()
        time.sleep(c.settle_seconds())
        c.cli("server1", "resource", "create", "--kit", "app", "--tag", "web", *c.app_props("web"))
        c.wait_for("web", "server1", 30)
        for target in ("server2", "server3"):
            c.cli("server1", "resource", "extend", "web", "--target", target)
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def browser(
    cluster: RemoteNetCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    work = tmp_path_factory.mktemp("browser")
    with (
        isolated_network(work, f"{cluster.prefix}br1", "10.249.1.250/24") as chromium,
        launch(chromium) as b,
    ):
        yield b


# -- outside the GUI: what the daemons say -----------------------------------------------------


def status_json(c: RemoteNetCluster, server: str) -> dict[str, Any]:
    """``standfast status --json`` through *server*'s socket (its exit status follows
    the states, not the modes: not checked)."""
    r = c.cli(server, "status", "--json", check=False)
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def standby_of(c: RemoteNetCluster, server: str) -> dict[str, bool]:
    """Which servers are in standby, as *server*'s daemon reports it."""
    servers = c.api(server, "GET", "/v1/status")["cluster"]["servers"]
    return {name: bool(info["standby"]) for name, info in servers.items()}


def eventually(what: Callable[[], Any], expected: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    got = what()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        got = what()
    assert got == expected


# -- in the GUI ----------------------------------------------------------------------------


def cell(page: Page, server: str, tag: str = "web") -> Locator:
    return page.locator(f'#status-table tr[data-tag="{tag}"] td.cell[data-server="{server}"]')


def menu_action(page: Page, menu: str, action: str) -> Locator:
    page.click(f"[data-menu='{menu}']")
    return page.locator(f".menu.open [data-action='{action}']")


def confirm(page: Page, wizard: str, name: str = "") -> None:
    """The open wizard's confirmation: checked, shot (*name*), applied, successful, closed."""
    expect(page.locator("#wizard")).to_have_attribute("data-wizard", wizard)
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "confirm")
    expect(page.locator("[data-testid=mode-confirm]")).to_be_visible()
    if name:
        shot(page, name)
    wizard_next(page)
    expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
        "data-result", "ok", timeout=30000
    )
    expect(page.locator("#message-bar")).to_have_attribute("data-severity", "success")
    page.click("#wz-next")  # Done
    expect(page.locator("#wizard")).to_be_hidden()


def server_menu(page: Page, where: str, server: str, action: str) -> None:
    """*action* from *server*'s context menu, on its card or its column's header."""
    target = (
        f".server-card[data-server={server}]"
        if where == "card"
        else f"#status-table th[data-server={server}]"
    )
    page.locator(target).click(button="right")
    page.click(f"#context-menu [data-action={action}]")


# -- the tests, in order ---------------------------------------------------------------------


def test_admin_turns_cluster_maintenance_on_and_off(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    expect(cell(page, "server1")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    badge = page.locator("#maintenance-badge")
    expect(badge).to_be_hidden()
    menu_action(page, "menu.cluster", "maintenance_on").click()
    expect(page.locator("[data-testid=mode-confirm]")).to_contain_text("no check runs")
    confirm(page, "maintenance_on", "m01-maintenance-on-confirm")
    expect(badge).to_have_attribute("data-maintenance", "cluster", timeout=WAIT_MS)
    expect(page.locator("#status-table .maint-chip[data-maintenance=true]")).to_have_count(1)
    # Another daemon says so too.
    eventually(lambda: status_json(cluster, "server3")["maintenance"]["cluster"], True)
    shot(page, "m02-maintenance-on")
    menu_action(page, "menu.cluster", "maintenance_off").click()
    confirm(page, "maintenance_off")
    expect(badge).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("#status-table .maint-chip")).to_have_count(0)
    eventually(lambda: status_json(cluster, "server2")["maintenance"]["cluster"], False)
    assert not js_errors(page)
    ctx.close()


def test_admin_turns_hierarchy_maintenance_on_and_off_from_the_context_menus(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    # From the Resource menu the wizard asks for the server and the hierarchy first.
    menu_action(page, "menu.resource", "hierarchy_maintenance_on").click()
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "server")
    expect(page.locator("#wizard-body select[name=server]")).to_have_value("server1")
    wizard_next(page)
    expect(page.locator("#wizard-body select[name=hierarchy]")).to_have_value("web")
    page.click("#wz-cancel")
    expect(page.locator("#wizard")).to_be_hidden()
    page.locator(".tree-node[data-tag=web]").click(button="right")
    shot(page, "m03-hierarchy-context-menu")
    page.click("#context-menu [data-action=hierarchy_maintenance_on]")
    confirm(page, "hierarchy_maintenance_on", "m04-hierarchy-maintenance-confirm")
    chip = page.locator("#status-table tr[data-tag=web] .maint-chip[data-maintenance=true]")
    expect(chip).to_be_visible(timeout=WAIT_MS)
    badge = page.locator("#maintenance-badge")
    expect(badge).to_have_attribute("data-maintenance", "hierarchy")
    expect(badge).to_contain_text("web")
    eventually(lambda: status_json(cluster, "server2")["maintenance"]["hierarchies"], ["web"])
    shot(page, "m05-hierarchy-maintenance-on")
    # Off from another server's copy in the table: asked of server2, seen everywhere.
    cell(page, "server2").click(button="right")
    page.click("#context-menu [data-action=hierarchy_maintenance_off]")
    confirm(page, "hierarchy_maintenance_off")
    expect(chip).to_have_count(0, timeout=WAIT_MS)
    expect(badge).to_be_hidden()
    eventually(lambda: status_json(cluster, "server3")["maintenance"]["hierarchies"], [])
    assert not js_errors(page)
    ctx.close()


def test_admin_puts_servers_in_standby_and_out_of_it(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    assert cluster.where("web") == ["server1"]
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    server_menu(page, "card", "server1", "standby")
    expect(page.locator("#wizard-body input[name=force]:checked")).to_have_value("no")
    confirm(page, "standby", "m06-standby-confirm")
    # The daemons move web away, to the next server by priority.
    cluster.wait_for("web", "server2", 30)
    assert cluster.where("web") == ["server2"]
    eventually(lambda: standby_of(cluster, "server3")["server1"], True)
    head = page.locator("#status-table th[data-server=server1]")
    expect(head.locator(".standby")).to_be_visible(timeout=WAIT_MS)
    expect(head).to_have_attribute("data-standby", "true")
    expect(page.locator(".server-card[data-server=server1] .standby")).to_be_visible()
    expect(cell(page, "server2")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    shot(page, "m07-standby-moved")
    # server3 from its column's header; then server2 is the last server able to run web.
    server_menu(page, "header", "server3", "standby")
    confirm(page, "standby")
    server_menu(page, "card", "server2", "standby")
    wizard_next(page)
    refused = page.locator("#wizard-body .field[data-field=force] .field-error")
    expect(refused).to_have_attribute("data-code", "198002", timeout=WAIT_MS)
    expect(page.locator("#message-bar")).to_have_attribute("data-severity", "error")
    expect(page.locator("#message-text")).to_contain_text("198002: ")
    expect(page.locator("#message-text")).to_contain_text('"web"')
    shot(page, "m08-standby-refused")
    assert standby_of(cluster, "server2")["server2"] is False
    page.check("#wizard-body input[name=force][value=yes]")
    confirm(page, "standby")
    eventually(
        lambda: standby_of(cluster, "server1"), {"server1": True, "server2": True, "server3": True}
    )
    assert cluster.where("web") == ["server2"]  # forced: it keeps web
    shot(page, "m09-all-in-standby")
    # server2 first: out of standby it keeps web, and nothing moves back by itself.
    server_menu(page, "card", "server2", "unstandby")
    confirm(page, "unstandby", "m10-unstandby-confirm")
    server_menu(page, "header", "server1", "unstandby")
    confirm(page, "unstandby")
    server_menu(page, "card", "server3", "unstandby")
    confirm(page, "unstandby")
    eventually(
        lambda: standby_of(cluster, "server3"),
        {"server1": False, "server2": False, "server3": False},
    )
    expect(page.locator("#status-table th .standby, .server-card .standby")).to_have_count(
        0, timeout=WAIT_MS
    )
    time.sleep(2)
    assert cluster.where("web") == ["server2"]
    assert not js_errors(page)
    ctx.close()


@pytest.mark.parametrize("role", ["guest", "operator"])
def test_guest_and_operator_may_not(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser, role: str
) -> None:
    ctx, page = new_page(browser, locale="ja-JP" if role == "guest" else "en-US")
    log_in(page, cluster.url("server1"), users[role])
    cluster_menu = menu_action(page, "menu.cluster", "maintenance_on")
    if role == "guest":
        expect(cluster_menu).to_have_text("保守モードの開始…")
        # The earlier standby events, their details in Japanese too.
        standby = page.locator("#timeline [data-kind=standby]").first
        expect(standby).to_contain_text("オフ", timeout=WAIT_MS)
    for action in ("maintenance_on", "maintenance_off", "standby", "unstandby"):
        expect(page.locator(f".menu.open [data-action={action}]")).to_be_disabled()
    if role == "guest":
        shot(page, "m11-guest-cluster-menu-ja")
    page.keyboard.press("Escape")
    menu_action(page, "menu.resource", "hierarchy_maintenance_on")
    for action in ("hierarchy_maintenance_on", "hierarchy_maintenance_off"):
        expect(page.locator(f".menu.open [data-action={action}]")).to_be_disabled()
    page.keyboard.press("Escape")
    page.locator(".tree-node[data-tag=web]").click(button="right")
    for action in ("hierarchy_maintenance_on", "hierarchy_maintenance_off"):
        expect(page.locator(f"#context-menu [data-action={action}]")).to_be_disabled()
    page.keyboard.press("Escape")
    page.locator(".server-card[data-server=server2]").click(button="right")
    for action in ("standby", "unstandby"):
        expect(page.locator(f"#context-menu [data-action={action}]")).to_be_disabled()
    if role == "guest":
        shot(page, "m12-guest-server-menu-ja")
    page.keyboard.press("Escape")
    calls = [
        ("/v1/maintenance", {"on": True, "tag": None}),
        ("/v1/maintenance", {"on": True, "tag": "web"}),
        ("/v1/standby", {"server": "server3", "on": True, "force": True}),
    ]
    for server in ("server1", "server2"):
        for path, body in calls:
            reply = page.evaluate(
                """async ([url, body]) => {
                  const r = await fetch(url, {method: 'POST', headers: {'Content-Type':
                    'application/json', 'X-Standfast': '1'}, body: JSON.stringify(body)});
                  return [r.status, await r.json()];
                }""",
                [f"/api/servers/{server}{path}", body],
            )
            assert reply[0] == 403, (server, path, reply)
            assert reply[1]["error"]["code"] == "194020"
    status = status_json(cluster, "server3")
    assert status["maintenance"] == {"cluster": False, "hierarchies": []}
    assert not any(standby_of(cluster, "server3").values())
    assert not js_errors(page)
    ctx.close()


def test_every_action_has_both_languages() -> None:
    """Every string the new controls use exists in English and Japanese."""
    from importlib.resources import files

    static = files("standfast.web") / "static"
    en = json.loads((static / "en.json").read_text(encoding="utf-8"))
    ja = json.loads((static / "ja.json").read_text(encoding="utf-8"))
    assert en.keys() == ja.keys()
    for action in MODE_ACTIONS:
        assert en[f"action.{action}"] and ja[f"action.{action}"] != en[f"action.{action}"]
