"""The bound pairs of §2.2 from both sides, and what deleting a bound object does."""

import pytest
import XenAPI
from harness import failure, new_network, new_sr, new_vbd, new_vdi, new_vif, new_vm, unique

# conftest's ``api``: the SDK over the Unix socket, and its interface over JSON-RPC.
API_TRANSPORTS = ("unix", "jsonrpc")


# -- VBD.VM <-> VM.VBDs, VIF.VM <-> VM.VIFs (one-to-many) ------------------------------------

def test_vbd_vm_from_the_ref_side(api):
    vm1, vm2 = new_vm(api), new_vm(api)
    vbd = new_vbd(api, vm1, new_vdi(api, new_sr(api)))
    assert api.VM.get_VBDs(vm1) == [vbd]
    assert api.VBD.set_VM(vbd, vm2) == ""
    assert api.VM.get_VBDs(vm1) == []
    assert api.VM.get_VBDs(vm2) == [vbd]
    assert api.VM.get_record(vm2)["VBDs"] == [vbd]
    assert api.VBD.get_VM(vbd) == vm2


def test_vbd_vm_from_the_set_side(api):
    vm1, vm2 = new_vm(api), new_vm(api)
    vbd = new_vbd(api, vm1, new_vdi(api, new_sr(api)))
    assert api.VM.add_to_VBDs(vm2, vbd) == ""
    assert api.VBD.get_VM(vbd) == vm2
    assert api.VM.get_VBDs(vm1) == []
    assert api.VM.get_VBDs(vm2) == [vbd]
    assert api.VM.add_to_VBDs(vm2, vbd) == ""          # already there: no change
    assert api.VM.get_VBDs(vm2) == [vbd]


def test_vbd_vm_remove_from_the_set_side_is_refused(api):
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    d = failure(api.VM.remove_from_VBDs, vm, vbd)
    assert d[0] == "OPERATION_NOT_ALLOWED" and len(d) == 2
    assert api.VBD.get_VM(vbd) == vm
    assert api.VM.get_VBDs(vm) == [vbd]


def test_vbd_vm_set_side_add_of_another_class_is_handle_invalid(api):
    vm = new_vm(api)
    vif = new_vif(api, vm, new_network(api))
    assert failure(api.VM.add_to_VBDs, vm, vif) == ["HANDLE_INVALID", "VBD", vif]
    assert failure(api.VBD.set_VM, new_vbd(api, vm, new_vdi(api, new_sr(api))), vif) == [
        "HANDLE_INVALID", "VM", vif]


def test_required_ref_cannot_be_set_to_null(api):
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    for null in ("", "OpaqueRef:NULL"):
        assert failure(api.VBD.set_VM, vbd, null)[0] in ("HANDLE_INVALID",
                                                         "OPERATION_NOT_ALLOWED")
    assert api.VBD.get_VM(vbd) == vm


def test_vif_vm_both_sides(api):
    vm1, vm2 = new_vm(api), new_vm(api)
    net = new_network(api)
    vif = new_vif(api, vm1, net)
    assert api.VM.get_VIFs(vm1) == [vif]
    api.VIF.set_VM(vif, vm2)
    assert api.VM.get_VIFs(vm1) == [] and api.VM.get_VIFs(vm2) == [vif]
    api.VM.add_to_VIFs(vm1, vif)
    assert api.VIF.get_VM(vif) == vm1
    assert api.VM.get_VIFs(vm2) == [] and api.VM.get_VIFs(vm1) == [vif]
    assert failure(api.VM.remove_from_VIFs, vm1, vif)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VIF.get_VM(vif) == vm1


def test_vm_constructor_with_vbds_and_vifs_takes_them_over(api):
    old = new_vm(api)
    vbd = new_vbd(api, old, new_vdi(api, new_sr(api)))
    vif = new_vif(api, old, new_network(api))
    vm = api.VM.create({"name_label": unique(), "VBDs": [vbd], "VIFs": [vif]})
    assert api.VBD.get_VM(vbd) == vm and api.VIF.get_VM(vif) == vm
    assert api.VM.get_VBDs(old) == [] and api.VM.get_VIFs(old) == []


# -- VIF.network <-> network.VIFs --------------------------------------------------------------

def test_network_other_config_of_1_0(api, v10):
    net = new_network(api, other_config={"purpose": "tests"})
    api.network.add_to_other_config(net, "k", "v")
    assert api.network.get_other_config(net) == {"purpose": "tests", "k": "v"}
    api.network.remove_from_other_config(net, "purpose")
    assert v10.network.get_record(net)["other_config"] == {"k": "v"}


def test_vif_network_both_sides(api):
    n1, n2 = new_network(api), new_network(api)
    vm = new_vm(api)
    vif = new_vif(api, vm, n1)
    other = new_vif(api, vm, n1)
    assert sorted(api.network.get_VIFs(n1)) == sorted([vif, other])
    api.VIF.set_network(vif, n2)
    assert api.network.get_VIFs(n1) == [other]
    assert api.network.get_VIFs(n2) == [vif]
    api.network.add_to_VIFs(n2, other)
    assert api.VIF.get_network(other) == n2
    assert api.network.get_VIFs(n1) == []
    assert failure(api.network.remove_from_VIFs, n2, vif)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VIF.get_network(vif) == n2
    assert api.network.get_record(n2)["VIFs"] and sorted(api.network.get_record(n2)[
        "VIFs"]) == sorted([vif, other])


# -- VDI.SR <-> SR.VDIs (many-to-one) and VBD.VDI <-> VDI.VBDs ---------------------------------

def test_vdi_sr_both_sides(api):
    """VDI.SR is RW in §2.12, but this daemon keeps an image in its SR's directory and
    refuses to move it (reported as a deviation). Either way both sides must agree."""
    s1, s2 = new_sr(api), new_sr(api)
    vdi = new_vdi(api, s1)
    other = new_vdi(api, s1)
    assert sorted(api.SR.get_VDIs(s1)) == sorted([vdi, other])
    assert api.VDI.get_SR(vdi) == s1
    for move in (lambda: api.VDI.set_SR(vdi, s2), lambda: api.SR.add_to_VDIs(s2, vdi)):
        try:
            move()
            moved = True
        except XenAPI.Failure as e:
            assert e.details[0] == "OPERATION_NOT_ALLOWED", e.details
            moved = False
        where = s2 if moved else s1
        assert api.VDI.get_SR(vdi) == where
        assert vdi in api.SR.get_VDIs(where)
        assert vdi not in api.SR.get_VDIs(s1 if moved else s2)
        if moved:
            api.VDI.set_SR(vdi, s1)
    assert failure(api.SR.remove_from_VDIs, s1, vdi)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VDI.get_SR(vdi) == s1
    assert api.SR.get_record(s1)["VDIs"] and sorted(api.SR.get_record(s1)["VDIs"]) == \
        sorted([vdi, other])


def test_vbd_vdi_both_sides(api):
    sr = new_sr(api)
    d1, d2 = new_vdi(api, sr), new_vdi(api, sr)
    vbd = new_vbd(api, new_vm(api), d1)
    assert api.VDI.get_VBDs(d1) == [vbd]
    api.VBD.set_VDI(vbd, d2)
    assert api.VDI.get_VBDs(d1) == [] and api.VDI.get_VBDs(d2) == [vbd]
    api.VDI.add_to_VBDs(d1, vbd)
    assert api.VBD.get_VDI(vbd) == d1 and api.VDI.get_VBDs(d2) == []
    assert failure(api.VDI.remove_from_VBDs, d1, vbd)[0] == "OPERATION_NOT_ALLOWED"
    assert api.VBD.get_VDI(vbd) == d1


def test_remove_from_a_set_that_does_not_hold_it_changes_nothing(api):
    vm1, vm2 = new_vm(api), new_vm(api)
    vbd = new_vbd(api, vm1, new_vdi(api, new_sr(api)))
    assert api.VM.remove_from_VBDs(vm2, vbd) == ""
    assert api.VBD.get_VM(vbd) == vm1 and api.VM.get_VBDs(vm1) == [vbd]


# -- VDI.parent <-> VDI.children (both RO_ins) ---------------------------------------------------

def test_vdi_parent_children_via_snapshot(api):
    sr = new_sr(api)
    base = new_vdi(api, sr)
    snap = api.VDI.snapshot(base)
    snap2 = api.VDI.snapshot(base)
    grand = api.VDI.snapshot(snap)
    assert api.VDI.get_parent(snap) == base and api.VDI.get_parent(snap2) == base
    assert api.VDI.get_parent(grand) == snap
    assert sorted(api.VDI.get_children(base)) == sorted([snap, snap2])
    assert api.VDI.get_children(snap) == [grand]
    assert api.VDI.get_record(base)["children"] and sorted(
        api.VDI.get_record(base)["children"]) == sorted([snap, snap2])
    assert api.VDI.get_parent(base) == ""
    assert api.VDI.get_children(grand) == []
    assert failure(api.VDI.set_parent, snap, "") == ["FIELD_READ_ONLY", "parent"]
    assert failure(api.VDI.add_to_children, base, grand) == ["FIELD_READ_ONLY", "children"]
    assert failure(api.VDI.remove_from_children, base, snap) == [
        "FIELD_READ_ONLY", "children"]
    assert api.VDI.get_parent(grand) == snap


def test_vdi_parent_given_to_the_constructor(api):
    """parent is RO_ins: given at creation. The daemon makes parents only by snapshot
    and refuses one here; if it is accepted, both sides must show it."""
    sr = new_sr(api)
    base = new_vdi(api, sr)
    try:
        child = api.VDI.create({"SR": sr, "virtual_size": "10", "parent": base})
    except XenAPI.Failure as e:
        assert e.details[:2] == ["INVALID_VALUE", "parent"]
        assert api.VDI.get_children(base) == []
    else:
        assert api.VDI.get_parent(child) == base
        assert api.VDI.get_children(base) == [child]


@pytest.mark.parametrize("null", ["", "OpaqueRef:NULL"])
def test_vdi_null_parent_accepted(api, null):
    vdi = api.VDI.create({"SR": new_sr(api), "virtual_size": "1", "parent": null})
    assert api.VDI.get_parent(vdi) == ""


def test_vdi_create_does_not_reparent_an_existing_vdi(api):
    """(VDI.create with children used to re-point x's RO_ins parent.)"""
    sr = new_sr(api)
    p = new_vdi(api, sr)
    x = api.VDI.snapshot(p)
    assert api.VDI.get_parent(x) == p
    try:
        api.VDI.create({"SR": sr, "virtual_size": "1", "children": [x]})
    except XenAPI.Failure:
        pass
    assert api.VDI.get_parent(x) == p
    assert api.VDI.get_children(p) == [x]
    assert failure(api.VDI.delete, p)[0] == "OBJECT_IN_USE"


def test_vdi_parent_cycle_is_refused(api):
    sr = new_sr(api)
    a = new_vdi(api, sr)
    d = failure(api.VDI.create, {"SR": sr, "virtual_size": "1", "parent": a,
                                 "children": [a]})
    assert d[0] in ("INVALID_VALUE", "OPERATION_NOT_ALLOWED", "FIELD_READ_ONLY")
    assert api.VDI.get_parent(a) == ""
    assert api.VDI.get_children(a) == []


# -- host.resident_VMs <-> VM.resident_on, host.host_CPUs <-> host_cpu.host ------------------------

def test_resident_vms_follow_start_and_shutdown(api, host):
    vm = new_vm(api)
    assert api.VM.get_resident_on(vm) == ""
    assert vm not in api.host.get_resident_VMs(host)
    api.VM.start(vm, False)
    try:
        assert api.VM.get_resident_on(vm) == host
        assert vm in api.host.get_resident_VMs(host)
        assert vm in api.host.get_record(host)["resident_VMs"]
    finally:
        api.VM.hard_shutdown(vm)
    assert api.VM.get_resident_on(vm) == ""
    assert vm not in api.host.get_resident_VMs(host)


def test_resident_fields_are_read_only_on_both_sides(api, host):
    vm = new_vm(api)
    assert failure(api.VM.set_resident_on, vm, host) == ["FIELD_READ_ONLY", "resident_on"]
    assert failure(api.host.add_to_resident_VMs, host, vm) == [
        "FIELD_READ_ONLY", "resident_VMs"]
    assert failure(api.host.remove_from_resident_VMs, host, vm) == [
        "FIELD_READ_ONLY", "resident_VMs"]


def test_host_cpus_both_sides(api, host):
    cpus = api.host.get_host_CPUs(host)
    assert sorted(cpus) == sorted(api.host_cpu.get_all())
    for cpu in cpus:
        assert api.host_cpu.get_host(cpu) == host
    assert failure(api.host_cpu.set_host, cpus[0], host) == ["FIELD_READ_ONLY", "host"]
    assert failure(api.host.add_to_host_CPUs, host, cpus[0]) == ["FIELD_READ_ONLY",
                                                                 "host_CPUs"]


# -- delete rules -----------------------------------------------------------------------------

def test_deleting_an_sr_with_vdis_is_object_in_use(api):
    sr = new_sr(api)
    vdi = new_vdi(api, sr)
    d = failure(api.SR.delete, sr)
    assert d == ["OBJECT_IN_USE", "SR", sr, "VDI", vdi]
    assert sr in api.SR.get_all() and api.SR.get_VDIs(sr) == [vdi]
    api.VDI.delete(vdi)
    assert api.SR.get_VDIs(sr) == []
    assert api.SR.delete(sr) == ""
    assert sr not in api.SR.get_all()


def test_deleting_a_vdi_with_vbds_is_object_in_use(api):
    vdi = new_vdi(api, new_sr(api))
    vbd = new_vbd(api, new_vm(api), vdi)
    assert failure(api.VDI.destroy, vdi) == ["OBJECT_IN_USE", "VDI", vdi, "VBD", vbd]
    assert vdi in api.VDI.get_all() and api.VBD.get_VDI(vbd) == vdi


def test_deleting_a_vdi_with_children_is_object_in_use(api):
    sr = new_sr(api)
    base = new_vdi(api, sr)
    snap = api.VDI.snapshot(base)
    assert failure(api.VDI.delete, base) == ["OBJECT_IN_USE", "VDI", base, "VDI", snap]
    assert api.VDI.get_parent(snap) == base
    api.VDI.delete(snap)
    assert api.VDI.get_children(base) == []
    api.VDI.delete(base)
    assert api.SR.get_VDIs(sr) == []


def test_deleting_a_network_with_vifs_is_object_in_use(api):
    net = new_network(api)
    vif = new_vif(api, new_vm(api), net)
    assert failure(api.network.delete, net) == ["OBJECT_IN_USE", "network", net, "VIF", vif]
    assert api.VIF.get_network(vif) == net
    api.VIF.delete(vif)
    assert api.network.delete(net) == ""


def test_object_in_use_names_every_holder(api):
    sr = new_sr(api)
    vdis = sorted([new_vdi(api, sr), new_vdi(api, sr), new_vdi(api, sr)])
    d = failure(api.SR.delete, sr)
    assert d[:4] == ["OBJECT_IN_USE", "SR", sr, "VDI"]
    assert sorted(d[4].split(",")) == vdis


def test_deleting_a_vm_deletes_its_vbds_and_vifs(api):
    vm = new_vm(api)
    sr = new_sr(api)
    vdis = [new_vdi(api, sr), new_vdi(api, sr)]
    vbds = [new_vbd(api, vm, d) for d in vdis]
    net = new_network(api)
    vifs = [new_vif(api, vm, net), new_vif(api, vm, net)]
    keep_vm = new_vm(api)
    keep_vbd = new_vbd(api, keep_vm, vdis[0])
    keep_vif = new_vif(api, keep_vm, net)
    assert api.VM.delete(vm) == ""
    all_vbds, all_vifs = api.VBD.get_all(), api.VIF.get_all()
    for x in vbds:
        assert x not in all_vbds
        assert failure(api.VBD.get_record, x) == ["HANDLE_INVALID", "VBD", x]
    for x in vifs:
        assert x not in all_vifs
    assert api.VDI.get_VBDs(vdis[0]) == [keep_vbd]
    assert api.VDI.get_VBDs(vdis[1]) == []
    assert api.network.get_VIFs(net) == [keep_vif]
    assert sorted(api.SR.get_VDIs(sr)) == sorted(vdis)       # the disks themselves stay
    assert api.VM.get_VBDs(keep_vm) == [keep_vbd]


def test_deleting_a_running_vm_is_refused_and_keeps_its_devices(api):
    vm = new_vm(api)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    api.VM.start(vm, False)
    try:
        d = failure(api.VM.delete, vm)
        assert d == ["VM_BAD_POWER_STATE", vm, "Halted", "Running"]
        assert api.VM.get_VBDs(vm) == [vbd]
    finally:
        api.VM.hard_shutdown(vm)
    api.VM.delete(vm)
    assert vbd not in api.VBD.get_all()


def test_deleting_a_vbd_removes_it_from_vdi_and_vm(api):
    vm = new_vm(api)
    vdi = new_vdi(api, new_sr(api))
    vbd = new_vbd(api, vm, vdi)
    other = new_vbd(api, vm, vdi)
    assert api.VBD.delete(vbd) == ""
    assert api.VDI.get_VBDs(vdi) == [other]
    assert api.VM.get_VBDs(vm) == [other]
    assert api.VDI.get_record(vdi)["VBDs"] == [other]
    assert api.VM.get_record(vm)["VBDs"] == [other]


def test_deleting_a_vif_removes_it_from_vm_and_network(api):
    vm, net = new_vm(api), new_network(api)
    vif = new_vif(api, vm, net)
    api.VIF.destroy(vif)
    assert api.VM.get_VIFs(vm) == [] and api.network.get_VIFs(net) == []


def test_deleting_a_vdi_removes_it_from_sr_and_parent(api):
    sr = new_sr(api)
    base = new_vdi(api, sr)
    snap = api.VDI.snapshot(base)
    api.VDI.delete(snap)
    assert api.SR.get_VDIs(sr) == [base]
    assert api.VDI.get_children(base) == []


def test_a_template_can_be_deleted(api):
    vm = new_vm(api, is_a_template=True)
    vbd = new_vbd(api, vm, new_vdi(api, new_sr(api)))
    assert api.VM.delete(vm) == ""
    assert vbd not in api.VBD.get_all()
