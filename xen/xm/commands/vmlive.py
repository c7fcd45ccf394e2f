"""Live changes: a running VM's vCPUs, and what it gets at its next boot."""

from ..output import MIB
from . import arg, command, lifecycle_help, positive

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
