// "Send me a video": the web page opened with an upload link (#link=<uploadUrl>) in headless
// Chromium on infra/local/up. No sign-in; the link's limits are shown; a 6 s clip goes through the
// link's own routes (no bearer token on any request) and becomes the link owner's video with the
// link's metadata; under a 5 s link the same clip is rejected and the page says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startStack, client, launchChromium, root } from './stack.mjs';

/// An app backend's token (client credentials, with the upload-link scope), as infra/local/token mints it.
function backendToken() {
  const run = spawnSync(path.join(root, 'infra/local/token'), ['--scope', 'vidgate/upload-links', 'backend-app'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim();
}

async function createLink(api, body) {
  const response = await fetch(`${api}/v1/upload-links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${backendToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

async function send(browser, api, link, clip) {
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const bearer = [];
  page.on('request', (r) => { if (r.headers().authorization) bearer.push(r.url()); });
  await page.goto(`${api}/#link=${encodeURIComponent(link.uploadUrl)}`);
  await page.waitForSelector('#send-uploader .uppy-Dashboard');
  assert.ok(await page.isHidden('#signin'), 'no sign-in');
  await page.setInputFiles('#send-uploader input.uppy-Dashboard-input >> nth=0', { name: 'clip.mp4', mimeType: 'video/mp4', buffer: clip });
  await page.waitForSelector('#send-result[data-status]', { timeout: 60_000 });
  const result = { status: await page.getAttribute('#send-result', 'data-status'), text: await page.textContent('#send-result'), limits: await page.textContent('#send-limits') };
  assert.deepEqual(bearer, [], 'the page sends no token anywhere');
  assert.deepEqual(errors, [], 'no script errors');
  return result;
}

test('the page sends one video through an upload link, within its limits, with no sign-in', { timeout: 240_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    const clip = readFileSync(path.join(root, 'tests/fixtures/clip.mp4'));
    browser = await launchChromium();
    const roomy = await createLink(stack.api, { owner: 'creator-9', maxDurationSeconds: 10, contentTypes: ['video/mp4'], metadata: { entry: 'E-1' } });
    const sent = await send(browser, stack.api, roomy, clip);
    assert.match(sent.limits, /at most 10 s long/);
    assert.equal(sent.status, 'uploaded', sent.text);
    const owner = client(stack.api, stack.token('creator-9'));
    const { body } = await owner('GET', '/v1/videos');
    assert.equal(body.videos.length, 1);
    const [video] = body.videos;
    assert.equal(video.status, 'uploaded');
    assert.equal(video.size, clip.length);
    assert.equal(video.metadata.entry, 'E-1');
    assert.equal(video.linkId, roomy.linkId);

    const tight = await createLink(stack.api, { owner: 'creator-9', maxDurationSeconds: 5 });
    const refused = await send(browser, stack.api, tight, clip);
    assert.equal(refused.status, 'rejected', refused.text);
    assert.match(refused.text, /6\.0 s long, more than the 5 s its upload link allows/);
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
