"""The web GUI in Debian's Chromium (Playwright) against three real daemons, each in
its own network namespace, each serving the remote API over HTTPS. The browser runs on
a network namespace of its own on the test's net1 bridge.

One cluster for the module, in the order an administrator would work: log in per role,
create an application hierarchy with the wizard, extend it (step by step, then with
Accept Defaults), switch it over as an operator and watch the table change live, crash
the server that holds it and see the failover in the timeline and the chart; a guest is
refused every change and an operator may only take resources in and out of service.
Screenshots of the main screens go to artifacts/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from standfast.lab.netns import NetCluster
from tests.api.remote_support import (
    Accounts,
    RemoteNetCluster,
)
from tests.gui.browser import (
    WAIT_MS,
    goto,
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

if not have_chromium():  # pragma: no cover - the bootstrap installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteNetCluster]:
    c = RemoteNetCluster(tmp_path_factory.mktemp("gui") / "c", count=3, tag="g", defaults=DEFAULTS)
    try:
        c.up()
        c.host_address(1)  # the browser's way to the servers
        c.start_all()
        time.sleep(c.settle_seconds())
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def browser(
    cluster: RemoteNetCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:
    """Chromium in a namespace of its own on the cluster's net1 bridge: interfaces other
    tests make and remove on this machine never abort its requests."""
    work = tmp_path_factory.mktemp("browser")
    with (
        isolated_network(work, f"{cluster.prefix}br1", "10.249.1.250/24") as chromium,
        launch(chromium) as b,
    ):
        yield b


def cell(page: Page, server: str, tag: str = "web") -> Any:
    return page.locator(f'#status-table tr[data-tag="{tag}"] td.cell[data-server="{server}"]')


def app_props(c: NetCluster, name: str) -> dict[str, str]:
    args = c.app_props(name)
    return dict(a.split("=", 1) for a in args[1::2])


# -- the tests, in order ---------------------------------------------------------------------


def test_login_per_role(cluster: RemoteNetCluster, users: Accounts, browser: Browser) -> None:
    ctx, page = new_page(browser)
    goto(page, cluster.url("server1") + "/")
    expect(page.locator("#login-form")).to_be_visible(timeout=WAIT_MS)
    shot(page, "01-login")
    page.fill("#login-user", users["guest"].name)
    page.fill("#login-password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("194001", timeout=WAIT_MS)
    shot(page, "02-login-refused")
    ctx.close()
    for role in ("administrator", "operator", "guest"):
        ctx, page = new_page(browser)
        log_in(page, cluster.url("server1"), users[role])
        expect(page.locator("#user-role")).to_have_attribute("data-role", role)
        page.click("[data-menu='menu.resource']")
        in_service = page.locator(".menu.open [data-action='in_service']")
        extend = page.locator(".menu.open [data-action='extend']")
        assert in_service.is_enabled() == (role != "guest")
        assert extend.is_enabled() == (role == "administrator")
        # Three servers, all alive, seen from server1; quorum held.
        expect(page.locator(".server-card[data-alive='true']")).to_have_count(3)
        expect(page.locator("#quorum-badge")).to_have_attribute("data-quorum", "true")
        assert not js_errors(page)
        ctx.close()


@pytest.mark.parametrize("lost", ["main.js", "api.js", "en.json", "api/v1/whoami"])
def test_first_load_survives_a_lost_request(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser, lost: str
) -> None:
    """A network change aborts every request in flight (ERR_NETWORK_CHANGED): one lost
    script, language file or session probe at the first load must not leave the page
    without its login form (it once stayed hidden: the module never loaded)."""
    ctx, page = new_page(browser)
    aborted: list[str] = []

    def once(route: Any) -> None:
        if not aborted:
            aborted.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route(f"**/{lost}", once)
    goto(page, cluster.url("server1") + "/")
    expect(page.locator("#login-form")).to_be_visible(timeout=WAIT_MS)
    assert aborted, f"the test's route for {lost} never matched"
    page.unroute(f"**/{lost}")
    page.fill("#login-user", users["operator"].name)
    page.fill("#login-password", users["operator"].password)
    page.click("#login-submit")
    expect(page.locator("#user-role")).to_have_attribute("data-role", "operator")
    ctx.close()


def test_admin_creates_and_extends_an_app_hierarchy(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    shot(page, "03-status-empty")
    page.click("[data-menu='menu.server']")
    page.click(".menu.open [data-action='create']")
    expect(page.locator("#wizard")).to_be_visible()
    page.select_option("#wizard-body select[name=kit]", "app")
    wizard_next(page)
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "switchback")
    wizard_next(page)
    expect(page.locator("#wizard-body select[name=server]")).to_have_value("server1")
    wizard_next(page)
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "resource")
    for name, value in app_props(cluster, "web").items():
        page.fill(f"#wizard-body input[name='prop.{name}']", value)
    shot(page, "04-create-wizard-properties")
    wizard_next(page)
    # A bad root tag: the catalogue's code and text appear next to the field.
    page.fill("#wizard-body input[name=root_tag]", ".web")
    wizard_next(page)
    error = page.locator(".field[data-field=root_tag] .field-error")
    expect(error).to_have_attribute("data-code", "190002", timeout=WAIT_MS)
    shot(page, "05-create-wizard-validation")
    page.fill("#wizard-body input[name=root_tag]", "web")
    wizard_next(page)
    expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
        "data-result", "ok", timeout=30000
    )
    expect(page.locator("[data-testid=transcript]")).to_contain_text(
        "create: END successful creation"
    )
    shot(page, "06-create-wizard-done")
    # Continue straight into the extension to server2, step by step.
    page.click("#wz-extra")
    expect(page.locator("#wizard")).to_have_attribute("data-wizard", "extend")
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "target")
    expect(page.locator("#wizard-body select[name=target_server]")).to_have_value("server2")
    wizard_next(page)
    checked = page.locator("#wizard-body input[name=switchback]:checked")
    expect(checked).to_have_value("intelligent")  # the template's
    wizard_next(page)
    expect(page.locator("#wizard-body input[name=target_priority]")).to_have_value("10")
    page.fill("#wizard-body input[name=template_priority]", "1000")
    wizard_next(page)
    expect(page.locator(".field[data-field=template_priority] .field-error")).to_have_attribute(
        "data-code", "190005", timeout=WAIT_MS
    )
    page.fill("#wizard-body input[name=template_priority]", "1")
    wizard_next(page)
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "summary")
    wizard_next(page)  # runs the pre-extend checks only
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "precheck")
    expect(page.locator("[data-testid=precheck-output]")).to_contain_text(
        "Pre Extend checks were successful", timeout=30000
    )
    # Checking extended nothing: server2 has no copy yet.
    assert "web" not in cluster.states("server2")
    shot(page, "07-extend-wizard-precheck")
    page.click("#wz-back")
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "summary")
    page.click("#wz-back")
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "priorities")
    wizard_next(page)
    wizard_next(page)
    wizard_next(page)
    transcript = page.locator("[data-testid=transcript]")
    expect(transcript).to_contain_text("Pre Extend checks were successful", timeout=30000)
    shot(page, "08-extend-wizard-done")
    page.click("#wz-next")  # Done
    expect(cell(page, "server2")).to_have_attribute("data-state", "OSU", timeout=WAIT_MS)
    # Extend to server3 from the table's context menu, accepting the defaults.
    cell(page, "server1").click(button="right")
    expect(page.locator("#context-menu")).to_be_visible()
    shot(page, "09-context-menu")
    page.click("#context-menu [data-action=extend]")
    expect(page.locator("#wz-defaults")).to_be_visible()
    page.click("#wz-defaults")
    expect(page.locator("[data-testid=transcript]")).to_contain_text(
        "Pre Extend checks were successful", timeout=30000
    )
    page.click("#wz-next")
    expect(cell(page, "server3")).to_have_attribute("data-state", "OSU", timeout=WAIT_MS)
    expect(cell(page, "server1")).to_have_attribute("data-state", "ISP")
    expect(page.locator(".tree-node[data-tag=web]")).to_have_attribute("data-state", "ISP")
    shot(page, "10-status-extended")
    assert not js_errors(page)
    ctx.close()


def test_operator_switches_over_and_the_table_updates_live(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["operator"])
    expect(cell(page, "server1")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")
    cell(page, "server2").click(button="right")
    assert not page.locator("#context-menu [data-action=extend]").is_enabled()
    page.click("#context-menu [data-action=in_service]")
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "confirm")
    shot(page, "11-in-service-confirm")
    wizard_next(page)
    expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
        "data-result", "ok", timeout=30000
    )
    page.click("#wz-next")
    expect(cell(page, "server2")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    expect(cell(page, "server1")).to_have_attribute("data-state", "OSU", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert cluster.where("web") == ["server2"]
    expect(page.locator("#timeline [data-kind=action]").first).to_contain_text("in-service")
    shot(page, "12-after-switchover")
    # A change made elsewhere (the CLI on server3) shows up without any action here.
    cluster.cli("server3", "resource", "in-service", "web")
    expect(cell(page, "server3")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    expect(cell(page, "server2")).to_have_attribute("data-state", "OSU", timeout=WAIT_MS)
    cluster.cli("server2", "resource", "in-service", "web")
    expect(cell(page, "server2")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    # Maintenance mode and standby set elsewhere are shown (docs/maintenance.md).
    badge = page.locator("#maintenance-badge")
    expect(badge).to_be_hidden()
    cluster.cli("server3", "maintenance", "on", "--hierarchy", "web")
    expect(badge).to_have_attribute("data-maintenance", "hierarchy", timeout=WAIT_MS)
    expect(badge).to_contain_text("web")
    expect(page.locator("#status-table .maint-chip[data-maintenance=true]")).to_have_count(1)
    cluster.cli("server3", "maintenance", "on")
    expect(badge).to_have_attribute("data-maintenance", "cluster", timeout=WAIT_MS)
    cluster.cli("server3", "server", "standby", "server3")
    expect(page.locator(".server-card[data-server=server3] .standby")).to_be_visible(
        timeout=WAIT_MS
    )
    shot(page, "13-maintenance-and-standby")
    cluster.cli("server3", "server", "unstandby", "server3")
    cluster.cli("server3", "maintenance", "off")
    cluster.cli("server3", "maintenance", "off", "--hierarchy", "web")
    expect(badge).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator(".server-card .standby")).to_have_count(0)
    # The operator may not extend: the server says so even if asked directly.
    status = page.evaluate(
        """async () => (await fetch('/api/servers/server1/v1/extend', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-Standfast': '1'},
        body: JSON.stringify({tag: 'web', target: 'server3'})})).status"""
    )
    assert status == 403
    ctx.close()


def test_guest_is_refused_every_change(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser, locale="ja-JP")
    log_in(page, cluster.url("server1"), users["guest"])
    expect(page.locator("#user-role")).to_have_text("ゲスト")
    # The engine's event details read in Japanese too (server1 released web to server2).
    released = page.locator("#timeline [data-kind=released]").first
    expect(released).to_contain_text("server2 に引き渡し", timeout=WAIT_MS)
    page.click("[data-menu='menu.resource']")
    for action in ("delete", "extend", "unextend", "dep_create", "dep_delete"):
        assert not page.locator(f".menu.open [data-action={action}]").is_enabled()
    for action in ("in_service", "out_of_service"):
        assert not page.locator(f".menu.open [data-action={action}]").is_enabled()
    shot(page, "13-guest-menu-ja")
    page.keyboard.press("Escape")
    calls = [
        ("POST", "/v1/in-service", {"tag": "web"}),
        ("POST", "/v1/out-of-service", {"tag": "web"}),
        ("POST", "/v1/resources", {"kit": "app", "tag": "x"}),
        ("DELETE", "/v1/resources/web", None),
        ("PATCH", "/v1/resources/web", {"priority": 7}),
        ("POST", "/v1/extend", {"tag": "web", "target": "server3"}),
        ("POST", "/v1/unextend", {"tag": "web", "server": "server3"}),
        ("POST", "/v1/dependencies", {"parent": "web", "child": "web"}),
        ("DELETE", "/v1/dependencies", {"parent": "web", "child": "web"}),
    ]
    for server in ("server1", "server2"):
        for method, path, body in calls:
            reply = page.evaluate(
                """async ([url, method, body]) => {
                  const r = await fetch(url, {method, headers: {'Content-Type':
                    'application/json', 'X-Standfast': '1'},
                    body: body === null ? undefined : JSON.stringify(body)});
                  return [r.status, await r.json()];
                }""",
                [f"/api/servers/{server}{path}", method, body],
            )
            assert reply[0] == 403, (server, method, path, reply)
            assert reply[1]["error"]["code"] == "194020"
            assert "権限がありません" in reply[1]["error"]["message"]
    # Properties can be viewed, not saved.
    cell(page, "server2").click(button="right")
    page.click("#context-menu [data-action=properties]")
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "properties")
    expect(page.locator("#wz-next")).to_be_disabled()
    expect(page.locator("#wizard-body input[name=switchback]:checked")).to_have_value("intelligent")
    shot(page, "14-guest-properties-ja")
    assert cluster.where("web") == ["server2"]
    ctx.close()


def test_alerts_page(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser, tmp_path: Path
) -> None:
    """The alerts page: an administrator is refused a bad recipient (197001), adds an
    executable and a webhook, sends a test alert and sees per recipient whether it was
    delivered (the executable really ran); the webhook's secret is never shown; a guest
    sees the list and may change nothing."""
    log = tmp_path / "gui-alert.log"
    script = tmp_path / "gui-alert"
    script.write_text(f'#!/bin/sh\necho "$SF_ALERT_KIND $SF_ALERT_SERVER" >> {log}\n')
    script.chmod(0o755)
    secret = "a-secret-the-gui-never-shows"
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    page.click("[data-menu='menu.alerts']")
    expect(page.locator("#alerts-dialog")).to_be_visible(timeout=WAIT_MS)
    page.fill("#alerts-add input[name=name]", "gui")
    page.fill("#alerts-add input[name=path]", "relative/path")
    page.click("#alerts-add-submit")
    refused = page.locator("#alerts-add-error [data-code]")
    expect(refused).to_have_attribute("data-code", "197001", timeout=WAIT_MS)
    page.fill("#alerts-add input[name=path]", str(script))
    page.click("#alerts-add-submit")
    expect(page.locator("#alerts-list tr[data-recipient=gui]")).to_be_visible(timeout=WAIT_MS)
    page.fill("#alerts-add input[name=name]", "hook")
    page.select_option("#alerts-add select[name=type]", "webhook")
    # Nothing listens there: the test alert to it fails at once.
    page.fill("#alerts-add input[name=url]", f"https://{cluster.host_address(1)}:9/x")
    page.fill("#alerts-add input[name=secret]", secret)
    page.click("#alerts-add-submit")
    expect(page.locator("#alerts-list tr[data-recipient=hook]")).to_be_visible(timeout=WAIT_MS)
    page.click("#alerts-test")
    results = "#alerts-test-result li[data-recipient={}]"
    expect(page.locator(results.format("gui"))).to_have_attribute(
        "data-delivered", "true", timeout=WAIT_MS
    )
    expect(page.locator(results.format("hook"))).to_have_attribute("data-delivered", "false")
    page.locator("#alerts-list").scroll_into_view_if_needed()
    shot(page, "14b-alerts")
    assert secret not in page.content()
    assert log.read_text().split() == ["test", "server1"]
    ctx.close()
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server2"), users["guest"])
    page.click("[data-menu='menu.alerts']")
    expect(page.locator("#alerts-list tr[data-recipient=hook]")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#alerts-test")).to_be_disabled()
    expect(page.locator("#alerts-list [data-remove=gui]")).to_be_disabled()
    assert page.locator("#alerts-add").count() == 0 and secret not in page.content()
    ctx.close()
    for name in ("gui", "hook"):
        cluster.cli("server1", "alert", "remove", name)


def test_crash_shows_a_failover_in_the_timeline(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    expect(cell(page, "server2")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    cluster.crash("server2")
    expect(page.locator(".server-card[data-server=server2]")).to_have_attribute(
        "data-alive", "false", timeout=WAIT_MS
    )
    expect(cell(page, "server1")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    expect(cell(page, "server2")).to_have_attribute("data-state", "UNKNOWN")
    failover = page.locator("#timeline [data-kind=failover]").first
    expect(failover).to_be_visible(timeout=WAIT_MS)
    expect(failover.locator(".tl-dur")).to_contain_text(" s")
    expect(page.locator("#timeline [data-kind=server_failed]").first).to_be_visible()
    expect(page.locator("#chart svg")).to_have_attribute("data-points", "1", timeout=WAIT_MS)
    expect(page.locator("#quorum-badge")).to_have_attribute("data-quorum", "true")
    shot(page, "15-failover-timeline")
    # The GUI of another server shows the same cluster.
    ctx2, page2 = new_page(browser)
    log_in(page2, cluster.url("server3"), users["administrator"])
    expect(cell(page2, "server1")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    expect(page2.locator("#timeline [data-kind=failover]").first).to_be_visible(timeout=WAIT_MS)
    shot(page2, "16-served-by-server3")
    ctx2.close()
    ctx.close()


def test_unextend_and_delete_through_the_wizards(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    cell(page, "server3").click(button="right")
    page.click("#context-menu [data-action=unextend]")
    confirm = page.locator("[data-testid=unextend-confirm]")
    expect(confirm).to_contain_text("Target Server = server3")
    expect(confirm).to_contain_text("Target Tag = web")
    shot(page, "17-unextend-confirm")
    wizard_next(page)
    expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
        "data-result", "ok", timeout=30000
    )
    page.click("#wz-next")
    expect(cell(page, "server3")).to_have_attribute("data-state", "", timeout=WAIT_MS)
    # Delete is refused while in service: the catalogue's code is shown.
    page.locator(".tree-node[data-tag=web]").click(button="right")
    page.click("#context-menu [data-action=delete]")
    wizard_next(page)
    expect(page.locator("#wizard-body .field-error, #step-error .field-error").first).to_be_visible(
        timeout=WAIT_MS
    )
    shot(page, "18-delete-refused")
    page.click("#wz-cancel")
    assert "web" in cluster.states("server1")
    ctx.close()


def test_admin_creates_an_ocf_resource_from_its_agent_metadata(
    cluster: RemoteNetCluster, users: Accounts, browser: Browser
) -> None:
    ctx, page = new_page(browser)
    log_in(page, cluster.url("server1"), users["administrator"])
    page.click("[data-menu='menu.server']")
    page.click(".menu.open [data-action='create']")
    page.select_option("#wizard-body select[name=kit]", "ocf")
    wizard_next(page)
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "agent")
    page.select_option("#wizard-body select[name='prop.agent']", "ocf:heartbeat:Dummy")
    wizard_next(page)
    wizard_next(page)  # switchback
    wizard_next(page)  # server
    expect(page.locator("#wizard-body")).to_have_attribute("data-step", "resource")
    # The form is Dummy's meta-data: its parameters beside the kit's own.
    state = cluster.workdir / "gui-dummy.state"
    page.fill("#wizard-body input[name='prop.state']", str(state))
    page.fill("#wizard-body input[name='prop.timeout_start']", "soon")
    wizard_next(page)
    page.fill("#wizard-body input[name=root_tag]", "dummy")
    wizard_next(page)
    error = page.locator(".field[data-field='prop.timeout_start'] .field-error")
    expect(error).to_have_attribute("data-code", "190011", timeout=WAIT_MS)
    assert "dummy" not in cluster.states("server1")
    page.fill("#wizard-body input[name='prop.timeout_start']", "")
    wizard_next(page)
    wizard_next(page)
    expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
        "data-result", "ok", timeout=30000
    )
    page.click("#wz-next")
    expect(cell(page, "server1", "dummy")).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
    assert state.exists()
    assert not js_errors(page)
    ctx.close()
