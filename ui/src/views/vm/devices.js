// The VM page's devices: its disks (VBDs with their VDI), NICs (VIFs on their
// networks) and consoles (each a link to the console view), drawn from the records
// the page's events keep (objects: class -> Map of ref -> record), with the buttons
// that add and remove disks and NICs and insert and eject CDs (their dialogs are
// equip.js's).
import { bytes, fill, h } from "../../dom.js";

function grid(test, head, rows, none) {
  return h("table", { class: "grid", "data-test": test },
    h("thead", {}, h("tr", {}, head.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows
      : h("tr", {}, h("td", { class: "none", colspan: head.length }, none))));
}

// The records of `cls` that belong to VM `vm`, in order of their device name.
function of(objects, cls, vm) {
  return [...objects[cls]].filter(([, record]) => record.VM === vm)
    .sort(([, a], [, b]) => String(a.device).localeCompare(String(b.device)));
}

function heading(title, ...buttons) {
  return h("div", { class: "section-head" }, h("h2", {}, title), buttons);
}

// devicesView({addDisk(), removeDisk(vbd), insertCd(), addNic(), removeNic(vif)}) ->
// {el, update(vm ref, objects)}.
export function devicesView(handlers) {
  const el = h("section", { "data-test": "vm-devices" });
  const update = (vm, objects) => {
    const disks = of(objects, "vbd", vm).map(([ref, vbd]) => {
      const vdi = objects.vdi.get(vbd.VDI);
      return h("tr", { "data-test": "vm-disk", "data-ref": ref },
        h("td", { "data-test": "vm-disk-device" }, vbd.device),
        h("td", {}, vbd.type),
        h("td", { "data-test": "vm-disk-mode" }, vbd.mode),
        h("td", { "data-test": "vm-disk-vdi" }, vdi ? vdi.name_label : vbd.VDI),
        h("td", { class: "num", "data-test": "vm-disk-size" }, vdi ? bytes(vdi.virtual_size) : ""),
        h("td", {}, vbd.bootable ? "bootable" : ""),
        h("td", {}, vbd.type === "CD"
          ? h("button", { "data-test": "vm-cd-eject", onclick: () => handlers.removeDisk(ref) },
            "Eject…")
          : h("button", { "data-test": "vm-disk-remove", onclick: () => handlers.removeDisk(ref) },
            "Remove…")));
    });
    const nics = of(objects, "vif", vm).map(([ref, vif]) => {
      const network = objects.network.get(vif.network);
      return h("tr", { "data-test": "vm-nic", "data-ref": ref },
        h("td", { "data-test": "vm-nic-device" }, vif.device),
        h("td", { "data-test": "vm-nic-network" }, network ? network.name_label : vif.network),
        h("td", { "data-test": "vm-nic-mac" }, h("code", {}, vif.MAC)),
        h("td", {}, h("button", { "data-test": "vm-nic-remove",
          onclick: () => handlers.removeNic(ref) }, "Remove…")));
    });
    const consoles = [...objects.console].filter(([, c]) => c.VM === vm)
      .map(([ref, c]) => h("li", { "data-test": "vm-console", "data-ref": ref },
        h("a", { href: `#/console/${encodeURIComponent(vm)}`, "data-test": "vm-console-link" },
          `Open the ${c.protocol} console`)));
    fill(el,
      heading("Disks",
        h("button", { "data-test": "vm-disk-add", onclick: handlers.addDisk }, "Add disk…"),
        h("button", { "data-test": "vm-cd-insert", onclick: handlers.insertCd }, "Insert CD…")),
      grid("vm-disks", ["Device", "Type", "Mode", "VDI", "Size", "", ""], disks, "No disks"),
      heading("Network interfaces",
        h("button", { "data-test": "vm-nic-add", onclick: handlers.addNic }, "Add interface…")),
      grid("vm-nics", ["Device", "Network", "MAC", ""], nics, "No network interfaces"),
      h("h2", {}, "Consoles"),
      consoles.length ? h("ul", { class: "consoles", "data-test": "vm-consoles" }, consoles)
        : h("p", { class: "none", "data-test": "vm-consoles" },
          "No consoles (a guest has them while it runs)."));
  };
  return { el, update };
}
