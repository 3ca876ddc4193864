// The official Socket.IO Admin UI (@socket.io/admin-ui 0.5, its built files served by the example
// at /admin-ui/) in headless Chromium against one iostack node: it logs in, lists the sockets and
// rooms, and disconnects a socket, which its client sees.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WAIT_MS, adminUiDir, iconsDir, connectNode, launchBrowser, once, screenshot, startExample } from "./support.mjs";

const PASSWORD = "admin-ui-test-password";

describe("Admin UI against one node", () => {
  let server, browser, page, bob;

  before(async () => {
    server = await startExample("browser", { ADMIN_UI_PASSWORD: PASSWORD, ADMIN_UI_DIR: adminUiDir, ADMIN_UI_ICONS_DIR: iconsDir });
    bob = await connectNode(server.url, "bob");
    assert.equal(await bob.timeout(WAIT_MS).emitWithAck("join", "lobby"), "lobby");
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    // What the UI's connection form remembers: the server, and our namespace (its default is /admin).
    await page.evaluateOnNewDocument((url) => {
      localStorage.setItem("server_url", url);
      localStorage.setItem("namespace", "/admin-ui");
    }, server.url);
  });

  after(async () => {
    bob?.disconnect();
    await browser?.close();
    await server?.stop();
  });

  /** The input labelled `label` in the connection form. */
  async function input(label) {
    const id = await page.waitForFunction(
      (label) => [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === label)?.htmlFor,
      { timeout: WAIT_MS },
      label,
    );
    return `#${await id.jsonValue()}`;
  }

  const bodyMatches = (pattern) =>
    page.waitForFunction((source) => new RegExp(source, "i").test(document.body.innerText), { timeout: WAIT_MS }, pattern);

  test("refuses a wrong password in the login form", async () => {
    await page.goto(`${server.url}/admin-ui/`, { waitUntil: "load", timeout: WAIT_MS });
    await page.type(await input("Username"), "admin");
    await page.type(await input("Password"), "wrong");
    await page.click("button[type=submit]");
    await bodyMatches("invalid credentials");
    await server.waitForOutput(/Admin UI: refused a login with invalid credentials/);
  });

  test("logs in and shows the server", async () => {
    await page.reload({ waitUntil: "load", timeout: WAIT_MS });
    await page.type(await input("Username"), "admin");
    await page.type(await input("Password"), PASSWORD);
    await page.click("button[type=submit]");
    await bodyMatches("\\bconnected\\b");
    await page.evaluate(() => (location.hash = "#/servers/"));
    await bodyMatches("#\\d+"); // the server id, hostname#pid
    await screenshot(page, "admin-ui-servers");
  });

  test("lists the sockets, with bob's", async () => {
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await bodyMatches(bob.id);
    await screenshot(page, "admin-ui-sockets");
  });

  test("lists the rooms, with bob's lobby", async () => {
    await page.evaluate(() => (location.hash = "#/rooms/"));
    await bodyMatches("lobby");
    await screenshot(page, "admin-ui-rooms");
  });

  test("a socket connecting later appears without reloading", async () => {
    const carol = await connectNode(server.url, "carol");
    try {
      await page.evaluate(() => (location.hash = "#/sockets/"));
      await bodyMatches(carol.id);
    } finally {
      carol.disconnect();
    }
  });

  test("disconnects bob from the UI, and bob's client sees it", async () => {
    const disconnected = once(bob, "disconnect");
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await bodyMatches(bob.id);
    // The row's action button (an icon button: `mdi-logout`) sends `_disconnect(nsp, false, id)`.
    const button = await page.waitForFunction(
      (id) =>
        [...document.querySelectorAll("tr")]
          .find((row) => row.innerText.includes(id))
          ?.querySelector("button .mdi-logout")
          ?.closest("button"),
      { timeout: WAIT_MS },
      bob.id,
    );
    await button.click();
    const [reason] = await disconnected;
    assert.equal(reason, "io server disconnect");
    await page.waitForFunction((id) => !document.body.innerText.includes(id), { timeout: WAIT_MS }, bob.id);
    await screenshot(page, "admin-ui-after-disconnect");
  });
});
