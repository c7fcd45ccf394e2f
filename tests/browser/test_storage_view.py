"""The Storage view in a real browser against the real daemon: SRs with their usage
bars and VDIs, VDIs made, resized and destroyed through the page, a disk image uploaded
through the page's file chooser and downloaded back (docs/ui.md, "Storage")."""

import os

import harness
import pytest
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect

MIB = harness.MIB


@pytest.fixture(scope="module")
def file_sr(ui_daemon):
    """A file SR of 64 MiB holding a VDI of 8 MiB (an eighth of it allocated)."""
    sr = harness.new_sr(ui_daemon.api, type="file", physical_size=str(64 * MIB),
                        name_label=harness.unique("disks"))
    harness.new_vdi(ui_daemon.api, sr=sr, size=8 * MIB, name_label=harness.unique("eight"))
    return sr


def sr_section(page, sr):
    return page.locator('[data-test="sr"][data-ref="%s"]' % sr)


def vdi_row(page, name):
    return page.locator(by_test("vdi-row"), has=page.locator(by_test("vdi-name"), has_text=name))


def exported(daemon, vdi):
    """The VDI's raw image, through GET /export_raw_vdi over the Unix socket."""
    session = daemon.sdk_unix()._session
    status, _, body = daemon.http_request(
        "GET", "/export_raw_vdi?session_id=%s&vdi=%s&format=raw" % (session, vdi), over="unix")
    assert status == 200, body
    return body


def open_storage(page, sr):
    log_in(page)
    page.click(by_test("nav-storage"))
    expect(sr_section(page, sr)).to_be_visible()
    return sr_section(page, sr)


def test_an_sr_shows_its_type_usage_bars_and_vdis(tab, ui_daemon, file_sr):
    page, api = tab.page, ui_daemon.api
    section = open_storage(page, file_sr)
    expect(section.locator(by_test("sr-name"))).to_have_text(api.SR.get_name_label(file_sr))
    expect(section.locator(by_test("sr-type"))).to_have_text("file")
    expect(section.locator(by_test("sr-allocation-text"))).to_have_text(
        "8 MiB of 64 MiB (13%)")
    expect(section.locator(by_test("sr-allocation-bar"))).to_have_attribute(
        "value", str(8 * MIB))
    expect(section.locator(by_test("sr-usage-bar"))).to_have_attribute("max", str(64 * MIB))
    expect(section.locator(by_test("vdi-row"))).to_have_count(len(api.SR.get_VDIs(file_sr)))
    expect(section.locator(by_test("vdi-size"))).to_have_text(["8 MiB"])
    expect(page.locator(by_test("sr-create"))).to_be_visible()   # root may
    screenshot(page, "storage")


def test_a_vdi_made_in_the_page_takes_an_upload_and_gives_it_back(tab, ui_daemon, file_sr,
                                                                     tmp_path):
    page, api = tab.page, ui_daemon.api
    section = open_storage(page, file_sr)
    name = harness.unique("upload")
    form = section.locator(by_test("vdi-create"))
    form.locator(by_test("vdi-name-input")).fill(name)
    form.locator(by_test("vdi-size-input")).fill("1")
    form.locator(by_test("vdi-create-submit")).click()
    row = vdi_row(page, name)
    expect(row.locator(by_test("vdi-size"))).to_have_text("1 MiB")
    [vdi] = api.VDI.get_by_name_label(name)

    image = os.urandom(MIB // 2) + bytes(MIB // 4)   # data, then zeros
    row.locator(by_test("vdi-upload")).click()
    upload = section.locator(by_test("vdi-upload-form"))
    with page.expect_file_chooser() as chooser:
        upload.locator(by_test("image-file")).click()
    chooser.value.set_files({"name": "disk.raw", "mimeType": "application/octet-stream",
                             "buffer": image})
    upload.locator(by_test("vdi-upload-form-submit")).click()
    transfer = page.locator(by_test("transfer")).first
    expect(transfer.locator(by_test("transfer-status"))).to_have_text("success")
    expect(transfer.locator(by_test("transfer-progress"))).to_have_attribute("value", "1")
    # The VDI holds the image, its size kept (the rest reads as zeros).
    assert exported(ui_daemon, vdi) == image + bytes(MIB - len(image))

    row.locator(by_test("vdi-download")).click()
    with page.expect_download() as saved:
        section.locator(by_test("vdi-download-form-submit")).click()
    assert saved.value.suggested_filename == name + ".raw"
    saved.value.save_as(tmp_path / "back.raw")
    assert (tmp_path / "back.raw").read_bytes() == image + bytes(MIB - len(image))
    expect(page.locator(by_test("transfer")).first.locator(by_test("transfer-status"))
           ).to_have_text("success")
    screenshot(page, "storage-transfers")
    # The session ref the transfers carried in their query strings is in no log.
    assert "session_id=" not in ui_daemon.log_text()

    row.locator(by_test("vdi-resize")).click()
    section.locator(by_test("vdi-resize-size")).fill("2")
    section.locator(by_test("vdi-resize-form-submit")).click()
    expect(row.locator(by_test("vdi-size"))).to_have_text("2 MiB")
    assert int(api.VDI.get_virtual_size(vdi)) * 512 == 2 * MIB   # 0.2 counts sectors

    row.locator(by_test("vdi-destroy")).click()
    row.locator(by_test("vdi-destroy-confirm")).click()
    expect(row).to_have_count(0)
    assert vdi not in api.VDI.get_all()


def test_an_upload_too_large_shows_the_apis_refusal(tab, ui_daemon, file_sr):
    page, api = tab.page, ui_daemon.api
    section = open_storage(page, file_sr)
    vdi = harness.new_vdi(api, sr=file_sr, size=MIB, name_label=harness.unique("small"))
    row = section.locator('[data-test="vdi-row"][data-ref="%s"]' % vdi)
    row.locator(by_test("vdi-upload")).click()
    upload = section.locator(by_test("vdi-upload-form"))
    upload.locator(by_test("image-file")).set_input_files(
        {"name": "big.raw", "mimeType": "application/octet-stream", "buffer": bytes(2 * MIB)})
    upload.locator(by_test("vdi-upload-form-submit")).click()
    expect(page.locator(by_test("error-code"))).to_have_text("VDI_TOO_SMALL")
    api.VDI.destroy(vdi)


def test_root_makes_and_destroys_an_sr(tab, ui_daemon, file_sr):
    page, api = tab.page, ui_daemon.api
    open_storage(page, file_sr)
    name = harness.unique("made")
    form = page.locator(by_test("sr-create"))
    form.locator(by_test("sr-name-input")).fill(name)
    form.locator(by_test("sr-type-select")).select_option("file")
    form.locator(by_test("sr-size-input")).fill("32")
    form.locator(by_test("sr-create-submit")).click()
    [sr] = harness.wait_until(lambda: api.SR.get_by_name_label(name), harness.STATE_WAIT,
                              "the SR the page makes")
    section = sr_section(page, sr)
    expect(section.locator(by_test("sr-usage-text"))).to_contain_text("of 32 MiB")
    section.locator(by_test("sr-destroy")).click()
    section.locator(by_test("sr-destroy-confirm")).click()
    expect(section).to_have_count(0)
    assert sr not in api.SR.get_all()
