"""The consoles' page on a real QEMU guest: the tiny guest whose init is a shell on its
serial port, with a display, one guest for the module's tests (booting is slow): its
shell in the serial console's terminal answering what is typed, a user's console
watched only that types nothing, and its display in the graphical console, scaled to
fit, with the keys a browser keeps for itself (docs/ui.md). Each test's page is saved
in build/test-artifacts/browser/."""

import pytest
from browsertools import (
    CANVAS_PIXELS,
    by_test,
    log_in,
    open_console,
    screenshot,
    terminal_rows,
    type_line,
    wait_for_row,
)
from harness import (
    BOOT_WAIT,
    make_user,
    new_tiny_vm,
    requires_qemu,
    tiny_args,
    wait_until,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.qemu, requires_qemu]
BACKEND = "qemu"   # the module's ui_daemon (conftest.py)

# The number of colours a canvas shows.
CANVAS_COLOURS = """c => {
  const data = (%s)(c);
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) {
    seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return seen.size;
}""" % CANVAS_PIXELS


@pytest.fixture(scope="module")
def guest(ui_daemon, tiny_guest):
    """The module's running tiny guest: a shell on its serial console, and a display."""
    api = ui_daemon.api
    vm = new_tiny_vm(api, tiny_guest, kernel_args=tiny_args(tiny_guest) + " rdinit=/bin/sh",
                     platform_display="vnc")
    api.VM.start(vm, False)
    yield vm
    api.VM.hard_shutdown(vm)


def test_the_serial_console_shows_the_guests_shell_and_runs_a_command(tab, guest):
    page = tab.page
    log_in(page)
    open_console(page, guest, "vt100")
    expect(page.locator(by_test("console-mode"))).to_contain_text("Interactive")
    wait_for_row(page, lambda row: row.endswith("#"), "the shell's prompt", BOOT_WAIT)
    type_line(page, "echo $((6*7))")
    wait_for_row(page, lambda row: row == "42", "the shell's answer")
    screenshot(page, "console-serial")
    assert tab.console == [] and tab.errors == []


def test_a_users_watched_console_types_nothing_into_the_guest(tab, ui_daemon, guest):
    page = tab.page
    _, name, password = make_user(ui_daemon.api)
    log_in(page, name, password)
    open_console(page, guest, "vt100")
    page.check(by_test("console-watch-only"))
    expect(page.locator(by_test("console-mode"))).to_contain_text("Read-only")
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    assert tab.websockets[-1].endswith("mode=read")
    type_line(page, "echo $((5*9))")
    screenshot(page, "console-serial-read-only")
    # The same user, interactive again: a line typed now is answered, the watched one never.
    page.uncheck(by_test("console-watch-only"))
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    assert tab.websockets[-1].endswith("mode=write")
    type_line(page, "echo $((6*8))")
    wait_for_row(page, lambda row: row == "48", "the shell's answer")
    assert "45" not in terminal_rows(page)


def test_the_graphical_console_shows_the_guests_display(tab, guest):
    page = tab.page
    log_in(page)
    open_console(page, guest, "rfb")
    canvas = page.locator(by_test("console-screen")).locator("canvas")
    wait_until(lambda: canvas.evaluate(CANVAS_COLOURS) > 1, BOOT_WAIT,
               "a display that is not all one colour")
    expect(page.locator(by_test("console-ctrl-alt-del"))).to_be_enabled()
    expect(page.locator(by_test("console-send-keys"))).to_be_enabled()
    assert "Ctrl-Alt-F2" in page.locator(by_test("console-send-keys")).inner_text()
    # Scaled to fit: the display is drawn no wider than its box.
    box = page.locator(by_test("console-screen")).bounding_box()
    assert canvas.bounding_box()["width"] <= box["width"]
    screenshot(page, "console-graphical")
    # Watched only: the display is shown again, with no key to send.
    page.check(by_test("console-watch-only"))
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    expect(page.locator(by_test("console-mode"))).to_contain_text("Read-only")
    expect(page.locator(by_test("console-ctrl-alt-del"))).to_be_disabled()
    expect(page.locator(by_test("console-send-keys"))).to_be_disabled()
    wait_until(lambda: canvas.evaluate(CANVAS_COLOURS) > 1, BOOT_WAIT,
               "the display again, watched only")
    assert tab.console == [] and tab.errors == []
