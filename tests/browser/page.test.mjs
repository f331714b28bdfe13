// The web page as a phone (390×844, touch) and a desktop (1280×900) show it, in headless Chromium:
// - nothing wider than the screen, before and after sign-in, with a long reject reason listed and
//   a video playing;
// - a bad token and a refused one get a sentence, not a JSON parser's error;
// - an empty state, and no player until a video is picked;
// - a non-video is refused in the page with the server's reason: no request reaches S3 or the
//   API's signing route (the page's network log);
// - an upload in progress is in the list with its progress;
// - Play and Delete clicked with real pointer events (Playwright refuses a click another element
//   would intercept), the player unmuted and fitting the width;
// - a reload keeps the session.
// VIDGATE_SCREENSHOT_DIR=docs writes docs/web-page-phone.png (the phone, a video playing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, launchChromium, root, videoLike, MIB } from './stack.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

/// The page's widest content against the screen's width (a mobile viewport widens `innerWidth` to
/// the layout, so the device width is what to measure against).
async function assertFits(page, width, when) {
  const wide = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
  assert.ok(wide <= width, `${when}: the page is ${wide} px wide on a ${width} px screen`);
  assert.equal(await page.evaluate(() => window.innerWidth), width, `${when}: innerWidth`);
  // Nor is the list wider than its column (it would spill over the page's margin first).
  const [list, column] = await page.evaluate(() => [document.querySelector('#videos').closest('table'),
    document.querySelector('#videos').closest('section')].map((e) => e.getBoundingClientRect().right));
  assert.ok(list <= column + 0.5 || column === 0, `${when}: the list ends at ${list} px, its column at ${column} px`);
}

/// The box of `selector` lies within the screen's width.
async function assertOnScreen(page, selector, width) {
  const box = await page.locator(selector).first().boundingBox();
  assert.ok(box, `${selector} is shown`);
  assert.ok(box.x >= 0 && box.x + box.width <= width + 0.5, `${selector} at ${box.x}+${box.width} on a ${width} px screen`);
}

for (const [name, device] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  test(`the page on a ${name} (${device.viewport.width}×${device.viewport.height})`, { timeout: 240_000 }, async () => {
    const stack = await startStack();
    const width = device.viewport.width;
    let browser;
    try {
      const user = `${name}-user`;
      const call = client(stack.api, stack.token(user));
      // A rejected video with its long reason, as a first-hour user makes one.
      const created = await call('POST', '/v1/uploads', { filename: 'a-text-file-renamed-with-a-rather-long-name.mp4', size: 6 * MIB, partSize: 5 * MIB });
      const signed = await call('POST', `/v1/uploads/${created.body.videoId}/part-urls`, { partNumbers: [1, 2] });
      for (const { partNumber, url } of signed.body.urls) {
        const size = partNumber === 1 ? created.body.partSize : 6 * MIB - created.body.partSize;
        assert.equal((await fetch(url, { method: 'PUT', body: Buffer.alloc(size, 0x41) })).status, 200);
      }
      assert.equal((await call('POST', `/v1/uploads/${created.body.videoId}/complete`)).status, 422);

      browser = await launchChromium();
      const context = await browser.newContext(device);
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const requests = [];
      page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
      await page.goto(`${stack.api}/`);
      await assertFits(page, width, 'signed out');

      // A token that isn't a JWT, then a JWT the API refuses: sentences, no parser errors.
      await page.fill('#user', 'my.bad.token');
      await page.click('#signin button');
      await page.waitForFunction(() => document.getElementById('error').textContent !== '');
      const bad = await page.textContent('#error');
      assert.match(bad, /^That isn't a JWT this page can read/);
      const claims = Buffer.from(JSON.stringify({ sub: user, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
      await page.fill('#user', `eyJhbGciOiJIUzI1NiJ9.${claims}.c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ`);
      await page.click('#signin button');
      await page.waitForFunction(() => document.getElementById('error').textContent.startsWith('The API refused your token'));
      assert.equal(await page.textContent('#who'), 'signed out');

      await page.fill('#user', user);
      await page.click('#signin button');
      await page.waitForFunction((u) => document.getElementById('who').textContent === `signed in as ${u}`, user);
      await page.waitForSelector('.uppy-Dashboard');
      assert.equal(await page.textContent('#error'), '');
      assert.equal(await page.isVisible('#player'), false, 'no empty player before a video is picked');
      await page.waitForSelector(`#videos tr[data-id="${created.body.videoId}"] td.status[data-status="rejected"]`);
      assert.match(await page.textContent(`#videos tr[data-id="${created.body.videoId}"] td.media`), /not a known video container/);
      assert.equal(await page.isVisible('#empty'), false);
      await assertFits(page, width, 'a rejected video with its reason listed');
      await assertOnScreen(page, '.uppy-Dashboard-browse', width);

      // Deleted with a real tap/click on its button (confirmed), the list is empty: it says so.
      page.once('dialog', (d) => d.accept());
      await page.click(`#videos tr[data-id="${created.body.videoId}"] button.delete`);
      await page.waitForSelector('#empty', { state: 'visible' });
      assert.match(await page.textContent('#empty'), /^No videos yet/);

      // Not a video: refused in the page, with the server's reason; nothing is sent anywhere.
      const before = requests.length;
      await page.setInputFiles('input.uppy-Dashboard-input >> nth=0',
        { name: 'holiday.mp4', mimeType: 'video/mp4', buffer: Buffer.alloc(11 * MIB, 'not a video at all ') });
      await page.waitForFunction(() => document.getElementById('error').textContent.includes('holiday.mp4'));
      assert.equal(await page.textContent('#error'),
        'holiday.mp4 is not a video vidgate accepts: the first bytes are not a known video container '
        + '(MP4/QuickTime, WebM/Matroska, AVI, MPEG, Ogg, FLV, ASF). Nothing was sent.');
      await page.waitForTimeout(1000);
      const sent = requests.slice(before).filter((r) => r.url.startsWith(stack.aws) || r.url.includes('/uppy/'));
      assert.deepEqual(sent, [], 'no request to S3 or to the signing route');
      assert.deepEqual((await call('GET', '/v1/videos')).body.videos, [], 'no record');

      // A real upload: listed with its progress while it is sent (part 2 held back meanwhile).
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      await page.route((url) => url.searchParams?.get('partNumber') === '2', async (route) => {
        await held;
        await route.continue().catch(() => {});
      });
      await page.setInputFiles('input.uppy-Dashboard-input >> nth=0',
        { name: 'beach.mp4', mimeType: 'video/mp4', buffer: videoLike(11 * MIB, 3) });
      await page.waitForFunction(() => {
        const tr = document.querySelector('#videos tr[data-local]');
        return tr && /^uploading \d+ %$/.test(tr.querySelector('td.status span').textContent)
          && tr.querySelector('td.file').textContent === 'beach.mp4';
      }, null, { timeout: 30_000 });
      assert.equal(await page.locator('#videos tr').count(), 1, 'the upload is one row, not its record beside it');
      assert.equal(await page.isVisible('#empty'), false);
      await assertFits(page, width, 'an upload in progress');
      release();
      await page.unroute((url) => url.searchParams?.get('partNumber') === '2');
      await page.waitForSelector('#videos tr[data-id] td.status[data-status="uploaded"]', { timeout: 60_000 });

      // A 6-second clip, played with a real click on Play: unmuted, as wide as the screen at most.
      const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
      await page.click('.uppy-DashboardContent-addMore');
      await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip });
      const clipRow = '#videos tr[data-id]:has(td.file:text-is("clip.mp4")):has(td.status[data-status="uploaded"])';
      await page.waitForSelector(clipRow, { timeout: 60_000 });
      await assertOnScreen(page, `${clipRow} button.play`, width);
      await page.click(`${clipRow} button.play`);
      await page.waitForFunction(() => document.getElementById('player').currentTime > 1, null, { timeout: 30_000 });
      assert.equal(await page.evaluate(() => document.getElementById('player').muted), false, 'the player starts with sound');
      await assertOnScreen(page, '#player', width);
      await assertFits(page, width, 'a video playing');
      if (process.env.VIDGATE_SCREENSHOT_DIR && name === 'phone') {
        await page.evaluate(() => window.scrollTo(0, document.querySelector('section:nth-of-type(2)').offsetTop));
        await page.screenshot({ path: path.resolve(root, process.env.VIDGATE_SCREENSHOT_DIR, 'web-page-phone.png') });
      }

      // A reload keeps the session: still signed in, the list back.
      await page.reload();
      await page.waitForFunction((u) => document.getElementById('who').textContent === `signed in as ${u}`, user);
      await page.waitForSelector(clipRow);
      assert.equal(await page.locator('#videos tr[data-id]').count(), 2);
      assert.deepEqual(errors, [], 'no script errors');
    } finally {
      await browser?.close();
      await stack.stop();
    }
  });
}
