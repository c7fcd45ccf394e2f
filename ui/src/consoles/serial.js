// A vt100 console in an xterm.js terminal, joined to the guest's serial port through the
// console WebSocket: the guest's bytes are written to the terminal as they arrive (binary
// frames), and, when the connection may type, what the user types is sent back as binary
// frames. The terminal is fitted to its box whenever the box changes size (the window
// resized); the serial line has no size of its own to tell the guest.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { consoleUrl } from "./socket.js";

// Show console `ref` in `screen`; `writable`: typing goes to the guest (mode=write),
// otherwise the terminal takes no input (mode=read). `onOpen()` once connected,
// `onEnd()` once the connection has ended (the guest stopped, the daemon went away).
// Returns {close}; the terminal keeps what it showed until then.
export function connect(screen, ref, writable, { onOpen, onEnd }) {
  const term = new Terminal({
    convertEol: false,         // the guest's tty sends its own CR LF
    disableStdin: !writable,
    cursorBlink: writable,
    scrollback: 5000,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  const resized = new ResizeObserver(() => fit.fit());
  resized.observe(screen);

  const ws = new WebSocket(consoleUrl(ref, writable ? "write" : "read"), ["binary"]);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    if (writable) term.focus();
    onOpen();
  };
  ws.onmessage = (event) => term.write(new Uint8Array(event.data));
  ws.onclose = () => onEnd();
  const encoder = new TextEncoder();
  const send = (bytes) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
  };
  const typed = writable ? [
    term.onData((text) => send(encoder.encode(text))),
    // Bytes xterm produces that are not text (some mouse reports), one byte a code unit.
    term.onBinary((text) => send(Uint8Array.from(text, (c) => c.charCodeAt(0)))),
  ] : [];

  return {
    close() {
      ws.onclose = null;
      ws.close();
      for (const d of typed) d.dispose();
      resized.disconnect();
      term.dispose();
    },
  };
}
