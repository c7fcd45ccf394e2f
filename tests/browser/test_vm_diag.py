"""The VM page's logs and live statistics in a real browser against the real sim daemon
(docs/ui.md, "The VM page"): each log tab shows its log's text, read by fetch (never a
navigation, so the session in its URL stays out of the history); the statistics'
charts draw their lines on their canvases and their values are the SDK's figures."""

import harness
import pytest
from browsertools import CANVAS_PIXELS, by_test, log_in, open_tab, screenshot
from playwright.sync_api import expect
from vmpage import open_vm

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def api10(ui_daemon):
    """root's session of Xen-API 1.0, whose metrics classes the page reads."""
    return ui_daemon.sdk_unix(version="1.0").xenapi


@pytest.fixture(scope="module")
def logged_vm(ui_daemon):
    """A VM started and stopped once (the daemon's lines), with a console log in two
    generations and a QEMU log."""
    api = ui_daemon.api
    vm = harness.new_vm(api)
    api.VM.start(vm, False)
    api.VM.hard_shutdown(vm)
    harness.write_vm_file(ui_daemon, vm, "console.log.1", b"boot 1\n")
    harness.write_vm_file(ui_daemon, vm, "console.log", b"boot 2\nlogin: ")
    harness.write_vm_file(ui_daemon, vm, "qemu.log", b"qemu-system-x86_64: warning\n")
    return vm


def log_tab(page, kind):
    return page.locator('%s[data-kind="%s"]' % (by_test("vm-log-tab"), kind))


def test_each_log_tab_shows_its_log_read_by_fetch(tab, ui_daemon, logged_vm):
    page = tab.page
    log_in(page)
    open_vm(page, logged_vm)
    text = page.locator(by_test("vm-log-text"))
    expect(log_tab(page, "console")).to_have_class("tab active")
    expect(text).to_have_text("boot 1\nboot 2\nlogin: ")

    with page.expect_request(lambda r: "/vm-log?" in r.url) as asked:
        log_tab(page, "qemu").click()
    assert asked.value.resource_type == "fetch"
    assert not asked.value.is_navigation_request()
    expect(text).to_have_text("qemu-system-x86_64: warning\n")
    # What the log gains shows after Refresh.
    harness.write_vm_file(ui_daemon, logged_vm, "qemu.log", b"qemu-system-x86_64: warning\nagain\n")
    page.click(by_test("vm-log-refresh"))
    expect(text).to_have_text("qemu-system-x86_64: warning\nagain\n")

    log_tab(page, "daemon").click()
    expect(text).to_contain_text("(%s): started" % logged_vm)
    expect(text).to_contain_text("(%s): stopped (hard shutdown)" % logged_vm)
    assert "session_id" not in page.url
    screenshot(page, "vm-logs")


def test_a_user_who_is_not_root_reads_the_vms_logs_but_not_the_daemons(
        browser, ui_daemon, logged_vm):
    _, name, password = harness.make_user(ui_daemon.api)
    other = open_tab(browser, ui_daemon)
    try:
        page = other.page
        log_in(page, name, password)
        open_vm(page, logged_vm)
        expect(page.locator(by_test("vm-log-text"))).to_have_text("boot 1\nboot 2\nlogin: ")
        expect(page.locator(by_test("vm-log-tab"))).to_have_count(2)
        expect(log_tab(page, "daemon")).to_have_count(0)
    finally:
        other.page.context.close()


@pytest.fixture(scope="module")
def busy_vm(ui_daemon):
    """A running VM of 256 MiB with a disk and a NIC."""
    api = ui_daemon.api
    vm = harness.new_vm(api, **harness.memory(256 * MIB))
    harness.new_vbd(api, vm, harness.new_vdi(api))
    harness.new_vif(api, vm, harness.new_network(api))
    api.VM.start(vm, False)
    yield vm
    api.VM.hard_shutdown(vm)


def stat(page, series):
    return page.locator('%s[data-series="%s"]' % (by_test("vm-stat"), series))


def chart_drawn(page, chart):
    """Whether the canvas of ``chart`` holds pixels of one of its lines' colours (those
    of the swatches beside its values; lines of equal values hide each other)."""
    box = page.locator('%s[data-chart="%s"]' % (by_test("vm-chart"), chart))
    return box.evaluate("""box => {
        const colours = [...box.querySelectorAll('.swatch')].map((swatch) =>
            getComputedStyle(swatch).backgroundColor.match(/\\d+/g).map(Number));
        const canvas = box.querySelector('canvas');
        const data = (%s)(canvas);
        for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] === 255 && colours.some(([r, g, b]) =>
                data[i] === r && data[i + 1] === g && data[i + 2] === b)) {
                return true;
            }
        }
        return false;
    }""" % CANVAS_PIXELS)


def shows(page, series, figure, seen):
    """Whether the page's current value of ``series`` is one the SDK read as ``figure``
    while waiting (``seen`` gathers them): the daemon's sampler renews a figure every few
    seconds and the page asks every two, so the page may show the one before the SDK's
    latest."""
    seen.add(figure())
    value = stat(page, series).get_attribute("data-value")
    return value is not None and float(value) in seen


def test_statistics_charts_draw_the_sdks_figures(tab, ui_daemon, api10, busy_vm):
    page = tab.page
    log_in(page)
    open_vm(page, busy_vm)
    metrics = api10.VM.get_metrics(busy_vm)
    vif, vbd = api10.VM.get_VIFs(busy_vm)[0], api10.VM.get_VBDs(busy_vm)[0]
    figures = {
        "cpu/0": (lambda: api10.VM_metrics.get_VCPUs_utilisation(metrics)["0"],
                  lambda v: "%d%%" % round(v * 100)),
        "memory/actual": (lambda: int(api10.VM_metrics.get_memory_actual(metrics)),
                          lambda v: "%d MiB" % (v // MIB)),
        "vif-eth0/read": (lambda: api10.VIF_metrics.get_io_read_kbs(
            api10.VIF.get_metrics(vif)), lambda v: "%.1f kB/s" % v),
        "vif-eth0/write": (lambda: api10.VIF_metrics.get_io_write_kbs(
            api10.VIF.get_metrics(vif)), lambda v: "%.1f kB/s" % v),
        "vbd-xvda/read": (lambda: api10.VBD_metrics.get_io_read_kbs(
            api10.VBD.get_metrics(vbd)), lambda v: "%.1f kB/s" % v),
        "vbd-xvda/write": (lambda: api10.VBD_metrics.get_io_write_kbs(
            api10.VBD.get_metrics(vbd)), lambda v: "%.1f kB/s" % v),
    }
    # The sim guest's vCPU is busy for a share of its time: from the sampler's second
    # sample on, a figure above 0.
    harness.wait_until(lambda: figures["cpu/0"][0]() > 0, harness.STATE_WAIT,
                       "the guest's CPU utilisation to be sampled")
    for series, (figure, text) in figures.items():
        seen = set()
        harness.wait_until(lambda: shows(page, series, figure, seen), harness.STATE_WAIT,
                           "the page's %s to be the SDK's" % series)
        assert stat(page, series).text_content() == text(float(
            stat(page, series).get_attribute("data-value")))
    assert float(stat(page, "cpu/0").get_attribute("data-value")) > 0
    assert stat(page, "memory/actual").text_content() == "256 MiB"
    for chart in ["cpu", "memory", "vif-eth0", "vbd-xvda"]:
        harness.wait_until(lambda: chart_drawn(page, chart), harness.STATE_WAIT,
                           "the %s chart to draw its line" % chart)
    # Nothing refused by the page's CSP (the swatches' colours are style attributes).
    assert tab.console == [] and tab.errors == []
    screenshot(page, "vm-statistics")
