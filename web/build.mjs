// Builds the seat-map page into dist/ (index.html, app.js, app.css), which the server embeds
// (src/startup/page.rs). dist/ is committed; .ci/browser rebuilds it and fails on a difference.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
mkdirSync(dist, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src/page/main.ts")],
  outfile: join(dist, "app.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "app.css"]) {
  copyFileSync(join(here, "src/page", file), join(dist, file));
}
