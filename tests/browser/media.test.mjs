// Media facts on the web page in headless Chromium: the list shows each video's duration, picture
// and codecs, warns of one that isn't faststart or that some browser won't play, and the player
// takes a rotated phone video's shape before its first frame — the shape Chromium itself gives it
// once it has read the file (videoWidth × videoHeight after applying the track's matrix).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, upload, launchChromium, root } from './stack.mjs';

const fixture = (name) => readFile(path.join(root, 'tests/fixtures/media', name));

test('the list shows media facts and warnings; a rotated video plays in its own shape', { timeout: 120_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    const call = client(stack.api, stack.token('alice'));
    const rotated = await upload(call, 'phone.mov', await fixture('phone-rotated.mov'));
    const hevc = await upload(call, 'hevc.mov', await fixture('hevc.mov'));
    assert.equal(rotated.media.rotation, 90);

    browser = await launchChromium();
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.api}/`);
    await page.fill('#user', 'alice');
    await page.click('#signin button');
    await page.waitForSelector(`#videos tr[data-id="${hevc.id}"] td.media`);

    const cell = (id) => page.textContent(`#videos tr[data-id="${id}"] td.media`);
    const warnings = (id) => page.$$eval(`#videos tr[data-id="${id}"] .media-warning`,
      (spans) => spans.map((s) => [s.textContent, s.title]));
    assert.equal(await cell(rotated.id), '0:02 · 480×270 ↻90° · avc1.4D4015 + mp4a.40.2⚠ not faststart');
    assert.deepEqual(await warnings(hevc.id), [
      ['⚠ not faststart', 'moov after mdat: playback starts only once the end of the file has loaded'],
      ["⚠ won't play in Chromium, Firefox", 'hvc1.1.6.L63.90 in quicktime'],
    ]);

    await page.click(`#videos tr[data-id="${rotated.id}"] button.play`);
    // Set with the source, before anything is fetched.
    await page.waitForFunction(() => document.getElementById('player').src !== '');
    assert.equal(await page.evaluate(() => document.getElementById('player').style.aspectRatio), '9 / 16');
    await page.waitForFunction(() => document.getElementById('player').currentTime > 0.5, null, { timeout: 30_000 });
    const shown = await page.evaluate(() => {
      const v = document.getElementById('player');
      return [v.videoWidth, v.videoHeight];
    });
    assert.deepEqual(shown, [270, 480], 'Chromium turns the picture as the recorded rotation says');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
