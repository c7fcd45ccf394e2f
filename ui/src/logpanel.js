// A log in a scrollable panel: tabs choose which log, Refresh reads it again, and a
// caller's tools (e.g. a Clear) sit beside them. Shared by the host's logs and a VM's.
import "./diag.css";
import { fill, h, problem } from "./dom.js";

// logPanel({test, kinds: [{id, label, read}], tools}) -> {el, refresh, show}.
// read() resolves to the log's text; the newest lines (the end) are scrolled into view.
// show(id, read) selects the tab `id` and shows what `read` resolves to (a call that
// changes the log and answers with its text), or its failure.
// Elements: `${test}-tab` (data-kind, class active), `${test}-refresh`, `${test}-text`.
export function logPanel({ test, kinds, tools = [] }) {
  let current = kinds[0];
  let asked = 0;   // a read answered after a newer one was asked for is dropped
  const text = h("pre", { class: "log-text", "data-test": `${test}-text`, tabindex: 0 });
  const messages = h("div", { class: "messages" });
  const tabs = h("span", { class: "console-tabs" });

  const refresh = async (read = current.read) => {
    const mine = ++asked;
    try {
      const body = await read();
      if (mine !== asked) return;
      fill(messages);
      text.textContent = body;
      text.scrollTop = text.scrollHeight;
    } catch (e) {
      if (mine !== asked) return;
      text.textContent = "";
      fill(messages, problem(e));
    }
  };

  const show = (id, read) => {
    current = kinds.find((kind) => kind.id === id);
    drawTabs();
    return refresh(read);
  };
  const drawTabs = () => fill(tabs, kinds.map((kind) => h("button", {
    class: kind === current ? "tab active" : "tab", "data-test": `${test}-tab`,
    "data-kind": kind.id, onclick: () => show(kind.id),
  }, kind.label)));
  drawTabs();

  const el = h("div", { class: "log-panel", "data-test": test },
    h("div", { class: "log-bar" }, tabs,
      h("button", { "data-test": `${test}-refresh`, onclick: () => refresh() }, "Refresh"),
      h("span", { class: "tools" }, tools)),
    messages, text);
  refresh();
  return { el, refresh, show };
}
