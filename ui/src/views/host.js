// The host view: its state (enable and disable for root), software version, memory,
// CPUs with live utilisation, and the task list (progress, cancel). The host's record
// and the tasks follow events; utilisation and free memory, which raise none, are
// asked for again every few seconds. Its power buttons and logs are in views/host/.
import { may } from "../access.js";
import { badge, bytes, fill, h, percent, problem } from "../dom.js";
import { every, subscribe } from "../events.js";
import { api } from "../session.js";
import { hostLogs } from "./host/logs.js";
import { powerButtons } from "./host/power.js";

const REFRESH_MS = 2000;

export function render(root) {
  const enabled = h("span", { "data-test": "host-enabled" });
  const buttons = h("span", { class: "actions" });
  const software = h("tbody", { "data-test": "software-version" });
  const memoryTotal = h("td", { "data-test": "memory-total" });
  const memoryFree = h("td", { "data-test": "memory-free" });
  const cpus = h("tbody", { "data-test": "cpus" });
  const tasks = h("tbody", { "data-test": "tasks" });
  const messages = h("div", { class: "messages" });
  const power = h("span");
  const taskRows = new Map();   // task ref -> tr
  let host = null;

  const act = (method, ...params) => api(method, ...params)
    .then(() => fill(messages), (e) => fill(messages, problem(e)));

  const showHost = (record) => {
    const on = Boolean(record.enabled);
    fill(enabled, badge(on ? "Enabled" : "Disabled"));
    fill(buttons, may(on ? "host.disable" : "host.enable") && (on
      ? h("button", { "data-test": "host-disable", onclick: () => act("host.disable", host) },
        "Disable")
      : h("button", { "data-test": "host-enable", onclick: () => act("host.enable", host) },
        "Enable")));
    fill(software, Object.entries(record.software_version || {}).sort()
      .map(([key, value]) => h("tr", {}, h("th", {}, key), h("td", {}, value))));
  };

  const showTask = (ref, task) => {
    const pending = task.status === "pending";
    const row = h("tr", { "data-test": "task-row", "data-ref": ref },
      h("td", {}, task.name_label),
      h("td", {}, badge(task.status, "task-status")),
      h("td", {}, h("progress", { max: 100, value: Number(task.progress) || 0 })),
      h("td", {}, pending && h("button", { "data-test": "task-cancel",
        onclick: () => act("task.cancel", ref) }, "Cancel")));
    if (taskRows.has(ref)) taskRows.get(ref).replaceWith(row);
    else tasks.append(row);
    taskRows.set(ref, row);
  };

  const onEvent = (event) => {
    if (event.class === "host" && event.ref === host && event.snapshot) showHost(event.snapshot);
    if (event.class !== "task") return;
    if (event.operation === "del") {
      if (taskRows.has(event.ref)) taskRows.get(event.ref).remove();
      taskRows.delete(event.ref);
    } else if (event.snapshot) {
      showTask(event.ref, event.snapshot);
    }
  };

  const refresh = async () => {
    if (!host) return;
    const [total, free, cpuRecords] = await Promise.all([
      api("host.get_memory_total", host), api("host.get_memory_free", host),
      api("host_cpu.get_all_records")]);
    memoryTotal.textContent = bytes(total);
    memoryFree.textContent = bytes(free);
    fill(cpus, Object.values(cpuRecords).sort((a, b) => Number(a.number) - Number(b.number))
      .map((cpu) => h("tr", { "data-test": "cpu" },
        h("td", {}, cpu.number), h("td", {}, cpu.modelname),
        h("td", {}, h("meter", { min: 0, max: 1, value: cpu.utilisation })),
        h("td", { class: "num", "data-test": "cpu-utilisation" }, percent(cpu.utilisation)))));
  };

  fill(root,
    h("h1", {}, "Host"), messages,
    h("section", { "data-test": "host-view" },
      h("h2", {}, "State"), h("p", {}, enabled, " ", buttons, power),
      h("div", { class: "columns" },
        h("div", {}, h("h2", {}, "Memory"),
          h("table", { class: "facts" }, h("tbody", {},
            h("tr", {}, h("th", {}, "Total"), memoryTotal),
            h("tr", {}, h("th", {}, "Free"), memoryFree)))),
        h("div", {}, h("h2", {}, "Software"), h("table", { class: "facts" }, software))),
      h("h2", {}, "CPUs"),
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["#", "Model", "Utilisation", ""].map((t) => h("th", {}, t)))),
        cpus),
      h("h2", {}, "Tasks"),
      h("table", { class: "grid" },
        h("thead", {}, h("tr", {}, ["Task", "Status", "Progress", ""].map((t) => h("th", {}, t)))),
        tasks)));

  let closed = false;
  let stopEvents = () => {};
  let stopRefresh = () => {};
  api("host.get_all").then(([ref]) => {
    if (closed) return;
    host = ref;
    power.replaceWith(powerButtons(host, messages));
    root.append(hostLogs(host) || "");
    stopEvents = subscribe(["host", "task"], onEvent);
    stopRefresh = every(REFRESH_MS, refresh);
  }, (e) => fill(messages, problem(e)));
  return () => {
    closed = true;
    stopEvents();
    stopRefresh();
  };
}
