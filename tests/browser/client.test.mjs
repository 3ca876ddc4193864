// The official browser socket.io client in headless Chromium, on a page of another origin than the
// server: with a JWT over websocket and over polling it connects, receives `welcome` and gets an ack;
// from an origin CORS does not allow, both transports are refused and the server logs the origin.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WAIT_MS, jwt, launchBrowser, screenshot, startExample, startOrigin } from "./support.mjs";

const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>iostack browser client</title>
<script src="/socket.io.min.js"></script></head>
<body><h1>iostack from another origin</h1><pre id="log"></pre>
<script>
  // Connects, waits for "welcome", sends "echo" with an ack; resolves with what happened.
  window.tryConnect = (url, token, transport) => new Promise((resolve) => {
    const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
    const socket = io(url, { auth: { token }, transports: [transport], reconnection: false, forceNew: true, withCredentials: true });
    const done = (result) => { log(transport + ": " + JSON.stringify(result)); socket.disconnect(); resolve(result); };
    const timer = setTimeout(() => done({ error: "timeout" }), ${WAIT_MS});
    socket.on("connect_error", (e) => { clearTimeout(timer); done({ error: e.message }); });
    socket.on("welcome", async (welcome) => {
      try {
        const echo = await socket.timeout(${WAIT_MS}).emitWithAck("echo", { from: location.origin, transport });
        clearTimeout(timer);
        done({ welcome, echo, transport: socket.io.engine.transport.name });
      } catch (e) {
        clearTimeout(timer);
        done({ error: "no ack: " + e.message });
      }
    });
  });
</script></body></html>`;

describe("browser client from another origin", () => {
  let allowed, refused, server, browser;

  before(async () => {
    allowed = await startOrigin(PAGE);
    refused = await startOrigin(PAGE);
    server = await startExample("browser", { ALLOWED_ORIGINS: allowed.url });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await allowed?.stop();
    await refused?.stop();
  });

  async function attempt(origin, transport, token = jwt("alice")) {
    const page = await browser.newPage();
    try {
      await page.goto(origin.url, { waitUntil: "load", timeout: WAIT_MS });
      const result = await page.evaluate((url, token, transport) => window.tryConnect(url, token, transport), server.url, token, transport);
      return { page, result };
    } catch (e) {
      await page.close();
      throw e;
    }
  }

  for (const transport of ["websocket", "polling"]) {
    test(`connects over ${transport} with a JWT, receives welcome and gets an ack`, async () => {
      const { page, result } = await attempt(allowed, transport);
      await screenshot(page, `client-${transport}`);
      await page.close();
      assert.deepEqual(result, {
        welcome: { transport },
        echo: { from: allowed.url, transport },
        transport,
      });
    });

    test(`is refused over ${transport} from an origin CORS does not allow`, async () => {
      const from = server.output().length;
      const { page, result } = await attempt(refused, transport);
      await screenshot(page, `refused-${transport}`);
      await page.close();
      assert.ok(result.error && !result.welcome, `expected a refusal, got ${JSON.stringify(result)}`);
      assert.notEqual(result.error, "timeout");
      await server.waitForOutput(new RegExp(`CORS: refused a request from origin ${refused.url.replace(/\./g, "\\.")}`));
      assert.ok(server.output().length > from);
    });
  }

  test("a bad token is refused with the auth layer's message", async () => {
    const { page, result } = await attempt(allowed, "websocket", jwt("mallory", "not-the-secret"));
    await page.close();
    assert.ok(result.error && result.error !== "timeout", JSON.stringify(result));
  });
});
