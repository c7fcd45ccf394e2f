// A modal dialog (the browser's <dialog>): a title, the caller's fields, a Cancel button
// and one that confirms. onConfirm(say) runs the work and may report its steps through
// say(text); a failure is shown in the dialog (code and sentence for an API failure,
// after its `during` if it says which step failed), which stays open, and a success
// closes it.
import { fill, h, problem } from "./dom.js";

// openDialog({title, test, body, confirm, onConfirm}) -> the dialog element. Its
// buttons carry data-test `${test}-confirm` and `${test}-cancel`.
export function openDialog({ title, test, body, confirm, onConfirm }) {
  const status = h("div", { class: "dialog-status", "data-test": `${test}-status` });
  const ok = h("button", { type: "submit", class: "primary", "data-test": `${test}-confirm` },
    confirm);
  const cancel = h("button", { type: "button", "data-test": `${test}-cancel` }, "Cancel");
  const say = (text) => fill(status, h("p", { class: "note" }, text));
  const submit = async (event) => {
    event.preventDefault();   // no form is ever posted: the page calls the API itself
    ok.disabled = true;
    fill(status);
    try {
      await onConfirm(say);
      dialog.close();
    } catch (e) {
      fill(status, e.during && h("p", { class: "note", "data-test": `${test}-during` },
        e.during), problem(e));
      ok.disabled = false;
    }
  };
  const dialog = h("dialog", { class: "dialog", "data-test": test },
    h("form", { onsubmit: submit }, h("h2", {}, title), body, status,
      h("div", { class: "dialog-buttons" }, cancel, ok)));
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// A <select> of [value, text] options.
export function choice(test, options) {
  return h("select", { "data-test": test },
    options.map(([value, text]) => h("option", { value }, text)));
}

// Records (a Map or {ref: record}) chosen by `keep`, as [ref, name_label] options in
// name order.
export function named(records, keep) {
  const entries = records instanceof Map ? [...records] : Object.entries(records);
  return entries.filter(([, r]) => keep(r)).map(([ref, r]) => [ref, r.name_label])
    .sort(([, a], [, b]) => a.localeCompare(b));
}
