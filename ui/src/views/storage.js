// The Storage view: storage repositories and their disks. Not written yet.
import { placeholder } from "./placeholder.js";

export function render(root) {
  return placeholder(root, "Storage");
}
