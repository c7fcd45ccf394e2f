// The page's DOM helper: elements built from data, never from HTML strings (no markup
// from the API can become markup on the page), and a few formatters the views share.

// h("a", {href: "#/vms", class: "nav", onclick: fn}, "VMs", child, [more]) -> element.
// An attribute whose value is null, undefined or false is left out, true is set empty;
// on<event> functions are listeners. Children: nodes, strings, numbers, arrays of them;
// null and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

// A labelled input: the label's text above `input` (an element).
export function field(label, input) {
  return h("label", { class: "field" }, label, input);
}

// fn, run once after the events of one batch rather than once per event: a call
// schedules it unless one is scheduled already.
export function batched(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    queueMicrotask(() => {
      pending = false;
      fn();
    });
  };
}

// Replace all of el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A byte count as the largest unit that keeps it at least 1, e.g. "1.5 GiB".
export function bytes(n) {
  let value = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB"]) {
    if (Math.abs(value) < 1024) return `${round(value)} ${unit}`;
    value /= 1024;
  }
  return `${round(value)} TiB`;
}

// A fraction (0..1) as a percentage, e.g. "42%".
export function percent(fraction) {
  return `${Math.round(Number(fraction) * 100)}%`;
}

function round(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

// A status badge: the CSS class follows the value (e.g. power state "Running").
export function badge(value, test) {
  return h("span", { class: `badge badge-${String(value).toLowerCase()}`, "data-test": test },
    value);
}

// An error as the page shows it: an API failure's code and documented sentence, or any
// other error's message.
export function problem(error) {
  if (error && error.code) {
    return h("div", { class: "problem", role: "alert", "data-test": "error" },
      h("strong", { "data-test": "error-code" }, error.code), " ",
      h("span", { "data-test": "error-sentence" }, error.sentence));
  }
  return h("div", { class: "problem", role: "alert", "data-test": "error" },
    (error && error.message) || String(error));
}
