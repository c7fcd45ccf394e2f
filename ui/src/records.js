// Records of some classes kept as events report them, for views drawn from several
// classes at once (storage, networks, users): follow(classes, draw) keeps a Map
// (ref -> record) per class and calls draw() once after each batch of events, not once
// per event. Returns {records: {class (lower case): Map}, redraw, stop}.
import { batched } from "./dom.js";
import { subscribe } from "./events.js";

export function follow(classes, draw) {
  const records = Object.fromEntries(classes.map((c) => [c.toLowerCase(), new Map()]));
  const redraw = batched(draw);
  const stop = subscribe(classes, (event) => {
    const store = records[event.class];
    if (!store) return;
    if (event.operation === "del") store.delete(event.ref);
    else if (event.snapshot) store.set(event.ref, event.snapshot);
    redraw();
  });
  return { records, redraw, stop };
}

// [ref, record] pairs of `map` in order of their name_label.
export function byName(map) {
  return [...map].sort(([, a], [, b]) => a.name_label.localeCompare(b.name_label));
}
