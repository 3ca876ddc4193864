// The live monitoring page (/monitor) in headless Chromium: it asks for the token, then shows the
// connections, rooms and event counts of /stats and updates as clients connect and leave.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WAIT_MS, connectNode, launchBrowser, screenshot, startExample } from "./support.mjs";

const TOKEN = "monitor-test-token";

describe("monitoring page", () => {
  let server, browser, page;
  const clients = [];

  before(async () => {
    server = await startExample("browser", { MONITOR_TOKEN: TOKEN });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 800 });
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await browser?.close();
    await server?.stop();
  });

  const connections = (n) =>
    page.waitForFunction((n) => document.body.dataset.connections === String(n), { timeout: WAIT_MS }, n);

  test("without the token it asks for one", async () => {
    await page.goto(`${server.url}/monitor`, { waitUntil: "load", timeout: WAIT_MS });
    await page.waitForFunction(() => document.getElementById("status").textContent.includes("token"), { timeout: WAIT_MS });
  });

  test("with the token typed in, it shows the server", async () => {
    await page.type("#token", TOKEN);
    await page.click("#token-form button");
    await connections(0);
    assert.equal(await page.$eval("#adapter", (e) => e.textContent), "memory");
  });

  test("updates live when clients connect, join rooms and send events", async () => {
    clients.push(await connectNode(server.url, "ann"), await connectNode(server.url, "ben"));
    await connections(2);
    assert.equal(await clients[0].timeout(WAIT_MS).emitWithAck("join", "lobby"), "lobby");
    await page.waitForFunction(() => document.getElementById("rooms").innerText.includes("lobby"), { timeout: WAIT_MS });
    await page.waitForFunction(() => document.getElementById("events").innerText.includes("join"), { timeout: WAIT_MS });
    assert.equal(await page.$eval("#dropped", (e) => e.textContent), "0");
    assert.equal(await page.$eval("#slow-consumers", (e) => e.textContent), "0");
    await screenshot(page, "monitor");
    clients.pop().disconnect();
    await connections(1);
  });

  test("the token in the address is used and removed from it", async () => {
    const other = await browser.newPage();
    await other.goto(`${server.url}/monitor#token=${TOKEN}`, { waitUntil: "load", timeout: WAIT_MS });
    await other.waitForFunction(() => document.body.dataset.connections === "1", { timeout: WAIT_MS });
    assert.ok(!other.url().includes(TOKEN), other.url());
    await other.close();
  });
});
