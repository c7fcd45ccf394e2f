// The host's logs in one panel: the hypervisor's kernel log (host.dmesg) and the
// daemon's own log (host.get_log), each offered only to a user who may read it (root,
// as model.json says); root may also clear the kernel log (host.dmesg_clear).
import { may } from "../../access.js";
import { h } from "../../dom.js";
import { confirmButton } from "../../forms.js";
import { logPanel } from "../../logpanel.js";
import { api } from "../../session.js";

// hostLogs(host) -> the section, or null when the user may read neither log.
export function hostLogs(host) {
  const kinds = [
    { id: "dmesg", label: "Kernel log", read: () => api("host.dmesg", host) },
    { id: "daemon", label: "Daemon log", read: () => api("host.get_log", host) },
  ].filter((kind) => may(kind.id === "dmesg" ? "host.dmesg" : "host.get_log"));
  if (!kinds.length) return null;
  // What dmesg_clear answers was the log before it was cleared: the panel shows the
  // log as it is now, empty.
  const clear = may("host.dmesg_clear") && confirmButton("Clear kernel log", "host-dmesg-clear",
    () => panel.show("dmesg", () => api("host.dmesg_clear", host).then(() => "")));
  const panel = logPanel({ test: "host-log", kinds, tools: [clear] });
  return h("section", { "data-test": "host-logs" }, h("h2", {}, "Logs"), panel.el);
}
