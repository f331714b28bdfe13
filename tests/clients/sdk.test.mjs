// The README's AWS SDK for JavaScript v3 snippet, run as written (its one commented local line
// uncommented) with the current @aws-sdk/client-s3 and @aws-sdk/lib-storage from this folder's
// lockfile, against `infra/local/up` started as the README starts it.
//
// The credentials the API hands out are made to look 4 minutes from expiry (inside the SDK's
// 5-minute refresh window), so the SDK must fetch fresh ones through
// `POST /v1/uploads/{id}/credentials` while the upload runs — as it would an hour into a long
// upload from a phone. The test checks that it did, that the stored bytes are the file's, and that
// the recorded checksum is the file's CRC-64/NVME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, client, videoLike, readmeBlock, MIB } from '../browser/stack.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/// CRC-64/NVME (reflected, polynomial 0x9A6C9329AC4BC9B5) of `bytes`, base64 as S3 writes it:
/// computed here, independently of the SDK's and the local S3's own code. 64-bit arithmetic in
/// two 32-bit halves.
function crc64nvme(bytes) {
  const table = [];
  for (let n = 0; n < 256; n++) {
    let [hi, lo] = [0, n];
    for (let k = 0; k < 8; k++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi >>>= 1;
      if (carry) { hi = (hi ^ 0x9a6c9329) >>> 0; lo = (lo ^ 0xac4bc9b5) >>> 0; }
    }
    table.push([hi, lo]);
  }
  let [hi, lo] = [0xffffffff, 0xffffffff];
  for (const b of bytes) {
    const [th, tl] = table[(lo ^ b) & 0xff];
    lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ tl) >>> 0;
    hi = ((hi >>> 8) ^ th) >>> 0;
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE(~hi >>> 0, 0);
  out.writeUInt32BE(~lo >>> 0, 4);
  return out.toString('base64');
}
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
  assert.equal(crc64nvme(Buffer.from('123456789')), 'rosUhgp5mIg=', 'the check value of CRC-64/NVME');
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
    // The SDK sent CRC-64/NVME checksums; what S3 stored and vidgate recorded is the file's.
    assert.deepEqual(result.video.checksum, { algorithm: 'crc64nvme', type: 'FULL_OBJECT', value: crc64nvme(bytes) });
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
