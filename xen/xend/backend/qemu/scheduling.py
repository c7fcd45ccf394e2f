"""VCPUs/params on QEMU: the weight and cap in the guest's CPU cgroup, each vCPU's
affinity on its thread.

The guest's QEMU process sits in a cgroup of its own (host/cgroups.py, made by
process.py as QEMU starts): the credit scheduler's weight and cap are written to its
cpu controller's files, which every thread of the process, vCPUs included, obeys. A
host without a cpu controller the daemon may use cannot honour them: ``validate``
refuses them when set (docs/vm-mapping.md).

QEMU runs each vCPU on a thread of its own (``query-cpus-fast`` reports its id), and
``sched_setaffinity`` takes a thread id, so a vCPU pinned to CPUs is its thread
pinned to them; an unpinned one may run on every CPU the daemon may use.
"""

import os

from .. import vcpuparams
from ..base import BackendError


def validate(vm, cgroups, no_cgroups):
    """VALUE_NOT_SUPPORTED for a weight or cap in VCPUs/params, before it is stored,
    where there are no ``cgroups`` (``no_cgroups`` says why)."""
    params = vcpuparams.parse(vm.VCPUs_params, vm.VCPUs_max)
    if (params.weight or params.cap) and cgroups is None:
        raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/params", vcpuparams.format(
            vcpuparams.VcpuParams(params.weight, params.cap)),
            "the QEMU backend applies a weight or cap through a CPU cgroup: %s" % no_cgroups)


async def apply_at_start(dom, cgroups, vm):
    """VCPUs/params of VMConfig ``vm`` applied to its new guest ``dom``."""
    await apply(dom, cgroups, vcpuparams.parse(vm.VCPUs_params, vm.VCPUs_max))


async def apply(dom, cgroups, params):
    """The weight and cap of ``params`` (VcpuParams; unset: the defaults) in guest
    ``dom``'s cgroup of ``cgroups`` (None: the host has none), and each vCPU thread
    pinned as it says. VALUE_NOT_SUPPORTED naming the pair when the host has no
    such CPU, before anything is changed."""
    usable = os.sched_getaffinity(0)
    for vcpu, cpus in params.affinity:
        if not set(cpus) <= usable:
            raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/params",
                               "cpumap%d=%s" % (vcpu, vcpuparams.format_cpus(cpus)),
                               "this host's CPUs are %s" % vcpuparams.format_cpus(
                                   tuple(sorted(usable))))
    if cgroups is not None:
        try:
            cgroups.set(dom.uuid, params.weight, params.cap)
        except OSError as err:
            raise BackendError("INTERNAL_ERROR", "cannot set the CPU cgroup of %s: %s"
                               % (dom.uuid, err)) from None
    for cpu in await dom.qmp("query-cpus-fast"):
        pinned = params.pinned(cpu["cpu-index"])
        os.sched_setaffinity(cpu["thread-id"], usable if pinned is None else pinned)
