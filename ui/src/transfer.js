// Disk images in and out of VDIs through the daemon's routes of their own (docs/api.md,
// "Disk images in and out"): PUT /import_raw_vdi and GET /export_raw_vdi, which take the
// session ref in their query string. Neither request is a navigation, so that URL never
// enters the browser's history, and the page sends no Referer (Referrer-Policy); the
// daemon logs no request's query string. A download is read into memory and saved from
// there (a link to the export itself would put the session ref in the downloads list).
import { ApiFailure } from "./rpc.js";
import { sessionRef } from "./session.js";

function target(path, vdi, format, task) {
  const query = new URLSearchParams({ session_id: sessionRef() || "", vdi, format });
  if (task) query.set("task_id", task);
  return `${path}?${query}`;
}

// A refusal's body is the API error's ErrorDescription on one line: "CODE param ...".
function refusal(status, text) {
  const [code, ...params] = text.trim().split(" ");
  if (/^[A-Z][A-Z_]+$/.test(code)) return new ApiFailure(code, params);
  return new Error(`HTTP ${status}`);
}

// Send `file` (a File or Blob) as the image of `vdi` in `format` (raw or qcow2),
// reporting on `task` (a pending task of the session's, or none: the daemon makes
// one). onProgress(fraction) follows the bytes sent. Resolves to the task's ref.
export function upload(vdi, file, format, { task, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", target("/import_raw_vdi", vdi, format, task));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => (xhr.status === 200 ? resolve(xhr.responseText.trim())
      : reject(refusal(xhr.status, xhr.responseText)));
    // A refusal before the body is read may close the connection while the browser
    // sends (browsers do not send Expect: 100-continue): all the page then sees.
    xhr.onerror = () => reject(new Error("the upload was refused or cut short"));
    xhr.send(file);
  });
}

// The image of `vdi` in `format` as {blob, name}: name is the attachment's file name
// the daemon gives (the VDI's name and the format). onProgress(fraction) follows the
// bytes received.
export async function download(vdi, format, { task, onProgress }) {
  const response = await fetch(target("/export_raw_vdi", vdi, format, task),
    { credentials: "omit", cache: "no-store" });
  if (!response.ok) throw refusal(response.status, await response.text());
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (total) onProgress(received / total);
  }
  return { blob: new Blob(chunks, { type: "application/octet-stream" }),
    name: attachmentName(response.headers.get("Content-Disposition")) || `${vdi}.${format}` };
}

// The file name of a Content-Disposition: filename* (UTF-8) before filename.
function attachmentName(header) {
  const extended = /filename\*=UTF-8''([^;]+)/i.exec(header || "");
  if (extended) return decodeURIComponent(extended[1]);
  const plain = /filename="([^"]*)"/i.exec(header || "");
  return plain && plain[1];
}

// Make the browser save `blob` as `name`, as a download of the page's own memory.
export function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has the blob once the click's download has begun; revoking at once
  // could cancel it, so the URL is let go a minute later.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
