// The README's Uppy snippets, run as written in headless Chromium on a page of the local stack's
// origin (started as the README starts it): uppy 6 (the vendored bundle of the `uppy` npm
// package, web/vendor) with its setup block and each mode block — signRequest, getCredentials —
// and uppy 5.2.4 (this folder's lockfile) on the Companion routes. Each uploads a multipart file
// and a one-PUT file; both are recorded `uploaded` for their owner and their bytes read back.
// Only the import specifier ('uppy', which a bundler resolves) and, for uppy 5, the placeholder
// endpoint are replaced; API, token / idToken and #uploader are what the snippets are given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, client, launchChromium, root, videoLike, readmeBlock, MIB } from './stack.mjs';

const uppy5 = path.join(root, 'tests/browser/node_modules/uppy');

/// Runs `code` as a module on a blank page of the API's origin and returns the page; `code` sees
/// API, token, idToken and a #uploader element, and the page collects Uppy's results in window.done.
async function runSnippet(browser, stack, user, code, bundle) {
  const page = await (await browser.newContext()).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (bundle === 'uppy5') {
    await page.route(`${stack.api}/uppy5/**`, (route) =>
      route.fulfill({ path: path.join(uppy5, 'dist', path.basename(new URL(route.request().url()).pathname)) }));
  }
  // A page the stack serves, so Chromium lets it reach the loopback S3 as the web page does.
  await page.goto(`${stack.api}/player.html`);
  const dir = bundle === 'uppy5' ? '/uppy5' : '/vendor';
  await page.addStyleTag({ url: `${dir}/uppy.min.css` });
  await page.evaluate(() => { document.body.innerHTML = '<div id="uploader"></div>'; });
  const token = stack.token(user);
  const module = `const API = ${JSON.stringify(stack.api)}; const token = ${JSON.stringify(token)}; const idToken = token;
${code.replace("from 'uppy';", `from '${dir}/uppy.min.mjs';`)}
window.done = [];
uppy.on('upload-success', (file) => window.done.push({ name: file.name }));
uppy.on('upload-error', (file, error) => window.done.push({ name: file.name, error: String(error) }));
window.ready = true;`;
  await page.addScriptTag({ type: 'module', content: module });
  await page.waitForFunction(() => window.ready === true, null, { timeout: 15_000 });
  return { page, errors, token };
}

/// Uploads a 12 MiB file (multipart) and the fixture (one PUT) through the page's Uppy, then waits
/// for the S3 events to record both; checks sizes, the 3-part ETag and the first bytes.
async function uploadBoth(stack, { page, errors, token }) {
  const big = videoLike(12 * MIB, 42);
  const clip = await readFile(path.join(root, 'tests/fixtures/clip.mp4'));
  await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'big.mp4', mimeType: 'video/mp4', buffer: big });
  await page.waitForFunction(() => window.done.length === 1, null, { timeout: 60_000 });
  await page.click('.uppy-DashboardContent-addMore');
  await page.setInputFiles('input.uppy-Dashboard-input >> nth=0', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip });
  await page.waitForFunction(() => window.done.length === 2, null, { timeout: 60_000 });
  const done = await page.evaluate(() => window.done);
  assert.deepEqual(done.filter((d) => d.error), [], JSON.stringify(done));

  const call = client(stack.api, token);
  let videos = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    videos = (await call('GET', '/v1/videos')).body.videos;
    if (videos.length === 2 && videos.every((v) => v.status === 'uploaded')) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.deepEqual(videos.map((v) => [v.filename, v.status, v.size]).sort(),
    [['big.mp4', 'uploaded', big.length], ['clip.mp4', 'uploaded', clip.length]]);
  const bigVideo = videos.find((v) => v.filename === 'big.mp4');
  assert.match(bigVideo.etag, /-3"?$/, 'three parts');
  const playback = await call('POST', `/v1/videos/${bigVideo.id}/playback`);
  const r = await fetch(playback.body.url, { headers: { range: 'bytes=0-65535' } });
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(big.subarray(0, 65536)), 'the stored bytes are the file');
  assert.deepEqual(errors, [], 'no script errors on the page');
  return videos;
}

test('the README Uppy snippets work as written: uppy 6 signRequest and getCredentials, uppy 5 Companion', { timeout: 300_000 }, async () => {
  const version = JSON.parse(await readFile(path.join(uppy5, 'package.json'), 'utf8')).version;
  assert.match(version, /^5\./, 'the Companion test runs uppy 5.x');
  const stack = await startStack();
  let browser;
  try {
    browser = await launchChromium();
    const setup = readmeBlock('uppy 6 setup');

    const signed = await uploadBoth(stack, await runSnippet(browser, stack, 'frank', `${setup}\n${readmeBlock('uppy 6 signRequest')}`));
    assert.deepEqual(signed.map((v) => v.method).sort(), ['put', 'signed']);

    const prefixed = await uploadBoth(stack, await runSnippet(browser, stack, 'gina', `${setup}\n${readmeBlock('uppy 6 getCredentials')}`));
    const { body: grant } = await client(stack.api, stack.token('gina'))('GET', '/uppy/credentials');
    for (const v of prefixed) assert.ok(v.key.startsWith(grant.prefix), `${v.key} under ${grant.prefix}`);

    const companion = readmeBlock('uppy 5').replace("'https://<api-id>.execute-api.<region>.amazonaws.com'", 'API');
    const viaCompanion = await uploadBoth(stack, await runSnippet(browser, stack, 'hugo', companion, 'uppy5'));
    assert.deepEqual(viaCompanion.map((v) => v.method).sort(), ['presigned', 'put']);
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
