// Uppy 5.x users keep working on the Companion routes (/s3/...): a page with `uppy` 5.2.4's own
// bundle (from this folder's lockfile) and `@uppy/aws-s3` given only `endpoint` and an
// `Authorization` header, on a page of the API's origin, uploads a multipart file and a single-PUT
// file; both are recorded and their bytes read back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, launchChromium, root, videoLike, MIB } from './stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, 'node_modules/uppy/dist');

/// Uppy 5 as its users set it up, on a page of the API's origin.
async function setUpUppy5(token) {
  document.body.innerHTML = '<div id="uploader"></div>';
  const { Uppy, Dashboard, AwsS3 } = await import('/uppy5/uppy.min.mjs');
  const uppy = new Uppy({ autoProceed: true })
    .use(Dashboard, { inline: true, target: '#uploader' })
    .use(AwsS3, {
      endpoint: location.origin,
      headers: { authorization: `Bearer ${token}` },
      shouldUseMultipart: (file) => file.size > 5 * 1024 * 1024,
    });
  window.done = [];
  uppy.on('upload-success', (file, response) => window.done.push({ name: file.name, location: response.body.location }));
  uppy.on('upload-error', (file, error) => window.done.push({ name: file.name, error: String(error) }));
}

test('Uppy 5 through the Companion routes: multipart and a single PUT', { timeout: 180_000 }, async () => {
  const version = JSON.parse(await readFile(path.join(here, 'node_modules/uppy/package.json'), 'utf8')).version;
  assert.match(version, /^5\./, 'this test runs uppy 5.x');
  const stack = await startStack();
  let browser;
  try {
    browser = await launchChromium();
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const companion = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/s3/')) companion.push(`${r.method()} ${url.pathname}`);
    });
    // uppy 5's bundle, as if served beside a page of the API's origin (the page itself comes from
    // the stack, so Chromium lets it reach the loopback S3).
    await page.route(`${stack.api}/uppy5/**`, (route) =>
      route.fulfill({ path: path.join(bundle, path.basename(new URL(route.request().url()).pathname)) }));
    const token = stack.token('dana');
    await page.goto(`${stack.api}/player.html`);
    await page.addStyleTag({ url: '/uppy5/uppy.min.css' });
    await page.evaluate(setUpUppy5, token);
    await page.waitForSelector('.uppy-Dashboard');

    const big = videoLike(12 * MIB, 99);
    const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
    await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'big.mp4', mimeType: 'video/mp4', buffer: big });
    await page.waitForFunction(() => window.done.length === 1, null, { timeout: 60_000 });
    await page.click('.uppy-DashboardContent-addMore');
    await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip });
    await page.waitForFunction(() => window.done.length === 2, null, { timeout: 60_000 });
    const done = await page.evaluate(() => window.done);
    assert.deepEqual(done.filter((d) => d.error), [], JSON.stringify(done));
    assert.ok(companion.includes('POST /s3/multipart') && companion.includes('GET /s3/params'), companion.join('\n'));

    const dana = client(stack.api, token);
    const bigId = done.find((d) => d.name === 'big.mp4').location.split('/').pop();
    const deadline = Date.now() + 30_000;
    let videos = [];
    while (Date.now() < deadline) {
      videos = (await dana('GET', '/v1/videos')).body.videos;
      if (videos.length === 2 && videos.every((v) => v.status === 'uploaded')) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(videos.map((v) => [v.filename, v.status]).sort(), [['big.mp4', 'uploaded'], ['clip.mp4', 'uploaded']]);
    const bigVideo = videos.find((v) => v.id === bigId);
    assert.equal(bigVideo.size, big.length);
    assert.match(bigVideo.etag, /-3"?$/);
    const playback = await dana('POST', `/v1/videos/${bigId}/playback`);
    const r = await fetch(playback.body.url, { headers: { range: 'bytes=0-65535' } });
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(big.subarray(0, 65536)));
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
