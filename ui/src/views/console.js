// A VM's consoles (#/console/<vm ref>): the consoles its running guest offers, one at a
// time on the page: the serial console (vt100) in a terminal, the display (rfb) through
// noVNC, each joined to the guest through the console proxy's WebSocket
// (consoles/*.js). The user types into the guest where the daemon lets it (it may
// change the VM) and has not asked to watch only; otherwise the page says it is
// read-only. A connection's end is shown with a Reconnect button.
import { may } from "../access.js";
import * as graphical from "../consoles/graphical.js";
import * as serial from "../consoles/serial.js";
import { badge, fill, h } from "../dom.js";
import { subscribe } from "../events.js";
import { api } from "../session.js";

// Each console protocol: its name on the page and the module that shows it.
const KINDS = {
  vt100: { label: "Serial console", module: serial },
  rfb: { label: "Graphical console", module: graphical },
};

// Whether the daemon lets this user type into the VM's consoles (api/consoles.py): where
// it may change the VM, which is the right to start and stop it.
function mayType() {
  return may("VM.start");
}

export function render(root, [vmRef]) {
  const title = h("span", {}, vmRef);
  const power = h("span", {});
  const tabs = h("div", { class: "console-tabs", "data-test": "console-list" });
  const mode = h("p", { class: "console-mode", "data-test": "console-mode" });
  const status = h("span", { class: "console-status", "data-test": "console-status" });
  const reconnect = h("button", { "data-test": "console-reconnect", hidden: true,
    onclick: () => open(shown) }, "Reconnect");
  const keys = h("span", { class: "console-keys" });
  const screen = h("div", { class: "console-screen", "data-test": "console-screen" });
  const watchOnly = h("input", { type: "checkbox", "data-test": "console-watch-only",
    onchange: () => open(shown) });

  let vm = null;          // the VM's record, as the last event gave it
  const protocols = new Map();   // console ref -> protocol (a console's never changes)
  let shown = null;       // the protocol shown
  let connection = null;  // {close, ...} of the shown console's connection
  let ended = false;

  const writable = () => mayType() && !watchOnly.checked;
  const consoleOf = (protocol) => (vm ? vm.consoles || [] : [])
    .find((c) => protocols.get(c) === protocol);

  const showStatus = (text) => {
    status.textContent = text;
    reconnect.hidden = !ended;
  };

  const endedText = () => (vm && vm.power_state !== "Running"
    ? `Connection ended: the guest is ${vm.power_state.toLowerCase()}.`
    : "Connection ended.");

  const close = () => {
    if (connection) connection.close();
    connection = null;
  };

  // Connect to the VM's console of `protocol` (again), in the mode the page asks for.
  function open(protocol) {
    close();
    shown = protocol;
    screen.replaceChildren();
    screen.className = `console-screen console-${protocol}`;
    showTabs();
    const ref = consoleOf(protocol);
    fill(mode, writable() ? "Interactive: what you type goes to the guest."
      : "Read-only: you may watch this console but not type into it.");
    mode.classList.toggle("read-only", !writable());
    showKeys(protocol);
    ended = !ref;
    if (!ref) {
      showStatus(`No ${KINDS[protocol].label.toLowerCase()} now: the guest is not running.`);
      return;
    }
    showStatus("Connecting…");
    const mine = KINDS[protocol].module.connect(screen, ref, writable(), {
      onOpen: () => { if (connection === mine) showStatus("Connected."); },
      onEnd: () => {
        if (connection !== mine) return;   // closed by the page itself
        ended = true;
        showStatus(endedText());
      },
    });
    connection = mine;
  }

  // The graphical console's keys the browser would keep for itself.
  function showKeys(protocol) {
    if (protocol !== "rfb") {
      fill(keys);
      return;
    }
    const off = !writable();
    const menu = h("select", { "data-test": "console-send-keys", disabled: off,
      "aria-label": "Send keys",
      onchange: () => {
        const combination = graphical.COMBINATIONS[Number(menu.value)];
        if (combination && connection) connection.send(combination[1]);
        menu.value = "";
      } },
    h("option", { value: "" }, "Send keys…"),
    graphical.COMBINATIONS.map(([label], i) => h("option", { value: i }, label)));
    fill(keys,
      h("button", { "data-test": "console-ctrl-alt-del", disabled: off,
        onclick: () => connection && connection.ctrlAltDel() }, "Ctrl-Alt-Del"),
      menu);
  }

  function showTabs() {
    const offered = new Set(protocols.values());
    fill(tabs, Object.entries(KINDS).map(([protocol, kind]) =>
      h("button", { class: protocol === shown ? "tab active" : "tab",
        "data-test": "console-tab", "data-protocol": protocol,
        disabled: !offered.has(protocol) && protocol !== shown,
        onclick: () => open(protocol) }, kind.label)));
  }

  // A VM record from an event: learn its consoles' protocols, then show what changed.
  const onVm = async (record) => {
    vm = record;
    title.textContent = record.name_label;
    fill(power, badge(record.power_state, "console-power"));
    const unknown = (record.consoles || []).filter((c) => !protocols.has(c));
    const found = await Promise.all(unknown.map((c) => api("console.get_protocol", c)
      .catch(() => null)));   // a console gone meanwhile: the next event says so
    unknown.forEach((c, i) => found[i] && protocols.set(c, found[i]));
    if (vm !== record) return;   // a later event took over
    showTabs();
    if (shown === null) {
      open("vt100");
    } else if (ended) {
      showStatus(endedText());
    }
  };

  fill(root,
    h("h1", {}, "Consoles of ", title, " ", power),
    h("p", {}, h("a", { href: `#/vm/${encodeURIComponent(vmRef)}` }, "Back to the VM")),
    tabs,
    mayType() && h("label", { class: "console-watch" }, watchOnly, " Watch only"),
    mode,
    h("div", { class: "console-bar" }, status, reconnect, keys),
    screen);
  const stopEvents = subscribe(["VM"], (event) => {
    if (event.ref !== vmRef) return;
    if (event.operation === "del") {
      vm = { ...vm, consoles: [], power_state: "Halted" };
      ended = true;
      showStatus("The VM was deleted.");
    } else if (event.snapshot) {
      onVm(event.snapshot);
    }
  });
  return () => {
    stopEvents();
    close();
  };
}
