// One event.from loop shared by every view. subscribe(classes, callback) -> unsubscribe.
// Each new subscription restarts the loop from the token "", whose answer is an "add"
// of every existing object: a view needs no first fetch of its own and cannot miss a
// change between that fetch and its subscription. Callbacks take each event
// {class, operation: add|mod|del, ref, snapshot} and must treat an "add" of a known
// object as an update. A loop that is replaced has its waiting event.from aborted: a
// browser opens only a few connections to one origin, and requests left waiting for
// events would hold them all.
import { ApiFailure } from "./rpc.js";
import { apiUntil, onLogout } from "./session.js";

const POLL_SECONDS = 30;   // how long one event.from waits for events
const RETRY_MS = 2000;     // after a failure that is not the session's

const subscriptions = new Set();
let generation = 0;        // a loop of an older generation stops at its next answer
let stopping = null;       // the AbortController of the running loop's requests

export function subscribe(classes, callback) {
  const sub = { classes: new Set(classes.map((c) => c.toLowerCase())), callback };
  subscriptions.add(sub);
  restart();
  return () => {
    subscriptions.delete(sub);
    if (!subscriptions.size) stop();
  };
}

onLogout(() => {
  subscriptions.clear();
  stop();
});

function stop() {
  generation++;
  if (stopping) stopping.abort();
  stopping = new AbortController();
}

function restart() {
  stop();
  run(generation, stopping.signal);
}

function wanted() {
  const classes = new Set();
  for (const sub of subscriptions) for (const c of sub.classes) classes.add(c);
  return [...classes];
}

async function run(mine, signal) {
  const classes = wanted();
  let token = "";
  while (mine === generation && subscriptions.size) {
    try {
      const batch = await apiUntil(signal, "event.from", classes, token, POLL_SECONDS);
      if (mine !== generation) return;
      token = batch.token;
      for (const event of batch.events) deliver(event);
    } catch (e) {
      if (mine !== generation) return;
      if (e instanceof ApiFailure && e.code === "SESSION_INVALID") return;
      // Events lost (too far behind): start over from a snapshot of every object.
      if (e instanceof ApiFailure && e.code === "EVENTS_LOST") token = "";
      else await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

function deliver(event) {
  for (const sub of [...subscriptions]) {
    if (sub.classes.has(event.class) || sub.classes.has("*")) sub.callback(event);
  }
}

// Figures the API computes when asked (utilisation, free memory) raise no events: a
// view asks again every `ms` while it is shown. fn runs at once, then every ms; a
// failure waits for the next round. Returns the function that stops it.
export function every(ms, fn) {
  const round = () => Promise.resolve().then(fn).catch(() => {});
  round();
  const id = setInterval(round, ms);
  return () => clearInterval(id);
}
