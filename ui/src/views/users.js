// The Users view (root only; the navigation offers it to no one else, and anyone else
// who opens #/users is sent to the host view): each user's name and full name, a new
// user (name, full name, password), a user's password set, a user deleted after a
// confirmation (which ends that user's sessions).
import { fill, h } from "../dom.js";
import { actionForm, confirmButton, inputField, run } from "../forms.js";
import { follow } from "../records.js";
import { api, isRoot } from "../session.js";

const ROOT = "root";

function passwordField(test) {
  return inputField("Password", { name: "password", type: "password", required: true,
    autocomplete: "new-password", "data-test": test });
}

export function render(root) {
  if (!isRoot()) {
    location.hash = "#/host";
    return () => {};
  }
  const body = h("tbody", { "data-test": "user-rows" });
  const messages = h("div", { class: "messages" });
  const tool = h("div", { class: "tool" });

  const passwordForm = (ref, name) => actionForm({ test: "user-password-form",
    submit: `Set ${name}'s password`, messages,
    onSubmit: ({ password }) => api("user.set_password", ref, password).then(() => fill(tool)) },
  passwordField("user-new-password"));

  const row = ([ref, user]) => h("tr", { "data-test": "user-row", "data-ref": ref },
    h("td", { "data-test": "user-name" }, user.short_name),
    h("td", { "data-test": "user-fullname" }, user.fullname),
    h("td", { class: "actions" },
      h("button", { "data-test": "user-password",
        onclick: () => fill(tool, passwordForm(ref, user.short_name)) }, "Set password"),
      user.short_name !== ROOT && confirmButton("Delete", "user-delete",
        () => run(messages, () => api("user.destroy", ref)))));

  const followed = follow(["user"], () => fill(body, [...users]
    .sort(([, a], [, b]) => a.short_name.localeCompare(b.short_name)).map(row)));
  const users = followed.records.user;

  fill(root,
    h("h1", {}, "Users"), messages,
    actionForm({ test: "user-create", submit: "New user", messages,
      onSubmit: async ({ name, fullname, password }) => {
        const ref = await api("user.create", { short_name: name, fullname });
        await api("user.set_password", ref, password);
      } },
    inputField("Name", { name: "name", required: true, autocomplete: "off",
      "data-test": "user-name-input" }),
    inputField("Full name", { name: "fullname", "data-test": "user-fullname-input" }),
    passwordField("user-password-input")),
    h("table", { class: "grid", "data-test": "user-list" },
      h("thead", {}, h("tr", {}, ["User", "Full name", ""].map((t) => h("th", {}, t)))), body),
    tool);
  return () => followed.stop();
}
