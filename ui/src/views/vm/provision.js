// A new VM made step by step from what the New VM dialog asked: created from scratch
// (VM.create) or cloned from a template (VM.clone, then made a VM and given the memory
// and vCPUs asked for), its boot medium or kernel, a new disk (VDI.create in the SR
// chosen, attached as its first disk), a NIC on the network chosen. A step that fails
// stops it and what the steps before it made is removed again; the failure's `during`
// says which step it was, and what could not be removed.
import { api } from "../../session.js";

export const MIB = 1024 * 1024;

// Bounds [setter, old value, new value], highest first (each at most the one before it,
// as static_min <= dynamic_min <= dynamic_max <= static_max, or VCPUs_at_startup <=
// VCPUs_max), as the setters to call, in an order that keeps them in order after each
// call: those that grow from the highest down, then those that shrink from the lowest up.
// A bound left as it was is not set; one that is not a number is set with the growing
// ones, for the API to refuse.
export function boundsInOrder(bounds) {
  const changed = bounds.filter(([, old, next]) => String(next) !== String(old));
  const shrinks = ([, old, next]) => Number(next) < Number(old);
  return [...changed.filter((b) => !shrinks(b)), ...changed.filter(shrinks).reverse()];
}

// api(method, ...params) as step `what` of a dialog: told through say(text), and its
// failure's `during` saying which step failed.
export async function stepOf(say, what, method, ...params) {
  say(`${what}…`);
  try {
    return await api(method, ...params);
  } catch (e) {
    e.during = `${what} failed`;
    throw e;
  }
}

// makeVM(spec, say) -> the new VM's ref. spec: {template (ref or ""), name, memory
// (bytes), vcpus, boot: {kind: "none" | "iso" | "kernel", iso, kernel, ramdisk, args},
// disk: {sr, size (bytes)} or null, network (ref or "")}. say(text) tells each step.
export async function makeVM(spec, say) {
  const made = [];   // [destroy method, ref], in the order made: the VM first
  const step = (what, method, ...params) => stepOf(say, what, method, ...params);
  try {
    const vm = await (spec.template ? fromTemplate : fromScratch)(spec, step, made);
    if (spec.disk) {
      const vdi = await step("Creating the disk", "VDI.create", {
        name_label: `${spec.name} disk`, name_description: "", SR: spec.disk.sr,
        virtual_size: spec.disk.size, type: "user", sharable: false, read_only: false,
        other_config: {} });
      made.push(["VDI.destroy", vdi]);
      await step("Attaching the disk", "VBD.create", { VM: vm, VDI: vdi, device: "xvda",
        mode: "RW", type: "Disk", bootable: spec.boot.kind !== "iso" });
    }
    if (spec.boot.kind === "iso") {
      await step("Inserting the ISO", "VBD.create", { VM: vm, VDI: spec.boot.iso,
        device: "hdc", mode: "RO", type: "CD", bootable: true });
    }
    if (spec.network) {
      await step("Adding the network interface", "VIF.create", { VM: vm,
        network: spec.network, device: "eth0" });
    }
    return vm;
  } catch (e) {
    say("Removing what was made…");
    // The VM first: VM.destroy removes its VBDs and VIFs, which frees its disks.
    const left = [];
    for (const [method, ref] of made) {
      await api(method, ref).catch((failure) => left.push(`${ref} (${failure.code || failure})`));
    }
    if (left.length) e.during += `; not removed: ${left.join(", ")}`;
    throw e;
  }
}

// The VM's boot fields, as Xen-API 1.0 names them: an ISO boots from the CD in the
// BIOS order ("d"), a kernel is given to the guest directly.
function bootFields(boot) {
  if (boot.kind === "kernel") {
    return { HVM_boot_policy: "", PV_kernel: boot.kernel, PV_ramdisk: boot.ramdisk,
      PV_args: boot.args };
  }
  if (boot.kind === "iso") return { HVM_boot_policy: "BIOS order", HVM_boot_params: { order: "d" } };
  return {};
}

async function fromScratch(spec, step, made) {
  const vm = await step("Creating the VM", "VM.create", {
    name_label: spec.name, name_description: "",
    memory_static_max: spec.memory, memory_dynamic_max: spec.memory,
    memory_dynamic_min: spec.memory, VCPUs_max: spec.vcpus, VCPUs_at_startup: spec.vcpus,
    ...bootFields(spec.boot) });
  made.push(["VM.destroy", vm]);
  return vm;
}

async function fromTemplate(spec, step, made) {
  const vm = await step("Cloning the template", "VM.clone", spec.template, spec.name);
  made.push(["VM.destroy", vm]);
  await step("Making the clone a VM", "VM.set_is_a_template", vm, false);
  const record = await step("Reading the clone", "VM.get_record", vm);
  const bounds = boundsInOrder([
    ["VM.set_memory_static_max", record.memory_static_max, spec.memory],
    ["VM.set_memory_dynamic_max", record.memory_dynamic_max, spec.memory],
    ["VM.set_memory_dynamic_min", record.memory_dynamic_min, spec.memory]]);
  for (const [setter, , value] of bounds) await step("Setting its memory", setter, vm, value);
  const vcpus = boundsInOrder([["VM.set_VCPUs_max", record.VCPUs_max, spec.vcpus],
    ["VM.set_VCPUs_at_startup", record.VCPUs_at_startup, spec.vcpus]]);
  for (const [setter, , value] of vcpus) await step("Setting its vCPUs", setter, vm, value);
  for (const [field, value] of Object.entries(bootFields(spec.boot))) {
    await step("Setting how it boots", `VM.set_${field}`, vm, value);
  }
  return vm;
}
