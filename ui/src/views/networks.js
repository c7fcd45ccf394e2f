// The Networks view: each network with its bridge, NIC, VLAN and the MTU of its host
// interface (PIF), and the VIFs on it (VM, device, MAC, MTU); root makes networks
// (name, optionally a NIC and a VLAN tag) and destroys them. Networks, VIFs and VMs
// follow events; PIFs, which the host reports when asked and which raise none, are
// asked for again every few seconds.
import { may } from "../access.js";
import { fill, h } from "../dom.js";
import { every } from "../events.js";
import { actionForm, confirmButton, inputField, run } from "../forms.js";
import { byName, follow } from "../records.js";
import { api } from "../session.js";

const REFRESH_MS = 5000;

function facts(...rows) {
  return h("table", { class: "facts" }, h("tbody", {},
    rows.map(([name, value, test]) => h("tr", {}, h("th", {}, name),
      h("td", { "data-test": test }, value === "" || value == null ? "–" : value)))));
}

export function render(root) {
  let pifs = {};                // ref -> record
  const list = h("div", { "data-test": "network-list" });
  const messages = h("div", { class: "messages" });
  const followed = follow(["network", "VIF", "VM"],
    () => fill(list, byName(networks).map(([ref, net]) => section(ref, net))));
  const { network: networks, vif: vifs, vm: vms } = followed.records;
  const vmName = (ref) => (vms.has(ref) ? vms.get(ref).name_label : ref);

  const vifRow = ([ref, vif]) => h("tr", { "data-test": "vif-row", "data-ref": ref },
    h("td", { "data-test": "vif-vm" }, vmName(vif.VM)),
    h("td", {}, vif.device), h("td", { "data-test": "vif-mac" }, vif.MAC),
    h("td", { class: "num" }, vif.MTU));

  const pifRow = (ref) => {
    const pif = pifs[ref];
    return pif && h("tr", { "data-test": "pif-row" }, h("td", {}, pif.device),
      h("td", {}, pif.MAC || "–"), h("td", { class: "num", "data-test": "pif-mtu" },
        Number(pif.MTU) || "–"), h("td", {}, Number(pif.VLAN) >= 0 ? pif.VLAN : "–"));
  };

  const section = (ref, net) => {
    const own = [...vifs].filter(([, vif]) => vif.network === ref)
      .sort(([, a], [, b]) => vmName(a.VM).localeCompare(vmName(b.VM)));
    const mtus = net.PIFs.map((p) => pifs[p] && Number(pifs[p].MTU)).filter(Boolean);
    return h("section", { class: "network", "data-test": "network", "data-ref": ref },
      h("div", { class: "sr-head" }, h("h2", { "data-test": "network-name" }, net.name_label),
        may("network.destroy") && confirmButton("Destroy", "network-destroy",
          () => run(messages, () => api("network.destroy", ref)))),
      facts(["Bridge", net.bridge, "network-bridge"], ["NIC", net.NIC, "network-nic"],
        ["VLAN", net.VLAN, "network-vlan"], ["MTU", mtus.join(", "), "network-mtu"],
        ["Description", net.name_description]),
      net.PIFs.length > 0 && h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["Host interface", "MAC", "MTU", "VLAN"]
          .map((t) => h("th", {}, t)))),
        h("tbody", {}, net.PIFs.map(pifRow))),
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["VM", "Device", "MAC", "MTU"].map((t) => h("th", {}, t)))),
        h("tbody", { "data-test": "vif-rows" }, own.map(vifRow))));
  };

  const refresh = async () => {
    pifs = await api("PIF.get_all_records");
    followed.redraw();
  };

  fill(root,
    h("h1", {}, "Networks"), messages,
    may("network.create") && actionForm({ test: "network-create", submit: "New network",
      messages, onSubmit: ({ name, nic, vlan }) => api("network.create",
        { name_label: name, name_description: "", NIC: nic, VLAN: vlan }) },
    inputField("Name", { name: "name", required: true, "data-test": "network-name-input" }),
    inputField("NIC (empty: a private network)", { name: "nic", "data-test": "network-nic-input" }),
    inputField("VLAN tag", { name: "vlan", "data-test": "network-vlan-input" })),
    list);
  const stopRefresh = every(REFRESH_MS, refresh);
  return () => {
    followed.stop();
    stopRefresh();
  };
}
