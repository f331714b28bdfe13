// The README's AWS SDK for JavaScript v3 snippet, run as written (its one commented local line
// uncommented) with the current @aws-sdk/client-s3 and @aws-sdk/lib-storage from this folder's
// lockfile, against `infra/local/up` started as the README starts it.
//
// The credentials the API hands out are made to look 4 minutes from expiry (inside the SDK's
// 5-minute refresh window), so the SDK must fetch fresh ones through
// `POST /v1/uploads/{id}/credentials` while the upload runs — as it would an hour into a long
// upload from a phone. The test checks that it did, and that the stored bytes are the file's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, videoLike, readmeBlock, MIB } from '../browser/stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const LOCAL_LINE = "  // endpoint: 'http://127.0.0.1:4566', forcePathStyle: true, // on the local stack";

/// What the snippet is given (API, token, file), and a fetch that counts refreshes and makes every
/// set of credentials look 4 minutes from expiry.
const PRELUDE = `
const { API, TOKEN: token } = process.env;
const bytes = await (await import('node:fs/promises')).readFile(process.env.FILE);
const file = new File([bytes], 'sdk.mp4', { type: 'video/mp4' });
const refreshes = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const response = await realFetch(url, init);
  if (!String(url).match(/\\/v1\\/uploads(\\/[^/]+\\/credentials)?$/) || !response.ok) return response;
  const body = await response.json();
  if (String(url).endsWith('/credentials')) refreshes.push(body.credentials.accessKeyId);
  body.credentials.expiration = new Date(Date.now() + 240_000).toISOString();
  return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
};
`;
const EPILOGUE = `
console.log('RESULT ' + JSON.stringify({ video, refreshes, key: grant.key, first: grant.credentials.accessKeyId }));
`;

test('the README AWS SDK v3 snippet uploads with refreshed credentials, as written', { timeout: 180_000 }, async () => {
  const code = readmeBlock('aws-sdk-js v3');
  assert.ok(code.includes(LOCAL_LINE), `the snippet has the local line:\n${code}`);
  const stack = await startStack();
  const work = path.join(here, `.run-${process.pid}`);
  try {
    const local = code.replace(LOCAL_LINE, `  endpoint: '${stack.aws}', forcePathStyle: true,`);
    const script = `${work}.mjs`;
    const data = `${work}.bin`;
    const bytes = videoLike(40 * MIB, 5);
    await writeFile(data, bytes);
    await writeFile(script, PRELUDE + local + EPILOGUE);
    const run = spawnSync(process.execPath, [script], {
      cwd: here,
      env: { ...process.env, API: stack.api, TOKEN: stack.token('erin'), FILE: data },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 0, `snippet failed:\n${run.stdout}\n${run.stderr}`);
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    const result = JSON.parse(line.slice('RESULT '.length));
    assert.ok(run.stdout.includes(`${bytes.length} / ${bytes.length}`), 'progress reached the whole file');

    assert.equal(result.video.status, 'uploaded');
    assert.equal(result.video.size, bytes.length);
    assert.equal(result.video.method, 'credentials');
    assert.ok(result.refreshes.length >= 1, `the SDK refreshed its credentials: ${result.refreshes}`);
    assert.ok(result.refreshes.every((k) => k !== result.first), 'each refresh brought new credentials');

    const erin = client(stack.api, stack.token('erin'));
    const playback = await erin('POST', `/v1/videos/${result.video.id}/playback`);
    const tail = await fetch(playback.body.url, { headers: { range: `bytes=-65536` } });
    assert.equal(tail.status, 206);
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 65536)), 'the stored bytes are the file');
  } finally {
    await rm(`${work}.mjs`, { force: true });
    await rm(`${work}.bin`, { force: true });
    await stack.stop();
  }
});
