// The web console's entry point: its styles, the datamodel's facts, then the login
// view or, once logged in, the page's shell.
import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { problem } from "./dom.js";
import * as model from "./model.js";
import { onLogout } from "./session.js";
import * as shell from "./shell.js";
import * as login from "./views/login.js";

const app = document.getElementById("app");
let cleanup = () => {};

function loggedOut() {
  cleanup();
  cleanup = login.render(app, { onLogin: loggedIn });
}

function loggedIn() {
  cleanup();
  cleanup = shell.render(app);
}

onLogout(loggedOut);
model.load().then(loggedOut, (e) => {
  app.replaceChildren(problem(e));
});
