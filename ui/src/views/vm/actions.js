// The VM page's buttons for the lifecycle operations. When each is allowed is the
// lifecycle table's (model.json, derived from api/lifecycle.py), never a list here: this
// module only knows how each operation is called and what its button says. An
// operation the table does not name gets no button; one only root may call is not
// offered to other users; a disabled button's title says in which states it is allowed.
import { may } from "../../access.js";
import { h } from "../../dom.js";
import { allowedIn, statesAllowing, templateMay } from "../../model.js";

// [operation of the table, label, method, parameters after the VM]. The page speaks
// Xen-API 1.0: VM.suspend takes no flag, VM.start and VM.resume take start_paused.
const OPERATIONS = [
  ["start", "Start", "VM.start", [false]],
  ["start_paused", "Start paused", "VM.start", [true]],
  ["pause", "Pause", "VM.pause", []],
  ["unpause", "Unpause", "VM.unpause", []],
  ["clean_shutdown", "Shut down", "VM.clean_shutdown", []],
  ["hard_shutdown", "Force shutdown", "VM.hard_shutdown", []],
  ["clean_reboot", "Reboot", "VM.clean_reboot", []],
  ["hard_reboot", "Force reboot", "VM.hard_reboot", []],
  ["suspend", "Suspend", "VM.suspend", []],
  ["resume", "Resume", "VM.resume", [false]],
  ["resume_paused", "Resume paused", "VM.resume", [true]],
  // Operations whose dialog asks for their arguments first (null parameters).
  ["clone", "Clone…", "VM.clone", null],
  ["delete", "Delete…", "VM.destroy", null],
  ["save", "Save…", "VM.save", null],
  ["restore", "Restore…", "VM.restore", null],
  ["set_memory_static_max", "Memory…", "VM.set_memory_static_max", null],
  ["set_VCPUs_number_live", "vCPUs now…", "VM.set_VCPUs_number_live", null],
  ["add_to_VCPUs_params_live", "Weight and cap…", "VM.add_to_VCPUs_params_live", null],
  ["dump_core", "Dump core…", "VM.dump_core", null],
  ["send_sysrq", "SysRq key…", "VM.send_sysrq", null],
  ["send_trigger", "Trigger…", "VM.send_trigger", null],
];

// Why an operation's button is disabled, e.g. "allowed only when Running or Paused".
export function reason(op) {
  return `allowed only when ${statesAllowing(op).join(" or ")}`;
}

// actionBar({run(label, method, params), ask(op)}) -> {el, update(VM record)}.
// Operations with parameters of their own (clone's name, what delete removes, a file
// name, a key...) call ask(op), which asks for them first; the others run(...) at once.
// Settings… (ask("settings"): vCPUs, auto power on, actions/after_*) is no operation of
// the table but field setters, which the API checks in every state.
export function actionBar(handlers) {
  const buttons = [];   // [op, button]
  for (const [op, label, method, params] of OPERATIONS) {
    if (!statesAllowing(op).length || !may(method)) continue;
    const onclick = params ? () => handlers.run(label, method, params)
      : () => handlers.ask(op);
    buttons.push([op, h("button", { "data-test": `vm-op-${op}`, "data-op": op, onclick },
      label)]);
  }
  const el = h("div", { class: "actions", "data-test": "vm-actions" },
    buttons.map(([, button]) => button),
    h("button", { "data-test": "vm-settings", onclick: () => handlers.ask("settings") },
      "Settings…"));
  // The VM's record decides: its power state, and whether it is a template.
  const update = (record) => {
    for (const [op, button] of buttons) {
      const refusal = record.is_a_template && !templateMay(op) ? "a template is only cloned or deleted"
        : allowedIn(record.power_state, op) ? "" : reason(op);
      button.disabled = Boolean(refusal);
      button.title = refusal;
    }
  };
  return { el, update };
}
