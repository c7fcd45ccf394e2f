// The Storage view: each SR with its type, usage bars (physical utilisation and the
// VDIs' virtual allocation against its size) and its VDIs (size, the VMs using each,
// read-only and sharable), SR and VDI creation and destruction, VDI resize, and disk
// images uploaded into and downloaded from VDIs (views/storagetools.js). SRs, VDIs,
// VBDs and VMs follow events; the SRs' usage, which raises none as files fill, is asked
// for again every few seconds.
import { may } from "../access.js";
import { badge, bytes, fill, h, percent } from "../dom.js";
import { every } from "../events.js";
import { confirmButton, run } from "../forms.js";
import { byName, follow } from "../records.js";
import { api } from "../session.js";
import * as tools from "./storagetools.js";

const REFRESH_MS = 5000;

// A bar of `value` out of `total` bytes, with the figures beside it.
function usage(what, value, total, test) {
  const known = Number(total) > 0;
  return h("div", { class: "usage", "data-test": test },
    h("span", { class: "usage-what" }, what),
    h("meter", { min: 0, max: known ? total : 1, value: known ? value : 0,
      "data-test": `${test}-bar` }),
    h("span", { class: "usage-figures", "data-test": `${test}-text` },
      known ? `${bytes(value)} of ${bytes(total)} (${percent(value / total)})` : bytes(value)));
}

export function render(root) {
  const sections = new Map();   // SR ref -> {el, head, body, tool}
  const list = h("div", { "data-test": "sr-list" });
  const messages = h("div", { class: "messages" });
  const transfers = tools.transferList();
  const draw = () => {
    for (const ref of sections.keys()) if (!srs.has(ref)) sections.delete(ref);
    fill(list, byName(srs).map(([ref, sr]) => drawSr(ref, sr)));
  };
  const followed = follow(["SR", "VDI", "VBD", "VM"], draw);
  const { sr: srs, vdi: vdis, vbd: vbds, vm: vms } = followed.records;

  // The VM names using a VDI (through its VBDs).
  const users = (vdi) => [...vbds.values()].filter((vbd) => vbd.VDI === vdi)
    .map((vbd) => vms.get(vbd.VM)).filter(Boolean).map((vm) => vm.name_label).sort();

  const vdiRow = (ref, vdi, section) => {
    const show = (tool) => fill(section.tool, tool);
    return h("tr", { "data-test": "vdi-row", "data-ref": ref },
      h("td", { "data-test": "vdi-name" }, vdi.name_label),
      h("td", { class: "num", "data-test": "vdi-size" }, bytes(vdi.virtual_size)),
      h("td", { class: "num" }, bytes(vdi.physical_utilisation)),
      h("td", { "data-test": "vdi-users" }, users(ref).join(", ") || "–"),
      h("td", {}, vdi.read_only && badge("read-only", "vdi-read-only"), " ",
        vdi.sharable && badge("sharable", "vdi-sharable")),
      h("td", { class: "actions" },
        may("VDI.set_virtual_size") && h("button", { "data-test": "vdi-resize",
          onclick: () => show(tools.resizeForm(ref, vdi, messages)) }, "Resize"),
        may("VDI.set_virtual_size") && h("button", { "data-test": "vdi-upload",
          onclick: () => show(tools.uploadForm(ref, vdi, messages, transfers)) }, "Upload"),
        h("button", { "data-test": "vdi-download",
          onclick: () => show(tools.downloadForm(ref, vdi, messages, transfers)) }, "Download"),
        may("VDI.destroy") && confirmButton("Destroy", "vdi-destroy",
          () => run(messages, () => api("VDI.destroy", ref)))));
  };

  const section = (ref) => {
    if (sections.has(ref)) return sections.get(ref);
    const s = { head: h("div", { class: "sr-head" }), body: h("tbody", { "data-test": "vdi-rows" }),
      tool: h("div", { class: "tool" }) };
    s.el = h("section", { class: "sr", "data-test": "sr", "data-ref": ref }, s.head,
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["VDI", "Size", "Used on disk", "Used by", "", ""]
          .map((t) => h("th", {}, t)))),
        s.body),
      may("VDI.create") && tools.newVdiForm(ref, messages, transfers),
      s.tool);
    sections.set(ref, s);
    return s;
  };

  const drawSr = (ref, sr) => {
    const s = section(ref);
    fill(s.head,
      h("h2", { "data-test": "sr-name" }, sr.name_label), " ",
      badge(sr.type, "sr-type"), " ", sr.content_type && badge(sr.content_type),
      usage("Physical", sr.physical_utilisation, sr.physical_size, "sr-usage"),
      usage("Allocated", sr.virtual_allocation, sr.physical_size, "sr-allocation"),
      may("SR.destroy") && confirmButton("Destroy SR", "sr-destroy",
        () => run(messages, () => api("SR.destroy", ref))));
    fill(s.body, byName(vdis).filter(([, vdi]) => vdi.SR === ref)
      .map(([vref, vdi]) => vdiRow(vref, vdi, s)));
    return s.el;
  };

  const refresh = async () => {
    const records = await api("SR.get_all_records");
    for (const [ref, sr] of Object.entries(records)) if (srs.has(ref)) srs.set(ref, sr);
    followed.redraw();
  };

  fill(root,
    h("h1", {}, "Storage"), messages,
    may("SR.create") && tools.newSrForm(messages),
    list,
    h("h2", {}, "Transfers"), transfers.el);
  const stopRefresh = every(REFRESH_MS, refresh);
  return () => {
    followed.stop();
    stopRefresh();
    transfers.stop();
  };
}
