// Copies the wallboard's third-party browser assets from node_modules (installed by
// `npm ci` from package-lock.json) into the Python package, with a manifest of what
// was copied. The built files are committed: `pip install` needs no Node.
//
//   npm ci && npm run build          # rebuild src/talkstats/web/static/vendor/
//   npm ci && npm run build -- --check   # exit 1 if the committed files differ
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "talkstats", "web", "static", "vendor");
const check = process.argv.includes("--check");

// [package, file in the package, name in the output folder]
const FILES = [
  ["uplot", "dist/uPlot.iife.min.js", "uplot/uPlot.iife.min.js"],
  ["uplot", "dist/uPlot.min.css", "uplot/uPlot.min.css"],
  ["uplot", "LICENSE", "uplot/LICENSE"],
];

const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const manifest = { generated_by: "web-src/build.mjs", packages: {}, files: {} };
const problems = [];

for (const [pkg, from, to] of FILES) {
  const entry = lock.packages[`node_modules/${pkg}`];
  manifest.packages[pkg] = { version: entry.version, integrity: entry.integrity };
  const bytes = readFileSync(join(here, "node_modules", pkg, from));
  manifest.files[to] = createHash("sha256").update(bytes).digest("hex");
  const target = join(out, to);
  if (check) {
    if (!existsSync(target) || !readFileSync(target).equals(bytes)) problems.push(to);
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
}

const text = JSON.stringify(manifest, null, 2) + "\n";
const manifestPath = join(out, "MANIFEST.json");
if (check) {
  if (!existsSync(manifestPath) || readFileSync(manifestPath, "utf8") !== text) {
    problems.push("MANIFEST.json");
  }
  if (problems.length) {
    console.error(`differs from a fresh build: ${problems.join(", ")}`);
    process.exit(1);
  }
  console.log("the committed wallboard assets equal a fresh build");
} else {
  writeFileSync(manifestPath, text);
  console.log(`wrote ${FILES.length} files and MANIFEST.json to ${out}`);
}
