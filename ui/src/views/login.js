// The login view: a user name and password; root needs its password over TCP as any
// client does. A refusal shows the API's error code and its documented sentence.
import { fill, h, problem } from "../dom.js";
import { login } from "../session.js";

// render(root, {onLogin}) -> cleanup; onLogin runs once logged in.
export function render(root, { onLogin }) {
  const user = h("input", { name: "user", autocomplete: "username", value: "root",
    required: true, "data-test": "login-user" });
  const password = h("input", { name: "password", type: "password",
    autocomplete: "current-password", "data-test": "login-password" });
  const button = h("button", { type: "submit", class: "primary", "data-test": "login-submit" },
    "Log in");
  const status = h("div", { class: "login-status" });
  const submit = async (event) => {
    event.preventDefault();   // no form is ever posted: the page calls the API itself
    button.disabled = true;
    fill(status);
    try {
      await login(user.value, password.value);
      password.value = "";
      onLogin();
    } catch (e) {
      fill(status, problem(e));
      button.disabled = false;
    }
  };
  const form = h("form", { class: "login", "data-test": "login", onsubmit: submit },
    h("h1", {}, "xend"),
    h("label", {}, "User", user),
    h("label", {}, "Password", password),
    button, status);
  fill(root, h("div", { class: "login-page" }, form));
  password.focus();
  return () => {};
}
