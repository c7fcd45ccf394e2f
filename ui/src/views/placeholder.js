// What a view that is not written yet shows: its title and a line saying so.
import { fill, h } from "../dom.js";

export function placeholder(root, title, ...more) {
  fill(root, h("h1", {}, title),
    h("p", { class: "placeholder", "data-test": "placeholder" },
      "This view is not written yet.", ...more));
  return () => {};
}
