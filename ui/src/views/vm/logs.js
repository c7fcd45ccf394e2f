// The VM's logs (GET /vm-log, docs/api.md): the guest's serial console, the hypervisor
// process's output and, for root, the daemon's lines naming the VM, as tabs of one
// panel. Read by fetch, never by a navigation: the URL holds the session ref, which
// must not reach the browser's history.
import { h } from "../../dom.js";
import { logPanel } from "../../logpanel.js";
import { isRoot, sessionRef } from "../../session.js";
import { refusal } from "../../transfer.js";

const BYTES = 64 * 1024;   // the end of each log: the daemon's own default

async function readLog(ref, kind) {
  const query = new URLSearchParams({ ref, kind, bytes: BYTES, session_id: sessionRef() || "" });
  const response = await fetch(`/vm-log?${query}`, { credentials: "omit", cache: "no-store" });
  const text = await response.text();
  if (!response.ok) throw refusal(response.status, text);
  return text;
}

// logsView(ref) -> the Logs section of VM `ref`'s page.
export function logsView(ref) {
  const kinds = [["console", "Console"], ["qemu", "Hypervisor"],
    // The daemon's lines are root's (api/vmlogs.py): a route, so model.json cannot say.
    isRoot() && ["daemon", "Daemon"]].filter(Boolean)
    .map(([id, label]) => ({ id, label, read: () => readLog(ref, id) }));
  const panel = logPanel({ test: "vm-log", kinds });
  return h("section", { "data-test": "vm-logs" }, h("h2", {}, "Logs"), panel.el);
}
