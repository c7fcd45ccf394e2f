// A task the VM page started (an Async.VM.<op> call), as a line of the page: what it
// does, its status, a progress bar fed by task.progress (0 to 100 in Xen-API 1.0) as
// events report it, a Cancel button while it is pending, and on failure the API's error
// code with its documented sentence.
import { badge, fill, h, problem } from "../../dom.js";
import { subscribe } from "../../events.js";
import { ApiFailure } from "../../rpc.js";
import { api } from "../../session.js";

const FINISHED = new Set(["success", "failure", "cancelled"]);

// taskLine(ref, label) -> {el, update(record)}; outcome(ref) follows it to its end.
export function taskLine(ref, label) {
  const el = h("div", { class: "task-line", "data-test": "vm-task", "data-ref": ref });
  const note = h("span", { class: "task-note" });
  let finished = false;

  const cancel = () => api("task.cancel", ref).catch((e) => fill(note, problem(e)));

  const update = (task) => {
    // A record fetched before a later event arrived must not undo the outcome.
    if (finished) return;
    finished = FINISHED.has(task.status);
    fill(el, h("span", { class: "task-label", "data-test": "vm-task-label" }, label),
      badge(task.status, "vm-task-status"),
      h("progress", { max: 100, value: Number(task.progress) || 0,
        "data-test": "vm-task-progress" }),
      task.status === "pending" && h("button", { "data-test": "vm-task-cancel",
        onclick: cancel }, "Cancel"),
      note,
      task.status === "failure" && problem(failure(task.error_info)));
  };
  return { el, update };
}

// The outcome of task `ref`, followed through events (a new subscription starts with a
// snapshot of every task, so none is missed): resolves with its record when it
// succeeds, rejects with its failure as an ApiFailure when it fails or is cancelled.
export function outcome(ref) {
  return new Promise((resolve, reject) => {
    const stop = subscribe(["task"], (event) => {
      const task = event.snapshot;
      if (event.ref !== ref || !task || !FINISHED.has(task.status)) return;
      stop();
      if (task.status === "success") resolve(task);
      else reject(failure(task.error_info));
    });
  });
}

// A failed task's error_info ([code, params...]) as the ApiFailure a call would reject
// with, so that it shows as any other failure does.
function failure(errorInfo) {
  const [code, ...params] = errorInfo && errorInfo.length ? errorInfo : ["INTERNAL_ERROR"];
  return new ApiFailure(code, params);
}
