"""The Users view and the page's permissions in a real browser against the real daemon:
root makes a user, sets its password and deletes it; that user sees none of root's
controls, and a root-only call forced through the page's client is refused with the
API's PERMISSION_DENIED and its sentence (docs/ui.md, "Users", "Permissions")."""

import harness
import XenAPI
from browsertools import by_test, log_in, open_tab, screenshot
from playwright.sync_api import expect

from xen.xend.api import errortable


def user_row(page, name):
    return page.locator(by_test("user-row"), has=page.locator(by_test("user-name"),
                                                                has_text=name))


def logs_in(daemon, name, password):
    """Whether ``name`` logs in over TCP with ``password``."""
    try:
        daemon.sdk_tcp(name, password).xenapi.session.logout()
    except XenAPI.Failure:
        return False
    return True


def forced(page, method, *params):
    """Call ``method`` through the page's own API client (window.xend), as the browser's
    developer console can; the error code it was refused with, or None."""
    return page.evaluate("([method, params]) => xend.api(method, ...params)"
                         ".then(() => null, (e) => e.code)", [method, list(params)])


def test_root_manages_a_user_who_sees_none_of_roots_controls(tab, browser, ui_daemon):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    page.click(by_test("nav-users"))
    expect(user_row(page, "root")).to_be_visible()
    expect(user_row(page, "root").locator(by_test("user-delete"))).to_have_count(0)
    name, first, second = harness.unique("web"), "first-pw-1", "second-pw-2"
    form = page.locator(by_test("user-create"))
    form.locator(by_test("user-name-input")).fill(name)
    form.locator(by_test("user-fullname-input")).fill("Web User")
    form.locator(by_test("user-password-input")).fill(first)
    form.locator(by_test("user-create-submit")).click()
    row = user_row(page, name)
    expect(row.locator(by_test("user-fullname"))).to_have_text("Web User")
    harness.wait_until(lambda: logs_in(ui_daemon, name, first), harness.STATE_WAIT,
                       "the user's first password to be set")
    row.locator(by_test("user-password")).click()
    page.fill(by_test("user-new-password"), second)
    page.click(by_test("user-password-form-submit"))
    expect(page.locator(by_test("user-password-form"))).to_have_count(0)
    assert logs_in(ui_daemon, name, second) and not logs_in(ui_daemon, name, first)
    screenshot(page, "users")

    other = open_tab(browser, ui_daemon)
    try:
        theirs = other.page
        log_in(theirs, name, second)
        expect(theirs.locator(by_test("host-enabled"))).to_have_text("Enabled")
        expect(theirs.locator(by_test("nav-users"))).to_have_count(0)
        expect(theirs.locator(by_test("host-disable"))).to_have_count(0)
        theirs.click(by_test("nav-storage"))
        expect(theirs.locator(by_test("sr")).first).to_be_visible()
        expect(theirs.locator(by_test("sr-create"))).to_have_count(0)
        expect(theirs.locator(by_test("sr-destroy"))).to_have_count(0)
        theirs.click(by_test("nav-networks"))
        expect(theirs.locator(by_test("network-list"))).to_be_attached()
        expect(theirs.locator(by_test("network-create"))).to_have_count(0)
        theirs.evaluate("location.hash = '#/users'")   # typed in: sent to the host view
        expect(theirs.locator(by_test("host-view"))).to_be_visible()
        expect(theirs.locator(by_test("user-list"))).to_have_count(0)

        # A root-only call forced through the page's client: the API refuses it.
        host = api.host.get_all()[0]
        assert forced(theirs, "host.disable", host) == "PERMISSION_DENIED"
        expect(theirs.locator(by_test("error-code"))).to_have_text("PERMISSION_DENIED")
        sentence = errortable.ERRORS["PERMISSION_DENIED"].sentence.split("{")[0]
        expect(theirs.locator(by_test("error-sentence"))).to_contain_text(sentence)
        assert api.host.get_enabled(host)
        screenshot(theirs, "users-not-root")

        # Root deletes the user, after a confirmation; that user's session ends with it.
        row.locator(by_test("user-delete")).click()
        row.locator(by_test("user-delete-confirm")).click()
        expect(row).to_have_count(0)
        assert not api.user.get_by_short_name(name)
        assert forced(theirs, "VM.get_all") == "SESSION_INVALID"
        expect(theirs.locator(by_test("login-password"))).to_be_visible()
    finally:
        other.page.context.close()
