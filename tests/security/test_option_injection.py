"""Record values cannot add options to what a hypervisor is given.

In process, on a real daemon object (sim backend, no listeners): every String field of
every class a guest is built from is given, through the API, values with the separators
of xl's and QEMU's option syntax; the DomainSpec the daemon builds from the records then
goes through both builders (backend/xen/config.py, backend/qemu/argv.py). Each value is
refused (a Failure from the API, or a BackendError from a builder), or it gives an xl
configuration and a QEMU command line with exactly the keys of a harmless value: no xl
setting, disk or NIC entry, and no QEMU option gains a key (such as xl's ``script=``,
which runs a program in dom0 as root)."""

import itertools
import json
import re

import pytest
from harness import ROOT_PEER as ROOT
from harness import files_by_name

from xen.xend.api import datamodel, types
from xen.xend.backend.base import BackendError
from xen.xend.backend.qemu.argv import build_argv
from xen.xend.backend.xen import config as xl_config
from xen.xend.daemon import config as configmod
from xen.xend.daemon.app import Xend

MIB = 1024 * 1024

# The classes whose records the domain owner builds a DomainSpec from.
CLASSES = ("VM", "VBD", "VDI", "SR", "VIF", "network")

# Separators of xl's disk and vif specs and configuration file, and of QEMU's options.
SEPARATORS = (",", "=", '"', "\n", ";", " ")

# A harmless value of each field whose value has a form of its own ("": a directory of
# the test's own); "x" for the others.
# The value the test changes is this one with a separator and a key after it, or with
# a separator at its end.
BASE = {"VM.builder": "hvm", "VM.platform_serial": "pty", "VM.bios_cdrom": "/srv/cd.iso",
        "VM.kernel_kernel": "/boot/vmlinuz", "VM.kernel_initrd": "/boot/initrd.img",
        "VM.kernel_args": "root=/dev/xvda", "VBD.device": "xvda", "VIF.device": "eth0",
        "VIF.MAC": "02:ff:00:00:00:01", "SR.location": "",
        "network.NIC": "xenbr0", "network.VLAN": "5", "network.default_gateway": "10.0.0.1",
        "network.default_netmask": "255.255.255.0", "SR.type": "dir", "VIF.model": "e1000",
        "VM.VCPUs_params": "weight=256 cpumap0=0"}

# The fields read only where the VM boots a kernel of its own: such a VM boots one.
KERNEL_FIELDS = ("kernel_kernel", "kernel_initrd", "kernel_args")

# QEMU options whose value is a word of its own, never split into keys.
OPAQUE = ("-kernel", "-initrd", "-append", "-uuid")


# String fields that hold only a few fixed values (refused otherwise) and reach no backend.
FIXED_VALUES = {("SR", "content_type"), ("VBD", "qos_algorithm_type"),
                ("VIF", "qos_algorithm_type"), ("VM", "ha_restart_priority")}


def string_fields():
    """The writable String fields; not a 1.0 name of a draft field (same_as): what it
    writes is the draft field's value, whose own case here covers it."""
    return [(cls, f.wire) for cls in CLASSES for f in datamodel.CLASSES[cls].fields_for("0.2")
            if f.type is types.String and f.qual != datamodel.RO_RUN and f.same_as is None
            and (cls, f.wire) not in FIXED_VALUES]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    cfg = configmod.load(None, {"state_dir": str(tmp_path_factory.mktemp("state")),
                                "backend": "sim", "socket": "none", "listen": "none"})
    app = Xend(cfg)
    try:
        app.test_session = app.sessions.login("root", "", "", ROOT)
        app.test_dir = tmp_path_factory.mktemp("srs")
        app.test_count = itertools.count(1)
        yield app
    finally:
        app.close()


class Refused(Exception):
    """The API answered a Failure; its argument is the ErrorDescription."""


def call(app, name, *args):
    reply = app.dispatcher.dispatch(name, (app.test_session,) + args, ROOT)
    if reply["Status"] != "Success":
        # Bad input is named in a structured Failure, never an internal error.
        assert reply["ErrorDescription"][0] != "INTERNAL_ERROR", reply
        raise Refused(reply["ErrorDescription"])
    return reply["Value"]


def make_vm(app, cls, wire, value):
    """A VM with a disk and a NIC, each object made with field ``cls.wire`` = ``value``
    and the others harmless; the VM's ref."""
    n = next(app.test_count)

    def record(name, fields):
        return dict(fields, **({wire: value} if name == cls else {}))

    sr = call(app, "SR.create", record("SR", {"name_label": "sr",
                                              "location": str(app.test_dir / ("sr%d" % n))}))
    vdi = call(app, "VDI.create", record("VDI", {"SR": sr, "name_label": "disk",
                                                 "virtual_size": "2048"}))
    vm_fields = {"name_label": "vm", "memory_static_max": str(256 * MIB),
                 "memory_dynamic_max": str(256 * MIB), "memory_dynamic_min": str(256 * MIB),
                 "memory_static_min": str(16 * MIB)}
    if cls == "VM" and wire in KERNEL_FIELDS:
        vm_fields.update(boot_method="kernel_external", kernel_kernel="/boot/vmlinuz")
    vm = call(app, "VM.create", record("VM", vm_fields))
    call(app, "VBD.create", record("VBD", {"VM": vm, "VDI": vdi, "device": "xvda",
                                           "mode": "RW", "driver": "paravirtualised"}))
    net = call(app, "network.create", record("network", {"name_label": "net"}))
    mac = "02:00:00:%02x:%02x:%02x" % (n >> 16 & 255, n >> 8 & 255, n & 255)
    call(app, "VIF.create", record("VIF", {"VM": vm, "network": net, "device": "eth0",
                                           "MAC": mac}))
    return vm


def entry_keys(entry):
    """The keys of one xl disk or vif entry; xl takes all after ``target=`` as the path."""
    head = entry.partition(",target=")[0]
    return [item.partition("=")[0] for item in re.split(r"[,\s]+", head)]


def xl_shape(text):
    """The keys of an xl configuration: each setting's, and each disk's and NIC's, as
    a set of (setting, what it holds)."""
    shape = []
    for line in text.split("\n")[:-1]:
        key, sep, value = line.partition(" = ")
        assert sep and re.fullmatch(r"\w+", key), line
        if value.startswith("["):
            shape.append((key, tuple(tuple(entry_keys(e))
                                     for e in re.findall(r'"([^"]*)"', value))))
        else:
            shape.append((key, value.count('"')))
    assert len({key for key, _ in shape}) == len(shape), text
    return set(shape)


def qemu_shape(argv):
    """The keys of each QEMU argument: a JSON object's, or the key=value parts' (",,"
    is a comma inside a value); a part with no "=" counts as itself."""
    shape = []
    for before, word in zip([""] + argv, argv):
        if before in OPAQUE:
            shape.append("value")
        elif word.startswith("{"):
            shape.append(sorted(json.loads(word)))
        else:
            shape.append([part.partition("=")[0]
                          for part in word.replace(",,", "\0").split(",")])
    return shape


def shapes(app, vm):
    """(xl shape, QEMU shape) of what the backends would be given for ``vm``; a builder's
    refusal stands in for its shape."""
    spec = app.domains.spec(vm)
    out = []
    for build in (lambda: xl_shape(xl_config.build_config(
                      spec, xl_config.domain_name(spec.vm, vm), qdisk_ok=True,
                      device_model_ok=True)),
                  lambda: qemu_shape(build_argv(spec, "qemu-system-x86_64", "tcg",
                                                files_by_name(spec),
                                                tap_fds={n.vif: 3 for n in spec.nics}))):
        try:
            out.append(build())
        except BackendError as e:
            out.append(BackendError)
            assert e.code in ("INVALID_VALUE", "VALUE_NOT_SUPPORTED"), e
    return out


@pytest.mark.parametrize("cls,wire", string_fields(), ids=[
    "%s.%s" % field for field in string_fields()])
def test_separators_in_a_string_field_add_no_option(app, cls, wire):
    base = BASE.get("%s.%s" % (cls, wire), "x") or str(app.test_dir / "location")
    expected = shapes(app, make_vm(app, cls, wire, base))
    for sep in SEPARATORS:
        for value in (base + sep + "script=/tmp/x", base + sep):
            try:
                vm = make_vm(app, cls, wire, value)
            except Refused:
                continue
            xl, qemu = shapes(app, vm)
            # A value xl does not honour may leave its setting out (platform/serial).
            assert xl is BackendError or xl <= expected[0], (value, xl)
            assert qemu is BackendError or qemu == expected[1], (value, qemu)


GOOD_DEVICES = ("xvda", "xvdaa", "hda", "sdb1", "vdc", "xvdb15")
BAD_DEVICES = ("xvda,script=/tmp/x", "xvda,backend=0", "xvda\n", "eth0", "xvd", "hd1",
               "hda0", "XVDA", "xvda ", "ioemu:hda", "../xvda")


def test_a_vbd_device_is_a_guest_disk_name(app):
    """VBD.create and VBD.set_device take the names a guest can give a disk, and refuse
    anything else with INVALID_VALUE naming the device."""
    vm = make_vm(app, "VM", "name_label", "devices")
    vbd = call(app, "VM.get_VBDs", vm)[0]
    vdi = call(app, "VBD.get_VDI", vbd)
    for device in GOOD_DEVICES:
        call(app, "VBD.set_device", vbd, device)
        assert call(app, "VBD.get_device", vbd) == device
    for device in BAD_DEVICES:
        for attempt in (lambda: call(app, "VBD.set_device", vbd, device),
                        lambda: call(app, "VBD.create", {"VM": vm, "VDI": vdi,
                                                         "device": device})):
            with pytest.raises(Refused) as refused:
                attempt()
            assert refused.value.args[0][:2] == ["INVALID_VALUE", "device"]
        assert call(app, "VBD.get_device", vbd) == GOOD_DEVICES[-1]


def test_a_mac_or_an_interface_name_ending_in_a_line_break_is_refused(app):
    vm = make_vm(app, "VM", "name_label", "line breaks")
    net = call(app, "network.create", {"name_label": "net"})
    for name, record, field in (
            ("VIF.create", {"VM": vm, "network": net, "MAC": "02:ff:00:00:00:02\n"}, "MAC"),
            ("VIF.create", {"VM": vm, "network": net, "device": "eth1\n"}, "device"),
            ("network.create", {"name_label": "net", "NIC": "xenbr0\n"}, "NIC")):
        with pytest.raises(Refused) as refused:
            call(app, name, record)
        assert refused.value.args[0][:2] == ["INVALID_VALUE", field]
