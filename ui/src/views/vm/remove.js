// Delete lists exactly what it will delete before doing it: the VM (with its VBDs and
// VIFs, which VM.destroy removes) and, each with a checkbox, the VDIs of its disks that
// no other VM uses. VDIs another VM uses are listed as kept. Then Async.VM.destroy
// (followed to its outcome) and a VDI.destroy per disk ticked, each step's failure
// shown in the dialog. What it lists is read from the API when asked, not from the
// page's copies, which events may not have filled yet.
import { h } from "../../dom.js";
import { openDialog } from "../../dialog.js";
import { api } from "../../session.js";
import { outcome } from "./task.js";

// The VDIs of VM `vm`'s VBDs (an empty drive has none), as [vdi ref, vdi record, VBD
// record, whether another VM has a VBD of it too].
async function disksOf(vm) {
  const mine = await api("VM.get_VBDs", vm);
  const vbds = (await Promise.all(mine.map((ref) => api("VBD.get_record", ref))))
    .filter((vbd) => vbd.VDI && vbd.VDI !== "OpaqueRef:NULL");
  const vdis = await Promise.all(vbds.map((vbd) => api("VDI.get_record", vbd.VDI)));
  return vbds.map((vbd, i) => [vbd.VDI, vdis[i], vbd,
    vdis[i].VBDs.some((other) => !mine.includes(other))]);
}

// askDelete(vm, record, onDeleted): onDeleted runs once all is deleted. Rejects if
// what the VM holds cannot be read.
export async function askDelete(vm, record, onDeleted) {
  const boxes = [];   // [checkbox, vdi ref]
  const deleted = new Set();   // what a try that failed half-way already deleted
  const disks = await disksOf(vm);
  const names = new Map(disks.map(([ref, vdi]) => [ref, vdi.name_label]));
  const items = disks.map(([ref, vdi, vbd, shared]) => {
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
      ...vdis.map((v) => [v, `disk ${names.get(v)}`,
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
