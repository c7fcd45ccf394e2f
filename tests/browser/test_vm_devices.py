"""The VM page's devices changed through its dialogs in a real browser against the sim
daemon, checked through the SDK: disks added (a new VDI, an existing one) and removed
with or without their VDI, NICs added (hot-plugged into a running guest, with a MAC
given) and removed, a CD inserted, changed and ejected (docs/ui.md, "The VM page")."""

import harness
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect
from vmpage import documented, open_vm


def confirm(page, test):
    """Confirm dialog ``test`` and wait until it has closed (its calls succeeded)."""
    page.click(by_test(test + "-confirm"))
    expect(page.locator(by_test(test))).to_have_count(0)


def row(page, kind, device):
    """The row of the devices table ``kind`` (vm-disk, vm-nic) for ``device``."""
    return page.locator(by_test(kind)).filter(
        has=page.locator(by_test(kind + "-device"), has_text=device))


def vbds_by_device(api, vm):
    return {api.VBD.get_device(v): v for v in api.VM.get_VBDs(vm)}


def test_add_a_new_and_an_existing_disk_and_remove_them(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm, sr = harness.new_vm(api), harness.new_sr(api)
    existing = harness.new_vdi(api, sr)
    log_in(page)
    open_vm(page, vm)

    # A size that is no number is the API's to refuse; the dialog says at which step.
    page.click(by_test("vm-disk-add"))
    expect(page.locator(by_test("disk-device"))).to_have_value("xvda")
    page.select_option(by_test("disk-sr"), sr)
    page.fill(by_test("disk-size"), "big")
    page.click(by_test("disk-dialog-confirm"))
    expect(page.locator(by_test("disk-dialog-during"))).to_have_text("Creating the disk failed")
    expect(page.locator(by_test("disk-dialog") + " " + by_test("error-sentence"))
           ).to_have_text(documented(["FIELD_TYPE_ERROR", "virtual_size"]))
    page.fill(by_test("disk-size"), "64")
    screenshot(page, "vm-disk-dialog")
    confirm(page, "disk-dialog")
    expect(row(page, "vm-disk", "xvda").locator(by_test("vm-disk-size"))).to_have_text("64 MiB")
    new = api.VBD.get_VDI(vbds_by_device(api, vm)["xvda"])
    assert (api.VDI.get_SR(new), int(api.VDI.get_virtual_size(new)) * 512) == (
        sr, 64 * harness.MIB)

    # An existing disk, under the next free device name.
    page.click(by_test("vm-disk-add"))
    page.select_option(by_test("disk-source"), "existing")
    page.select_option(by_test("disk-vdi"), existing)
    expect(page.locator(by_test("disk-device"))).to_have_value("xvdb")
    confirm(page, "disk-dialog")
    expect(page.locator(by_test("vm-disk"))).to_have_count(2)
    assert api.VBD.get_VDI(vbds_by_device(api, vm)["xvdb"]) == existing

    # Removed: the first with its VDI, the second keeping it.
    row(page, "vm-disk", "xvda").locator(by_test("vm-disk-remove")).click()
    expect(page.locator(by_test("disk-remove-vdi"))).to_be_checked()
    confirm(page, "disk-remove-dialog")
    row(page, "vm-disk", "xvdb").locator(by_test("vm-disk-remove")).click()
    page.uncheck(by_test("disk-remove-vdi"))
    confirm(page, "disk-remove-dialog")
    expect(page.locator(by_test("vm-disk"))).to_have_count(0)
    assert api.VM.get_VBDs(vm) == []
    assert new not in api.VDI.get_all() and existing in api.VDI.get_all()


def test_add_and_remove_a_nic_of_a_running_guest(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.vm_in(api, "Running")
    network = harness.new_network(api)
    harness.new_vif(api, vm, network)
    log_in(page)
    open_vm(page, vm)
    expect(page.locator(by_test("vm-nic"))).to_have_count(1)
    page.click(by_test("vm-nic-add"))
    expect(page.locator(by_test("nic-device"))).to_have_value("eth1")
    page.select_option(by_test("nic-network"), network)
    page.fill(by_test("nic-mac"), "00:16:3e:12:34:56")
    confirm(page, "nic-dialog")
    expect(row(page, "vm-nic", "eth1").locator(by_test("vm-nic-mac"))
           ).to_have_text("00:16:3e:12:34:56")
    [vif] = [v for v in api.VM.get_VIFs(vm) if api.VIF.get_device(v) == "eth1"]
    assert (api.VIF.get_network(vif), api.VIF.get_MAC(vif)) == (network, "00:16:3e:12:34:56")

    row(page, "vm-nic", "eth1").locator(by_test("vm-nic-remove")).click()
    confirm(page, "nic-remove-dialog")
    expect(page.locator(by_test("vm-nic"))).to_have_count(1)
    assert vif not in api.VM.get_VIFs(vm)
    api.VM.hard_shutdown(vm)


def test_insert_change_and_eject_a_cd(tab, ui_daemon, tmp_path):
    page, api = tab.page, ui_daemon.api
    for name in ("one.iso", "two.iso"):
        (tmp_path / name).write_bytes(b"\0" * 2048)
    iso_sr = api.SR.introduce("iso", str(tmp_path), harness.unique("isos"))
    api.SR.scan(iso_sr)
    isos = {api.VDI.get_name_label(v): v for v in api.SR.get_VDIs(iso_sr)}
    one, two = (isos[n] for n in sorted(isos))
    vm = harness.vm_in(api, "Running")
    log_in(page)
    open_vm(page, vm)

    page.click(by_test("vm-cd-insert"))
    page.select_option(by_test("cd-iso"), one)
    confirm(page, "cd-dialog")
    cd = row(page, "vm-disk", "hdc")
    expect(cd.locator(by_test("vm-disk-vdi"))).to_have_text(api.VDI.get_name_label(one))
    drive = vbds_by_device(api, vm)["hdc"]
    assert (api.VBD.get_type(drive), api.VBD.get_mode(drive), api.VBD.get_VDI(drive)) == (
        "CD", "RO", one)

    # The drive the VM has gets the other medium.
    page.click(by_test("vm-cd-insert"))
    page.select_option(by_test("cd-iso"), two)
    confirm(page, "cd-dialog")
    expect(cd.locator(by_test("vm-disk-vdi"))).to_have_text(api.VDI.get_name_label(two))
    assert api.VBD.get_VDI(drive) == two
    screenshot(page, "vm-cd")

    # Ejected: the drive goes, the ISO stays.
    cd.locator(by_test("vm-cd-eject")).click()
    expect(page.locator(by_test("disk-remove-vdi"))).not_to_be_checked()
    confirm(page, "disk-remove-dialog")
    expect(page.locator(by_test("vm-disk"))).to_have_count(0)
    assert api.VM.get_VBDs(vm) == [] and two in api.VDI.get_all()
    api.VM.hard_shutdown(vm)
