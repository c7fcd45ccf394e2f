// What the logged-in user may do, as the datamodel says (model.json's root-only
// methods): a view offers no control whose call would only be refused.
import { rootOnly } from "./model.js";
import { isRoot } from "./session.js";

export function may(method) {
  return isRoot() || !rootOnly(method);
}
