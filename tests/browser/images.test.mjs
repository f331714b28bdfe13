// Posters and seek previews on the web page in headless Chromium, on infra/local/up (make-images
// with Debian's ffmpeg): once a video's images are made, its row shows its poster (an image that
// loads, from the URL playback handed out), the player has it as its `poster`, and pointing at
// the bar under the player shows the storyboard tile of that moment — the sprite and rectangle
// the WebVTT's cue names — and a click there seeks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, upload, launchChromium, root } from './stack.mjs';

const fixture = (name) => readFile(path.join(root, 'tests/fixtures/media', name));

test('posters show in the list and on the player; the seek bar previews the storyboard', { timeout: 180_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    const call = client(stack.api, stack.token('alice'));
    const video = await upload(call, 'clip.mp4', await fixture('h264-aac-faststart.mp4'));
    let images = null;
    for (let i = 0; i < 300 && images?.status !== 'ready'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      images = (await call('GET', `/v1/videos/${video.id}`)).body.images;
      assert.notEqual(images?.status, 'failed', JSON.stringify(images));
    }
    assert.equal(images.status, 'ready');

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${stack.api}/`);
    await page.fill('#user', 'alice');
    await page.click('#signin button');
    const poster = `#videos tr[data-id="${video.id}"] td.thumb .poster`;
    await page.waitForFunction((sel) => document.querySelector(sel)?.style.backgroundImage.includes('poster-'), poster);
    // The URL in the row loads as a picture of the poster's size.
    const loaded = await page.$eval(poster, async (el) => {
      const url = el.style.backgroundImage.slice(5, -2);
      const img = new Image();
      img.src = url;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual(loaded, [images.poster.width, images.poster.height]);

    await page.click(`#videos tr[data-id="${video.id}"] button.play`);
    await page.waitForFunction(() => document.getElementById('player').poster.includes('poster-'));
    await page.waitForSelector('#scrub:not(.hidden)');
    // The bar's middle is the video's middle: the cue there names its sprite and rectangle.
    const bar = await page.$eval('#scrub', (el) => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; });
    const middle = images.storyboard.count > 1 ? 0.75 : 0.5;
    await page.mouse.move(bar[0] + bar[2] * middle, bar[1] + bar[3] / 2);
    await page.waitForSelector('#preview:not(.hidden)');
    const shown = await page.$eval('#preview', (el) => ({
      image: el.style.backgroundImage, position: el.style.backgroundPosition,
      width: el.style.width, height: el.style.height, time: Number(el.dataset.time),
    }));
    const at = Math.floor((images.storyboard.count * 1000 * middle) / images.storyboard.intervalMs);
    const tile = at % 100;
    assert.match(shown.image, /storyboard-0\.jpg/);
    const offset = (n) => (n === 0 ? '0px' : `-${n}px`); // as the browser writes it back
    assert.equal(shown.position,
      `${offset((tile % 10) * images.storyboard.tileWidth)} ${offset(Math.floor(tile / 10) * images.storyboard.tileHeight)}`);
    assert.deepEqual([shown.width, shown.height], [`${images.storyboard.tileWidth}px`, `${images.storyboard.tileHeight}px`]);
    assert.equal(shown.time, (at * images.storyboard.intervalMs) / 1000);
    // The sprite the preview shows loads.
    const sprite = await page.$eval('#preview', async (el) => {
      const img = new Image();
      img.src = el.style.backgroundImage.slice(5, -2);
      await img.decode();
      return img.naturalWidth;
    });
    assert.equal(sprite, images.storyboard.count * images.storyboard.tileWidth);
    // A click there seeks.
    await page.mouse.click(bar[0] + bar[2] * middle, bar[1] + bar[3] / 2);
    await page.waitForFunction((t) => Math.abs(document.getElementById('player').currentTime - t) < 0.2,
      (images.storyboard.count * middle * images.storyboard.intervalMs) / 1000);
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
