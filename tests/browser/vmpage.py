"""What the VM page's browser tests share: opening a VM's page in the logged-in page
(a hash change, so the session held in the page's memory stays), its task lines, and a
failure's sentence as the error table words it."""

from browsertools import by_test
from playwright.sync_api import expect

from xen.xend.api import errortable


def open_vm(page, vm):
    """Show VM ``vm``'s page and wait until its record is there."""
    page.evaluate("hash => { location.hash = hash; }", "#/vm/" + vm)
    expect(page.locator(by_test("vm-actions"))).to_be_visible()


def task_line(page, label):
    """The newest task line of the page whose label is ``label``."""
    return page.locator(by_test("vm-task")).filter(
        has=page.locator(by_test("vm-task-label"), has_text=label)).first


def documented(error_info):
    """The sentence the error table gives ``error_info`` ([code, params...])."""
    error = errortable.ERRORS[error_info[0]]
    return error.sentence.format(**dict(zip(error.params, error_info[1:])))
