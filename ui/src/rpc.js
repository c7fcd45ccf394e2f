// The JSON-RPC client: call(method, ...params) -> Promise of the result. An API
// failure rejects with an ApiFailure {code, params, sentence}; a reply that is not
// JSON-RPC (the daemon gone, a proxy's error page) with a plain Error.
import { sentence } from "./model.js";

export class ApiFailure extends Error {
  constructor(code, params) {
    const text = sentence(code, params);
    super(`${code}: ${text}`);
    this.code = code;
    this.params = params;
    this.sentence = text;
  }
}

let nextId = 1;

export function call(method, ...params) {
  return callUntil(null, method, ...params);
}

// call(), given up (the fetch aborted, so its connection is free again) when `signal`
// (an AbortSignal, or null) fires.
export async function callUntil(signal, method, ...params) {
  // application/json: a type a page of another origin cannot send without a
  // preflight, which the daemon never grants.
  const response = await fetch("/jsonrpc", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", method, params, id: nextId++ }),
    credentials: "omit",
    cache: "no-store",
    signal,
  });
  if (!response.ok) throw new Error(`${method}: HTTP ${response.status}`);
  const reply = await response.json();
  if (reply.error) {
    if (reply.error.code === 1) throw new ApiFailure(reply.error.message, reply.error.data || []);
    throw new Error(`${method}: ${reply.error.message}`);
  }
  return reply.result;
}
