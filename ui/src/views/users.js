// The Users view: the host's users (root only). Not written yet.
import { placeholder } from "./placeholder.js";

export function render(root) {
  return placeholder(root, "Users");
}
