// Clone asks for the new VM's name; the clone itself runs as the page's other
// operations do, as a task (VM.clone).
import { h } from "../../dom.js";
import { openDialog } from "../../dialog.js";

// askClone(record, clone(name)): clone is called with the name chosen.
export function askClone(record, clone) {
  const name = h("input", { value: `${record.name_label} copy`, required: true,
    "data-test": "clone-name" });
  openDialog({
    title: `Clone ${record.name_label}`, test: "clone-dialog", confirm: "Clone",
    body: h("label", { class: "field" }, "Name of the new VM", name),
    onConfirm: async () => clone(name.value),
  });
}
