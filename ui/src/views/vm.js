// One VM's page (#/vm/<ref>): its record (name and description edited in place), its
// disks, NICs and consoles, and buttons for the lifecycle operations, each run as an
// Async.VM.<op> task shown with its progress, a Cancel button and its outcome. It all
// follows events, so another client's change shows without a reload. The parts live in
// views/vm/: record.js, devices.js, actions.js, task.js, stats.js, logs.js, and the
// dialogs clone, delete, the other operations with arguments (operations.js) and the
// devices (equip.js) ask with.
import { batched, fill, h, problem } from "../dom.js";
import { subscribe } from "../events.js";
import { api } from "../session.js";
import { actionBar } from "./vm/actions.js";
import { askClone } from "./vm/clone.js";
import { askOperation } from "./vm/operations.js";
import { devicesView } from "./vm/devices.js";
import { askAddDisk, askAddNic, askInsertCd, askRemoveDisk, askRemoveNic } from "./vm/equip.js";
import { logsView } from "./vm/logs.js";
import { recordView } from "./vm/record.js";
import { askDelete } from "./vm/remove.js";
import { statsView } from "./vm/stats.js";
import { outcome, taskLine } from "./vm/task.js";

// The classes whose records the page draws besides the VM's own.
const DEVICE_CLASSES = ["vbd", "vdi", "vif", "network", "console"];

export function render(root, [ref]) {
  const messages = h("div", { class: "messages" });
  const taskList = h("div", { class: "task-lines", "data-test": "vm-tasks" });
  const objects = Object.fromEntries(DEVICE_CLASSES.map((c) => [c, new Map()]));
  const tasks = new Map();   // ref of a task this page started -> its taskLine
  let record = null;
  let closed = false;

  const report = (promise) => promise.then(() => fill(messages), (e) => fill(messages, problem(e)));

  // Call Async.`method` with `args` and show its task; resolves with the task's record
  // when it succeeds, rejects with the call's refusal or the task's failure (marked
  // with the task's ref: its line shows it already).
  const start = async (label, method, args) => {
    fill(messages);
    const task = await api(`Async.${method}`, ...args);
    const line = taskLine(task, label);
    tasks.set(task, line);
    taskList.prepend(line.el);
    const finished = outcome(task).catch((e) => {
      e.task = task;
      throw e;
    });
    // Events may have reported the task before its ref was known here.
    line.update(await api("task.get_record", task));
    return finished;
  };

  // Run `method` on the VM as a task; done(task) runs once it has succeeded. A refusal
  // shows above the buttons.
  const run = (label, method, params, done) => start(label, method, [ref, ...params])
    .then(done, (e) => e.task || fill(messages, problem(e)));

  const recordPart = recordView((field, value) => report(api(`VM.set_${field}`, ref, value)));
  const devices = devicesView({
    addDisk: () => report(askAddDisk(ref, objects)),
    removeDisk: (vbd) => askRemoveDisk(vbd, objects),
    insertCd: () => report(askInsertCd(ref, objects)),
    addNic: () => askAddNic(ref, objects),
    removeNic: (vif) => askRemoveNic(vif, objects),
  });
  const asks = {
    clone: () => askClone(record, (name) => run(`Clone as ${name}`, "VM.clone", [name],
      (task) => fill(messages, h("p", { class: "note" },
        "Cloned: ", h("a", { href: `#/vm/${encodeURIComponent(task.result)}`,
          "data-test": "vm-clone-link" }, name))))),
    delete: () => report(askDelete(ref, record, () => { location.hash = "#/vms"; })),
  };
  const actions = actionBar({
    run: (label, method, params) => run(label, method, params),
    ask: (op) => (asks[op] || ((o) => askOperation(o, ref, record, start)))(op),
  });

  // Redraw the devices once per batch of events, not once per event.
  const drawDevices = batched(() => {
    if (!closed) devices.update(ref, objects);
  });

  const showRecord = (next) => {
    record = next;
    recordPart.update(next);
    actions.update(next);
  };

  const onEvent = (event) => {
    if (event.class === "vm") {
      if (event.ref !== ref) return;
      if (event.operation === "del") {
        fill(root, h("h1", {}, "VM"), h("p", { "data-test": "vm-gone" },
          "This VM no longer exists. ", h("a", { href: "#/vms" }, "Back to the VMs")));
        closed = true;
      } else if (event.snapshot) {
        showRecord(event.snapshot);
      }
    } else if (event.class === "task") {
      const line = tasks.get(event.ref);
      if (line && event.snapshot) line.update(event.snapshot);
    } else if (objects[event.class]) {
      if (event.operation === "del") objects[event.class].delete(event.ref);
      else if (event.snapshot) objects[event.class].set(event.ref, event.snapshot);
      drawDevices();
    }
  };

  fill(root, messages);
  let stopEvents = () => {};
  // The record first, so that a ref that names no VM is told at once.
  api("VM.get_record", ref).then((first) => {
    if (closed) return;
    showRecord(first);
    fill(root, recordPart.header, messages, actions.el, taskList, recordPart.summary,
      devices.el, statsView(ref), logsView(ref), recordPart.details);
    stopEvents = subscribe(["vm", "task", ...DEVICE_CLASSES], onEvent);
  }, (e) => fill(root, h("h1", {}, "VM"), problem(e),
    h("p", {}, h("a", { href: "#/vms" }, "Back to the VMs"))));
  return () => {
    closed = true;
    stopEvents();
  };
}
