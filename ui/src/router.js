// Hash routes: #/host, #/vms, #/vm/<ref>, #/storage, #/networks, #/users,
// #/console/<vm ref>, ... Each view module exports render(root, args) returning a
// cleanup function, run when the page moves to another route.
import * as consoles from "./views/console.js";
import * as host from "./views/host.js";
import * as networks from "./views/networks.js";
import * as storage from "./views/storage.js";
import * as users from "./views/users.js";
import * as vm from "./views/vm.js";
import * as vms from "./views/vms.js";

// [pattern, view, navigation entry it belongs to]; the first match wins.
const ROUTES = [
  [/^#\/host$/, host, "host"],
  [/^#\/vms$/, vms, "vms"],
  [/^#\/vm\/([^/]+)$/, vm, "vms"],
  [/^#\/storage$/, storage, "storage"],
  [/^#\/networks$/, networks, "networks"],
  [/^#\/users$/, users, "users"],
  [/^#\/console\/([^/]+)$/, consoles, "vms"],
];

export const DEFAULT = "#/host";

let cleanup = null;

// Show the view of the current hash in `root`; `onNav(entry)` marks the navigation.
export function start(root, onNav) {
  const show = () => {
    if (cleanup) cleanup();
    cleanup = null;
    const hash = location.hash;
    const found = ROUTES.find(([pattern]) => pattern.test(hash));
    if (!found) {
      location.hash = DEFAULT;   // an unknown route: the host view
      return;
    }
    const [pattern, view, entry] = found;
    const args = hash.match(pattern).slice(1).map(decodeURIComponent);
    onNav(entry);
    root.replaceChildren();
    cleanup = view.render(root, args);
  };
  window.addEventListener("hashchange", show);
  show();
  return () => {
    window.removeEventListener("hashchange", show);
    if (cleanup) cleanup();
    cleanup = null;
  };
}
