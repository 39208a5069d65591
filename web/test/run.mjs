// The browser tests: starts SeatRush (embedded backend, fresh data directory, free ports), a
// static server for a page on another origin, and headless Chromium; runs every test of
// grpcweb.test.mjs and seatmap.test.mjs; stops everything. Bounded by a global timeout; exits
// non-zero, naming the test, on the first failure.
//
//   node test/run.mjs          (SEATRUSH_BIN: the server binary, default ../target/debug/seatrush)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const binary = process.env.SEATRUSH_BIN ?? resolve(web, "../target/debug/seatrush");
const timeoutMs = Number(process.env.BROWSER_TEST_TIMEOUT_MS ?? 150_000);
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const cleanups = [];
async function cleanup() {
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch (err) {
      console.error("cleanup:", err);
    }
  }
}
const deadline = setTimeout(async () => {
  console.error(`browser tests: FAILED: still running after ${timeoutMs} ms`);
  await cleanup();
  process.exit(1);
}, timeoutMs);

/** The probe page and a Node build of the same client, bundled by esbuild into a temp dir. */
async function bundle(dir) {
  await esbuild.build({
    entryPoints: { probe: join(here, "probe.ts") },
    outdir: dir,
    bundle: true,
    format: "iife",
    target: "chrome120",
    logLevel: "warning",
  });
  await esbuild.build({
    entryPoints: { client: join(web, "src/client.ts") },
    outdir: dir,
    bundle: true,
    format: "esm",
    platform: "node",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
  const { readFileSync } = await import("node:fs");
  return {
    probeJs: readFileSync(join(dir, "probe.js")),
    client: await import(join(dir, "client.mjs")),
  };
}

/** A page on its own origin: an empty document that loads the probe. */
function serveProbe(probeJs) {
  const server = createServer((req, res) => {
    if (req.url === "/probe.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(probeJs);
    } else if (req.url === "/") {
      res
        .writeHead(200, { "content-type": "text/html" })
        .end('<!doctype html><title>probe</title><script src="/probe.js"></script>');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () => ok({ server, port: server.address().port })),
  );
}

/** Starts the binary and resolves with the addresses its log announces. */
function startSeatRush(env, dataDir) {
  const child = spawn(binary, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, SEATRUSH_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = [];
  return new Promise((ok, fail) => {
    let grpc;
    let page;
    const look = (chunk) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        log.push(line);
        if (process.env.BROWSER_TEST_VERBOSE) console.log("seatrush:", line);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        const fields = entry.fields ?? {};
        if (fields.message === "SeatRush listening") grpc = `http://${fields.address}`;
        if (fields.message === "seat-map page" && fields.url) page = fields.url;
        // The page's line comes first: the server announces its listeners before it serves.
        if (grpc) ok({ child, grpc, page, log });
      }
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
    child.on("exit", (code) =>
      fail(new Error(`seatrush exited (${code}) before listening:\n${log.join("\n")}`)),
    );
  });
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), "seatrush-browser-"));
  cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
  const { probeJs, client } = await bundle(join(scratch, "build"));
  const probe = await serveProbe(probeJs);
  cleanups.push(() => new Promise((ok) => probe.server.close(ok)));
  const probeOrigin = `http://127.0.0.1:${probe.port}`;

  const started = Date.now();
  const seatrush = await startSeatRush(
    {
      RUST_LOG: "info",
      SEATRUSH_LOG_FORMAT: "json",
      SEATRUSH_LISTEN: "127.0.0.1:0",
      SEATRUSH_WEB_LISTEN: "127.0.0.1:0",
      SEATRUSH_DEMO: "1",
      SEATRUSH_ADMIN_TOKEN: "browser-tests",
      SEATRUSH_CORS_ORIGINS: probeOrigin,
      SEATRUSH_REGISTRATIONS_PER_MINUTE: "0",
      SEATRUSH_MAX_SEATS_PER_CLIENT: "0",
      OTEL_SDK_DISABLED: "true",
    },
    join(scratch, "data"),
  );
  cleanups.push(
    () =>
      new Promise((ok) => {
        seatrush.child.once("exit", ok);
        seatrush.child.kill("SIGTERM");
        setTimeout(() => seatrush.child.kill("SIGKILL"), 5_000).unref();
      }),
  );
  console.log(`seatrush: gRPC ${seatrush.grpc}, page ${seatrush.page ?? "(none)"} (${Date.now() - started} ms)`);

  const userDataDir = join(scratch, "chromium");
  // A persistent context is how playwright takes a fresh user-data-dir (Chromium stalls
  // without one here); its pages are separate tabs, each with its own sessionStorage.
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  cleanups.push(() => browser.close());

  const ctx = {
    browser,
    grpc: seatrush.grpc,
    pageUrl: seatrush.page,
    probeOrigin,
    node: client.connect(seatrush.grpc),
    client,
    log: seatrush.log,
    screenshot: process.env.SEAT_MAP_SCREENSHOT ?? resolve(web, "../docs/seat-map.png"),
  };
  const only = process.argv[2];
  const files = ["grpcweb.test.mjs", "seatmap.test.mjs"];
  let count = 0;
  for (const file of files) {
    const { tests } = await import(join(here, file));
    for (const [name, fn] of tests) {
      if (only && !name.includes(only)) continue;
      const t0 = Date.now();
      try {
        await fn(ctx);
      } catch (err) {
        console.error(`FAIL ${file}: ${name}\n`, err);
        if (process.env.BROWSER_TEST_VERBOSE) console.error(seatrush.log.slice(-40).join("\n"));
        throw new Error(`browser test failed: ${name}`);
      }
      count += 1;
      console.log(`ok   ${name} (${Date.now() - t0} ms)`);
    }
  }
  console.log(`browser tests: ${count} passed`);
}

try {
  await main();
  await cleanup();
  clearTimeout(deadline);
} catch (err) {
  console.error(err.message ?? err);
  await cleanup();
  clearTimeout(deadline);
  process.exit(1);
}
