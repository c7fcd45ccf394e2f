"""The VM page's statistics and console log on a real QEMU guest, where the figures are
a real guest's (the sim backend's are made up): the tiny guest keeping one CPU busy
(``xend.test=burn``), one guest for the module. Its CPU chart shows the busy vCPU as
the SDK does, and the Console log tab shows the guest's boot (docs/ui.md)."""

import pytest
from browsertools import by_test, log_in, screenshot
from harness import (
    READY,
    STATE_WAIT,
    new_tiny_vm,
    requires_qemu,
    wait_ready,
    wait_until,
)
from playwright.sync_api import expect
from vmpage import open_vm

pytestmark = [pytest.mark.qemu, requires_qemu]
BACKEND = "qemu"   # the module's ui_daemon (conftest.py)


@pytest.fixture(scope="module")
def guest(ui_daemon, tiny_guest):
    """The module's running tiny guest, one CPU kept busy once it is ready."""
    api = ui_daemon.api
    vm = new_tiny_vm(api, tiny_guest, mode="burn")
    api.VM.start(vm, False)
    wait_ready(ui_daemon, vm)
    yield vm
    api.VM.hard_shutdown(vm)


def cpu_shown(page):
    value = page.locator('%s[data-series="cpu/0"]' % by_test("vm-stat")).get_attribute(
        "data-value")
    return float(value) if value is not None else 0.0


def test_a_busy_guests_cpu_is_charted_and_its_boot_logged(tab, ui_daemon, guest):
    page = tab.page
    api10 = ui_daemon.sdk_unix(version="1.0").xenapi
    metrics = api10.VM.get_metrics(guest)
    log_in(page)
    open_vm(page, guest)
    # Busy: most of a CPU, on the page as in the SDK's figures of the same sample.
    wait_until(lambda: cpu_shown(page) > 0.5 and cpu_shown(page) == float(
        api10.VM_metrics.get_VCPUs_utilisation(metrics)["0"]), STATE_WAIT,
        "the busy vCPU's utilisation on the page, as the SDK's")
    expect(page.locator('%s[data-series="cpu/0"]' % by_test("vm-stat"))).to_have_text(
        "%d%%" % round(cpu_shown(page) * 100))
    text = page.locator(by_test("vm-log-text"))
    # The guest's init reports its CPUs as it boots, then says it is ready.
    expect(text).to_contain_text("xend-test: cpus: cpu0")
    expect(text).to_contain_text(READY)
    screenshot(page, "vm-diag-guest")
