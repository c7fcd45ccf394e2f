// Builds the web console into xen/xend/webui/static/ (served by transport/webui.py):
// ui/src/main.js and every CSS it imports (xterm's included) bundled, minified, with
// source maps, as main.js and main.css; ui/static/index.html copied beside them.
// The names are fixed: transport/webui.py serves exactly these files.
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ui = dirname(fileURLToPath(import.meta.url));
const out = join(ui, "..", "xen", "xend", "webui", "static");

await mkdir(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(ui, "src", "main.js")],
  outdir: out,
  entryNames: "main",
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  target: ["es2022"],
  logLevel: "warning",
});
await copyFile(join(ui, "static", "index.html"), join(out, "index.html"));
