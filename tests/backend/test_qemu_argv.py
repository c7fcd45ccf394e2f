"""The VM fields -> QEMU command line mapping (pure: no QEMU is started)."""

import dataclasses
import grp
import json
import os
import uuid

import pytest
from harness import CONSOLE_FD, files_by_name

from xen.xend.api import datamodel
from xen.xend.backend.base import BackendError
from xen.xend.backend.qemu.argv import (
    assign_slots,
    build_argv,
    disk_args,
    disk_node,
    free_slot,
    nic_device,
    validate,
)
from xen.xend.backend.qemu.backend import choose_accel
from xen.xend.backend.spec import DiskSpec, DomainSpec, NicSpec, VMConfig
from xen.xend.host import accounts, facts

VM = "4a1c2a55-6d7e-4c38-9d0e-2f1a7b3c9e01"


def spec(disks=(), nics=(), **fields):
    vm = VMConfig(**dict({"name_label": "web", "memory_static_max": 256 << 20}, **fields))
    return DomainSpec(uuid=VM, vm=vm, disks=list(disks), nics=list(nics), state_dir="/tmp/x")


def build(made, accel="tcg", **options):
    """The argv of DomainSpec ``made``, with build_argv's ``options``."""
    return build_argv(made, "qemu-system-x86_64", accel, files_by_name(made), **options)


def argv(**kw):
    return build(spec(**kw))


def value(args, flag):
    """The argument after the only occurrence of ``flag``."""
    assert args.count(flag) == 1, (flag, args)
    return args[args.index(flag) + 1]


def values(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def devices(args):
    return [json.loads(d) if d.startswith("{") else d for d in values(args, "-device")]


def disk(driver="paravirtualised", mode="RW", device="xvda", fmt="qcow2"):
    return DiskSpec(vbd=str(uuid.uuid4()), path="/images/a.qcow2", format=fmt,
                    device=device, mode=mode, driver=driver)


def test_identity_memory_cpus_and_fixed_devices():
    args = argv(VCPUs_max=2, memory_static_max=(256 << 20) + 1)
    assert value(args, "-uuid") == VM
    assert value(args, "-name") == "guest=web,debug-threads=on"
    assert value(args, "-m") == "257"          # rounded up to whole MiB
    assert value(args, "-smp") == "1,maxcpus=2,sockets=1,cores=2,threads=1"
    assert "qemu64-x86_64-cpu,id=vcpu1,socket-id=0,core-id=1,thread-id=0" in devices(args)
    assert value(args, "-machine") == "pc,accel=tcg"
    assert "-S" in args
    assert "virtio-balloon-pci,id=balloon0,addr=03.0" in devices(args)
    assert "pvpanic" in devices(args)
    assert value(args, "-action") == "panic=pause"
    assert "-no-shutdown" not in args


def test_defaults_one_vcpu_and_name_commas_are_escaped():
    args = argv(name_label="a,b")
    assert value(args, "-smp") == "1"
    assert value(argv(), "-smp") == "1"     # absent: one vCPU
    assert value(args, "-name") == "guest=a,,b,debug-threads=on"


def test_a_guest_starts_with_vcpus_at_startup_and_room_for_vcpus_max():
    args = argv(VCPUs_max=4, VCPUs_at_startup=2)
    assert value(args, "-smp") == "1,maxcpus=4,sockets=1,cores=4,threads=1"
    # vCPU 0 is -smp's; each other one a -device with an id, so it can be unplugged.
    assert [d for d in devices(args) if "x86_64-cpu" in str(d)] == [
        "qemu64-x86_64-cpu,id=vcpu1,socket-id=0,core-id=1,thread-id=0"]


def test_invalid_uuid_and_memory_are_refused():
    with pytest.raises(BackendError) as err:
        build(DomainSpec(uuid="nope", vm=VMConfig(memory_static_max=1)))
    assert err.value.code == "UUID_INVALID"
    with pytest.raises(BackendError) as err:
        argv(memory_static_max=100)
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[0] == "memory/static_max"


def test_kernel_external_boot():
    args = argv(boot_method="kernel_external", kernel_kernel="/boot/vmlinuz",
                kernel_initrd="/boot/initrd.img", kernel_args="console=ttyS0 root=/dev/vda")
    assert value(args, "-kernel") == "/boot/vmlinuz"
    assert value(args, "-initrd") == "/boot/initrd.img"
    assert value(args, "-append") == "console=ttyS0 root=/dev/vda"


def test_kernel_external_needs_a_kernel():
    with pytest.raises(BackendError) as err:
        argv(boot_method="kernel_external")
    assert err.value.code == "INVALID_VALUE"


@pytest.mark.parametrize("choice,order", [("floppy", "a"), ("HD", "c"), ("CDROM", "d")])
def test_bios_boot_order(choice, order):
    assert value(argv(boot_method="bios", bios_boot=choice), "-boot") == "order=" + order


@pytest.mark.parametrize("method", ["kernel_internal", "grub"])
def test_boot_from_disk(method):
    assert value(argv(boot_method=method, disks=[disk()]), "-boot") == "order=c"


@pytest.mark.parametrize("method", ["kernel_internal", "grub"])
def test_boot_from_disk_without_a_disk_is_not_supported(method):
    with pytest.raises(BackendError) as err:
        argv(boot_method=method)
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["boot_method", method]
    assert "no disk to boot from" in err.value.params[2]


def test_bios_without_a_disk_is_allowed():
    # SeaBIOS may boot a CD-ROM, or idle with nothing to boot: not an error.
    assert value(argv(boot_method="bios", bios_boot="HD"), "-boot") == "order=c"


def test_bios_cdrom_is_a_read_only_ide_cd():
    args = argv(boot_method="bios", bios_boot="CDROM", bios_cdrom="/isos/x.iso")
    node = json.loads(value(args, "-blockdev"))
    assert node["read-only"] is True and node["file"]["filename"] == "/isos/x.iso"
    assert {"driver": "ide-cd", "drive": "cdrom0", "bus": "ide.1", "unit": 0,
            "id": "cdrom0"} in devices(args)


def test_platform_flags():
    args = argv(platform_std_VGA=True, platform_localtime=True)
    assert value(args, "-vga") == "std"
    assert value(args, "-rtc") == "base=localtime"
    args = argv(platform_std_VGA=False, platform_localtime=False)
    assert value(args, "-vga") == "cirrus"
    assert value(args, "-rtc") == "base=utc"


@pytest.mark.parametrize("mode", ["pty", "", "none", "null"])
def test_the_serial_port_is_the_daemons_socket_in_every_mode(mode):
    # QEMU opens no file for it: it inherits the socket the daemon bound and reads.
    args = argv(platform_serial=mode)
    serial = [c for c in values(args, "-chardev") if "id=serial0" in c]
    assert serial == [f"socket,id=serial0,fd={CONSOLE_FD},server=on,wait=off"]
    assert value(args, "-serial") == "chardev:serial0"
    assert not any("logfile" in a for a in args)


def test_unknown_serial_is_not_supported():
    with pytest.raises(BackendError) as err:
        argv(platform_serial="tcp:1.2.3.4:5")
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["platform/serial", "tcp:1.2.3.4:5"]


def test_clock_offset_true_is_not_supported():
    with pytest.raises(BackendError) as err:
        validate(VMConfig(memory_static_max=64 << 20, platform_clock_offset=True), audio_ok=True)
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["platform/clock_offset", "true"]


def test_clock_offset_false_is_accepted():
    assert value(argv(platform_clock_offset=False), "-rtc") == "base=utc"


def test_audio():
    args = argv(platform_enable_audio=True)
    assert "AC97,audiodev=audio0,addr=04.0" in devices(args)
    with pytest.raises(BackendError) as err:
        build(spec(platform_enable_audio=True), audio_ok=False)
    assert err.value.params[:2] == ["platform/enable_audio", "true"]
    assert err.value.code == "VALUE_NOT_SUPPORTED"


def test_cpu_features():
    args = argv(VCPUs_features_force_on=("XMM2", "XMM3"), VCPUs_features_force_off=("NX",))
    assert value(args, "-cpu") == "qemu64,+sse2,+pni,-nx"


def test_an_empty_can_use_restricts_nothing():
    assert value(argv(VCPUs_features_can_use=()), "-cpu") == "qemu64"


def test_can_use_turns_off_the_qemu64_flags_outside_it():
    args = argv(VCPUs_features_can_use=("FPU", "XMM", "LM", "K8", "MWAIT"),
                VCPUs_features_required=("XMM2",), VCPUs_features_force_on=("NX",),
                VCPUs_features_force_off=("PAE",))
    model, *flags = value(args, "-cpu").split(",")
    assert model == "qemu64"
    off = {f[1:] for f in flags if f.startswith("-")}
    # Kept: can_use (fpu, sse, lm), required (sse2) and force_on (nx).
    assert off.isdisjoint({"fpu", "sse", "lm", "sse2", "nx"}), flags
    # Every other qemu64 flag is off, once; force_off's is off as asked.
    assert off == {"de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr",
                   "pge", "mca", "cmov", "pat", "pse36", "clflush", "mmx", "fxsr", "pni",
                   "cx16", "syscall", "lahf-lm"}, flags
    assert flags.count("-pae") == 1 and "+nx" in flags
    # can_use does not add flags qemu64 lacks (monitor), nor refuse ones with no CPUID bit (K8).
    assert not any(f.endswith("monitor") for f in flags)


def test_cpu_feature_without_cpuid_flag_is_not_supported():
    with pytest.raises(BackendError) as err:
        argv(VCPUs_features_force_on=("K8",))
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["VCPUs/features/force_on", "K8"]


def test_disks_virtio_ide_and_read_only():
    pv, emu, ro = disk(), disk("ioemu", device="hdb"), disk(mode="RO", fmt="raw")
    args = argv(disks=[pv, emu, ro])
    nodes = [json.loads(b) for b in values(args, "-blockdev")]
    assert [n["node-name"] for n in nodes] == [disk_node(d.vbd) for d in (pv, emu, ro)]
    assert all(len(n["node-name"]) <= 31 for n in nodes)
    assert [n["read-only"] for n in nodes] == [False, False, True]
    assert nodes[2]["driver"] == "raw" and nodes[0]["driver"] == "qcow2"
    devs = [d for d in devices(args) if isinstance(d, dict)]
    assert devs[0] == {"driver": "virtio-blk-pci", "drive": disk_node(pv.vbd),
                       "id": "vbd-" + pv.vbd, "addr": "05.0"}
    assert devs[1] == {"driver": "ide-hd", "drive": disk_node(emu.vbd), "id": "vbd-" + emu.vbd,
                       "bus": "ide.0", "unit": 1}
    assert devs[2]["driver"] == "virtio-blk-pci" and devs[2]["addr"] == "06.0"


def test_ide_disks_fill_free_slots_around_the_cdrom():
    disks = [disk("ioemu", device="sda"), disk("ioemu", device="hda"), disk("ioemu", device="x")]
    args = argv(disks=disks, bios_cdrom="/isos/x.iso")
    slots = [(d["bus"], d["unit"]) for d in devices(args)
             if isinstance(d, dict) and d["driver"] == "ide-hd"]
    assert slots == [("ide.0", 1), ("ide.0", 0), ("ide.1", 1)]
    with pytest.raises(BackendError) as err:
        argv(disks=disks + [disk("ioemu", device="y")], bios_cdrom="/isos/x.iso")
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    with pytest.raises(BackendError) as err:            # hdc is the CD-ROM drive's place
        argv(disks=[disk("ioemu", device="hdc")], bios_cdrom="/isos/x.iso")
    assert err.value.params[:2] == ["VBD/device", "hdc"]


def test_xen_console_and_disk_names_in_kernel_args_are_what_the_qemu_guest_sees():
    # PCI slots in order: xvdb 05, xvda 06 (vdb: the guest names virtio disks by slot);
    # hdb is the first IDE disk the guest finds (sda), hdd the second.
    disks = [disk(device="xvdb"), disk(device="xvda"), disk("ioemu", device="hdd"),
             disk("ioemu", device="hdb")]
    args = argv(disks=disks, boot_method="kernel_external", kernel_kernel="/boot/k",
                kernel_args="root=/dev/xvda1 ro console=hvc0 resume=/dev/xvdb "
                            "xconsole=hvc0 console=hvc0,1")
    assert value(args, "-append") == ("root=/dev/vdb1 ro console=ttyS0 resume=/dev/xvdb "
                                      "xconsole=hvc0 console=hvc0,1")
    for root, seen in (("/dev/hdb", "/dev/sda"), ("/dev/hdd2", "/dev/sdb2"),
                       ("/dev/xvdz1", "/dev/xvdz1"),      # no such disk: left as it is
                       ("LABEL=root", "LABEL=root")):
        args = argv(disks=disks, boot_method="kernel_external", kernel_kernel="/boot/k",
                    kernel_args="root=" + root)
        assert value(args, "-append") == "root=" + seen


def test_an_iso_vdi_is_an_ide_cdrom_drive_whatever_its_driver():
    cd = DiskSpec(vbd=str(uuid.uuid4()), path="/isos/x.iso", format="raw", device="xvdd",
                  mode="RO", driver="paravirtualised", cdrom=True)
    emu = disk("ioemu", device="hda")
    args = argv(disks=[emu, cd])
    devs = [d for d in devices(args) if isinstance(d, dict) and d.get("id", "").startswith("vbd")]
    assert devs[1] == {"driver": "ide-cd", "drive": disk_node(cd.vbd), "id": "vbd-" + cd.vbd,
                       "bus": "ide.0", "unit": 1}
    node = [json.loads(b) for b in values(args, "-blockdev")][1]
    assert (node["driver"], node["read-only"]) == ("raw", True)
    assert "addr" not in devs[1]          # no PCI slot taken


def test_a_bootable_vbd_comes_first_in_the_boot_order():
    first, boot = disk(), dataclasses.replace(disk("ioemu", device="hdb"), bootable=True)
    args = argv(disks=[first, boot], boot_method="bios")
    devs = {d["id"]: d for d in devices(args) if isinstance(d, dict) and "id" in d}
    assert devs["vbd-" + boot.vbd]["bootindex"] == 0
    assert "bootindex" not in devs["vbd-" + first.vbd]
    assert value(args, "-boot") == "order=c"     # what the firmware tries after it


def test_read_only_ide_disk_is_not_supported():
    with pytest.raises(BackendError) as err:
        argv(disks=[disk("ioemu", mode="RO")])
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params[:2] == ["VBD/mode", "RO"]


def nic(**kw):
    args = {"vif": str(uuid.uuid4()), "mac": "52:54:00:00:00:01", "mtu": 1500,
            "driver": "paravirtualised", "bridge": "xenbr0"}
    args.update(kw)
    return NicSpec(**args)


def test_nics_are_taps_the_daemon_made():
    emu, pv = nic(driver="ioemu"), nic(mac="52:54:00:00:00:02", mtu=9000)
    args = build(spec(nics=[emu, pv]), tap_fds={emu.vif: 7, pv.vif: 9})
    assert values(args, "-netdev") == [f"tap,id=net-{emu.vif},fd=7", f"tap,id=net-{pv.vif},fd=9"]
    devs = [d for d in devices(args) if isinstance(d, dict)]
    assert devs[0] == {"driver": "e1000", "netdev": "net-" + emu.vif, "mac": emu.mac,
                       "id": "vif-" + emu.vif, "addr": "05.0"}
    assert devs[1] == {"driver": "virtio-net-pci", "netdev": "net-" + pv.vif, "mac": pv.mac,
                       "id": "vif-" + pv.vif, "addr": "06.0", "host_mtu": 9000}
    with pytest.raises(BackendError) as err:
        argv(nics=[emu])                   # no tap for it
    assert err.value.code == "INTERNAL_ERROR"


def test_a_nic_model_is_the_device_qemu_gets():
    nics = [nic(driver="ioemu", model="rtl8139"), nic(model="virtio", mtu=9000),
            nic(driver="ioemu", model="e1000", mtu=9000)]
    args = build(spec(nics=nics), tap_fds={n.vif: 7 + i for i, n in enumerate(nics)})
    devs = [d for d in devices(args) if isinstance(d, dict)]
    assert [(d["driver"], d.get("host_mtu")) for d in devs] == [
        ("rtl8139", None), ("virtio-net-pci", 9000), ("e1000", None)]
    assert all(d["netdev"] == "net-" + n.vif for d, n in zip(devs, nics))
    with pytest.raises(BackendError) as err:
        nic_device(nic(driver="ioemu", model="e1000,romfile=/etc/shadow"), 5)
    assert err.value.params[:2] == ["VIF/model", "e1000,romfile=/etc/shadow"]
    assert "e1000, e1000e" in err.value.params[2]


def test_slots_are_kept_across_a_saved_state():
    a, b, ide = disk(), disk(), disk("ioemu", device="hda")
    n = nic()
    first = assign_slots([a, ide, b], [n])
    assert first == {"vbd-" + a.vbd: 5, "vbd-" + b.vbd: 6, "vif-" + n.vif: 7}
    # b was unplugged and c hot-plugged at the free slot: a resume keeps every slot.
    c = disk()
    saved = {"vbd-" + a.vbd: 5, "vif-" + n.vif: 7, "vbd-" + c.vbd: 6}
    assert assign_slots([a, c], [n], saved) == saved
    args = build(spec(disks=[a, c], nics=[n]), slots=saved, tap_fds={n.vif: 5})
    addrs = {d["id"]: d["addr"] for d in devices(args) if isinstance(d, dict) and "id" in d
             and "addr" in d}
    assert addrs == {"vbd-" + a.vbd: "05.0", "vbd-" + c.vbd: "06.0", "vif-" + n.vif: "07.0"}


def test_pci_slots_run_out():
    slots = assign_slots([disk() for _ in range(27)], [])
    assert sorted(slots.values()) == list(range(5, 32))
    with pytest.raises(BackendError) as err:
        free_slot(slots)
    assert err.value.code == "VALUE_NOT_SUPPORTED"


def test_incoming_and_machine_type():
    args = build(spec(), "kvm", machine="pc-i440fx-7.2", incoming=True)
    assert value(args, "-incoming") == "defer"
    assert value(args, "-machine") == "pc-i440fx-7.2,accel=kvm"


def test_accel_choice(monkeypatch):
    assert choose_accel("tcg") == "tcg"
    assert choose_accel("kvm") == "kvm"
    monkeypatch.setattr(facts, "has_kvm", lambda: False)
    assert choose_accel("auto") == "tcg"
    monkeypatch.setattr(facts, "has_kvm", lambda: True)
    assert choose_accel("auto") == "kvm"
    with pytest.raises(ValueError):
        choose_accel("xen")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a device to a group")
def test_kvm_device_is_given_to_the_kvm_group_as_udev_would(tmp_path):
    device = tmp_path / "kvm"
    device.touch()
    device.chmod(0o600)
    accounts.prepare_kvm(str(device))
    st = device.stat()
    assert st.st_gid == grp.getgrnam("kvm").gr_gid and st.st_mode & 0o777 == 0o660
    qemu = accounts.ensure_user("xend-qemu")
    assert accounts.can_read_write(str(device), qemu)


def test_auto_accel_is_kvm_only_where_the_qemu_user_may_open_it(monkeypatch, tmp_path):
    device = tmp_path / "kvm"
    device.touch()
    os.chown(device, 0, 0)
    monkeypatch.setattr(accounts, "KVM_DEVICE", str(device))
    monkeypatch.setattr(facts, "has_kvm", lambda: True)
    qemu = accounts.Account("q", uid=4321, gid=4321, groups=(4322,))
    device.chmod(0o600)                 # root's alone, as where no udev ran
    assert choose_accel("auto", qemu) == "tcg"
    assert choose_accel("auto") == "kvm"            # QEMU as the daemon's own user
    os.chown(device, 0, 4322)
    device.chmod(0o660)                 # root:kvm 0660, as udev makes it
    assert choose_accel("auto", qemu) == "kvm"


def test_every_cpu_feature_has_a_qemu_flag_or_is_refused():
    from xen.xend.backend.qemu.argv import CPU_FEATURES, NO_CPUID_FLAG
    assert set(CPU_FEATURES) | NO_CPUID_FLAG == set(datamodel.cpu_feature.values)
    assert not set(CPU_FEATURES) & NO_CPUID_FLAG


@pytest.mark.parametrize("fields,vnc", [
    ({}, True),                                             # auto, a bios boot: vnc
    ({"boot_method": "kernel_external", "kernel_kernel": "/k"}, False),   # auto: none
    ({"platform_display": "none"}, False),
    ({"boot_method": "kernel_external", "kernel_kernel": "/k", "platform_display": "vnc"},
     True),
])
def test_a_display_is_a_vnc_server_that_listens_nowhere(fields, vnc):
    args = argv(**fields)
    assert value(args, "-display") == "none"                # never a window on the host
    assert values(args, "-vnc") == (["none"] if vnc else [])


def test_a_new_vm_follows_its_boot_for_its_display():
    """The stored default is "auto" (an enum's first value), so the boot decides."""
    default = datamodel.CLASSES["VM"].field("platform_display").default_value()
    assert default == "auto"
    kernel = {"boot_method": "kernel_external", "kernel_kernel": "/k"}
    assert values(argv(platform_display=default, **kernel), "-vnc") == []
    assert values(argv(platform_display=default), "-vnc") == ["none"]


def test_bootable_vbds_each_take_their_own_place_in_the_boot_order():
    """QEMU refuses two devices with one bootindex."""
    one, two = (dataclasses.replace(disk(device=d), bootable=True) for d in ("xvda", "xvdb"))
    args = argv(disks=[one, two], boot_method="bios")
    devs = {d["id"]: d for d in devices(args) if isinstance(d, dict) and "id" in d}
    assert [devs["vbd-" + d.vbd]["bootindex"] for d in (one, two)] == [0, 1]


def test_a_hot_plugged_bootable_disk_takes_no_bootindex_until_the_next_start():
    bootable = dataclasses.replace(disk(), bootable=True)
    _, device = disk_args(bootable, [("/dev/fdset/1", "qcow2", False)], slot=5)
    assert "bootindex" not in device
