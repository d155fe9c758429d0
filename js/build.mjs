// Bundles js/src/index.ts into tscam_widget/static/widget.js and copies the pinned
// offline-embed assets (require.js, html-manager's embed-amd.js) beside it.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "tscam_widget", "static");
mkdirSync(join(out, "vendor"), { recursive: true });
for (const [src, dst] of [
  ["node_modules/requirejs/require.js", "vendor/require.js"],
  ["node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js", "vendor/embed-amd.js"],
]) {
  copyFileSync(join(root, src), join(out, dst));
}

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
