// The page's API client for the browser's developer console: window.xend.api(method,
// ...params) calls in the page's session, and a failure shows in the page's alert
// area with its code and documented sentence, as a control's would. It grants
// nothing the page's own controls do not: the daemon checks every call, so a method
// the user may not call is refused PERMISSION_DENIED however it is sent.
import { fill, problem } from "./dom.js";
import { api } from "./session.js";

// Install window.xend while logged in, showing failures in `alerts`; returns its removal.
export function install(alerts) {
  window.xend = Object.freeze({
    api: (method, ...params) => api(method, ...params).then((result) => {
      fill(alerts);
      return result;
    }, (e) => {
      fill(alerts, problem(e));
      throw e;
    }),
  });
  return () => {
    delete window.xend;
    fill(alerts);
  };
}
