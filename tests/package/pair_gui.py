"""The web GUI of an installed daemon in a container, seen by Debian's Chromium on the
host (tests/gui/browser.py): a systemd-kit resource with its parameters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import expect

from tests.gui.browser import (
    WAIT_MS,
    isolated_network,
    js_errors,
    launch,
    log_in,
    new_page,
    shot,
)


@dataclass(frozen=True)
class Account:
    name: str
    password: str


def look_at_unit(workdir: Path, bridge: str, url: str, acc: Account, tag: str) -> dict[str, str]:
    """Log in at ``url`` from a browser on ``bridge``; the table's cells of ``tag`` and,
    from its context menu on server2, the properties wizard: what it shows (kit, id,
    state, the kit's parameters with their values)."""
    seen: dict[str, str] = {}
    with isolated_network(workdir, bridge, "10.77.0.250/24") as chromium, launch(chromium) as b:
        ctx, page = new_page(b)
        try:
            log_in(page, url, acc)
            row = page.locator(f'#status-table tr[data-tag="{tag}"]')
            here = row.locator('td.cell[data-server="server2"]')
            expect(here).to_have_attribute("data-state", "ISP", timeout=WAIT_MS)
            seen["server2"] = here.get_attribute("data-state") or ""
            gone = row.locator('td.cell[data-server="server1"]')
            seen["server1"] = gone.get_attribute("data-state") or ""
            shot(page, "30-systemd-unit-failed-over")
            here.click(button="right")
            page.click("#context-menu [data-action='properties']")
            body = page.locator("#wizard-body")  # opened from a cell: at its own step
            expect(body).to_have_attribute("data-step", "properties", timeout=WAIT_MS)
            fields = {
                name: body.locator(f"input[name='prop.{name}']")
                for name in ("restore_timeout", "remove_timeout", "check_timeout")
            }
            expect(fields["restore_timeout"]).to_be_visible(timeout=WAIT_MS)  # rendered
            seen["summary"] = body.inner_text()
            seen.update({name: f.input_value() for name, f in fields.items()})
            shot(page, "31-systemd-unit-properties")
            seen["js_errors"] = "; ".join(js_errors(page))
        finally:
            ctx.close()
    return seen
