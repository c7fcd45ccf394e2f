// The dialogs of the VM page's operations that take arguments: save, restore, dump_core,
// send_sysrq, send_trigger, set_VCPUs_number_live, add_to_VCPUs_params_live, the memory
// bounds, and the settings (vCPUs, auto power on, actions/after_*). Each dialog asks,
// then runs its calls as tasks through start(label, method, args) (the page's task
// lines), one after the other; a refusal or a task's failure shows in the dialog with
// its code and sentence, and the dialog stays open to correct it. The page checks no
// value itself: what the API refuses comes back as its own error (a figure that is no
// integer is sent as typed, and refused as FIELD_TYPE_ERROR).
import { bytes, field, h } from "../../dom.js";
import { choice, openDialog } from "../../dialog.js";
import { allowedIn, debugChoices, enumValues } from "../../model.js";
import { boundsInOrder, MIB } from "./provision.js";

// Text typed for an integer, times `scale`: a number when it is a whole decimal,
// otherwise the text itself, for the API to refuse.
function integer(text, scale = 1) {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) * scale : trimmed;
}

function input(test, value, attrs = {}) {
  return h("input", { value: value == null ? "" : String(value), "data-test": test, ...attrs });
}

// Open the dialog `test` whose confirm runs calls() ([label, method, args] each) as
// tasks, in order.
function ask(start, { title, test, confirm, body, calls }) {
  openDialog({
    title, test, confirm, body,
    onConfirm: async (say) => {
      for (const [label, method, args] of calls()) {
        say(`${label}…`);
        await start(label, method, args);
      }
    },
  });
}

// The dialog of table operation `op` for VM `vm` (its record `record`), or of the
// settings ("settings"). start(label, method, args) runs one call as a task.
export function askOperation(op, vm, record, start) {
  const dialog = DIALOGS[op](vm, record);
  ask(start, { test: `${op}-dialog`, ...dialog });
}

const DIALOGS = {
  save: (vm, record) => {
    const file = input("save-file", "", { required: true, placeholder: "/var/lib/xen/save/vm.save" });
    return {
      title: `Save ${record.name_label}`, confirm: "Save",
      body: [h("p", {}, "The guest's memory and the VM's record go into a new file; the VM "
        + "is then Halted."), field("File (an absolute path on the host)", file)],
      calls: () => [[`Save to ${file.value}`, "VM.save", [vm, file.value]]],
    };
  },
  restore: (vm, record) => {
    const file = input("restore-file", "", { required: true, placeholder: "/var/lib/xen/save/vm.save" });
    const paused = h("input", { type: "checkbox", "data-test": "restore-paused" });
    return {
      title: `Restore ${record.name_label}`, confirm: "Restore",
      body: [field("Saved file (an absolute path on the host)", file),
        h("label", {}, paused, " Leave it paused")],
      calls: () => [[`Restore from ${file.value}`, "VM.restore", [file.value, paused.checked]]],
    };
  },
  dump_core: (vm, record) => {
    const file = input("dump-file", "", { placeholder: "under the daemon's dump directory" });
    return {
      title: `Dump the memory of ${record.name_label}`, confirm: "Dump",
      body: field("Core file (an absolute path; empty for a new file of the daemon's)", file),
      calls: () => [["Dump core", "VM.dump_core", [vm, file.value]]],
    };
  },
  send_sysrq: (vm, record) => {
    const keys = h("datalist", { id: "sysrq-keys" },
      debugChoices().sysrq_keys.map((k) => h("option", { value: k })));
    const key = input("sysrq-key", "", { required: true, list: "sysrq-keys", size: 4 });
    return {
      title: `Send a SysRq key to ${record.name_label}`, confirm: "Send",
      body: [field("Key (e.g. s: sync, u: remount read-only, b: reboot)", key), keys],
      calls: () => [[`SysRq ${key.value}`, "VM.send_sysrq", [vm, key.value]]],
    };
  },
  send_trigger: (vm, record) => {
    const trigger = choice("trigger-name", debugChoices().triggers.map((t) => [t, t]));
    const vcpu = input("trigger-vcpu", 0, { inputmode: "numeric" });
    return {
      title: `Send a trigger to ${record.name_label}`, confirm: "Send",
      body: [field("Trigger", trigger), field("vCPU", vcpu)],
      calls: () => [[`Trigger ${trigger.value}`, "VM.send_trigger",
        [vm, trigger.value, integer(vcpu.value)]]],
    };
  },
  set_VCPUs_number_live: (vm, record) => {
    const count = input("vcpus-live", record.VCPUs_number, { inputmode: "numeric" });
    return {
      title: `vCPUs of ${record.name_label}`, confirm: "Set",
      body: field(`vCPUs online now (1 to ${record.VCPUs_max})`, count),
      calls: () => [[`vCPUs now ${count.value}`, "VM.set_VCPUs_number_live",
        [vm, integer(count.value)]]],
    };
  },
  add_to_VCPUs_params_live: (vm, record) => {
    const params = record.VCPUs_params || {};
    const weight = input("vcpu-weight", params.weight, { placeholder: "256" });
    const cap = input("vcpu-cap", params.cap, { placeholder: "0 (none)" });
    return {
      title: `Scheduling of ${record.name_label}`, confirm: "Set",
      body: [field("Weight (relative share of the host's CPUs)", weight),
        field("Cap (percent of one CPU, 0 for none)", cap)],
      calls: () => [["weight", weight], ["cap", cap]]
        .filter(([key, el]) => el.value !== String(params[key] ?? ""))
        .map(([key, el]) => [`${key}=${el.value}`, "VM.add_to_VCPUs_params_live",
          [vm, key, el.value]]),
    };
  },
  set_memory_static_max: (vm, record) => {
    // A resident guest's dynamic range moves live where the table allows it; the
    // setters otherwise (a Halted VM's record).
    const live = allowedIn(record.power_state, "set_memory_dynamic_max_live");
    const mib = (key) => input(`memory-${key}`, Number(record[`memory_${key}`]) / MIB,
      { inputmode: "numeric" });
    const bounds = [["static_max", "VM.set_memory_static_max"],
      ["dynamic_max", live ? "VM.set_memory_dynamic_max_live" : "VM.set_memory_dynamic_max"],
      ["dynamic_min", live ? "VM.set_memory_dynamic_min_live" : "VM.set_memory_dynamic_min"]]
      .map(([key, method]) => [key, method, mib(key)]);
    return {
      title: `Memory of ${record.name_label}`, confirm: "Set",
      body: [bounds.map(([key, , el]) => field(`${key.replace("_", " ")} (MiB)`, el)),
        h("p", { class: "note" }, `Static min: ${bytes(record.memory_static_min)}. `,
          live ? "The dynamic range moves the running guest's balloon at once; static max "
            + "is for its next start." : "")],
      calls: () => boundsInOrder(bounds.map(([key, method, el]) => [method,
        record[`memory_${key}`], integer(el.value, MIB)]))
        .map(([method, , value]) => [`${method.slice(3)} ${typeof value === "number"
          ? bytes(value) : value}`, method, [vm, value]]),
    };
  },
  settings: (vm, record) => {
    const vcpusMax = input("settings-vcpus-max", record.VCPUs_max, { inputmode: "numeric" });
    const atStartup = input("settings-vcpus-at-startup", record.VCPUs_at_startup,
      { inputmode: "numeric" });
    const autoPowerOn = h("input", { type: "checkbox", checked: Boolean(record.auto_power_on),
      "data-test": "settings-auto-power-on" });
    const actions = [["shutdown", "on_normal_exit"], ["reboot", "on_normal_exit"],
      ["suspend", "on_normal_exit"], ["crash", "on_crash_behaviour"]].map(([after, type]) => {
      const key = `actions_after_${after}`;
      const select = choice(`settings-${key}`, enumValues(type).map((v) => [v, v]));
      select.value = record[key];
      return [key, select];
    });
    return {
      title: `Settings of ${record.name_label}`, confirm: "Save",
      body: [h("div", { class: "columns" }, field("vCPUs max", vcpusMax),
        field("vCPUs at startup", atStartup)),
      h("label", {}, autoPowerOn, " Start when the host starts (auto power on)"),
      actions.map(([key, select]) => field(`After ${key.slice(14)}`, select))],
      calls: () => [
        ...boundsInOrder([["VM.set_VCPUs_max", record.VCPUs_max, integer(vcpusMax.value)],
          ["VM.set_VCPUs_at_startup", record.VCPUs_at_startup, integer(atStartup.value)]]),
        ["VM.set_auto_power_on", Boolean(record.auto_power_on), autoPowerOn.checked],
        ...actions.map(([key, select]) => [`VM.set_${key}`, record[key], select.value]),
      ].filter(([, old, value]) => String(old) !== String(value))
        .map(([method, , value]) => [`${method.slice(7)} ${value}`, method, [vm, value]]),
    };
  },
};
