// The web page's Delete button in headless Chromium: dismissing the confirmation keeps the video;
// confirming deletes it (the API then answers 404 and its playback URL stops playing), and the
// row leaves the list; an upload still in progress can be deleted the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, client, upload, launchChromium, videoLike, MIB } from './stack.mjs';

test('the Delete button deletes a video only once the user confirms', { timeout: 120_000 }, async () => {
  const stack = await startStack();
  let browser;
  try {
    const call = client(stack.api, stack.token('alice'));
    const video = await upload(call, 'keep-or-not.mp4', videoLike(MIB));
    const open = await call('POST', '/v1/uploads', { filename: 'half.mp4', size: 12 * MIB });
    assert.equal(open.status, 201);
    const playback = await call('POST', `/v1/videos/${video.id}/playback`);
    assert.equal(playback.status, 200);

    browser = await launchChromium();
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const answers = [false, true, true];
    const asked = [];
    page.on('dialog', async (dialog) => {
      asked.push(dialog.message());
      if (answers.shift()) await dialog.accept(); else await dialog.dismiss();
    });
    await page.goto(`${stack.api}/`);
    await page.fill('#user', 'alice');
    await page.click('#signin button');
    const button = (id) => `#videos tr[data-id="${id}"] button.delete`;
    await page.waitForSelector(button(video.id));
    await page.waitForSelector(button(open.body.videoId));

    // Dismissed: nothing happens.
    await page.click(button(video.id));
    assert.deepEqual(asked, ["Delete keep-or-not.mp4? This can't be undone."]);
    assert.equal((await call('GET', `/v1/videos/${video.id}`)).status, 200);

    // Confirmed: gone from the API, the list and playback.
    await page.click(button(video.id));
    await page.waitForSelector(`#videos tr[data-id="${video.id}"]`, { state: 'detached' });
    const after = await call('GET', `/v1/videos/${video.id}`);
    assert.equal(after.status, 404);
    assert.equal(after.body.error.code, 'video_not_found');
    // The CDN's origin no longer has the object: S3 answers Origin Access Control with 403.
    const played = await fetch(playback.body.url, { headers: { range: 'bytes=0-9' } });
    assert.equal(played.status, 403);

    // An upload in progress, the same way.
    await page.click(button(open.body.videoId));
    await page.waitForSelector(`#videos tr[data-id="${open.body.videoId}"]`, { state: 'detached' });
    assert.equal((await call('GET', `/v1/videos/${open.body.videoId}`)).status, 404);
    const listed = await call('GET', '/v1/videos');
    assert.deepEqual(listed.body.videos, []);
    assert.equal(await page.textContent('#error'), '');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await stack.stop();
  }
});
