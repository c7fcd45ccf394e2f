// An rfb console (the guest's display, a VNC server) through noVNC's RFB client over the
// console WebSocket, scaled to fit its box. Keys the browser keeps for itself
// (Ctrl-Alt-Del, Ctrl-Alt-F1, ...) are sent from a button and a menu instead.
import RFB from "@novnc/novnc";
import { consoleUrl } from "./socket.js";

// X11 keysyms and the DOM key codes noVNC turns into scancodes (RFB sends both): the
// keys the menu's combinations are made of. (noVNC's own table is not among the
// files its package exports.)
const KEY = {
  Control: [0xffe3, "ControlLeft"],
  Alt: [0xffe9, "AltLeft"],
  Delete: [0xffff, "Delete"],
  BackSpace: [0xff08, "Backspace"],
  Tab: [0xff09, "Tab"],
  Escape: [0xff1b, "Escape"],
  Print: [0xff61, "PrintScreen"],
  ...Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((n) => [`F${n}`, [0xffbd + n, `F${n}`]])),
};

// The "send keys" menu: its label and the keys pressed together, in order.
export const COMBINATIONS = [
  ["Ctrl-Alt-Backspace", ["Control", "Alt", "BackSpace"]],
  ...[1, 2, 3, 4, 5, 6, 7].map((n) => [`Ctrl-Alt-F${n}`, ["Control", "Alt", `F${n}`]]),
  ["Alt-Tab", ["Alt", "Tab"]],
  ["Escape", ["Escape"]],
  ["Print Screen", ["Print"]],
];

// Show console `ref` in `screen`; without `writable` the display is only watched
// (noVNC sends no key or pointer event). `onOpen()` once connected, `onEnd()` once the
// connection has ended. Returns {close, ctrlAltDel, send(keys)}.
export function connect(screen, ref, writable, { onOpen, onEnd }) {
  const rfb = new RFB(screen, consoleUrl(ref, writable ? "write" : "read"),
    { wsProtocols: ["binary"], shared: true });
  rfb.scaleViewport = true;
  rfb.viewOnly = !writable;
  rfb.focusOnClick = writable;
  rfb.addEventListener("connect", () => onOpen());
  rfb.addEventListener("disconnect", () => onEnd());
  let closed = false;
  return {
    close() {
      closed = true;
      rfb.disconnect();
    },
    ctrlAltDel: () => rfb.sendCtrlAltDel(),
    // Press `keys` (names of KEY) in order, then release them in reverse.
    send(keys) {
      if (closed) return;
      for (const k of keys) rfb.sendKey(...KEY[k], true);
      for (const k of [...keys].reverse()) rfb.sendKey(...KEY[k], false);
    },
  };
}
