// The VM page's dialogs that change its devices: add a disk (a new VDI in a chosen SR,
// or an existing VDI), remove one (VBD.destroy, which unplugs it from a running guest
// first, and, if ticked, VDI.destroy), add a NIC (a network, the MAC optional) and
// remove one (VIF.destroy), and insert a CD (an ISO SR's VDI: VBD.media_change of the
// VM's CD drive, or a new read-only CD VBD where it has none) or eject it (the API's
// CD drive always holds a medium, so ejecting removes the drive's VBD). Each step is
// one API call; a step's failure shows in the dialog with its code and sentence, and
// what the dialog made before it is removed again. The devices table follows events.
import { bytes, field, h } from "../../dom.js";
import { choice, named, openDialog } from "../../dialog.js";
import { api } from "../../session.js";
import { MIB, stepOf as step } from "./provision.js";

const DEFAULT_DISK_MIB = 1024;
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

// The first of `names` that none of VM `vm`'s devices of class `cls` uses.
function firstFree(objects, cls, vm, names) {
  const used = new Set([...objects[cls].values()].filter((d) => d.VM === vm)
    .map((d) => d.device));
  return names.find((name) => !used.has(name)) || "";
}

// askAddDisk(vm, objects): a new disk (size, SR) or an existing VDI, as a device the
// VM does not use yet (proposed: its first free xvdX).
export async function askAddDisk(vm, objects) {
  const srs = await api("SR.get_all_records");
  const isoSRs = new Set(Object.keys(srs).filter((ref) => srs[ref].content_type === "iso"));
  const source = choice("disk-source", [["new", "A new disk"], ["existing", "An existing disk"]]);
  const sr = choice("disk-sr", named(srs, (r) => r.content_type !== "iso"));
  const size = h("input", { value: DEFAULT_DISK_MIB, inputmode: "numeric", "data-test": "disk-size" });
  const vdi = choice("disk-vdi", named(objects.vdi, (r) => !isoSRs.has(r.SR))
    .map(([ref, name]) => [ref, `${name} (${bytes(objects.vdi.get(ref).virtual_size)})`]));
  const device = h("input", { required: true, "data-test": "disk-device",
    value: firstFree(objects, "vbd", vm, [...LETTERS].map((l) => `xvd${l}`)) });
  const newFields = h("div", { class: "columns" }, field("Size (MiB)", size),
    field("in storage repository", sr));
  const existingFields = field("Disk", vdi);
  const show = () => {
    newFields.hidden = source.value !== "new";
    existingFields.hidden = source.value !== "existing";
  };
  source.addEventListener("change", show);
  show();
  openDialog({
    title: "Add a disk", test: "disk-dialog", confirm: "Add",
    body: [field("Disk", source), newFields, existingFields, field("Device", device)],
    onConfirm: async (say) => {
      let made = null;
      if (source.value === "new") {
        const mib = size.value.trim();
        made = await step(say, "Creating the disk", "VDI.create", {
          name_label: `${device.value} disk`, name_description: "", SR: sr.value,
          virtual_size: /^\d+$/.test(mib) ? Number(mib) * MIB : mib, type: "user",
          sharable: false, read_only: false, other_config: {} });
      }
      try {
        await step(say, "Attaching the disk", "VBD.create", { VM: vm, VDI: made || vdi.value,
          device: device.value, mode: "RW", type: "Disk", bootable: false });
      } catch (e) {
        if (made) await api("VDI.destroy", made).catch(() => { e.during += `; not removed: ${made}`; });
        throw e;
      }
    },
  });
}

// askRemoveDisk(vbd, objects): VBD.destroy, and VDI.destroy of its VDI if ticked (a
// disk no other VM uses is ticked; a CD's medium or a shared disk is not).
export function askRemoveDisk(vbd, objects) {
  const record = objects.vbd.get(vbd);
  const vdi = objects.vdi.get(record.VDI);
  const shared = [...objects.vbd.values()].some((o) => o.VDI === record.VDI && o.VM !== record.VM);
  const box = h("input", { type: "checkbox", checked: record.type !== "CD" && !shared,
    "data-test": "disk-remove-vdi" });
  openDialog({
    title: `Remove ${record.device}`, test: "disk-remove-dialog", confirm: "Remove",
    body: [h("p", {}, `The VM loses ${record.device} (unplugged first if its guest runs).`),
      vdi && h("label", {}, box, ` Delete the disk ${vdi.name_label} too`,
        shared ? " (another VM uses it)" : "")],
    onConfirm: async (say) => {
      await step(say, `Removing ${record.device}`, "VBD.destroy", vbd);
      if (vdi && box.checked) await step(say, `Deleting ${vdi.name_label}`, "VDI.destroy", record.VDI);
    },
  });
}

// askAddNic(vm, objects): a network, a device (proposed: the first free ethN) and an
// optional MAC (the daemon makes one otherwise).
export function askAddNic(vm, objects) {
  const network = choice("nic-network", named(objects.network, () => true));
  const device = h("input", { required: true, "data-test": "nic-device",
    value: firstFree(objects, "vif", vm, [...LETTERS].map((_, i) => `eth${i}`)) });
  const mac = h("input", { placeholder: "made by the daemon", "data-test": "nic-mac" });
  openDialog({
    title: "Add a network interface", test: "nic-dialog", confirm: "Add",
    body: [field("Network", network), field("Device", device), field("MAC (optional)", mac)],
    onConfirm: (say) => step(say, "Adding the interface", "VIF.create", { VM: vm,
      network: network.value, device: device.value, ...(mac.value ? { MAC: mac.value } : {}) }),
  });
}

// askRemoveNic(vif, objects): VIF.destroy.
export function askRemoveNic(vif, objects) {
  const record = objects.vif.get(vif);
  openDialog({
    title: `Remove ${record.device}`, test: "nic-remove-dialog", confirm: "Remove",
    body: h("p", {}, `The VM loses ${record.device} (${record.MAC}).`),
    onConfirm: (say) => step(say, `Removing ${record.device}`, "VIF.destroy", vif),
  });
}

// askInsertCd(vm, objects): an ISO SR's VDI, into the VM's CD drive (VBD.media_change)
// or, where it has none, a new CD drive (the first free of hdc, hdd, ...).
export async function askInsertCd(vm, objects) {
  const srs = await api("SR.get_all_records");
  const iso = choice("cd-iso", named(objects.vdi, (r) => srs[r.SR] && srs[r.SR].content_type === "iso"));
  const [drive] = [...objects.vbd].find(([, r]) => r.VM === vm && r.type === "CD") || [];
  openDialog({
    title: "Insert a CD", test: "cd-dialog", confirm: "Insert",
    body: field("ISO image", iso),
    onConfirm: (say) => (drive
      ? step(say, "Changing the medium", "VBD.media_change", drive, iso.value)
      : step(say, "Adding a CD drive", "VBD.create", { VM: vm, VDI: iso.value, mode: "RO",
        type: "CD", bootable: false,
        device: firstFree(objects, "vbd", vm, [..."cdefgh"].map((l) => `hd${l}`)) })),
  });
}
