// The official Admin UI in headless Chromium against a two-node cluster on a Redis of the test's
// own: logged in to node A, it lists both servers, the sockets and rooms of both nodes, and
// disconnects a socket of node B, whose client sees it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  WAIT_MS,
  adminUiDir,
  iconsDir,
  connectNode,
  launchBrowser,
  once,
  screenshot,
  startExample,
  startRedis,
} from "./support.mjs";

const PASSWORD = "admin-ui-cluster-password";

describe("Admin UI against a two-node Redis cluster", () => {
  let redis, nodeA, nodeB, browser, page, ann, ben;

  before(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, ADMIN_UI_PASSWORD: PASSWORD, ADMIN_UI_DIR: adminUiDir, ADMIN_UI_ICONS_DIR: iconsDir };
    nodeA = await startExample("browser", env);
    nodeB = await startExample("browser", env);
    ann = await connectNode(nodeA.url, "ann");
    ben = await connectNode(nodeB.url, "ben");
    assert.equal(await ann.timeout(WAIT_MS).emitWithAck("join", "room-on-a"), "room-on-a");
    assert.equal(await ben.timeout(WAIT_MS).emitWithAck("join", "room-on-b"), "room-on-b");
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.evaluateOnNewDocument((url) => {
      localStorage.setItem("server_url", url);
      localStorage.setItem("namespace", "/admin-ui");
    }, nodeA.url);
  });

  after(async () => {
    ann?.disconnect();
    ben?.disconnect();
    await browser?.close();
    await nodeA?.stop();
    await nodeB?.stop();
    await redis?.stop();
  });

  const bodyMatches = (pattern) =>
    page.waitForFunction((source) => new RegExp(source, "i").test(document.body.innerText), { timeout: WAIT_MS }, pattern);

  async function input(label) {
    const id = await page.waitForFunction(
      (label) => [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === label)?.htmlFor,
      { timeout: WAIT_MS },
      label,
    );
    return `#${await id.jsonValue()}`;
  }

  test("logs in to node A and lists both servers", async () => {
    await page.goto(`${nodeA.url}/admin-ui/`, { waitUntil: "load", timeout: WAIT_MS });
    await page.type(await input("Username"), "admin");
    await page.type(await input("Password"), PASSWORD);
    await page.click("button[type=submit]");
    await bodyMatches("\\bconnected\\b");
    await page.evaluate(() => (location.hash = "#/servers/"));
    // Every node sends its own server_stats, named hostname#pid: two distinct server rows.
    await page.waitForFunction(
      () => new Set(document.body.innerText.match(/\S+#\d+/g) ?? []).size >= 2,
      { timeout: WAIT_MS },
    );
    await screenshot(page, "admin-ui-cluster-servers");
  });

  test("lists the sockets and rooms of both nodes", async () => {
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await bodyMatches(ann.id);
    await bodyMatches(ben.id);
    await screenshot(page, "admin-ui-cluster-sockets");
    await page.evaluate(() => (location.hash = "#/rooms/"));
    await bodyMatches("room-on-a");
    await bodyMatches("room-on-b");
    await screenshot(page, "admin-ui-cluster-rooms");
  });

  test("a socket connecting to node B later appears live", async () => {
    const cid = await connectNode(nodeB.url, "cid");
    try {
      await page.evaluate(() => (location.hash = "#/sockets/"));
      await bodyMatches(cid.id);
    } finally {
      cid.disconnect();
    }
  });

  test("disconnects ben, on node B, from the UI on node A", async () => {
    const disconnected = once(ben, "disconnect");
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await bodyMatches(ben.id);
    const button = await page.waitForFunction(
      (id) =>
        [...document.querySelectorAll("tr")]
          .find((row) => row.innerText.includes(id))
          ?.querySelector("button .mdi-logout")
          ?.closest("button"),
      { timeout: WAIT_MS },
      ben.id,
    );
    await button.click();
    const [reason] = await disconnected;
    assert.equal(reason, "io server disconnect");
    await page.waitForFunction((id) => !document.body.innerText.includes(id), { timeout: WAIT_MS }, ben.id);
    assert.ok(ann.connected, "ann, on node A, stays connected");
  });
});
