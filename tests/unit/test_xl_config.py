"""The VM-record -> xl configuration mapping of the xen backend, and its readers of
xl's listings (pure functions; the nested Xen tier runs them against real xl)."""

import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.spec import DiskSpec, DomainSpec, NicSpec, VMConfig
from xen.xend.backend.xen import config as xl_config
from xen.xend.backend.xen import counters, xl
from xen.xend.backend.xen.xenstore import Xenstore

UUID = "0a1b2c3d-0000-4000-8000-00000000abcd"
MIB = 2 ** 20


def vm(**fields):
    base = {"name_label": "web one", "memory_static_max": 256 * MIB,
            "memory_dynamic_max": 128 * MIB, "VCPUs_max": 2,
            "boot_method": "kernel_external", "kernel_kernel": "/boot/vmlinuz",
            "kernel_initrd": "/boot/initrd.img", "kernel_args": "console=hvc0 xend.test=1"}
    base.update(fields)
    return VMConfig(**base)


def settings(text):
    return dict(line.split(" = ", 1) for line in text.splitlines())


def spec(config, disks=(), nics=()):
    return DomainSpec(uuid=UUID, vm=config, disks=list(disks), nics=list(nics))


def test_a_pv_guest_with_a_disk_and_a_nic():
    disk = DiskSpec(vbd="b", path="/srv/sr/d,1.img", format="raw", device="xvda", mode="RW",
                    driver="paravirtualised")
    nic = NicSpec(vif="v", mac="aa:00:00:00:00:01", mtu=9000, driver="paravirtualised",
                  bridge="xenbr0")
    name = xl_config.domain_name(vm(), UUID)
    got = settings(xl_config.build_config(spec(vm(), [disk], [nic]), name))
    assert got == {
        "name": '"web-one-0a1b2c3d"', "uuid": '"%s"' % UUID, "type": '"pv"',
        "maxmem": "256", "memory": "128", "vcpus": "2", "maxvcpus": "2",
        "on_poweroff": '"preserve"', "on_reboot": '"preserve"', "on_crash": '"preserve"',
        "kernel": '"/boot/vmlinuz"', "ramdisk": '"/boot/initrd.img"',
        "cmdline": '"console=hvc0 xend.test=1"',
        "disk": '["format=raw,vdev=xvda,access=rw,target=/srv/sr/d,1.img"]',
        "vif": '["mac=aa:00:00:00:00:01,bridge=xenbr0,mtu=9000"]',
    }


def test_a_guest_starts_with_vcpus_at_startup_of_vcpus_max():
    got = settings(xl_config.build_config(spec(vm(VCPUs_max=4, VCPUs_at_startup=3)), "d"))
    assert (got["vcpus"], got["maxvcpus"]) == ("3", "4")


def test_vcpu_params_become_the_credit_schedulers_settings():
    got = settings(xl_config.build_config(spec(vm(VCPUs_max=3, VCPUs_params=(
        "weight=512 cap=150 cpumap1=0-1"))), "d"))
    assert (got["cpu_weight"], got["cap"], got["cpus"]) == ("512", "150", '["all", "0-1"]')
    assert "cpus" not in settings(xl_config.build_config(spec(vm()), "d"))


@pytest.mark.parametrize("disk,nic,field", [
    ({"device": "xvda,script=/tmp/x"}, {}, "VBD/device"),
    ({"device": "xvda,backend=0"}, {}, "VBD/device"),
    ({"device": ""}, {}, "VBD/device"),                  # xl names every disk
    ({}, {"mac": "aa:00:00:00:00:01,script=/tmp/x"}, "VIF/MAC"),
    ({}, {"bridge": "xenbr0,script=/tmp/x"}, "network/NIC"),
    ({}, {"bridge": "xenbr0\n"}, "network/NIC"),
])
def test_a_value_that_would_add_keys_to_a_device_spec_is_refused(disk, nic, field):
    """Whatever the record holds (one stored before the API checked it), a disk or vif
    entry gets no key of the value's making."""
    disk = DiskSpec(**dict({"vbd": "b", "path": "/i.raw", "format": "raw", "device": "xvda",
                            "mode": "RW", "driver": "paravirtualised"}, **disk))
    nic = NicSpec(**dict({"vif": "v", "mac": "aa:00:00:00:00:01", "mtu": 1500,
                          "driver": "paravirtualised", "bridge": "xenbr0"}, **nic))
    with pytest.raises(BackendError) as e:
        xl_config.build_config(spec(vm(), [disk], [nic]), "web")
    assert (e.value.code, e.value.params[0]) == ("INVALID_VALUE", field)


def test_a_string_setting_ending_in_a_line_break_is_refused():
    with pytest.raises(BackendError) as e:
        xl_config.build_config(spec(vm(kernel_args="console=hvc0\n")), "web")
    assert e.value.params[0] == "kernel/args"


def test_domain_type_from_builder_and_boot_method():
    assert xl_config.domain_type(vm(builder="")) == "pv"
    assert xl_config.domain_type(vm(builder="Linux")) == "pv"
    assert xl_config.domain_type(vm(builder="pvh")) == "pvh"
    assert xl_config.domain_type(vm(builder="", boot_method="bios")) == "hvm"
    with pytest.raises(BackendError) as e:
        xl_config.domain_type(vm(builder="solaris"))
    assert e.value.code == "VALUE_NOT_SUPPORTED" and e.value.params[0] == "builder"


def test_refusals_name_the_field():
    cases = [
        (vm(builder="pv", boot_method="bios"), {}, "boot_method"),
        (vm(builder="hvm", boot_method="bios"), {}, "builder"),   # no device model
        (vm(memory_static_max=8 * MIB, memory_dynamic_max=8 * MIB), {}, "memory/static_max"),
        (vm(kernel_args='say "hi"'), {}, "kernel/args"),
    ]
    for rec, kw, field in cases:
        with pytest.raises(BackendError) as e:
            xl_config.build_config(spec(rec), "n", **kw)
        assert e.value.code == "VALUE_NOT_SUPPORTED" and e.value.params[0] == field, rec
    with pytest.raises(BackendError) as e:
        xl_config.build_config(spec(vm(kernel_kernel="")), "n")
    assert (e.value.code, e.value.params[0]) == ("INVALID_VALUE", "kernel/kernel")


def test_qcow2_needs_qdisk_and_hvm_maps_platform_fields():
    disk = DiskSpec(vbd="b", path="/i.qcow2", format="qcow2", device="hda", mode="RO",
                    driver="ioemu")
    with pytest.raises(BackendError) as e:
        xl_config.build_config(spec(vm(), [disk]), "n")
    assert e.value.params[:2] == ["VDI", "/i.qcow2"]
    hvm = vm(builder="hvm", boot_method="bios", bios_boot="CDROM",
                 platform_std_VGA=True, platform_serial="pty")
    nic = NicSpec(vif="v", mac="aa:00:00:00:00:02", mtu=1500, driver="ioemu")
    got = settings(xl_config.build_config(spec(hvm, [disk], [nic]), "n", qdisk_ok=True,
                                          device_model_ok=True))
    assert got["type"] == '"hvm"' and got["boot"] == '"d"' and got["stdvga"] == "1"
    assert got["serial"] == '"pty"' and "kernel" not in got
    assert got["vnc"] == "0"        # libxl's default: a VNC server on a TCP port
    assert got["disk"] == '["format=qcow2,vdev=hda,access=ro,backendtype=qdisk,target=/i.qcow2"]'
    assert got["vif"] == '["mac=aa:00:00:00:00:02,model=e1000"]'


def test_an_iso_vdi_is_a_cdrom_drive():
    cd = DiskSpec(vbd="c", path="/isos/x.iso", format="raw", device="hdc", mode="RO",
                  driver="paravirtualised", cdrom=True)
    hvm = vm(builder="hvm", boot_method="bios")
    got = settings(xl_config.build_config(spec(hvm, [cd]), "n", device_model_ok=True))
    assert got["disk"] == '["format=raw,vdev=hdc,access=ro,devtype=cdrom,target=/isos/x.iso"]'
    with pytest.raises(BackendError) as e:    # an HVM guest's CD-ROM drive is emulated IDE
        xl_config.build_config(spec(hvm, [DiskSpec(**dict(vars(cd), device="xvdc"))]), "n",
                               device_model_ok=True)
    assert e.value.params[:2] == ["VBD/device", "xvdc"]


def test_a_nic_model_is_an_emulated_nic_of_an_hvm_guest():
    hvm = vm(builder="hvm", boot_method="bios")
    nics = [NicSpec(vif="v", mac="aa:00:00:00:00:03", mtu=1500, driver="ioemu",
                    model="rtl8139", bridge="xenbr0"),
            NicSpec(vif="w", mac="aa:00:00:00:00:04", mtu=1500, driver="paravirtualised")]
    got = settings(xl_config.build_config(spec(hvm, [], nics), "n", device_model_ok=True))
    assert got["vif"] == ('["mac=aa:00:00:00:00:03,bridge=xenbr0,type=ioemu,model=rtl8139", '
                          '"mac=aa:00:00:00:00:04,type=vif"]')
    for guest, model, why in ((hvm, "virtio-net-pci", "device model gives e1000, "),
                              (vm(), "e1000", "a PV guest are paravirtualised")):
        nic = NicSpec(vif="v", mac="aa:00:00:00:00:03", mtu=1500, driver="ioemu", model=model)
        with pytest.raises(BackendError) as e:
            xl_config.build_config(spec(guest, [], [nic]), "n", device_model_ok=True)
        assert e.value.params[:2] == ["VIF/model", model] and why in e.value.params[2]


def test_domain_names_are_safe_for_xl():
    assert xl_config.domain_name(VMConfig(name_label="a/b c;d"), UUID) == "a-b-c-d-0a1b2c3d"
    assert xl_config.domain_name(VMConfig(name_label=""), UUID) == UUID
    # Two VMs whose uuids begin alike: the second gets the whole uuid.
    assert xl_config.domain_name(VMConfig(name_label="web"), UUID, {"web-0a1b2c3d"}) == \
        "web-" + UUID


# Captured from xl 4.17 in the nested test host (tabs and all).
XL_LIST_V = (
    "Name                                        ID   Mem VCPUs\tState\tTime(s)   UUID"
    "                            Reason-Code\tSecurity Label\n"
    "Domain-0                                     0  1024     2     r-----      85.2 "
    "00000000-0000-0000-0000-000000000000        -                -\n"
    "web-one-0a1b2c3d                             3   128     1     ---s--       2.5 "
    "0a1b2c3d-0000-4000-8000-00000000abcd        1                -\n"
    "made by hand                                 4   128     1     --p---       0.1 "
    "11111111-0000-4000-8000-000000000001        -                -\n")

XL_VCPU_LIST = (
    "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n"
    "Domain-0                             0     0    0   r--      50.6  all / all\n"
    "Domain-0                             0     1    1   -b-      35.1  all / all\n"
    "web-one-0a1b2c3d                     3     1    -   --p       0.0  all / all\n"
    "web-one-0a1b2c3d                     3     0    1   -b-       2.4  all / all\n")


def test_reading_xl_list_v_and_vcpu_list():
    got = xl.parse_list_verbose(XL_LIST_V)
    assert got[UUID] == {"domid": 3, "name": "web-one-0a1b2c3d", "mem_mib": 128, "vcpus": 1,
                         "state": "---s--", "reason": xl.SHUTDOWN_REBOOT}
    assert xl.power_state(got[UUID]) is None
    hand = got["11111111-0000-4000-8000-000000000001"]
    assert hand["name"] == "made by hand" and xl.power_state(hand) == "Paused"
    assert xl.power_state(got["00000000-0000-0000-0000-000000000000"]) == "Running"
    rows = xl.parse_vcpu_list(XL_VCPU_LIST)
    assert {domid: [r.seconds for r in vcpus] for domid, vcpus in rows.items()} == {
        0: [50.6, 35.1], 3: [2.4, 0.0]}
    # VM_metrics' VCPUs_CPU and VCPUs_flags: an offline vCPU is on no CPU and not online.
    assert [(r.cpu, r.flags) for r in rows[0]] == [(0, ("online", "running")),
                                                   (1, ("online", "blocked"))]
    assert [(r.cpu, r.flags) for r in rows[3]] == [(1, ("online", "blocked")), (-1, ())]


# The shape of the Xen device model's (QEMU 7.2's) query-blockstats reply for a PV
# guest's qcow2 disk, trimmed: the guest's I/O is counted on the top node.
BLOCKSTATS = [{"device": "", "node-name": "xvda-qcow2", "qdev": "/machine/unattached/device[2]",
               "stats": {"rd_bytes": 12288, "wr_bytes": 425721856, "wr_operations": 9744},
               "parent": {"node-name": "#block074", "stats": {"rd_bytes": 0, "wr_bytes": 0}}},
              {"device": "", "node-name": "XVDB-raw", "stats": {"rd_bytes": 7}},
              {"device": "", "qdev": "nameless", "stats": {"rd_bytes": 1}}]


def test_reading_the_device_models_block_statistics():
    assert counters.parse_blockstats(BLOCKSTATS) == {
        "xvda": {"rd_bytes": 12288, "wr_bytes": 425721856},
        "xvdb": {"rd_bytes": 7, "wr_bytes": 0}}
    assert counters.parse_blockstats(None) == {}


# From xenpm 4.17 (two CPUs, trimmed to the lines that matter and one C-state line).
XENPM_CPUIDLE = """\
All C-state information:
cpu id               : 0
total C-states       : 2
idle time(ms)        : 81234
C0                   : transition [                   0]
                       residency  [                1200 ms]

cpu id               : 1
total C-states       : 2
idle time(ms)        : 99
"""


def test_reading_xenpm_idle_times():
    assert xl.parse_cpuidle(XENPM_CPUIDLE) == {0: 81.234, 1: 0.099}
    assert xl.parse_cpuidle("xenpm: no such command\n") == {}


def test_pvh_and_hvm_need_a_hypervisor_with_hvm_capability():
    """A processor without hardware virtualisation gives Xen PV domains only (xl info
    virt_caps without hvm): PVH and HVM guests are refused before xl is asked."""
    for builder, boot in (("pvh", "kernel_external"), ("hvm", "bios")):
        with pytest.raises(BackendError) as e:
            xl_config.build_config(spec(vm(builder=builder, boot_method=boot)), "n",
                                   device_model_ok=True, hvm_capable=False)
        assert e.value.code == "VALUE_NOT_SUPPORTED"
        assert e.value.params[:2] == ["builder", builder]
    got = settings(xl_config.build_config(spec(vm()), "n", hvm_capable=False))
    assert got["type"] == '"pv"'


@pytest.mark.parametrize("field, name", [
    ("VCPUs_features_force_on", "VCPUs/features/force_on"),
    ("VCPUs_features_force_off", "VCPUs/features/force_off"),
    ("VCPUs_features_can_use", "VCPUs/features/can_use"),
])
def test_cpu_feature_sets_are_refused_not_ignored(field, name):
    xl_config.validate(vm(**{field: ()}))        # empty asks for nothing
    with pytest.raises(BackendError) as e:
        xl_config.validate(vm(**{field: ("XMM3", "NX")}))
    assert e.value.code == "VALUE_NOT_SUPPORTED" and list(e.value.params[:2]) == [name, "XMM3,NX"]


def test_an_hvm_display_is_refused_not_ignored():
    """PV and PVH guests have no emulated display to give; an HVM guest would."""
    def build(**fields):
        return xl_config.build_config(spec(vm(**fields)), "n", device_model_ok=True)
    build(platform_display="vnc")
    for display in ("", "none"):
        build(builder="hvm", boot_method="bios", platform_display=display)
    with pytest.raises(BackendError) as e:
        build(builder="hvm", boot_method="bios", platform_display="vnc")
    assert e.value.code == "VALUE_NOT_SUPPORTED"
    assert list(e.value.params[:2]) == ["platform/display", "vnc"]


def test_clock_offset_true_is_refused():
    xl_config.validate(vm(platform_clock_offset=False))
    with pytest.raises(BackendError) as e:
        xl_config.validate(vm(platform_clock_offset=True))
    assert list(e.value.params[:2]) == ["platform/clock_offset", "true"]


class FakeXenstoreClient:
    """pyxs's read and list over a dict of nodes."""

    def __init__(self, nodes):
        self.nodes = nodes

    def read(self, path):
        return self.nodes[path]

    def list(self, path):
        prefix = path + b"/"
        children = {p[len(prefix):].split(b"/")[0] for p in self.nodes if p.startswith(prefix)}
        if not children:
            raise KeyError(path)
        return sorted(children)


def test_what_a_guest_agent_writes_is_the_guests_metrics():
    agent = {b"/local/domain/5/data/os_name": b"Debian GNU/Linux 12",
             b"/local/domain/5/data/os_majorver": b"12",
             b"/local/domain/5/data/meminfo_total": b"1015436",
             b"/local/domain/5/data/meminfo_free": b"800000",
             b"/local/domain/5/attr/eth0/ip": b"10.0.0.5",
             b"/local/domain/5/attr/eth1/ip": b"192.168.1.9",
             b"/local/domain/5/attr/PVAddons/MajorVersion": b"7"}
    store = Xenstore(FakeXenstoreClient(agent))
    assert store.guest_metrics(5) == {
        "os_version": {"name": "Debian GNU/Linux 12", "major": "12"},
        "memory": {"total": "1015436", "free": "800000"},
        "networks": {"0/ip": "10.0.0.5", "1/ip": "192.168.1.9"}}
    assert store.tools_version(5) == {"major": "7"}
    # No agent: nothing written, every map empty.
    assert store.guest_metrics(6) == {"os_version": {}, "memory": {}, "networks": {}}
