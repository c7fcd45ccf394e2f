// One VM's view (#/vm/<ref>): its record and what may be done to it. Not written yet.
import { h } from "../dom.js";
import { placeholder } from "./placeholder.js";

export function render(root, [ref]) {
  return placeholder(root, "VM", " VM ", h("code", { "data-test": "vm-ref" }, ref), " ",
    h("a", { href: "#/vms" }, "Back to the VMs"));
}
