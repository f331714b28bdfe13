// The web page at / in headless Chromium with Uppy 6 (the `uppy` bundle npm installs today):
// - signRequest mode: a 12 MiB file in three parts, paused after its first part and resumed (Uppy
//   lists the parts S3 holds and sends only the rest), and a small fixture in one PUT; nobody calls
//   vidgate's complete — Uppy completes in S3 and the S3 event records it; the player plays it;
// - getCredentials mode (?mode=credentials): the browser signs with prefix-scoped credentials, a
//   multipart and a single-PUT upload land under the caller's prefix and are recorded;
// a second user sees none of it, and the page has no script errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, launchChromium, root, videoLike, MIB } from './stack.mjs';

async function signIn(page, url, user) {
  await page.goto(url);
  await page.fill('#user', user);
  await page.click('#signin button');
  await page.waitForSelector('.uppy-Dashboard');
  await page.waitForFunction((u) => document.getElementById('who').textContent === `signed in as ${u}`, user);
}

/// Waits until the list shows `filename` with `status`; returns the row's video id.
async function row(page, filename, status) {
  const handle = await page.waitForFunction(([name, want]) => {
    for (const tr of document.querySelectorAll('#videos tr')) {
      if (tr.querySelector('td.file')?.textContent === name && tr.querySelector('td.status')?.dataset.status === want) return tr.dataset.id;
    }
    return null;
  }, [filename, status], { timeout: 60_000 });
  return handle.jsonValue();
}

async function addFile(page, name, buffer, more) {
  if (more) await page.click('.uppy-DashboardContent-addMore');
  await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name, mimeType: 'video/mp4', buffer });
}

/// The first `n` bytes as the stream route serves them.
async function firstBytes(call, id, n) {
  const playback = await call('POST', `/v1/videos/${id}/playback`);
  const r = await fetch(playback.body.url, { headers: { range: `bytes=0-${n - 1}` } });
  assert.equal(r.status, 206);
  return Buffer.from(await r.arrayBuffer());
}

/// Records what the page sends to the API's /uppy routes and S3's part PUTs.
function watch(page, stack) {
  const seen = { signed: [], partPuts: [], errors: [] };
  page.on('pageerror', (e) => seen.errors.push(e.message));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname === '/uppy/sign') seen.signed.push(JSON.parse(r.postData()));
    if (r.method() === 'PUT' && url.origin === stack.aws && url.searchParams.has('partNumber')) {
      seen.partPuts.push(Number(url.searchParams.get('partNumber')));
    }
  });
  return seen;
}

test('Uppy 6 signRequest: multipart with pause and resume, one PUT, playback; another user sees none of it', { timeout: 240_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const seen = watch(page, stack);
    // Hold the second part until the test has paused the upload, so the pause lands mid-upload.
    let releasePart2;
    const part2Held = new Promise((resolve) => { releasePart2 = resolve; });
    let pausedAfterPart1;
    const paused = new Promise((resolve) => { pausedAfterPart1 = resolve; });
    await page.route((url) => url.searchParams?.get('partNumber') === '2', async (route) => {
      pausedAfterPart1();
      await part2Held;
      // The pause aborted this request in the page; continuing it may find it gone.
      await route.continue().catch(() => {});
    });
    await signIn(page, `${stack.api}/`, 'alice');

    const big = videoLike(12 * MIB);
    await addFile(page, 'big.mp4', big);
    await paused;
    await page.evaluate(() => window.uppy.pauseAll());
    releasePart2();
    await page.unroute((url) => url.searchParams?.get('partNumber') === '2');
    await page.waitForTimeout(500);
    const signedBeforeResume = seen.signed.length;
    await page.evaluate(() => window.uppy.resumeAll());
    const bigId = await row(page, 'big.mp4', 'uploaded');
    await page.waitForSelector('.uppy-StatusBar.is-complete');

    const methods = seen.signed.map((r) => `${r.method}${r.uploadId ? ' +upload' : ''}${r.partNumber ? ` part ${r.partNumber}` : ''}`);
    assert.equal(methods[0], 'POST', `the first request starts the upload: ${methods}`);
    assert.ok(seen.signed.slice(signedBeforeResume).some((r) => r.method === 'GET' && r.uploadId), `resume lists the parts: ${methods}`);
    assert.ok(methods.includes('POST +upload'), `Uppy completes in S3: ${methods}`);
    for (const n of [1, 2, 3]) assert.ok(seen.partPuts.includes(n), `part ${n} was sent: ${seen.partPuts}`);
    assert.equal(seen.partPuts.filter((n) => n === 1).length, 1, `part 1 was not sent again after the resume: ${seen.partPuts}`);

    const alice = client(stack.api, stack.token('alice'));
    const stored = await alice('GET', `/v1/videos/${bigId}`);
    assert.equal(stored.body.size, big.length);
    assert.equal(stored.body.method, 'signed');
    assert.match(stored.body.etag, /-3"?$/, 'a three-part multipart ETag');
    assert.ok((await firstBytes(alice, bigId, 65536)).equals(big.subarray(0, 65536)), 'the stored bytes are the file');

    // The fixture is small: one presigned PUT; the S3 event records it.
    const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
    await addFile(page, 'clip.mp4', clip, true);
    const clipId = await row(page, 'clip.mp4', 'uploaded');
    const clipRecord = await alice('GET', `/v1/videos/${clipId}`);
    assert.equal(clipRecord.body.method, 'put');
    assert.equal(clipRecord.body.size, clip.length);
    // The probe read the header at arrival (ffprobe: 6 s, 320x240, avc1 Constrained Baseline 2.0 + AAC-LC).
    assert.equal(clipRecord.body.media.durationMs, 6000);
    assert.equal(clipRecord.body.media.videoCodec, 'avc1.42C014');
    const mediaCell = await page.textContent(`#videos tr[data-id="${clipId}"] td.media`);
    assert.match(mediaCell, /^0:06 · 320×240 · avc1\.42C014 \+ mp4a\.40\.2/);

    await page.click(`#videos tr[data-id="${clipId}"] button.play`);
    await page.waitForFunction(() => document.getElementById('player').currentTime > 1, null, { timeout: 30_000 });
    if (process.env.VIDGATE_SCREENSHOT) await page.screenshot({ path: process.env.VIDGATE_SCREENSHOT });

    // Another user, another browser context: an empty list, and alice's video is a 404, as is
    // signing a request on alice's key.
    const other = await (await browser.newContext()).newPage();
    await signIn(other, `${stack.api}/`, 'bob');
    await other.waitForFunction(() => document.getElementById('error').textContent === '');
    assert.equal(await other.locator('#videos tr').count(), 0);
    const bob = client(stack.api, stack.token('bob'));
    assert.equal((await bob('GET', `/v1/videos/${clipId}`)).status, 404);
    const foreign = await bob('POST', '/uppy/sign', { method: 'GET', key: stored.body.key, uploadId: 'x' });
    assert.equal(foreign.status, 404);
    assert.deepEqual(seen.errors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await stack.stop();
  }
});

test('Uppy 6 getCredentials: the browser signs with prefix-scoped credentials; both uploads are recorded', { timeout: 180_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    browser = await launchChromium();
    const page = await (await browser.newContext()).newPage();
    const seen = watch(page, stack);
    await signIn(page, `${stack.api}/?mode=credentials`, 'carol');
    const big = videoLike(11 * MIB, 7);
    await addFile(page, 'phone.mp4', big);
    const bigId = await row(page, 'phone.mp4', 'uploaded');
    const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
    await addFile(page, 'clip.mp4', clip, true);
    const clipId = await row(page, 'clip.mp4', 'uploaded');

    assert.deepEqual(seen.signed, [], 'no request went through /uppy/sign');
    assert.deepEqual([...new Set(seen.partPuts)].sort(), [1, 2, 3], `part PUTs straight to S3: ${seen.partPuts}`);
    const carol = client(stack.api, stack.token('carol'));
    const { body: grant } = await carol('GET', '/uppy/credentials');
    for (const [id, bytes] of [[bigId, big], [clipId, clip]]) {
      const { body: video } = await carol('GET', `/v1/videos/${id}`);
      assert.ok(video.key.startsWith(grant.prefix), `${video.key} is under ${grant.prefix}`);
      assert.equal(video.size, bytes.length);
      assert.ok((await firstBytes(carol, id, 4096)).equals(bytes.subarray(0, 4096)));
    }
    assert.deepEqual(seen.errors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
