"""VCPUs/params on QEMU: each vCPU's affinity, set on its thread.

QEMU runs each vCPU on a thread of its own (``query-cpus-fast`` reports its id), and
``sched_setaffinity`` takes a thread id, so a vCPU pinned to CPUs is its thread
pinned to them; an unpinned one may run on every CPU the daemon may use. The
credit scheduler's weight and cap have no QEMU counterpart here: ``validate``
refuses them when set (docs/vm-mapping.md).
"""

import os

from .. import vcpuparams
from ..base import BackendError


def validate(vm):
    """VALUE_NOT_SUPPORTED for a weight or cap in VCPUs/params, before it is stored."""
    params = vcpuparams.parse(vm.VCPUs_params, vm.VCPUs_max)
    if params.weight or params.cap:
        raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/params", vcpuparams.format(
            vcpuparams.VcpuParams(params.weight, params.cap)),
            "the QEMU backend applies no weight or cap: it would need the cgroup v2 cpu "
            "controller for each guest's process")


async def apply_at_start(dom, vm):
    """VCPUs/params of VMConfig ``vm`` applied to its new guest ``dom`` (its threads may
    run anywhere already unless some vCPU is pinned)."""
    params = vcpuparams.parse(vm.VCPUs_params, vm.VCPUs_max)
    if params.affinity:
        await apply(dom, params)


async def apply(dom, params):
    """Pin each vCPU thread of guest ``dom`` as ``params`` (VcpuParams) says.
    VALUE_NOT_SUPPORTED naming the pair when the host has no such CPU, before any
    thread is changed."""
    usable = os.sched_getaffinity(0)
    for vcpu, cpus in params.affinity:
        if not set(cpus) <= usable:
            raise BackendError("VALUE_NOT_SUPPORTED", "VCPUs/params",
                               "cpumap%d=%s" % (vcpu, vcpuparams.format_cpus(cpus)),
                               "this host's CPUs are %s" % vcpuparams.format_cpus(
                                   tuple(sorted(usable))))
    for cpu in await dom.qmp("query-cpus-fast"):
        pinned = params.pinned(cpu["cpu-index"])
        os.sched_setaffinity(cpu["thread-id"], usable if pinned is None else pinned)
