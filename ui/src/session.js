// The one session of the page: kept in memory only (never a cookie or localStorage; a
// reload logs out), sent as the first parameter of each call.
import { ApiFailure, call, callUntil } from "./rpc.js";

let current = null;   // {ref, user, root}
const onEnd = new Set();

// Log in as `user` in a session of Xen-API 1.0 (every field of every class is there).
export async function login(user, password) {
  const ref = await call("session.login_with_password", user, password, "1.0",
    "xend web console");
  const who = await call("session.get_this_user", ref, ref);
  current = { ref, user: who, root: who === "root" };
  return current;
}

export async function logout() {
  const ending = current;
  end();
  if (ending) await call("session.logout", ending.ref).catch(() => {});
}

// Who is logged in, or null.
export function user() {
  return current && current.user;
}

// The session's ref, for what cannot carry it in a JSON-RPC body (the console's
// WebSocket and the disk image routes, whose URLs hold it); null when logged out.
export function sessionRef() {
  return current && current.ref;
}

export function isRoot() {
  return Boolean(current && current.root);
}

// `fn` runs when the session ends: logged out, or found no longer valid.
export function onLogout(fn) {
  onEnd.add(fn);
  return () => onEnd.delete(fn);
}

function end() {
  if (!current) return;
  current = null;
  for (const fn of onEnd) fn();
}

// call() in the session. A session found invalid (expired, revoked) ends the page's.
export function api(method, ...params) {
  return apiUntil(null, method, ...params);
}

// api(), given up when `signal` fires (rpc.js callUntil).
export async function apiUntil(signal, method, ...params) {
  if (!current) throw new ApiFailure("SESSION_INVALID", [""]);
  const ref = current.ref;
  try {
    return await callUntil(signal, method, ref, ...params);
  } catch (e) {
    if (e instanceof ApiFailure && e.code === "SESSION_INVALID" && current && current.ref === ref) {
      end();
    }
    throw e;
  }
}
