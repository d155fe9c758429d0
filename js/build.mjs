// Bundles js/src/index.ts into tscam_widget/static/widget.js (the anywidget ESM module) and
// js/host/page.ts into tscam_widget/static/host.js (the offline page's minimal host).
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "tscam_widget", "static");
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(root, "js", "host", "page.ts")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  outfile: join(out, "host.js"),
});

const options = {
  entryPoints: [join(root, "js", "src", "index.ts")],
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: !process.argv.includes("--watch"),
  sourcemap: process.argv.includes("--watch") ? "inline" : false,
  outfile: join(out, "widget.js"),
};
if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("esbuild: watching js/src");
} else {
  await esbuild.build(options);
}
