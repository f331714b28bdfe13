// The web page at / in headless Chromium: Uppy uploads through the Companion routes (a 12 MiB file
// in multipart, a small fixture in one PUT that the S3 event finishes), the list shows them, the
// player plays one; a second user sees none of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, launchChromium, root } from './stack.mjs';

const MIB = 1024 * 1024;

/// Deterministic bytes that begin like an MP4 file, so the upload is recorded `uploaded`.
function videoLike(length) {
  const bytes = Buffer.alloc(length);
  let x = 0x2545f491;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  Buffer.from('000000186674797069736f6d0000020069736f6d69736f32', 'hex').copy(bytes);
  return bytes;
}

async function signIn(page, api, user) {
  await page.goto(`${api}/`);
  await page.fill('#user', user);
  await page.click('#signin button');
  await page.waitForSelector('.uppy-Dashboard');
  await page.waitForFunction((u) => document.getElementById('who').textContent === `signed in as ${u}`, user);
}

/// Waits until the list shows `filename` with `status`; returns the row's video id.
async function row(page, filename, status) {
  const handle = await page.waitForFunction(([name, want]) => {
    for (const tr of document.querySelectorAll('#videos tr')) {
      if (tr.cells[0].textContent === name && tr.cells[1].dataset.status === want) return tr.dataset.id;
    }
    return null;
  }, [filename, status], { timeout: 60_000 });
  return handle.jsonValue();
}

test('Uppy uploads through the Companion routes, the page plays the video, another user sees none of it', { timeout: 180_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const companion = [];
    const partPuts = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/s3/')) companion.push(`${r.method()} ${url.pathname}`);
      if (r.method() === 'PUT' && url.origin === stack.aws && url.searchParams.has('partNumber')) {
        partPuts.push(Number(url.searchParams.get('partNumber')));
      }
    });
    await signIn(page, stack.api, 'alice');

    // 12 MiB: over the page's 5 MiB threshold, so multipart (5 + 5 + 2 MiB).
    const big = videoLike(12 * MIB);
    await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'big.mp4', mimeType: 'video/mp4', buffer: big });
    const bigId = await row(page, 'big.mp4', 'uploaded');
    assert.deepEqual([...partPuts].sort(), [1, 2, 3], `part PUTs: ${partPuts}`);
    assert.ok(companion.includes('POST /s3/multipart'), companion.join('\n'));
    assert.ok(companion.some((c) => c.endsWith('/complete')), companion.join('\n'));
    await page.waitForSelector('.uppy-StatusBar.is-complete');

    const alice = client(stack.api, stack.token('alice'));
    const stored = await alice('GET', `/v1/videos/${bigId}`);
    assert.equal(stored.body.size, big.length);
    assert.match(stored.body.etag, /-3"?$/, 'a three-part multipart ETag');
    const playback = await alice('POST', `/v1/videos/${bigId}/playback`);
    const head = await fetch(playback.body.url, { headers: { range: 'bytes=0-65535' } });
    assert.equal(head.status, 206);
    assert.ok(Buffer.from(await head.arrayBuffer()).equals(big.subarray(0, 65536)), 'the stored bytes are the file');

    // The fixture is small: one PUT via /s3/params; nobody calls complete, the S3 event does.
    const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
    await page.click('.uppy-DashboardContent-addMore');
    await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip });
    const clipId = await row(page, 'clip.mp4', 'uploaded');
    assert.ok(companion.some((c) => c === 'GET /s3/params'), companion.join('\n'));

    await page.click(`#videos tr[data-id="${clipId}"] button.play`);
    await page.waitForFunction(() => document.getElementById('player').currentTime > 1, null, { timeout: 30_000 });
    if (process.env.VIDGATE_SCREENSHOT) await page.screenshot({ path: process.env.VIDGATE_SCREENSHOT });

    // Another user, another browser context: an empty list, and alice's video is a 404.
    const other = await (await browser.newContext()).newPage();
    await signIn(other, stack.api, 'bob');
    await other.waitForFunction(() => document.getElementById('error').textContent === '');
    assert.equal(await other.locator('#videos tr').count(), 0);
    const peek = await other.evaluate(async ([api, id, token]) => {
      const r = await fetch(`${api}/v1/videos/${id}`, { headers: { authorization: `Bearer ${token}` } });
      return r.status;
    }, [stack.api, clipId, stack.token('bob')]);
    assert.equal(peek, 404);
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
