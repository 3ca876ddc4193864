// Shared helpers of the browser tests: the example server, pages on other local origins, a headless
// Chromium driven by puppeteer-core, JWTs, screenshots. Every wait is bounded.
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { io } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const examplesDir = process.env.IOSTACK_EXAMPLES_DIR ?? path.resolve(here, "../../target/debug/examples");
export const artifacts = path.join(here, "artifacts");
export const adminUiDir = path.join(here, "node_modules/@socket.io/admin-ui/ui/dist");
export const iconsDir = path.join(here, "node_modules/@mdi/font");

/** How long any wait lasts before the test fails. */
export const WAIT_MS = 10000;
/** The example's JWT secret in these tests. */
export const JWT_SECRET = "browser-test-secret";

/** Starts `examples/<name>` with PORT=0; resolves with { url, output(), waitForOutput, stop }. */
export async function startExample(name, env = {}) {
  const bin = path.join(examplesDir, name);
  if (!existsSync(bin)) {
    throw new Error(`example binary ${bin} is missing: run 'cargo build --examples --all-features' first`);
  }
  const child = spawn(bin, [], {
    env: { ...process.env, PORT: "0", NO_COLOR: "1", RUST_LOG: "info", JWT_SECRET, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const watchers = new Set();
  const onData = (chunk) => {
    output += chunk;
    for (const watch of [...watchers]) watch();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const waitForOutput = (pattern, timeout = WAIT_MS) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`no output matching ${pattern} within ${timeout} ms:\n${output.slice(-3000)}`));
      }, timeout);
      const watch = () => {
        const m = output.match(pattern);
        if (m) {
          clearTimeout(timer);
          watchers.delete(watch);
          resolve(m);
        }
      };
      watchers.add(watch);
      watch();
    });
  const failed = exited.then((code) => {
    throw new Error(`${name} exited with ${code}:\n${output}`);
  });
  const [, url] = await Promise.race([waitForOutput(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 60000), failed]);
  failed.catch(() => {});
  return {
    url,
    output: () => output,
    waitForOutput,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * A tiny HTTP server on 127.0.0.1, port 0: another origin than the example's. It serves `/` (the
 * given HTML) and `/socket.io.min.js` from the socket.io-client package's dist.
 */
export async function startOrigin(html) {
  const client = readFileSync(path.join(here, "node_modules/socket.io-client/dist/socket.io.min.js"));
  const server = createServer((req, res) => {
    if (req.url === "/socket.io.min.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(client);
    } else if (req.url === "/" || req.url.startsWith("/?")) {
      res.writeHead(200, { "content-type": "text/html" }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/** The Chromium to drive: $CHROMIUM_PATH, else `chromium` on PATH. Fails clearly when missing. */
export function chromiumPath() {
  const missing = "no Chromium found: install Debian's `chromium` package (scripts/test.sh does) or set CHROMIUM_PATH";
  if (process.env.CHROMIUM_PATH) {
    if (existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
    throw new Error(`${missing} (CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist)`);
  }
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const found = execFileSync("sh", ["-c", `command -v ${name}`]).toString().trim();
      if (found) return found;
    } catch {
      // not this one
    }
  }
  throw new Error(missing);
}

/** A headless Chromium. */
export async function launchBrowser() {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    protocolTimeout: 30000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** Saves a screenshot of `page` as artifacts/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  // Pictures of the settled page: web fonts loaded, CSS transitions (the UI's fades) finished.
  await page.evaluate(async () => {
    await document.fonts.ready;
    await Promise.all(document.getAnimations().map((a) => a.finished.catch(() => {})));
  });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/** An HS256 JWT for `sub`, valid for an hour. */
export function jwt(sub, secret = JWT_SECRET) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, username: sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/** A Node socket.io client with a JWT, connected (websocket only); rejects on connect_error. */
export function connectNode(url, user) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token: jwt(user) }, transports: ["websocket"], reconnection: false, forceNew: true });
    const timer = setTimeout(() => reject(new Error(`${user}: no connect within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Resolves with the arguments of the next `event` of `socket`; rejects after WAIT_MS. */
export function once(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
async function freePort() {
  const server = createNetServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server of the test's own, persistence off; resolves with { url, stop } once it is ready. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise((resolve) => child.on("exit", resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), WAIT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (scripts/test.sh installs it): ${e.message}`));
    });
    const onData = (chunk) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
