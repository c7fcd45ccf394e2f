// The Storage view's forms: a new SR (root), a new VDI (optionally filled from a disk
// image), resizing a VDI, uploading an image into one and downloading its image, and
// the list of transfers with their progress and their tasks'.
import { badge, fill, h, percent } from "../dom.js";
import { subscribe } from "../events.js";
import { actionForm, inputField, mib } from "../forms.js";
import { api } from "../session.js";
import { download, save, upload } from "../transfer.js";

const FORMATS = ["raw", "qcow2"];
const SECTOR = 512;

function formatSelect() {
  return h("label", { class: "field" }, "Format",
    h("select", { name: "format", "data-test": "image-format" },
      FORMATS.map((f) => h("option", { value: f }, f))));
}

function fileInput() {
  return h("label", { class: "field" }, "Image",
    h("input", { type: "file", name: "file", "data-test": "image-file" }));
}

// The transfers of this view: each a row with the bytes' progress and the status and
// progress of the task the daemon reports on (one the page makes first, so that it
// knows which). start(label, work) runs work({task, onProgress}).
export function transferList() {
  const body = h("tbody", { "data-test": "transfers" });
  const el = h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ["Transfer", "Sent or received", "Task"]
      .map((t) => h("th", {}, t)))), body);
  const stops = [];
  const start = async (label, work) => {
    const task = await api("task.create", label, "a disk image through the web console");
    const bar = h("progress", { max: 1, value: 0, "data-test": "transfer-progress" });
    const status = h("td", { "data-test": "transfer-task" }, badge("pending", "transfer-status"));
    body.prepend(h("tr", { "data-test": "transfer", "data-task": task },
      h("td", {}, label), h("td", {}, bar), status));
    stops.push(subscribe(["task"], (event) => {
      if (event.ref !== task || !event.snapshot) return;
      fill(status, badge(event.snapshot.status, "transfer-status"), " ",
        percent(Number(event.snapshot.progress) / 100));
    }));
    const result = await work({ task, onProgress: (fraction) => { bar.value = fraction; } });
    bar.value = 1;
    return result;
  };
  return { el, start, stop: () => stops.forEach((stop) => stop()) };
}

export function newSrForm(messages) {
  const types = h("select", { name: "type", "data-test": "sr-type-select" });
  api("SR.get_supported_types").then((names) =>
    fill(types, names.sort().map((t) => h("option", { value: t, selected: t === "local" }, t))));
  return actionForm({ test: "sr-create", submit: "New SR", messages,
    onSubmit: ({ name, type, size }) => api("SR.create", {
      name_label: name, name_description: "", type,
      physical_size: size ? mib(size) : 0 }) },
  inputField("Name", { name: "name", required: true, "data-test": "sr-name-input" }),
  h("label", { class: "field" }, "Type", types),
  inputField("Size (MiB, empty: the file system's)", { name: "size", type: "number", min: 1,
    "data-test": "sr-size-input" }));
}

// A new VDI in `sr`: a name and a size, or an image whose size (raw) it takes, which is
// then uploaded into it.
export function newVdiForm(sr, messages, transfers) {
  return actionForm({ test: "vdi-create", submit: "New VDI", messages,
    onSubmit: async ({ name, size, file, format }) => {
      if (!size && !(file && format === "raw")) {
        throw new Error("give the VDI a size (a qcow2 image's size is its header's)");
      }
      const bytes = size ? mib(size) : Math.ceil(file.size / SECTOR) * SECTOR;
      const vdi = await api("VDI.create", { name_label: name, name_description: "", SR: sr,
        virtual_size: bytes, type: "user", sharable: false, read_only: false,
        other_config: {} });
      if (file) await sendImage(vdi, name, file, format, transfers);
    } },
  inputField("Name", { name: "name", required: true, "data-test": "vdi-name-input" }),
  inputField("Size (MiB)", { name: "size", type: "number", min: 1, step: "any",
    "data-test": "vdi-size-input" }),
  fileInput(), formatSelect());
}

function sendImage(vdi, name, file, format, transfers) {
  return transfers.start(`Upload ${file.name} into ${name}`,
    ({ task, onProgress }) => upload(vdi, file, format, { task, onProgress }));
}

export function resizeForm(vdi, record, messages) {
  return actionForm({ test: "vdi-resize-form", submit: `Resize ${record.name_label}`, messages,
    onSubmit: ({ size }) => api("VDI.set_virtual_size", vdi, mib(size)) },
  inputField("New size (MiB; disks only grow)", { name: "size", type: "number", min: 1,
    step: "any", required: true, value: Number(record.virtual_size) / 1048576,
    "data-test": "vdi-resize-size" }));
}

export function uploadForm(vdi, record, messages, transfers) {
  return actionForm({ test: "vdi-upload-form", submit: `Upload into ${record.name_label}`,
    messages, onSubmit: ({ file, format }) => {
      if (!file) throw new Error("choose an image to upload");
      return sendImage(vdi, record.name_label, file, format, transfers);
    } },
  fileInput(), formatSelect());
}

export function downloadForm(vdi, record, messages, transfers) {
  return actionForm({ test: "vdi-download-form", submit: `Download ${record.name_label}`,
    messages, onSubmit: ({ format }) => transfers.start(`Download ${record.name_label}`,
      ({ task, onProgress }) => download(vdi, format, { task, onProgress })
        .then(({ blob, name }) => save(blob, name))) },
  formatSelect());
}
