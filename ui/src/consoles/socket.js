// The console proxy's WebSocket (docs/api.md: GET /console/ws) for one console: its URL,
// and the mode the page asks for. The session travels in the query (a browser's
// WebSocket carries no header of the page's own); the daemon never logs it.
import { sessionRef } from "../session.js";

// The URL of console `ref`'s WebSocket on the daemon that served the page, in `mode`
// "write" (typing reaches the guest) or "read".
export function consoleUrl(ref, mode) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams({ ref, session_id: sessionRef(), mode });
  return `${scheme}//${location.host}/console/ws?${query}`;
}
