"""CPU cgroups for guests (xen/xend/host/cgroups.py) on directory trees made here, laid
out as cgroup v2's and v1's hierarchies are: the mapping of weight and cap, the guests'
subtree, and the choice of hierarchy."""

import os

import pytest

from xen.xend.backend.base import BackendError
from xen.xend.backend.qemu import scheduling
from xen.xend.backend.spec import VMConfig
from xen.xend.host import cgroups


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def write(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def probe(tmp_path, mounts, own):
    """cgroups.probe of a host with the mount table ``mounts`` and a daemon whose
    /proc/self/cgroup says ``own``."""
    write(os.path.join(tmp_path, "mounts"), mounts)
    write(os.path.join(tmp_path, "self-cgroup"), own)
    return cgroups.probe(os.path.join(tmp_path, "mounts"),
                         os.path.join(tmp_path, "self-cgroup"))


@pytest.mark.parametrize("weight, v2, v1", [
    (0, 100, 1024), (256, 100, 1024), (512, 200, 2048), (1, 1, 4), (2, 1, 8),
    (65535, 10000, 262140), (25600, 10000, 102400),
])
def test_credit_weight_maps_to_cpu_weight_and_shares_with_the_defaults_matched(weight, v2, v1):
    assert cgroups.V2.weight(weight) == v2
    assert cgroups.V1.shares(weight) == v1


def test_v2_enables_cpu_down_to_a_leaf_only_subtree_and_writes_weight_and_cap(tmp_path):
    root = str(tmp_path)
    write(os.path.join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n")
    write(os.path.join(root, "cgroup.subtree_control"), "memory\n")
    write(os.path.join(root, "cgroup.procs"), "1\n")
    found, why = probe(tmp_path, "proc /proc proc rw 0 0\ncgroup2 %s cgroup2 rw,nosuid 0 0\n"
                       % root, "0::/\n")
    assert why == "" and isinstance(found, cgroups.V2)
    guests = os.path.join(root, "xend")
    assert found.guests == guests
    # cgroupfs keeps "memory" and adds cpu: a plain file only shows the last write.
    assert read(root, "cgroup.subtree_control") == "+cpu"
    assert read(guests, "cgroup.subtree_control") == "+cpu"

    found.add("vm-1", 4242)
    assert found.pids("vm-1") == [4242]
    assert not os.path.exists(os.path.join(guests, "cgroup.procs"))  # no process beside
    found.set("vm-1", 512, 50)
    assert read(guests, "vm-1", "cpu.weight") == "200"
    assert read(guests, "vm-1", "cpu.max") == "50000 100000"
    found.set("vm-1", 0, 0)     # unset: the defaults, the cap lifted
    assert read(guests, "vm-1", "cpu.weight") == "100"
    assert read(guests, "vm-1", "cpu.max") == "max 100000"
    found.set("vm-1", 256, 250)  # more than one CPU
    assert read(guests, "vm-1", "cpu.max") == "250000 100000"

    os.remove(os.path.join(guests, "vm-1", "cgroup.procs"))
    for name in ("cpu.weight", "cpu.max"):
        os.remove(os.path.join(guests, "vm-1", name))
    found.remove("vm-1")
    found.remove("vm-1")        # already gone: fine
    assert os.listdir(guests) == ["cgroup.subtree_control"]


def test_v2_with_cpu_already_enabled_is_left_as_it_is(tmp_path):
    write(os.path.join(tmp_path, "cgroup.subtree_control"), "cpu memory\n")
    write(os.path.join(tmp_path, "xend", "cgroup.subtree_control"), "cpu\n")
    cgroups.V2(str(tmp_path), os.path.join(tmp_path, "xend")).setup()
    assert read(tmp_path, "cgroup.subtree_control") == "cpu memory\n"
    assert read(tmp_path, "xend", "cgroup.subtree_control") == "cpu\n"


def test_v2_under_systemd_delegation_puts_guests_beside_the_daemon_subgroup(tmp_path):
    root = str(tmp_path)
    write(os.path.join(root, "cgroup.controllers"), "cpu\n")
    found, _ = probe(tmp_path, "cgroup2 %s cgroup2 rw 0 0\n" % root,
                     "0::/system.slice/xend.service/daemon\n")
    service = os.path.join(root, "system.slice", "xend.service")
    assert found.guests == os.path.join(service, "guests")
    for parent in (root, os.path.join(root, "system.slice"), service, found.guests):
        assert read(parent, "cgroup.subtree_control") == "+cpu"


def test_v1_when_v2_has_no_cpu_controller_shares_and_cfs_quota(tmp_path):
    unified, cpu = tmp_path / "unified", tmp_path / "cpu"
    write(os.path.join(unified, "cgroup.controllers"), "")    # cgroup2 without cpu
    write(os.path.join(cpu, "cpu.shares"), "1024\n")
    found, why = probe(tmp_path, "cgroup2 %s cgroup2 rw 0 0\ncgroup %s cgroup rw,cpuacct 0 0\n"
                       "cgroup %s cgroup rw,relatime,cpu 0 0\n"
                       % (unified, tmp_path / "cpuacct", cpu), "2:cpuacct:/\n1:cpu:/\n0::/\n")
    assert why == "" and isinstance(found, cgroups.V1)
    assert found.guests == os.path.join(cpu, "xend")
    assert not os.path.exists(os.path.join(unified, "xend"))
    found.add("vm-1", 77)
    assert found.pids("vm-1") == [77]
    found.set("vm-1", 300, 150)
    assert [read(found.guests, "vm-1", f) for f in (
        "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us")] == ["1200", "100000", "150000"]
    found.set("vm-1", 0, 0)
    assert [read(found.guests, "vm-1", f) for f in (
        "cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us")] == ["1024", "100000", "-1"]


def test_no_cpu_controller_or_no_right_to_use_it_is_a_reason(tmp_path):
    unified = tmp_path / "unified"
    write(os.path.join(unified, "cgroup.controllers"), "io memory\n")
    mounts = "cgroup2 %s cgroup2 rw 0 0\n" % unified
    assert probe(tmp_path, mounts, "0::/\n") == (
        None, "the host mounts no cgroup hierarchy with the cpu controller")

    # A cpu controller whose subtree cannot be made (here a file is in the way).
    write(os.path.join(unified, "cgroup.controllers"), "cpu\n")
    write(os.path.join(unified, "xend"))
    found, why = probe(tmp_path, mounts, "0::/\n")
    assert found is None and why.startswith(
        "cannot make the guests' cgroup %s: " % os.path.join(unified, "xend"))


def test_the_qemu_backend_refuses_weight_and_cap_without_cgroups_but_not_pinning():
    vm = VMConfig(VCPUs_max=2, VCPUs_params="weight=512 cap=50 cpumap1=0")
    with pytest.raises(BackendError) as err:
        scheduling.validate(vm, None, "no cpu controller here")
    assert err.value.code == "VALUE_NOT_SUPPORTED"
    assert err.value.params == ["VCPUs/params", "weight=512 cap=50",
                                "the QEMU backend applies a weight or cap through a CPU "
                                "cgroup: no cpu controller here"]
    scheduling.validate(VMConfig(VCPUs_max=2, VCPUs_params="cpumap1=0"), None, "none")
    scheduling.validate(vm, cgroups.V1("/nowhere"), "")
