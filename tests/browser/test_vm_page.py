"""The VM page (#/vm/<ref>) in a real browser against the real daemon: its record,
devices and consoles, edits in place, lifecycle buttons enabled by the lifecycle table
with their reasons when disabled, operations run as tasks whose outcome shows, and
another client's changes followed without a reload (docs/ui.md, "The VM page")."""

import harness
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect
from vmpage import documented, open_vm, task_line

from xen.xend.api import lifecycle


def test_the_page_shows_the_record_disks_nics_and_edits_in_place(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api, name_description="a described VM")
    vdi = harness.new_vdi(api)
    harness.new_vbd(api, vm, vdi, device="xvdb")
    vif = harness.new_vif(api, vm, harness.new_network(api))
    log_in(page)
    open_vm(page, vm)
    expect(page.locator(by_test("vm-name"))).to_have_text(api.VM.get_name_label(vm))
    expect(page.locator(by_test("vm-description"))).to_have_text("a described VM")
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")
    expect(page.locator(by_test("vm-field-uuid"))).to_have_text(api.VM.get_uuid(vm))
    disk = page.locator(by_test("vm-disk"))
    expect(disk.locator(by_test("vm-disk-device"))).to_have_text("xvdb")
    expect(disk.locator(by_test("vm-disk-vdi"))).to_have_text(api.VDI.get_name_label(vdi))
    expect(disk.locator(by_test("vm-disk-mode"))).to_have_text("RW")
    expect(disk.locator(by_test("vm-disk-size"))).to_have_text("16 MiB")
    expect(page.locator(by_test("vm-nic-mac"))).to_have_text(api.VIF.get_MAC(vif))
    screenshot(page, "vm-page")

    # The name, edited in place, is the VM's; another client's description shows.
    page.click(by_test("vm-name"))
    renamed = harness.unique("edited")
    page.fill(by_test("vm-name-input"), renamed)
    page.press(by_test("vm-name-input"), "Enter")
    harness.wait_until(lambda: api.VM.get_name_label(vm) == renamed, harness.STATE_WAIT,
                       "the name typed in the page")
    api.VM.set_name_description(vm, "described elsewhere")
    expect(page.locator(by_test("vm-description"))).to_have_text("described elsewhere")
    # A NIC another client adds appears.
    harness.new_vif(api, vm, harness.new_network(api), device="eth1")
    expect(page.locator(by_test("vm-nic"))).to_have_count(2)
    assert tab.errors == []


def test_buttons_follow_the_lifecycle_table_and_say_why_they_are_disabled(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api)
    log_in(page)
    open_vm(page, vm)
    page.evaluate("window.notReloaded = true")
    ops = page.locator(by_test("vm-actions") + " button[data-op]")
    expect(page.locator(by_test("vm-op-start"))).to_be_enabled()

    def check(state):
        expect(page.locator(by_test("vm-power"))).to_have_text(state)
        for op in ops.evaluate_all("buttons => buttons.map(b => b.dataset.op)"):
            button = page.locator(by_test("vm-op-" + op))
            states = [s for (s, o) in lifecycle.TABLE if o == op]
            if state in states:
                expect(button).to_be_enabled()
            else:
                expect(button).to_be_disabled()
                expect(button).to_have_attribute(
                    "title", "allowed only when " + " or ".join(states))

    check("Halted")
    page.click(by_test("vm-op-start"))
    expect(task_line(page, "Start").locator(by_test("vm-task-status"))).to_have_text("success")
    check("Running")
    # The guest's console is offered once it runs, as a link to the console view.
    expect(page.locator(by_test("vm-console-link")).first).to_have_attribute(
        "href", "#/console/" + vm)
    api.VM.pause(vm)                  # another client
    check("Paused")
    screenshot(page, "vm-page-paused")
    api.VM.unpause(vm)
    check("Running")
    page.click(by_test("vm-op-hard_shutdown"))
    check("Halted")
    assert api.VM.get_power_state(vm) == "Halted"
    assert page.evaluate("window.notReloaded") is True


def test_a_start_the_backend_refuses_shows_its_code_and_sentence(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    # A kernel that is not there: the sim backend refuses it as QEMU would.
    vm = harness.new_vm(api, boot_method="kernel_external", kernel_kernel="/nonexistent/vmlinuz")
    log_in(page)
    open_vm(page, vm)
    page.click(by_test("vm-op-start"))
    line = task_line(page, "Start")
    expect(line.locator(by_test("vm-task-status"))).to_have_text("failure")
    error_info = api.task.get_error_info(line.get_attribute("data-ref"))
    expect(line.locator(by_test("error-code"))).to_have_text(error_info[0])
    expect(line.locator(by_test("error-sentence"))).to_have_text(documented(error_info))
    expect(line.locator(by_test("vm-task-cancel"))).to_have_count(0)
    expect(page.locator(by_test("vm-power"))).to_have_text("Halted")


def new_vm_through_the_dialog(page, name, disk_mib, network_name):
    """Fill the New VM dialog from scratch: 512 MiB, 2 vCPUs, a disk of ``disk_mib``
    in the first SR, a NIC on the network named ``network_name``; and confirm."""
    page.click(by_test("nav-vms"))
    page.click(by_test("vm-new"))
    dialog = page.locator(by_test("new-vm"))
    dialog.locator(by_test("new-name")).fill(name)
    dialog.locator(by_test("new-memory")).fill("512")
    dialog.locator(by_test("new-vcpus")).fill("2")
    dialog.locator(by_test("new-disk-size")).fill(str(disk_mib))
    dialog.locator(by_test("new-network")).select_option(label=network_name)
    screenshot(page, "vm-new-dialog")
    dialog.locator(by_test("new-vm-confirm")).click()
    return dialog


def test_create_from_scratch_clone_and_delete_with_its_disk(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    network = harness.new_network(api)
    log_in(page)
    name = harness.unique("made")
    dialog = new_vm_through_the_dialog(page, name, 64, api.network.get_name_label(network))
    expect(dialog).to_have_count(0)
    row = page.locator(by_test("vm-row")).filter(has_text=name)
    expect(row.locator(by_test("vm-power"))).to_have_text("Halted")
    [vm] = api.VM.get_by_name_label(name)
    record = api.VM.get_record(vm)
    assert (record["memory_static_max"], record["VCPUs_max"]) == (str(512 * harness.MIB), "2")
    [vbd] = record["VBDs"]
    vdi = api.VBD.get_VDI(vbd)
    assert int(api.VDI.get_virtual_size(vdi)) * 512 == 64 * harness.MIB   # the draft's sectors
    [vif] = record["VIFs"]
    assert api.VIF.get_network(vif) == network

    # Clone it from its page: the task's link leads to the clone.
    row.locator(by_test("vm-name")).click()
    page.click(by_test("vm-op-clone"))
    page.fill(by_test("clone-name"), name + "-clone")
    page.click(by_test("clone-dialog-confirm"))
    expect(task_line(page, "Clone").locator(by_test("vm-task-status"))).to_have_text("success")
    page.click(by_test("vm-clone-link"))
    expect(page.locator(by_test("vm-name"))).to_have_text(name + "-clone")
    [clone] = api.VM.get_by_name_label(name + "-clone")
    clone_vdi = api.VBD.get_VDI(api.VM.get_VBDs(clone)[0])

    # Delete the clone: the dialog lists the VM and its own disk, ticked.
    page.click(by_test("vm-op-delete"))
    expect(page.locator(by_test("delete-vm"))).to_contain_text(name + "-clone")
    box = page.locator(by_test("delete-vdi"))
    expect(box).to_have_count(1)
    expect(box).to_have_attribute("data-ref", clone_vdi)
    expect(box).to_be_checked()
    screenshot(page, "vm-delete-dialog")
    page.click(by_test("delete-dialog-confirm"))
    expect(page.locator(by_test("vm-list"))).to_be_visible()
    harness.wait_until(lambda: clone not in api.VM.get_all(), harness.STATE_WAIT, "the VM gone")
    assert clone_vdi not in api.VDI.get_all()
    assert vdi in api.VDI.get_all()          # the original's disk is its own


def test_a_failed_step_of_new_vm_is_shown_and_what_it_made_removed(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    network = harness.new_network(api)
    log_in(page)
    name = harness.unique("toobig")
    vdis = set(api.VDI.get_all())
    # A disk larger than any SR holds: VDI.create refuses it after VM.create made the VM.
    dialog = new_vm_through_the_dialog(page, name, 10 ** 10, api.network.get_name_label(network))
    expect(dialog.locator(by_test("new-vm-during"))).to_have_text("Creating the disk failed")
    expect(dialog.locator(by_test("error-code"))).to_have_text("INVALID_VALUE")
    expect(dialog.locator(by_test("error-sentence"))).to_contain_text("virtual_size")
    screenshot(page, "vm-new-failed")
    harness.wait_until(lambda: not api.VM.get_by_name_label(name), harness.STATE_WAIT,
                       "the VM made before the failure removed")
    assert set(api.VDI.get_all()) == vdis


def test_delete_keeps_a_shared_disk_and_an_unticked_one(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    vm, other = harness.new_vm(api), harness.new_vm(api)
    shared = harness.new_vdi(api, sharable=True)
    private = harness.new_vdi(api)
    harness.new_vbd(api, vm, shared, device="xvda")
    harness.new_vbd(api, other, shared, device="xvda")
    harness.new_vbd(api, vm, private, device="xvdb")
    log_in(page)
    open_vm(page, vm)
    page.click(by_test("vm-op-delete"))
    expect(page.locator(by_test("delete-kept"))).to_have_attribute("data-ref", shared)
    box = page.locator(by_test("delete-vdi"))
    expect(box).to_have_attribute("data-ref", private)
    box.uncheck()
    page.click(by_test("delete-dialog-confirm"))
    expect(page.locator(by_test("vm-list"))).to_be_visible()
    harness.wait_until(lambda: vm not in api.VM.get_all(), harness.STATE_WAIT, "the VM gone")
    assert {shared, private} <= set(api.VDI.get_all())
    assert api.VM.get_VBDs(other)


def test_new_vm_from_a_template_booting_an_iso(tab, ui_daemon, tmp_path):
    page, api = tab.page, ui_daemon.api
    with open(tmp_path / "installer.iso", "wb") as f:
        f.write(b"\0" * 2048)
    iso_sr = api.SR.introduce("iso", str(tmp_path), harness.unique("isos"))
    api.SR.scan(iso_sr)
    [iso] = api.SR.get_VDIs(iso_sr)
    template = harness.new_vm(api, is_a_template=True)
    log_in(page)
    page.click(by_test("nav-vms"))
    page.click(by_test("vm-new"))
    dialog = page.locator(by_test("new-vm"))
    dialog.locator(by_test("new-source")).select_option(template)
    name = harness.unique("installed")
    dialog.locator(by_test("new-name")).fill(name)
    dialog.locator(by_test("new-memory")).fill("128")
    dialog.locator(by_test("new-boot")).select_option("iso")
    dialog.locator(by_test("new-iso")).select_option(iso)
    dialog.locator(by_test("new-disk-size")).fill("0")
    dialog.locator(by_test("new-vm-confirm")).click()
    expect(dialog).to_have_count(0)
    [vm] = api.VM.get_by_name_label(name)
    record = api.VM.get_record(vm)
    assert not record["is_a_template"] and api.VM.get_is_a_template(template)
    assert record["memory_static_max"] == str(128 * harness.MIB)
    [vbd] = record["VBDs"]
    assert (api.VBD.get_VDI(vbd), api.VBD.get_type(vbd), api.VBD.get_mode(vbd)) == (iso, "CD", "RO")
    assert record["VIFs"] == []


def test_a_call_refused_before_any_task_shows_its_code_and_sentence(tab, ui_daemon):
    # The lifecycle table allows a start when Halted; dispatch refuses it on a disabled
    # host before any task is made.
    page, api = tab.page, ui_daemon.api
    vm = harness.new_vm(api)
    host = api.host.get_all()[0]
    log_in(page)
    open_vm(page, vm)
    api.host.disable(host)
    try:
        refusal = harness.failure(api.VM.start, vm, False)
        page.click(by_test("vm-op-start"))
        expect(page.locator(by_test("error-code"))).to_have_text(refusal[0])
        expect(page.locator(by_test("error-sentence"))).to_have_text(documented(refusal))
        expect(page.locator(by_test("vm-task"))).to_have_count(0)
    finally:
        api.host.enable(host)
    api.VM.destroy(vm)


def test_a_template_offers_only_clone_and_delete(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    template = harness.new_vm(api, is_a_template=True)
    assert harness.failure(api.VM.start, template, False)[0] == "VM_IS_TEMPLATE"
    log_in(page)
    open_vm(page, template)
    for op in ("start", "start_paused"):
        expect(page.locator(by_test("vm-op-" + op))).to_be_disabled()
        expect(page.locator(by_test("vm-op-" + op))).to_have_attribute(
            "title", "a template is only cloned or deleted")
    for op in ("clone", "delete"):
        expect(page.locator(by_test("vm-op-" + op))).to_be_enabled()
    api.VM.destroy(template)


def test_new_vm_booting_a_kernel_starts(tab, ui_daemon, tmp_path):
    page, api = tab.page, ui_daemon.api
    kernel, ramdisk = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"\0" * 4096)
    ramdisk.write_bytes(b"\0" * 4096)
    log_in(page)
    page.click(by_test("nav-vms"))
    page.click(by_test("vm-new"))
    dialog = page.locator(by_test("new-vm"))
    name = harness.unique("kernel")
    dialog.locator(by_test("new-name")).fill(name)
    dialog.locator(by_test("new-boot")).select_option("kernel")
    dialog.locator(by_test("new-kernel")).fill(str(kernel))
    dialog.locator(by_test("new-ramdisk")).fill(str(ramdisk))
    dialog.locator(by_test("new-args")).fill("console=ttyS0 quiet")
    dialog.locator(by_test("new-disk-size")).fill("0")
    dialog.locator(by_test("new-vm-confirm")).click()
    expect(dialog).to_have_count(0)
    [vm] = api.VM.get_by_name_label(name)
    assert (api.VM.get_PV_kernel(vm), api.VM.get_PV_ramdisk(vm), api.VM.get_PV_args(vm)) == \
        (str(kernel), str(ramdisk), "console=ttyS0 quiet")
    open_vm(page, vm)
    page.click(by_test("vm-op-start"))
    expect(page.locator(by_test("vm-power"))).to_have_text("Running")
    api.VM.hard_shutdown(vm)
    api.VM.destroy(vm)
