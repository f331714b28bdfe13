// Webhooks a receiver can verify: `infra/local/up` started as docs/app-backend.md says, with two
// active secrets (a rotation's overlap), POSTs each lifecycle event to a recording receiver; the
// deliveries are checked with npm's `standardwebhooks` (this folder's lockfile): each verifies
// with either secret and not with a third; a changed body or a timestamp past the library's
// five minutes fails. Then docs/app-backend.md's receiver, run as written, takes a real delivery
// (204) and refuses a forged one (400).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { startStack, client, readmeBlock } from '../browser/stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const secret = () => `whsec_${randomBytes(32).toString('base64')}`;

/// A receiver that keeps every delivery's headers and body, as bytes arrived, and answers 204.
async function recorder() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => server.close() };
}

async function until(what, check, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = check();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/// `fn` with the clock moved by `ms`, as a receiver would see a delivery replayed later.
function later(ms, fn) {
  const now = Date.now;
  Date.now = () => now() + ms;
  try { return fn(); } finally { Date.now = now; }
}

test('deliveries verify with standardwebhooks under both secrets of a rotation, and nothing altered or stale does', { timeout: 300_000 }, async () => {
  const [current, previous, stranger] = [secret(), secret(), secret()];
  const hook = await recorder();
  const stack = await startStack({ VIDGATE_EVENTS_WEBHOOK: hook.url, VIDGATE_EVENTS_WEBHOOK_SECRET: `${current} ${previous}` });
  const work = path.join(here, `.receiver-${process.pid}.mjs`);
  let receiver;
  try {
    const alice = client(stack.api, stack.token('alice'));
    const created = await alice('POST', '/v1/uploads', { filename: 'hook.mp4', size: 1048576 });
    assert.equal(created.status, 201);
    const id = created.body.videoId;
    const delivery = await until('the Video Upload Started delivery', () =>
      hook.got.find((d) => JSON.parse(d.body).detail?.id === id));
    const event = JSON.parse(delivery.body);
    assert.equal(event['detail-type'], 'Video Upload Started');
    assert.equal(delivery.headers['webhook-id'], event.id, 'webhook-id is the event id');
    assert.match(delivery.headers['webhook-signature'], /^v1,\S+ v1,\S+$/, 'one signature per active secret');
    assert.ok(Math.abs(Number(delivery.headers['webhook-timestamp']) - Date.now() / 1000) < 120);

    // Either secret of the overlap verifies; the library answers the event.
    for (const key of [current, previous]) {
      assert.deepEqual(new Webhook(key).verify(delivery.body, delivery.headers), event);
    }
    assert.throws(() => new Webhook(stranger).verify(delivery.body, delivery.headers), /No matching signature/);
    // A changed body, a changed id, a moved timestamp: no signature matches.
    const tampered = delivery.body.replace('"hook.mp4"', '"evil.mp4"');
    assert.notEqual(tampered, delivery.body);
    assert.throws(() => new Webhook(current).verify(tampered, delivery.headers), /No matching signature/);
    assert.throws(() => new Webhook(current).verify(delivery.body, { ...delivery.headers, 'webhook-id': 'other' }), /No matching signature/);
    const moved = { ...delivery.headers, 'webhook-timestamp': String(Number(delivery.headers['webhook-timestamp']) + 1) };
    assert.throws(() => new Webhook(current).verify(delivery.body, moved), /No matching signature/);
    // The same delivery replayed six minutes later is too old.
    assert.throws(() => later(6 * 60_000, () => new Webhook(current).verify(delivery.body, delivery.headers)), /too old/);

    // docs/app-backend.md's receiver, as written, on a free port with the current secret.
    await writeFile(work, readmeBlock('webhook receiver'));
    receiver = spawn(process.execPath, [work], {
      cwd: here,
      env: { ...process.env, VIDGATE_WEBHOOK_SECRET: current, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    receiver.stdout.on('data', (d) => { out += d; });
    receiver.stderr.on('data', (d) => { out += d; });
    const port = await until('the receiver to listen', () => /listening on (\d+)/.exec(out)?.[1], 20_000);
    const post = (body, headers) => fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body,
      headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('webhook-') || k === 'content-type')),
    });
    assert.equal((await post(delivery.body, delivery.headers)).status, 204, out);
    assert.equal((await post(tampered, delivery.headers)).status, 400, out);
    assert.ok(out.includes(`Video Upload Started ${id}`), `the receiver handled the event:\n${out}`);
  } finally {
    receiver?.kill();
    await rm(work, { force: true });
    hook.close();
    await stack.stop();
  }
});
