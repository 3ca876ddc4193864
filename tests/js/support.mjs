// Shared helpers: start an example binary on a free port, connect official clients, bounded waits.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { io } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const examplesDir = process.env.IOSTACK_EXAMPLES_DIR ?? path.resolve(here, "../../target/debug/examples");

/** How long any wait lasts before the test fails. */
export const WAIT_MS = 5000;

/** Starts `examples/<name>` with PORT=0 and resolves with { url, stop } once it listens. */
export async function startExample(name, env = {}) {
  const bin = path.join(examplesDir, name);
  if (!existsSync(bin)) {
    throw new Error(`example binary ${bin} is missing: run 'cargo build --example ${name}' first`);
  }
  const child = spawn(bin, [], {
    env: { ...process.env, PORT: "0", NO_COLOR: "1", RUST_LOG: "info", ...env },
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
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 30000);
    const watch = () => {
      const m = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(m[1]);
      }
    };
    watchers.add(watch);
    watch();
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}:\n${output}`)));
  });
  /**
   * Resolves with the first match of `pattern` in the output written from offset `from` on, as soon
   * as it is written; rejects after `timeout` ms.
   */
  const waitForOutput = (pattern, { from = 0, timeout = WAIT_MS } = {}) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`no output matching ${pattern} within ${timeout} ms:\n${output.slice(from).slice(-3000)}`));
      }, timeout);
      const watch = () => {
        const m = output.slice(from).match(pattern);
        if (m) {
          clearTimeout(timer);
          watchers.delete(watch);
          resolve(m);
        }
      };
      watchers.add(watch);
      watch();
    });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once("exit", (code, signal) => resolve(code ?? signal));
      child.kill("SIGTERM");
    });
  /** Kills the process at once (SIGKILL): no shutdown, as when a node dies. */
  const kill = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? child.signalCode);
      child.once("exit", (code, signal) => resolve(code ?? signal));
      child.kill("SIGKILL");
    });
  return { url, stop, kill, output: () => output, waitForOutput };
}

/** Connects an official client and resolves once connected (rejects with the connect_error). */
export function connect(url, opts = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, timeout: WAIT_MS, ...opts });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timed out")), WAIT_MS);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** Resolves with the arguments of the next `event` on `socket`. */
export function next(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** The transports every end-to-end test runs over. */
export const TRANSPORTS = [["websocket"], ["polling"]];

/** An HS256 JWT for `claims`, signed with `secret` (node:crypto only). */
export function jwt(secret, claims) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  const sig = createHmac("sha256", secret).update(body).digest("base64url");
  return `${body}.${sig}`;
}

/** Resolves with the `connect_error` message of a refused connection. */
export async function refusal(url, opts = {}) {
  try {
    // No upgrade: a refused client closed mid-upgrade would keep the process alive until its
    // ping timeout.
    const socket = await connect(url, { upgrade: false, ...opts });
    socket.close();
  } catch (err) {
    return err.message;
  }
  throw new Error("connection was admitted");
}
