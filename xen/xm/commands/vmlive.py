"""Live changes: a running VM's vCPUs and scheduling (VCPUs/params), and what it gets
at its next boot."""


from ..client import XmError
from ..output import MIB, print_table, vcpu_params
from . import arg, command, lifecycle_help, positive

# The credit scheduler's weight where VCPUs/params sets none (xend's backend/vcpuparams.py).
DEFAULT_WEIGHT = 256

VM_ARG = arg("vm", metavar="VM", help="the VM's name or UUID")


@command("vcpu-set", "set the number of vCPUs a running VM has", "VMs", args=[
    VM_ARG, arg("n", metavar="N", type=positive, help="the number of vCPUs, 1..VCPUs/max"),
], details="""\
Hot-plugs or unplugs vCPUs of the running VM (VM.set_VCPUs_number_live) until
it has N, at most VCPUs/max (the vcpus/maxvcpus of its config file). The VM
keeps N for its next start (VCPUs/at_startup). Unplugging waits for the guest
to let go of each vCPU.

""" + lifecycle_help("set_VCPUs_number_live"))
def vcpu_set(client, opts):
    vm = client.resolve("VM", opts.vm)
    client.call("VM.set_VCPUs_number_live", vm, opts.n)


@command("mem-max", "set the most memory a VM boots with", "VMs", args=[
    VM_ARG, arg("mib", metavar="MiB", type=positive, help="the new maximum, in MiB"),
], details="""\
Sets memory/static_max (VM.set_memory_static_max) for the VM's next start. It
must stay at least memory/dynamic_max (mem-set lowers that first).

""" + lifecycle_help("set_memory_static_max"))
def mem_max(client, opts):
    vm = client.resolve("VM", opts.vm)
    client.call("VM.set_memory_static_max", vm, opts.mib * MIB)


@command("sched-credit", "set or show a VM's credit-scheduler weight and cap", "VMs", args=[
    arg("-d", "--domain", dest="vm", metavar="VM", required=True,
        help="the VM's name or UUID"),
    arg("-w", "--weight", type=positive, help="its share of contended CPU time, 1..65535"),
    arg("-c", "--cap", type=int, help="0 for none, else the most CPU it may use, in "
                                      "percent of one CPU"),
], details="""\
Sets weight= and cap= in VCPUs/params, applied at once to a resident VM (the
other keys stay). Without -w and -c, prints the current values (256 and 0 when
unset). Setting them is root's only: a higher weight or a lifted cap takes CPU
time from other VMs; any user may pin vCPUs (vcpu-pin).""")
def sched_credit(client, opts):
    vm = client.resolve("VM", opts.vm)
    params = _params(client, vm)
    if opts.weight is None and opts.cap is None:
        print_table(("Name", "ID", "Weight", "Cap"),
                    [(client.call("VM.get_name_label", vm), vm,
                      params.get("weight", str(DEFAULT_WEIGHT)), params.get("cap", "0"))],
                    right=(2, 3))
        return
    for key in ("weight", "cap"):
        if getattr(opts, key) is not None:
            params[key] = str(getattr(opts, key))
    _set_params(client, vm, params)


@command("vcpu-pin", "let a vCPU run only on some CPUs", "VMs", args=[
    VM_ARG, arg("vcpu", metavar="VCPU", help="the vCPU's number, or all"),
    arg("cpus", metavar="CPUS", help="host CPUs such as 0-3,6, or all"),
], details="""\
Sets cpumapN in VCPUs/params, applied at once to a resident VM; vcpu-list
shows each vCPU's affinity.""")
def vcpu_pin(client, opts):
    vm = client.resolve("VM", opts.vm)
    params = _params(client, vm)
    if opts.vcpu == "all":
        vcpus = range(int(client.call("VM.get_VCPUs_max", vm)))
    elif opts.vcpu.isdigit():
        vcpus = [int(opts.vcpu)]
    else:
        raise XmError("VCPU must be a vCPU's number or all, not %r" % opts.vcpu)
    for vcpu in vcpus:
        params["cpumap%d" % vcpu] = opts.cpus
    _set_params(client, vm, params)


def _params(client, vm):
    """VCPUs/params of ``vm`` as {key: value}, in order."""
    return vcpu_params(client.call("VM.get_VCPUs_params", vm))


def _set_params(client, vm, params):
    """VCPUs/params of ``vm`` set to {key: value}: the daemon checks, applies and stores."""
    client.call("VM.set_VCPUs_params", vm, " ".join("%s=%s" % kv for kv in params.items()))
