// Small forms the views share: labelled inputs, a form whose submit runs an API call
// and shows its failure, and a button that asks before it acts.
import "./admin.css";
import { field, fill, h, problem } from "./dom.js";

// A labelled input made from its attributes:
// inputField("Name", {name: "name", required: true}) -> label.
export function inputField(label, attrs) {
  return field(label, h("input", attrs));
}

// A form that calls onSubmit(values) (its inputs' and selects' values by name) and
// shows a failure in `messages`; the form is reset once the call succeeds.
export function actionForm({ test, submit, messages, onSubmit }, ...fields) {
  const button = h("button", { type: "submit", class: "primary", "data-test": `${test}-submit` },
    submit);
  const form = h("form", { class: "inline-form", "data-test": test }, fields, button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();   // no form is ever posted: the page calls the API itself
    const values = {};
    for (const el of form.elements) {
      if (!el.name) continue;
      values[el.name] = el.type === "file" ? el.files[0] : el.value;
    }
    button.disabled = true;
    run(messages, () => onSubmit(values)).then((ok) => {
      button.disabled = false;
      if (ok) form.reset();
    });
  });
  return form;
}

// Run fn (a promise-returning call) and show its failure in `messages`, or clear them;
// resolves to whether it succeeded.
export function run(messages, fn) {
  return Promise.resolve().then(fn).then(() => {
    fill(messages);
    return true;
  }, (e) => {
    fill(messages, problem(e));
    return false;
  });
}

// A button that acts only once confirmed: the first click turns it into "Confirm <text>"
// and a Cancel beside it; confirming puts the button back as it runs the action, so
// that the action is not run twice by a second click.
export function confirmButton(text, test, action) {
  const wrap = h("span", { class: "confirm" });
  const ask = () => fill(wrap,
    h("button", { class: "danger", "data-test": `${test}-confirm`,
      onclick: () => { idle(); action(); } },
      `Confirm ${text.toLowerCase()}`),
    h("button", { "data-test": `${test}-cancel`, onclick: idle }, "Cancel"));
  const idle = () => fill(wrap, h("button", { "data-test": test, onclick: ask }, text));
  idle();
  return wrap;
}

// Bytes from a count of MiB typed into a form.
export function mib(text) {
  return Math.round(Number(text) * 1024 * 1024);
}
