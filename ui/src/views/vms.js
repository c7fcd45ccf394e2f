// The VM list: name, power state, memory, vCPUs and CPU utilisation of every VM, the
// templates in a list of their own. Rows are added, changed and removed as event.from
// reports VMs made, changed and destroyed by any client; the utilisation, which raises
// no events, is asked for again every few seconds (VM_metrics). New VM opens the dialog
// that makes one (views/vm/newvm.js).
import { badge, bytes, fill, h, percent, problem } from "../dom.js";
import { every, subscribe } from "../events.js";
import { api } from "../session.js";
import { askNewVM } from "./vm/newvm.js";

const REFRESH_MS = 3000;

// The mean of a VM's per-vCPU utilisations (VCPUs_utilisation: vCPU -> fraction), or
// null when it has none (not running).
function utilisation(perVcpu) {
  const values = Object.values(perVcpu || {}).map(Number);
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export function render(root) {
  const vmBody = h("tbody", { "data-test": "vm-rows" });
  const templateBody = h("tbody", { "data-test": "template-rows" });
  const vms = new Map();   // ref -> {record, row, cpu (its cell)}

  const cpuText = (value) => (value == null ? "–" : percent(value));

  const show = (ref, record) => {
    const cpu = h("td", { class: "num", "data-test": "vm-cpu" },
      cpuText(utilisation(record.VCPUs_utilisation)));
    const row = h("tr", { "data-test": "vm-row", "data-ref": ref },
      h("td", {}, h("a", { href: `#/vm/${encodeURIComponent(ref)}`, "data-test": "vm-name" },
        record.name_label)),
      h("td", {}, badge(record.power_state, "vm-power")),
      h("td", { class: "num", "data-test": "vm-memory" }, bytes(record.memory_static_max)),
      h("td", { class: "num", "data-test": "vm-vcpus" }, record.VCPUs_number),
      h("td", {}, record.name_description),
      cpu);
    const old = vms.get(ref);
    if (old) old.row.remove();
    vms.set(ref, { record, row, cpu });
    // Keep each list in order of name: insert before the first row named after it.
    const body = record.is_a_template ? templateBody : vmBody;
    const after = [...vms.values()].find((vm) => vm.row !== row && vm.row.parentNode === body
      && vm.record.name_label.localeCompare(record.name_label) > 0);
    body.insertBefore(row, after ? after.row : null);
  };

  const onEvent = (event) => {
    if (event.operation === "del") {
      const old = vms.get(event.ref);
      if (old) old.row.remove();
      vms.delete(event.ref);
    } else if (event.snapshot) {
      show(event.ref, event.snapshot);
    }
  };

  const refresh = async () => {
    const metrics = await api("VM_metrics.get_all_records");
    for (const vm of vms.values()) {
      const m = metrics[vm.record.metrics];
      if (m) vm.cpu.textContent = cpuText(utilisation(m.VCPUs_utilisation));
    }
  };

  const head = () => h("thead", {}, h("tr", {},
    ["Name", "Power state", "Memory", "vCPUs", "Description", "CPU"]
      .map((t) => h("th", {}, t))));
  const messages = h("div", { class: "messages" });
  const newVM = () => askNewVM().then(() => fill(messages), (e) => fill(messages, problem(e)));
  fill(root,
    h("div", { class: "title-bar" }, h("h1", {}, "VMs"),
      h("button", { class: "primary", "data-test": "vm-new", onclick: newVM }, "New VM")),
    messages,
    h("table", { class: "grid", "data-test": "vm-list" }, head(), vmBody),
    h("details", { class: "templates" },
      h("summary", {}, "Templates"),
      h("table", { class: "grid", "data-test": "template-list" }, head(), templateBody)));
  const stopEvents = subscribe(["VM"], onEvent);
  const stopRefresh = every(REFRESH_MS, refresh);
  return () => {
    stopEvents();
    stopRefresh();
  };
}
