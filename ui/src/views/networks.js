// The Networks view: networks and the VMs' interfaces on them. Not written yet.
import { placeholder } from "./placeholder.js";

export function render(root) {
  return placeholder(root, "Networks");
}
