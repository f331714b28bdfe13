// The web page resumes a multipart upload after a reload, in headless Chromium on infra/local/up:
// parts 1 and 2 of a 16 MiB file reach S3, parts 3 and 4 are held back, the page reloads, and
// Uppy's Golden Retriever brings the file and its upload back. Every part PUT is counted: after
// the reload only 3 and 4 are sent, none that S3 holds goes again, and the video is uploaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, client, launchChromium, videoLike, MIB } from './stack.mjs';

test('a reload in the middle of a multipart upload sends only the missing parts', { timeout: 240_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    const user = 'reloading-user';
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    let phase = 'before';
    const puts = [];
    page.on('request', (r) => {
      const part = new URL(r.url()).searchParams.get('partNumber');
      if (r.method() === 'PUT' && part) puts.push({ phase, part: Number(part) });
    });
    const stored = [];
    page.on('response', (r) => {
      const part = new URL(r.url()).searchParams.get('partNumber');
      if (r.request().method() === 'PUT' && part && r.status() === 200) stored.push({ phase, part: Number(part) });
    });
    // Parts 3 and 4 wait until the page is gone; after the reload they go through.
    await page.route((url) => ['3', '4'].includes(url.searchParams?.get('partNumber')), async (route) => {
      if (phase === 'before') return; // held: the reload cancels the request before S3 sees it
      await route.continue().catch(() => {});
    });

    await page.goto(`${stack.api}/`);
    await page.fill('#user', user);
    await page.click('#signin button');
    await page.waitForSelector('.uppy-Dashboard');
    const file = videoLike(16 * MIB, 7);
    await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'long-take.mp4', mimeType: 'video/mp4', buffer: file });
    const deadline = Date.now() + 60_000;
    while (stored.filter((s) => s.phase === 'before').length < 2) {
      assert.ok(Date.now() < deadline, `parts 1 and 2 did not arrive: ${JSON.stringify(stored)}`);
      await page.waitForTimeout(100);
    }
    assert.deepEqual(stored.map((s) => s.part).sort(), [1, 2]);
    // Golden Retriever writes its state a moment after a change (throttled).
    await page.waitForTimeout(1500);

    phase = 'after';
    await page.reload();
    await page.waitForFunction((u) => document.getElementById('who').textContent === `signed in as ${u}`, user);
    await page.waitForSelector('#videos tr[data-id] td.status[data-status="uploaded"]', { timeout: 60_000 });

    const after = puts.filter((p) => p.phase === 'after').map((p) => p.part).sort();
    assert.deepEqual(after, [3, 4], `after the reload only the missing parts are sent: ${JSON.stringify(puts)}`);
    for (const part of [1, 2, 3, 4]) {
      assert.equal(stored.filter((s) => s.part === part).length, 1, `part ${part} reached S3 once: ${JSON.stringify(stored)}`);
    }
    const call = client(stack.api, stack.token(user));
    const { body } = await call('GET', '/v1/videos');
    assert.equal(body.videos.length, 1, 'one video, not a second upload of the same file');
    const [video] = body.videos;
    assert.equal(video.status, 'uploaded');
    assert.equal(video.size, file.length);
    assert.equal(video.filename, 'long-take.mp4');
    assert.match(video.etag, /-4"$/, 'assembled from the four parts');
    assert.deepEqual(errors, [], 'no script errors');
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
