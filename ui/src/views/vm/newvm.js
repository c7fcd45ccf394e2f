// The New VM dialog, opened from the VM list: from scratch or from a template, a name,
// memory and vCPUs, how it boots (nothing yet, an ISO of an ISO SR as a CD, or a
// kernel), a new disk in a chosen SR, a NIC on a chosen network. provision.js makes it;
// a step's failure shows in the dialog with its code and sentence, and which step.
import { field, h } from "../../dom.js";
import { choice, named, openDialog } from "../../dialog.js";
import { api } from "../../session.js";
import { makeVM, MIB } from "./provision.js";

const DEFAULT_MEMORY_MIB = 256;
const DEFAULT_DISK_MIB = 1024;

// askNewVM(): loads what the dialog offers (templates, SRs, ISOs, networks), then opens
// it. Returns a promise that rejects if that loading fails.
export async function askNewVM() {
  const [vms, srs, vdis, networks] = await Promise.all([api("VM.get_all_records"),
    api("SR.get_all_records"), api("VDI.get_all_records"), api("network.get_all_records")]);
  const isoSRs = new Set(Object.keys(srs).filter((ref) => srs[ref].content_type === "iso"));

  const source = choice("new-source", [["", "From scratch"],
    ...named(vms, (r) => r.is_a_template)]);
  const name = h("input", { required: true, "data-test": "new-name" });
  const memory = h("input", { type: "number", min: 16, value: DEFAULT_MEMORY_MIB,
    required: true, "data-test": "new-memory" });
  const vcpus = h("input", { type: "number", min: 1, value: 1, required: true,
    "data-test": "new-vcpus" });
  const boot = choice("new-boot", [["none", "Nothing yet"], ["iso", "An ISO image (CD)"],
    ["kernel", "A kernel"]]);
  const iso = choice("new-iso", named(vdis, (r) => isoSRs.has(r.SR)));
  const kernel = h("input", { placeholder: "/boot/vmlinuz", "data-test": "new-kernel" });
  const ramdisk = h("input", { placeholder: "/boot/initrd.img", "data-test": "new-ramdisk" });
  const args = h("input", { placeholder: "console=ttyS0", "data-test": "new-args" });
  const isoFields = h("div", {}, field("ISO image", iso));
  const kernelFields = h("div", {}, field("Kernel", kernel), field("Initial ramdisk", ramdisk),
    field("Kernel arguments", args));
  const diskSize = h("input", { type: "number", min: 0, value: DEFAULT_DISK_MIB,
    "data-test": "new-disk-size" });
  const diskSR = choice("new-disk-sr", named(srs, (r) => r.content_type !== "iso"));
  const network = choice("new-network", [["", "None"], ...named(networks, () => true)]);

  const showBoot = () => {
    isoFields.hidden = boot.value !== "iso";
    kernelFields.hidden = boot.value !== "kernel";
  };
  boot.addEventListener("change", showBoot);
  showBoot();
  // A template's own memory and vCPUs are what the clone keeps unless changed here.
  source.addEventListener("change", () => {
    const template = vms[source.value];
    memory.value = template ? Number(template.memory_static_max) / MIB : DEFAULT_MEMORY_MIB;
    vcpus.value = template ? template.VCPUs_max : 1;
  });

  openDialog({
    title: "New VM", test: "new-vm", confirm: "Create",
    body: [field("Source", source), field("Name", name),
      h("div", { class: "columns" }, field("Memory (MiB)", memory), field("vCPUs", vcpus)),
      field("Boot from", boot), isoFields, kernelFields,
      h("div", { class: "columns" }, field("New disk (MiB, 0 for none)", diskSize),
        field("in storage repository", diskSR)),
      field("Network", network)],
    onConfirm: (say) => makeVM({
      template: source.value, name: name.value, memory: Number(memory.value) * MIB,
      vcpus: Number(vcpus.value),
      boot: { kind: boot.value, iso: iso.value, kernel: kernel.value, ramdisk: ramdisk.value,
        args: args.value },
      disk: Number(diskSize.value) > 0
        ? { sr: diskSR.value, size: Number(diskSize.value) * MIB } : null,
      network: network.value,
    }, say),
  });
}
