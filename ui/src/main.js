// The web console's entry point: its styles, then the page.
import "@xterm/xterm/css/xterm.css";
import "./style.css";

document.getElementById("app").textContent = "xend";
