// The logged-in page: a top bar (the host's name, who is logged in, logout), the
// navigation, and the current route's view below them.
import * as devconsole from "./devconsole.js";
import { h } from "./dom.js";
import * as router from "./router.js";
import { api, isRoot, logout, user } from "./session.js";

const NAV = [
  ["host", "#/host", "Host"],
  ["vms", "#/vms", "VMs"],
  ["storage", "#/storage", "Storage"],
  ["networks", "#/networks", "Networks"],
  ["users", "#/users", "Users", "root"],
];

// render(root) -> cleanup.
export function render(root) {
  const hostName = h("span", { class: "host-name", "data-test": "host-name" });
  const links = new Map(NAV.filter(([, , , who]) => !who || isRoot()).map(([entry, href, text]) =>
    [entry, h("a", { href, "data-test": `nav-${entry}` }, text)]));
  const main = h("main", { class: "view", "data-test": "view" });
  const alerts = h("div", { class: "alerts", "data-test": "alerts" });
  root.replaceChildren(
    h("header", { class: "topbar" },
      h("span", { class: "brand" }, "xend"), hostName,
      h("span", { class: "spacer" }),
      h("span", { class: "whoami", "data-test": "whoami" }, user()),
      h("button", { class: "logout", "data-test": "logout", onclick: () => logout() },
        "Log out")),
    h("div", { class: "body" }, h("nav", { class: "sidebar" }, [...links.values()]),
      h("div", { class: "content" }, alerts, main)));
  api("host.get_all")
    .then(([ref]) => api("host.get_name_label", ref))
    .then((name) => { hostName.textContent = name; })
    .catch(() => {});
  if (!location.hash) location.hash = router.DEFAULT;
  const uninstall = devconsole.install(alerts);
  const stop = router.start(main, (entry) => {
    for (const [name, link] of links) link.classList.toggle("active", name === entry);
  });
  return () => {
    uninstall();
    stop();
  };
}
