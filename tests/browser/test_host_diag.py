"""The host view's power buttons and logs in a real browser against the real daemon
(docs/ui.md, "Host"): root reads the kernel log (the sim backend's, fed by SysRq keys)
and the daemon's log, refreshes and clears the kernel log; Reboot and Shut down ask
first, saying what happens to running guests, and are refused while the host is enabled
or a VM runs on it. The daemon of this module runs a harmless command of its own
(``touch`` of a marker file) as its power commands, so a granted reboot or shutdown
stops nothing. A user who is not root sees none of it."""

import contextlib
import os
import shutil

import harness
import pytest
from browsertools import by_test, log_in, open_tab, page_daemon, screenshot
from playwright.sync_api import expect
from vmpage import documented

POWER = ["reboot", "shutdown"]


@pytest.fixture(scope="module")
def markers():
    """The directory where the daemon's power commands leave their marker files."""
    path = harness.scratch_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ui_daemon(markers):
    """This module's daemon: host.<op> runs ``touch <markers>/<op>``."""
    config = "".join('host_%s_command = "touch %s"\n' % (op, os.path.join(markers, op))
                     for op in POWER)
    with page_daemon(extra_config=config) as d:
        yield d


@pytest.fixture(scope="module")
def host(ui_daemon):
    return ui_daemon.api.host.get_all()[0]


@contextlib.contextmanager
def guest_running(api):
    """A new VM, running for the block."""
    vm = harness.new_vm(api)
    api.VM.start(vm, False)
    try:
        yield vm
    finally:
        api.VM.hard_shutdown(vm)


@pytest.fixture
def running_vm(ui_daemon):
    """A VM running for one test (the power tests need none running)."""
    with guest_running(ui_daemon.api) as vm:
        yield vm


def log_text(page):
    return page.locator(by_test("host-log-text"))


def test_root_reads_refreshes_and_clears_the_kernel_log(tab, ui_daemon, host, running_vm):
    page, api = tab.page, ui_daemon.api
    api.VM.send_sysrq(running_vm, "s")
    log_in(page)
    expect(page.locator('%s[data-kind="dmesg"]' % by_test("host-log-tab"))).to_have_class(
        "tab active")
    expect(log_text(page)).to_contain_text("sim: %s: sysrq s" % running_vm)
    # A line logged after the page read the log shows after Refresh.
    api.VM.send_sysrq(running_vm, "u")
    page.click(by_test("host-log-refresh"))
    expect(log_text(page)).to_contain_text("sim: %s: sysrq u" % running_vm)
    assert log_text(page).text_content() == api.host.dmesg(host)

    page.click(by_test("host-dmesg-clear"))
    page.click(by_test("host-dmesg-clear-confirm"))
    expect(log_text(page)).to_have_text("")
    assert api.host.dmesg(host) == ""
    expect(page.locator(by_test("host-dmesg-clear"))).to_be_visible()


def test_root_reads_the_daemons_log(tab, ui_daemon, running_vm):
    page = tab.page
    log_in(page)
    page.click('%s[data-kind="daemon"]' % by_test("host-log-tab"))
    # The daemon's line for the VM's start, as the file holds it.
    started = next(line for line in ui_daemon.log_text().splitlines()
                   if running_vm in line and line.endswith(": started"))
    expect(log_text(page)).to_contain_text(started)
    screenshot(page, "host-logs")


@pytest.mark.parametrize("op", POWER)
def test_power_asks_first_and_is_refused_until_the_host_may_stop(tab, ui_daemon, host,
                                                                   markers, op):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    dialog = page.locator(by_test("host-%s-dialog" % op))

    # Cancelled: nothing asked of the daemon.
    page.click(by_test("host-" + op))
    expect(page.locator(by_test("host-%s-consequence" % op))).to_contain_text(
        "Running guests are not stopped")
    page.click(by_test("host-%s-dialog-cancel" % op))
    expect(dialog).to_have_count(0)

    # Enabled: refused, the dialog stays with the code and its sentence.
    page.click(by_test("host-" + op))
    page.click(by_test("host-%s-dialog-confirm" % op))
    expect(dialog.locator(by_test("error-code"))).to_have_text("HOST_NOT_DISABLED")
    expect(dialog.locator(by_test("error-sentence"))).to_have_text(
        documented(["HOST_NOT_DISABLED", host]))

    # Disabled, with a guest running (started before, as a disabled host starts none):
    # refused, naming the guest.
    try:
        with guest_running(api) as vm:
            api.host.disable(host)
            page.click(by_test("host-%s-dialog-confirm" % op))
            expect(dialog.locator(by_test("error-code"))).to_have_text(
                "HOST_HAS_RESIDENT_VMS")
            expect(dialog.locator(by_test("error-sentence"))).to_contain_text(vm)
            screenshot(page, "host-%s-refused" % op)
        # Disabled, no guest running: the daemon runs its power command.
        page.click(by_test("host-%s-dialog-confirm" % op))
        expect(dialog).to_have_count(0)
        expect(page.locator(by_test("host-power-done"))).to_be_visible()
        harness.wait_until(lambda: os.path.exists(os.path.join(markers, op)),
                           harness.STATE_WAIT, "host_%s_command to run" % op)
    finally:
        api.host.enable(host)


def test_a_user_who_is_not_root_has_no_power_buttons_or_logs(browser, ui_daemon, host):
    api = ui_daemon.api
    _, name, password = harness.make_user(api)
    other = open_tab(browser, ui_daemon)
    try:
        page = other.page
        log_in(page, name, password)
        expect(page.locator(by_test("cpu")).first).to_be_visible()
        for test in ["host-reboot", "host-shutdown", "host-logs", "host-dmesg-clear"]:
            expect(page.locator(by_test(test))).to_have_count(0)
        refused = page.evaluate("host => xend.api('host.reboot', host).then(() => null, "
                                "(e) => e.code)", host)
        assert refused == "PERMISSION_DENIED"
        screenshot(page, "host-not-root")
    finally:
        other.page.context.close()
