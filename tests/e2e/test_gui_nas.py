"""The reference guide's chapter 5 in a real browser against a real cluster with REAL
kernel NFS mounts: the GUI tasks for an NAS hierarchy, each checked in the browser and
in the guests (/proc/mounts, /etc/fstab, the daemons' status).

One two-server qemu lab and cluster for the module; the browser (Debian's Chromium,
Playwright) logs in to server1's GUI (https://<net1 address>:7443/) with accounts made
in each guest (PAM: the guests' own /etc on their overlay). The scenarios run in file
order and each leaves the cluster as the next one expects it:

a. create (Server > Create Resource Hierarchy: kit nas, the mount point from the list of
   server1's real NFS mounts, the kit's default root tag), the fstab lines removed;
b. Continue into the extend wizard: to server2 step by step, pre-extend checks first;
c. an application on top (create wizard, kit app: the lab's writer, appending to a file
   on the NAS) extended with Accept Defaults, then both dependency wizards: create on
   server1 (made on server2 too, as the guide's wizard does), delete, create again from
   the context menu;
d. In Service on server2's cell as an operator: a switchover, watched live; the mount
   moves; the status in Japanese;
e. Out of Service from the menu: nothing mounted anywhere; In Service on server1 again;
f. View/Edit Properties: the NAS file system's (a tag with a slash) on both servers, its
   switchback type changed and saved (its two fstab lines intact), the application's
   switchback type and check timeout changed and saved;
g. Unextend from server2 (the guide's confirmation text), out of service, Delete
   Resource Hierarchy: the fstab lines are back and mount again.

Screenshots: artifacts/screenshots/nas-*.png. Every failure prints the daemons' logs.

The browser runs in a network namespace of its own joined to the lab's net1 bridge
(tests.gui.browser.isolated_network): Chromium aborts requests in flight whenever the
interfaces it can see change, which other tests on this machine do at any time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from standfast.lab.cluster_vm import VmCluster, WriterLine, writer_overlaps
from tests.api.remote_support import GROUPS, Account
from tests.e2e.lab_cluster import lab_cluster, print_logs_on_failure
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

pytestmark = [pytest.mark.e2e, pytest.mark.gui, pytest.mark.timeout(600)]

if not have_chromium():  # pragma: no cover - the bootstrap installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)

MP = "/mnt/data"
#: The NAS kit's default root tag for MP on server1 (the guide's tmp/mnt-on-tom.brown.com).
FS = "mnt/data-on-server1"
WRITER = "writer"
WRITER_FILE = "gui-writer.log"
#: Another hierarchy (scenario g): SIDE depends on SIDE_BASE.
SIDE, SIDE_BASE = "side", "side-base"
#: A wizard action in a TCG guest: NFS mounts, unmounts and the CLI-free engine work.
ACTION_MS = 90_000


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCluster]:
    with lab_cluster(tmp_path_factory, "vmgui") as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _logs_on_failure(request: pytest.FixtureRequest, cl: VmCluster) -> Iterator[None]:
    yield from print_logs_on_failure(request, cl)


@pytest.fixture(scope="module")
def users(cl: VmCluster) -> dict[str, Account]:
    """An administrator and an operator, the same in each guest (PAM checks the
    password on the server logged in to; the guests' accounts vanish with the lab)."""
    suffix = secrets.token_hex(3)
    out: dict[str, Account] = {}
    for role in ("administrator", "operator"):
        acc = Account(f"sfn{role[:5]}{suffix}", "Pw-" + secrets.token_urlsafe(12), role)
        for server in cl.servers():
            cl.add_account(server, acc.name, acc.password, [GROUPS[role]])
        out[role] = acc
    return out


@pytest.fixture(scope="module")
def browser(cl: VmCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    net = cl.lab.info().networks["net1"]
    subnet = ipaddress.ip_network(net.subnet)
    address = f"{subnet[250]}/{subnet.prefixlen}"
    workdir = tmp_path_factory.mktemp("browser")
    with isolated_network(workdir, net.bridge, address) as chromium, launch(chromium) as b:
        yield b


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    """What the scenarios share (filled in by the first): NAS device tag, NFS source,
    server1's fstab lines for the mount point."""
    return {}


# ---------------------------------------------------------------------- helpers


@contextlib.contextmanager
def gui(browser: Browser, cl: VmCluster, acc: Account, locale: str = "en-US") -> Iterator[Page]:
    """A fresh browser context logged in to server1's GUI; no JavaScript errors allowed."""
    ctx, page = new_page(browser, locale)
    try:
        log_in(page, cl.gui_url("server1"), acc)
        yield page
        assert not js_errors(page), js_errors(page)
    finally:
        ctx.close()


def cell(page: Page, server: str, tag: str) -> Locator:
    return page.locator(f'#status-table tr[data-tag="{tag}"] td.cell[data-server="{server}"]')


def row(page: Page, tag: str, depth: int) -> Locator:
    return page.locator(f'#status-table tr.depth-{depth}[data-tag="{tag}"]')


def body(page: Page) -> Locator:
    return page.locator("#wizard-body")


def at_step(page: Page, step: str) -> None:
    expect(body(page)).to_have_attribute("data-step", step, timeout=WAIT_MS)


def field(page: Page, name: str) -> Locator:
    return page.locator(f"#wizard-body [name='{name}']")


def checked(page: Page, name: str) -> Locator:
    return page.locator(f"#wizard-body input[name='{name}']:checked")


def from_menu(page: Page, menu: str, action: str) -> None:
    page.click(f"[data-menu='menu.{menu}']")
    page.click(f".menu.open [data-action='{action}']")
    expect(page.locator("#wizard")).to_have_attribute("data-wizard", action)


def from_cell(page: Page, server: str, tag: str, action: str) -> None:
    cell(page, server, tag).click(button="right")
    expect(page.locator("#context-menu")).to_be_visible()
    page.click(f"#context-menu [data-action='{action}']")
    expect(page.locator("#wizard")).to_have_attribute("data-wizard", action)


def run(page: Page, what: str) -> Locator:
    """Next on a wizard's last step: until the result shows success; its transcript."""
    t0 = time.monotonic()
    wizard_next(page)
    result = page.locator("#wizard-body [data-result]")
    expect(result).to_be_attached(timeout=ACTION_MS)
    transcript = page.locator("[data-testid=transcript]")
    if result.get_attribute("data-result") != "ok":
        raise AssertionError(f"{what} failed in the GUI:\n{transcript.inner_text()}")
    print(f"  {what}: {time.monotonic() - t0:.1f} s from the click to the result")
    return transcript


def done(page: Page) -> None:
    page.click("#wz-next")
    expect(page.locator("#wizard")).not_to_be_visible()


def expect_lines(transcript: Locator, *lines: str | re.Pattern[str]) -> None:
    for line in lines:
        expect(transcript).to_contain_text(line)


def wait_for(cond: Callable[[], bool], timeout: float, what: str, step: float = 0.3) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def children(cl: VmCluster, server: str) -> dict[str, list[str]]:
    """tag -> its children's tags on *server*, from the daemon's status tree."""
    out: dict[str, list[str]] = {}

    def walk(node: dict[str, Any]) -> None:
        out[str(node["tag"])] = [str(c["tag"]) for c in node["children"]]
        for c in node["children"]:
            walk(c)

    for h in cl.status(server)["hierarchies"]:
        walk(h)
    return out


def wait_children(cl: VmCluster, parent: str, want: list[str], what: str) -> None:
    """Until *parent*'s children are *want* on both servers (a dependency change is made
    on every server holding copies of both)."""
    for server in ("server1", "server2"):
        wait_for(lambda s=server: children(cl, s).get(parent) == want, 30, f"{what} on {server}")


def target_of(cl: VmCluster, server: str, root: str) -> dict[str, Any]:
    """The cluster's target (in service or not, where) for the hierarchy of *root*."""
    for h in cl.status(server)["cluster"]["hierarchies"]:
        if h["tag"] == root:
            return dict(h["target"])
    raise AssertionError(f"no hierarchy {root} in {server}'s status")


def writer_lines(cl: VmCluster) -> list[WriterLine]:
    return cl.writer_lines(WRITER_FILE)


def wait_writer_on(cl: VmCluster, server: str, after: float, timeout: float = 30.0) -> None:
    """Until the writer's file on the NAS (read on the host) has a line from *server*
    written after *after*."""

    def written() -> bool:
        return any(x.server == server and x.ts > after for x in writer_lines(cl))

    wait_for(written, timeout, f"writer lines from {server}")


def api_ok(cl: VmCluster, server: str, method: str, path: str, body: Any = None) -> Any:
    """One request to *server*'s local API (in the guest); its reply, which must be 200."""
    code, reply = cl.api(server, method, path, body, timeout=60)
    assert code == 200, (method, path, code, reply)
    return reply


def make_side_hierarchy(cl: VmCluster, server: str) -> None:
    """SIDE depending on SIDE_BASE: two applications that do nothing, in service."""
    for tag in (SIDE_BASE, SIDE):
        props = {"restore": "/bin/true", "remove": "/bin/true"}
        api_ok(cl, server, "POST", "/v1/resources", {"kit": "app", "tag": tag, "props": props})
    api_ok(cl, server, "POST", "/v1/dependencies", {"parent": SIDE, "child": SIDE_BASE})


def app_props(argv: list[str]) -> dict[str, str]:
    """``--prop name=value`` arguments as the create wizard's fields."""
    return dict(a.split("=", 1) for a in argv[1::2])


# ---------------------------------------------------------------------- a + b


def test_create_from_real_mount_then_continue_into_extend(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    source = cl.mount_nas("server1", MP)  # as an administrator would: with an fstab line
    # A second line for the same mount point (by host name, noauto): both are taken out
    # at create, kept in the file system's fstab_lines property (two lines) and put back
    # at delete.
    nas = cl.lab.info().nas
    assert nas is not None
    cl.add_hosts_entry("server1", "nas-lab", nas.address)
    cl.add_fstab_line("server1", f"nas-lab:{nas.export_path} {MP} nfs noauto,vers=3,hard 0 0")
    own = [ln for ln in cl.fstab("server1").splitlines() if f" {MP} " in ln]
    assert len(own) == 2 and own[0].startswith(f"{source} {MP} nfs"), own
    names["fstab"] = "\n".join(own)
    assert cl.nfs_mounted("server1", MP) == source
    real = [mp for _, mp, fstype in cl.mounts("server1") if fstype.startswith("nfs")]
    assert real == [MP]
    with gui(browser, cl, users["administrator"]) as page:
        expect(page.locator("#tree-empty")).to_be_visible()
        from_menu(page, "server", "create")
        at_step(page, "kit")
        expect(field(page, "kit")).to_have_value("nas")
        wizard_next(page)
        at_step(page, "switchback")
        expect(checked(page, "switchback")).to_have_value("intelligent")
        wizard_next(page)
        at_step(page, "server")
        expect(field(page, "server")).to_have_value("server1")
        wizard_next(page)
        at_step(page, "resource")
        # The list is server1's real NFS mounts, as the guest's kernel has them.
        mount_point = field(page, "mount_point")
        expect(mount_point).to_have_value(MP)
        options = mount_point.locator("option")
        assert options.evaluate_all("os => os.map(o => o.value)") == real
        expect(options.first).to_contain_text(f"{source} (nfs)")
        shot(page, "nas-01-create-mount-point")
        wizard_next(page)
        at_step(page, "root_tag")
        expect(field(page, "root_tag")).to_have_value(FS)  # the kit's default, from the server
        expect(page.locator("#wz-next")).to_have_text("Create Instance")
        shot(page, "nas-02-create-root-tag")
        transcript = run(page, "create (nas)")
        expect_lines(
            transcript,
            re.compile(r'create: BEGIN creation of "device-nas\d+" on server "server1"'),
            f'create: BEGIN creation of "{FS}" on server "server1"',
            "Creating Resource Instance",
            f"Creating Resource Instance {FS} with id {MP}",
            "Removing /etc/fstab entry",
            f'restore: END successful restore of "{FS}" on server "server1"',
            f'create: END successful creation of "{FS}" on server "server1"',
        )
        shot(page, "nas-03-create-transcript")
        # In the guest: both resources in service, the mount kept, the fstab line gone.
        states = cl.states("server1")
        dev = next(t for t in states if t.startswith("device-nas"))
        assert states[FS] == "ISP" and states[dev] == "ISP", states
        assert cl.nfs_mounted("server1", MP) == source
        assert f" {MP} " not in cl.fstab("server1"), "the fstab entry must be removed at create"
        expect(transcript).to_contain_text(f'create: END successful creation of "{dev}"')
        names.update(dev=dev, source=source)

        # b. Continue into the extend wizard, to server2 step by step.
        page.click("#wz-extra")
        expect(page.locator("#wizard")).to_have_attribute("data-wizard", "extend")
        at_step(page, "target")
        expect(field(page, "target_server")).to_have_value("server2")
        expect(field(page, "target_tag")).to_have_value(FS)
        wizard_next(page)
        at_step(page, "switchback")
        expect(checked(page, "switchback")).to_have_value("intelligent")
        wizard_next(page)
        at_step(page, "priorities")
        expect(field(page, "template_priority")).to_have_value("1")
        expect(field(page, "target_priority")).to_have_value("10")
        wizard_next(page)
        at_step(page, "summary")
        expect(body(page).locator("dl.summary")).to_contain_text("server2")
        expect(page.locator("#wz-next")).to_have_text("Check")
        wizard_next(page)  # the pre-extend checks only
        at_step(page, "precheck")
        precheck = page.locator("[data-testid=precheck-output]")
        expect_lines(
            precheck,
            "Executing the pre-extend script...",
            f"Checking extendability for {dev}",
            f"Checking extendability for {FS}",
            "Pre Extend checks were successful",
        )
        assert FS not in cl.states("server2"), "checking must extend nothing"
        shot(page, "nas-04-extend-precheck")
        expect(page.locator("#wz-next")).to_have_text("Extend")
        transcript = run(page, "extend (nas, step by step)")
        expect_lines(
            transcript,
            "Pre Extend checks were successful",
            f'extend: END successful extension of "{dev}" on server "server2"',
            f'extend: END successful extension of "{FS}" on server "server2"',
        )
        shot(page, "nas-05-extend-transcript")
        done(page)
        for tag in (FS, dev):
            expect(cell(page, "server2", tag)).to_have_attribute("data-state", "OSU")
            expect(cell(page, "server1", tag)).to_have_attribute("data-state", "ISP")
        expect(row(page, dev, 1)).to_be_visible()  # the device under the file system
        shot(page, "nas-06-status-extended")
    for tag in (FS, dev):
        cl.wait_state("server2", tag, "OSU", 30)
    assert cl.nfs_mounted("server2", MP) is None, "nothing is mounted on the backup"
    assert f" {MP} " not in cl.fstab("server2"), "an extension adds nothing to fstab"


# ---------------------------------------------------------------------- c


def test_application_on_top_and_both_dependency_wizards(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    dev = names["dev"]
    props = app_props(cl.writer_props(f"{MP}/{WRITER_FILE}", WRITER))
    with gui(browser, cl, users["administrator"]) as page:
        from_menu(page, "server", "create")
        page.select_option("#wizard-body select[name=kit]", "app")
        for step in ("switchback", "server", "resource"):
            wizard_next(page)
            at_step(page, step)
        for name, value in props.items():
            page.fill(f"#wizard-body input[name='prop.{name}']", value)
        wizard_next(page)
        at_step(page, "root_tag")
        page.fill("#wizard-body input[name=root_tag]", WRITER)
        transcript = run(page, "create (app)")
        expect_lines(
            transcript,
            f'restore: END successful restore of "{WRITER}" on server "server1"',
            f'create: END successful creation of "{WRITER}" on server "server1"',
        )
        expect(cell(page, "server1", WRITER)).to_have_attribute("data-state", "ISP")
        shot(page, "nas-07-create-app")
        # Continue (extend), this time with Accept Defaults.
        page.click("#wz-extra")
        expect(page.locator("#wizard")).to_have_attribute("data-wizard", "extend")
        at_step(page, "target")
        page.click("#wz-defaults")
        expect(page.locator("#wizard-body [data-result]")).to_have_attribute(
            "data-result", "ok", timeout=ACTION_MS
        )
        expect_lines(
            page.locator("[data-testid=transcript]"),
            "Pre Extend checks were successful",
            f'extend: END successful extension of "{WRITER}" on server "server2"',
        )
        done(page)
        expect(cell(page, "server2", WRITER)).to_have_attribute("data-state", "OSU")
        expect(row(page, FS, 0)).to_be_visible()  # not under the application yet

        # Create Dependency on server1: as in the guide, the change reaches every
        # server holding copies of both (server2 here) in the same step.
        from_menu(page, "resource", "dep_create")
        at_step(page, "server")
        expect(field(page, "server")).to_have_value("server1")
        wizard_next(page)
        at_step(page, "parent")
        page.select_option("#wizard-body select[name=parent]", WRITER)
        wizard_next(page)
        at_step(page, "child")
        page.select_option("#wizard-body select[name=child]", FS)
        wizard_next(page)
        at_step(page, "confirm")
        expect(body(page)).to_contain_text(f"Make {WRITER} depend on {FS} on server server1")
        shot(page, "nas-08-dependency-create-confirm")
        transcript = run(page, "create dependency")
        for server in ("server1", "server2"):
            expect(transcript).to_contain_text(
                f'Creating Dependency {WRITER}-"{FS}" on machine "{server}"'
            )
        done(page)
        wait_children(cl, WRITER, [FS], f"{WRITER} depends on {FS}")
        expect(row(page, FS, 1)).to_be_visible()
        expect(row(page, dev, 2)).to_be_visible()

        # Delete Dependency on server1: gone on both servers.
        from_menu(page, "resource", "dep_delete")
        at_step(page, "server")
        expect(field(page, "server")).to_have_value("server1")
        wizard_next(page)
        at_step(page, "parent")
        page.select_option("#wizard-body select[name=parent]", WRITER)
        wizard_next(page)
        at_step(page, "child")
        expect(field(page, "child")).to_have_value(FS)
        wizard_next(page)
        at_step(page, "confirm")
        expect(body(page)).to_contain_text(
            f"Remove the dependency of {WRITER} on {FS} on server server1"
        )
        shot(page, "nas-09-dependency-delete-confirm")
        run(page, "delete dependency")
        done(page)
        wait_children(cl, WRITER, [], "dependency gone")

        # And again, from the application's cell on server1 (parent given by the menu).
        from_cell(page, "server1", WRITER, "dep_create")
        at_step(page, "parent")
        expect(field(page, "parent")).to_have_value(WRITER)
        wizard_next(page)
        at_step(page, "child")
        page.select_option("#wizard-body select[name=child]", FS)
        wizard_next(page)
        at_step(page, "confirm")
        run(page, "create dependency again on server1")
        done(page)
        wait_children(cl, WRITER, [FS], "dependency back")
        assert children(cl, "server1")[FS] == [dev]
        expect(row(page, dev, 2)).to_be_visible()
        shot(page, "nas-10-status-hierarchy")
    for tag in (WRITER, FS, dev):
        assert cl.states("server1")[tag] == "ISP"
        assert cl.states("server2")[tag] == "OSU"
    wait_writer_on(cl, "server1", time.time() - 5)


# ---------------------------------------------------------------------- d


def test_operator_switches_over_to_server2_and_the_mount_moves(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    tags = [WRITER, FS, names["dev"]]
    with gui(browser, cl, users["operator"]) as page:
        expect(page.locator("#user-role")).to_have_attribute("data-role", "operator")
        for tag in tags:
            expect(cell(page, "server1", tag)).to_have_attribute("data-state", "ISP")
        page.evaluate("window.__sameDocument = true")
        cell(page, "server2", WRITER).click(button="right")
        expect(page.locator("#context-menu [data-action=extend]")).to_be_disabled()
        expect(page.locator("#context-menu [data-action=delete]")).to_be_disabled()
        page.click("#context-menu [data-action=in_service]")
        at_step(page, "confirm")
        expect(body(page)).to_contain_text(f"Bring {WRITER} in service on server server2")
        shot(page, "nas-11-switchover-confirm")
        started = time.time()
        transcript = run(page, "in service on server2 (switchover)")
        expect_lines(
            transcript,
            f'restore: END successful restore of "{FS}" on server "server2"',
            f'restore: END successful restore of "{WRITER}" on server "server2"',
            f"Switchover of {WRITER} from server server1 to server server2",
        )
        done(page)
        # The table follows by itself (server-sent events), no reload.
        for tag in tags:
            expect(cell(page, "server2", tag)).to_have_attribute("data-state", "ISP")
            expect(cell(page, "server1", tag)).to_have_attribute("data-state", "OSU")
        assert page.evaluate("window.__sameDocument") is True
        expect(page.locator("#timeline [data-kind=action]").first).to_contain_text("in-service")
        shot(page, "nas-12-after-switchover")
    for tag in tags:
        assert cl.states("server2")[tag] == "ISP"
        assert cl.states("server1")[tag] == "OSU"
    assert cl.nfs_mounted("server2", MP) == names["source"]
    assert cl.nfs_mounted("server1", MP) is None
    wait_writer_on(cl, "server2", started)
    assert writer_overlaps(writer_lines(cl)) == []

    # The same status in Japanese.
    with gui(browser, cl, users["administrator"], locale="ja-JP") as page:
        expect(page.locator("#user-role")).to_have_text("管理者")
        expect(page.locator("#status-table th").first).to_have_text("リソース")
        expect(cell(page, "server2", WRITER)).to_have_attribute("data-state", "ISP")
        expect(cell(page, "server2", WRITER)).to_have_attribute("title", re.compile("サービス中"))
        expect(page.locator("[data-menu='menu.resource']")).to_have_text("リソース")
        shot(page, "nas-13-status-ja")


# ---------------------------------------------------------------------- e


def test_out_of_service_everywhere_then_in_service_on_server1(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    dev = names["dev"]
    tags = [WRITER, FS, dev]
    with gui(browser, cl, users["administrator"]) as page:
        from_menu(page, "resource", "out_of_service")
        at_step(page, "server")
        page.select_option("#wizard-body select[name=server]", "server2")
        wizard_next(page)
        at_step(page, "hierarchy")
        page.select_option("#wizard-body select[name=hierarchy]", dev)
        wizard_next(page)
        at_step(page, "confirm")
        expect(body(page)).to_contain_text(f"Take {dev} out of service on server server2")
        transcript = run(page, "out of service (from the NAS device up)")
        expect_lines(
            transcript,
            f'remove: END successful remove of "{WRITER}" on server "server2"',
            f'remove: END successful remove of "{FS}" on server "server2"',
            f'remove: END successful remove of "{dev}" on server "server2"',
        )
        done(page)
        for tag in tags:
            for server in ("server1", "server2"):
                expect(cell(page, server, tag)).to_have_attribute("data-state", "OSU")
        shot(page, "nas-14-out-of-service")
        for server in ("server1", "server2"):
            assert all(cl.states(server)[t] == "OSU" for t in tags), cl.states(server)
            assert cl.nfs_mounted(server, MP) is None, f"still mounted on {server}"
            assert target_of(cl, server, WRITER)["in_service"] is False

        from_cell(page, "server1", WRITER, "in_service")
        at_step(page, "confirm")
        transcript = run(page, "in service on server1")
        expect_lines(
            transcript,
            f'restore: END successful restore of "{dev}" on server "server1"',
            f'restore: END successful restore of "{WRITER}" on server "server1"',
        )
        done(page)
        for tag in tags:
            expect(cell(page, "server1", tag)).to_have_attribute("data-state", "ISP")
            expect(cell(page, "server2", tag)).to_have_attribute("data-state", "OSU")
    started = time.time()
    assert cl.nfs_mounted("server1", MP) == names["source"]
    assert cl.nfs_mounted("server2", MP) is None
    assert target_of(cl, "server1", WRITER) == {"in_service": True, "server": "server1"}
    wait_writer_on(cl, "server1", started)


# ---------------------------------------------------------------------- f


def test_view_and_edit_properties(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    dev, source = names["dev"], names["source"]
    with gui(browser, cl, users["administrator"]) as page:
        # The NAS file system's properties (a tag with a slash), on each server: server2's
        # are fetched from server2 through server1.
        for server, state in (("server2", "OSU"), ("server1", "ISP")):
            from_cell(page, server, FS, "properties")
            at_step(page, "properties")
            summary = body(page).locator("dl.summary")
            for text in (FS, MP, "filesys", state, WRITER, dev):
                expect(summary).to_contain_text(text)
            expect(checked(page, "switchback")).to_have_value("intelligent")
            if server == "server2":
                # An extended copy never puts anything into server2's fstab.
                expect(field(page, "prop.fstab_lines")).to_have_value("")
                page.click("#wz-cancel")
                expect(page.locator("#wizard")).not_to_be_visible()
                continue
            # Both removed fstab lines, line breaks and all: saving must keep them.
            expect(field(page, "prop.fstab_lines")).to_have_value(names["fstab"])
            expect(field(page, "prop.fstype")).to_have_value("nfs")
            page.check("#wizard-body input[name=switchback][value=automatic]")
            shot(page, "nas-15-properties-nas")
            run(page, "save the file system's properties")
            done(page)
        shown = json.loads(cl.cli_ok("server1", "resource", "show", FS, "--json").stdout)
        assert shown["switchback"] == "automatic", shown
        assert shown["props"]["fstab_lines"] == names["fstab"], shown
        assert shown["props"]["source"] == source

        # Edit the application's switchback type and check timeout on server1.
        from_cell(page, "server1", WRITER, "properties")
        at_step(page, "properties")
        expect(checked(page, "switchback")).to_have_value("intelligent")
        expect(field(page, "prop.check_timeout")).to_have_value("10")
        page.check("#wizard-body input[name=switchback][value=automatic]")
        page.fill("#wizard-body input[name='prop.check_timeout']", "15")
        shot(page, "nas-16-properties-edit")
        expect(page.locator("#wz-next")).to_have_text("Save")
        run(page, "save properties")
        done(page)
        shown = json.loads(cl.cli_ok("server1", "resource", "show", WRITER, "--json").stdout)
        assert shown["switchback"] == "automatic", shown
        assert float(shown["props"]["check_timeout"]) == 15.0, shown
        assert shown["state"] == "ISP"
        # Opened again, the dialog shows what was saved.
        from_cell(page, "server1", WRITER, "properties")
        at_step(page, "properties")
        expect(checked(page, "switchback")).to_have_value("automatic")
        expect(field(page, "prop.check_timeout")).to_have_value("15")
        page.click("#wz-cancel")
    assert cl.nfs_mounted("server1", MP) == source


# ---------------------------------------------------------------------- g


def test_unextend_then_delete_puts_the_fstab_line_back(
    cl: VmCluster, users: dict[str, Account], browser: Browser, names: dict[str, str]
) -> None:
    dev, source = names["dev"], names["source"]
    tags = [WRITER, FS, dev]
    with gui(browser, cl, users["administrator"]) as page:
        from_cell(page, "server2", WRITER, "unextend")
        at_step(page, "confirm")
        confirm = page.locator("[data-testid=unextend-confirm]")
        expect(confirm).to_contain_text("Target Server = server2")
        expect(confirm).to_contain_text(f"Target Tag = {WRITER}")
        expect(page.locator("#wz-next")).to_have_text("Unextend")
        shot(page, "nas-17-unextend-confirm")
        run(page, "unextend from server2")
        done(page)
        for tag in tags:
            expect(cell(page, "server2", tag)).to_have_attribute("data-state", "")
        wait_for(lambda: not set(tags) & set(cl.states("server2")), 30, "server2's copies gone")
        assert all(cl.states("server1")[t] == "ISP" for t in tags)
        assert cl.nfs_mounted("server1", MP) == source

        # Delete needs the hierarchy out of service: from the NAS device, everything
        # above it goes down first.
        from_cell(page, "server1", dev, "out_of_service")
        at_step(page, "confirm")
        run(page, "out of service on server1")
        done(page)
        for tag in tags:
            expect(cell(page, "server1", tag)).to_have_attribute("data-state", "OSU")
        assert cl.nfs_mounted("server1", MP) is None

        # Another hierarchy on server1 with a dependency of its own (made through the
        # local API): the delete wizard must not list it among what goes.
        make_side_hierarchy(cl, "server1")
        expect(row(page, SIDE_BASE, 1)).to_be_visible()

        from_menu(page, "resource", "delete")
        at_step(page, "server")
        expect(field(page, "server")).to_have_value("server1")
        wizard_next(page)
        at_step(page, "hierarchy")
        options = field(page, "hierarchy").locator("option")
        assert options.evaluate_all("os => os.map(o => o.value)") == [SIDE, WRITER]  # roots
        page.select_option("#wizard-body select[name=hierarchy]", WRITER)
        wizard_next(page)
        at_step(page, "confirm")
        expect(body(page)).to_contain_text(f"Resources: {WRITER}, {FS}, {dev}")
        expect(body(page)).not_to_contain_text(SIDE_BASE)
        expect(page.locator("#wz-next")).to_have_text("Delete")
        shot(page, "nas-18-delete-confirm")
        transcript = run(page, "delete the hierarchy")
        expect_lines(
            transcript,
            f'delete: END successful deletion of "{WRITER}" on server "server1"',
            f'delete: END successful deletion of "{FS}" on server "server1"',
            f'delete: END successful deletion of "{dev}" on server "server1"',
            f"Restoring /etc/fstab entry for {MP}",
        )
        shot(page, "nas-19-delete-transcript")
        done(page)
        expect(page.locator("#status-table tbody tr")).to_have_count(2)  # the other one
        expect(row(page, SIDE_BASE, 1)).to_be_visible()
    assert set(cl.states("server1")) == {SIDE, SIDE_BASE}, cl.states("server1")
    api_ok(cl, "server1", "POST", "/v1/out-of-service", {"tag": SIDE_BASE})
    api_ok(cl, "server1", "DELETE", f"/v1/resources/{SIDE}")
    for server in ("server1", "server2"):
        wait_for(lambda s=server: not cl.states(s), 30, f"nothing left on {server}")
    own = [ln for ln in cl.fstab("server1").splitlines() if f" {MP} " in ln]
    assert "\n".join(own) == names["fstab"], cl.fstab("server1")
    assert f" {MP} " not in cl.fstab("server2"), cl.fstab("server2")
    # The lines put back are working ones: mount by mount point alone reads the first.
    r = cl.lab.exec("server1", ["/bin/mount", MP], timeout=60)
    assert r.ok, r
    assert cl.nfs_mounted("server1", MP) == source
    lines = writer_lines(cl)
    assert {x.server for x in lines} == {"server1", "server2"}
    assert writer_overlaps(lines) == [], "the writer never ran on two servers at once"
