// The host's Reboot and Shut down buttons (root's: model.json lists host.reboot and
// host.shutdown as root-only), each behind a confirmation that says what the daemon
// does with running guests: it stops none. api/handlers/host.py refuses while the host
// is enabled (HOST_NOT_DISABLED) or a VM runs on it (HOST_HAS_RESIDENT_VMS, naming
// them), and otherwise runs the configuration's host_<op>_command.
import { may } from "../../access.js";
import { openDialog } from "../../dialog.js";
import { fill, h } from "../../dom.js";
import { api } from "../../session.js";

const OPERATIONS = [
  { op: "reboot", label: "Reboot", verb: "reboot", done: "The host is rebooting." },
  { op: "shutdown", label: "Shut down", verb: "shut down", done: "The host is shutting down." },
];

// powerButtons(host, messages) -> an element with the buttons the user may use (none
// for a user who is not root); a success is said in `messages`.
export function powerButtons(host, messages) {
  return h("span", { class: "power" }, OPERATIONS.filter(({ op }) => may(`host.${op}`))
    .map(({ op, label, verb, done }) => h("button", {
      class: "danger", "data-test": `host-${op}`,
      onclick: () => openDialog({
        title: `${label} the host`,
        test: `host-${op}-dialog`,
        confirm: label,
        body: h("div", { "data-test": `host-${op}-consequence` },
          h("p", {}, `Running guests are not stopped for this: the daemon will not ${verb} `
            + "the host while any VM is running on it (it names them), nor while the host "
            + "is enabled. Shut the guests down and disable the host first."),
          h("p", {}, `Once both hold, the daemon runs its host_${op}_command `
            + "and this page loses its connection to the host.")),
        onConfirm: async () => {
          await api(`host.${op}`, host);
          fill(messages, h("p", { class: "note", "data-test": "host-power-done" }, done));
        },
      }),
    }, label)));
}
