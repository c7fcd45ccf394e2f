"""The serial console's page (#/console/<vm ref>) in a real browser on the sim backend,
whose guest prints a banner and echoes each typed line: the terminal shows the guest's
bytes and sends what is typed, a watch-only console sends nothing, the connection's end
is shown with a Reconnect that works, and the session in the WebSocket's URL reaches
neither the daemon's log nor a CSP refusal (docs/ui.md). The real guest's consoles are
tests/browser/test_console_guest.py's."""

import harness
import pytest
from browsertools import (
    by_test,
    console_session,
    log_in,
    open_console,
    terminal_rows,
    type_line,
    wait_for_row,
)
from playwright.sync_api import expect


@pytest.fixture
def running(ui_daemon):
    """A running sim VM; halted at the test's end."""
    api = ui_daemon.api
    vm = harness.new_vm(api, name_label=harness.unique("console"))
    api.VM.start(vm, False)
    yield vm
    if api.VM.get_power_state(vm) != "Halted":
        api.VM.hard_shutdown(vm)


def shows(page, text):
    """Wait until a row of the terminal is ``text``."""
    wait_for_row(page, lambda row: row == text, "a terminal row %r" % text)


def test_the_terminal_shows_the_guest_and_sends_what_is_typed(tab, ui_daemon, running):
    page = tab.page
    log_in(page)
    open_console(page, running)
    expect(page.locator('[data-test="console-tab"][data-protocol="vt100"]')).to_have_class(
        "tab active")
    expect(page.locator(by_test("console-mode"))).to_contain_text("Interactive")
    shows(page, "xend simulated guest %s" % running)     # the guest's history
    type_line(page, "typed in a browser")
    shows(page, "echo: typed in a browser")
    # The echo in 24-bit colour: the terminal colours it, and the CSP lets it.
    page.keyboard.press("Escape")
    page.keyboard.type("[38;2;200;30;30mcoloured")
    page.keyboard.press("Enter")
    shows(page, "echo: coloured")
    coloured = page.locator(by_test("console-screen")).locator(".xterm-rows span",
                                                               has_text="coloured")
    assert coloured.evaluate("e => getComputedStyle(e).color") == "rgb(200, 30, 30)"
    assert tab.console == [] and tab.errors == []             # no CSP refusal, no error
    sessions = console_session(tab)
    assert sessions and all(s not in ui_daemon.log_text() for s in sessions)


def test_a_watch_only_console_sends_nothing(tab, running):
    page = tab.page
    log_in(page)
    open_console(page, running)
    page.check(by_test("console-watch-only"))
    expect(page.locator(by_test("console-mode"))).to_contain_text("Read-only")
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    type_line(page, "from the watcher")
    # Typing again once interactive shows what a typed line would have done.
    page.uncheck(by_test("console-watch-only"))
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    type_line(page, "from the writer")
    shows(page, "echo: from the writer")
    assert not any("from the watcher" in row for row in terminal_rows(page))


def test_the_end_is_shown_and_reconnect_works_once_the_guest_is_back(tab, ui_daemon, running):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    open_console(page, running)
    expect(page.locator(by_test("console-reconnect"))).to_be_hidden()
    api.VM.hard_shutdown(running)
    expect(page.locator(by_test("console-status"))).to_have_text(
        "Connection ended: the guest is halted.")
    expect(page.locator(by_test("console-reconnect"))).to_be_visible()
    api.VM.start(running, False)
    page.click(by_test("console-reconnect"))
    expect(page.locator(by_test("console-status"))).to_have_text("Connected.")
    expect(page.locator(by_test("console-reconnect"))).to_be_hidden()
    shows(page, "xend simulated guest %s" % running)
