// Delete lists exactly what it will delete before doing it: the VM (with its VBDs and
// VIFs, which VM.destroy removes) and, each with a checkbox, the VDIs of its disks that
// no other VM uses. VDIs another VM uses are listed as kept. Then Async.VM.destroy
// (followed to its outcome) and a VDI.destroy per disk ticked, each step's failure
// shown in the dialog.
import { h } from "../../dom.js";
import { openDialog } from "../../dialog.js";
import { api } from "../../session.js";
import { outcome } from "./task.js";

// The VDIs of VM `vm`'s VBDs, as [vdi ref, vdi record, VBD record, whether another
// VM has a VBD of it too].
function disksOf(vm, objects) {
  const vbds = [...objects.vbd.values()];
  return vbds.filter((vbd) => vbd.VM === vm && objects.vdi.has(vbd.VDI)).map((vbd) => [
    vbd.VDI, objects.vdi.get(vbd.VDI), vbd,
    vbds.some((other) => other.VDI === vbd.VDI && other.VM !== vm)]);
}

// askDelete(vm, record, objects, onDeleted): onDeleted runs once all is deleted.
export function askDelete(vm, record, objects, onDeleted) {
  const boxes = [];   // [checkbox, vdi ref]
  const deleted = new Set();   // what a try that failed half-way already deleted
  const items = disksOf(vm, objects).map(([ref, vdi, vbd, shared]) => {
    if (shared) {
      return h("li", { "data-test": "delete-kept", "data-ref": ref },
        `Kept: disk ${vdi.name_label} (${vbd.device}), used by another VM`);
    }
    // A CD's medium is usually an ISO image other VMs may want later: not ticked.
    const box = h("input", { type: "checkbox", checked: vbd.type !== "CD",
      "data-test": "delete-vdi", "data-ref": ref });
    boxes.push([box, ref]);
    return h("li", {}, h("label", {}, box, ` Delete disk ${vdi.name_label} (${vbd.device})`));
  });
  openDialog({
    title: `Delete ${record.name_label}`, test: "delete-dialog", confirm: "Delete",
    body: [h("p", {}, "This deletes:"),
      h("ul", { "data-test": "delete-list" },
        h("li", { "data-test": "delete-vm" }, `The VM ${record.name_label}, its disks' and `
          + "network interfaces' attachments"),
        items)],
    onConfirm: async (say) => {
      const vdis = boxes.filter(([box]) => box.checked).map(([, ref]) => ref);
      // The VM as the page's other operations, a task (Async.VM.destroy); then its disks.
      const steps = [[vm, `the VM ${record.name_label}`,
        async () => outcome(await api("Async.VM.destroy", vm))],
      ...vdis.map((v) => [v, `disk ${objects.vdi.get(v).name_label}`,
        () => api("VDI.destroy", v)])];
      for (const [ref, what, run] of steps) {
        if (deleted.has(ref)) continue;
        say(`Deleting ${what}…`);
        await run();
        deleted.add(ref);
      }
      onDeleted();
    },
  });
}
