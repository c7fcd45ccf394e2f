// The VM page's record: the name and description (edited in place), the power state,
// memory, vCPUs, the boot settings, and every other field in a details table.
import { badge, bytes, fill, h } from "../../dom.js";

// The boot settings, as Xen-API 1.0 names them (the page's session speaks 1.0).
const BOOT = ["HVM_boot_policy", "HVM_boot_params", "PV_bootloader", "PV_bootloader_args",
  "PV_kernel", "PV_ramdisk", "PV_args"];
// Fields shown elsewhere on the page, or the draft's names of fields shown under their
// 1.0 names (the record carries both), left out of the details.
const SHOWN = new Set([...BOOT, "name_label", "name_description", "power_state",
  "memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min",
  "memory_actual", "VCPUs_max", "VCPUs_at_startup", "VCPUs_number", "VBDs", "VIFs",
  "consoles", "boot_method", "bios_boot", "kernel_kernel", "kernel_initrd", "kernel_args",
  "grub_cmdline"]);

// A field's value as text: maps as key=value pairs, sets as lists, booleans as yes/no.
function text(value) {
  if (Array.isArray(value)) return value.join(", ");
  if (value && typeof value === "object") {
    return Object.entries(value).sort().map(([k, v]) => `${k}=${v}`).join(", ");
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  return value == null ? "" : String(value);
}

// A text shown as a value that becomes an input when clicked: Enter or leaving the
// input saves through save(new value), Escape gives up. While it is edited, values
// arriving from events do not overwrite what is typed.
function editable(test, placeholder, save) {
  let value = "";
  let editing = false;
  const shown = h("span", { class: "editable", tabindex: 0, title: "Click to edit",
    "data-test": test });
  const el = h("span", {}, shown);
  const show = () => {
    shown.textContent = value || placeholder;
    shown.classList.toggle("empty", !value);
    fill(el, shown);
  };
  const edit = () => {
    editing = true;
    const input = h("input", { class: "inline-edit", value, "data-test": `${test}-input` });
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      editing = false;
      if (keep && input.value !== value) {
        value = input.value;
        save(value);
      }
      show();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    fill(el, input);
    input.focus();
    input.select();
  };
  shown.addEventListener("click", edit);
  shown.addEventListener("keydown", (event) => { if (event.key === "Enter") edit(); });
  const set = (next) => {
    value = next || "";
    if (!editing) show();
  };
  return { el, set };
}

function factsTable(test, rows) {
  return h("table", { class: "facts", "data-test": test }, h("tbody", {},
    rows.map(([label, cell]) => h("tr", {}, h("th", {}, label), cell))));
}

// recordView(set(field, value)) -> {header, summary, details, update(record)}: the
// parts of the page the record fills; set saves a field edited in place.
export function recordView(set) {
  const name = editable("vm-name", "(no name)", (v) => set("name_label", v));
  const description = editable("vm-description", "(no description)",
    (v) => set("name_description", v));
  const power = h("span", {});
  const cells = {};
  const cell = (key) => (cells[key] = h("td", { "data-test": `vm-${key}` }));
  const memory = factsTable("vm-memory", [
    ["Static max", cell("memory_static_max")], ["Dynamic max", cell("memory_dynamic_max")],
    ["Dynamic min", cell("memory_dynamic_min")], ["Static min", cell("memory_static_min")],
    ["Actual", cell("memory_actual")]]);
  const vcpus = factsTable("vm-vcpus", [
    ["Max", cell("VCPUs_max")], ["At startup", cell("VCPUs_at_startup")],
    ["Now", cell("VCPUs_number")]]);
  const boot = factsTable("vm-boot", BOOT.map((key) => [key, cell(key)]));
  const details = h("tbody", {});

  const update = (record) => {
    name.set(record.name_label);
    description.set(record.name_description);
    fill(power, badge(record.power_state, "vm-power"));
    for (const [key, td] of Object.entries(cells)) {
      td.textContent = key.startsWith("memory_") ? bytes(record[key]) : text(record[key]);
    }
    fill(details, Object.keys(record).filter((key) => !SHOWN.has(key)).sort()
      .map((key) => h("tr", {}, h("th", {}, key),
        h("td", { "data-test": `vm-field-${key}` }, text(record[key])))));
  };

  return {
    header: h("div", { class: "vm-header" },
      h("h1", {}, name.el, " ", power), h("p", { class: "vm-description" }, description.el)),
    summary: h("div", { class: "columns" },
      h("div", {}, h("h2", {}, "Memory"), memory),
      h("div", {}, h("h2", {}, "vCPUs"), vcpus),
      h("div", {}, h("h2", {}, "Boot"), boot)),
    details: h("details", { class: "vm-details", "data-test": "vm-details" },
      h("summary", {}, "Details"), h("table", { class: "facts" }, details)),
    update,
  };
}
