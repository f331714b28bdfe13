// Starts the real local stack exactly as the README does (`infra/local/up`, with only the two
// ports set, free ones) for one test file, and stops it (SIGTERM, then SIGKILL) when the test is
// done. Tokens come from `infra/local/token`, as the README shows.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startStack(env = {}) {
  const [apiPort, awsPort] = [await freePort(), await freePort()];
  const child = spawn(path.join(root, 'infra/local/up'), [], {
    cwd: root,
    env: { ...process.env, VIDGATE_PORT: String(apiPort), VIDGATE_AWS_PORT: String(awsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 180_000; // infra/local/up checks its installs and build first
  while (!output.includes('vidgate local AWS endpoint:')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`vidgate-local up did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = `http://127.0.0.1:${apiPort}`;
  return {
    api,
    aws: `http://127.0.0.1:${awsPort}`,
    output: () => output,
    token(sub) {
      const run = spawnSync(path.join(root, 'infra/local/token'), [sub], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(run.stderr);
      return run.stdout.trim();
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/// The API as `token`'s owner: JSON in, `{status, body}` out.
export function client(api, token) {
  return async (method, route, body) => {
    const response = await fetch(api + route, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
}

/// Uploads `bytes` through the multipart API; returns the uploaded Video.
export async function upload(call, filename, bytes) {
  const created = await call('POST', '/v1/uploads', { filename, size: bytes.length });
  if (created.status !== 201) throw new Error(JSON.stringify(created));
  const { videoId, partSize, partCount } = created.body;
  const numbers = Array.from({ length: partCount }, (_, i) => i + 1);
  const signed = await call('POST', `/v1/uploads/${videoId}/part-urls`, { partNumbers: numbers });
  for (const { partNumber, url } of signed.body.urls) {
    const chunk = bytes.subarray((partNumber - 1) * partSize, partNumber * partSize);
    const put = await fetch(url, { method: 'PUT', body: chunk });
    if (put.status !== 200) throw new Error(`PUT part ${partNumber}: ${put.status}`);
  }
  const done = await call('POST', `/v1/uploads/${videoId}/complete`);
  if (done.status !== 200) throw new Error(JSON.stringify(done));
  return done.body.video;
}

/// Debian's chromium, headless, with the flags this closed network needs.
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export const MIB = 1024 * 1024;

/// A real MP4 header (a one-frame 64x36 H.264 video's ftyp and moov, made by
/// tests/fixtures/media/make) and an mdat box to the end of the file: what the probe reads as video.
const MP4_PREFIX = Buffer.concat([
  readFileSync(path.join(root, 'functions/domain/src/media/synthetic-header.mp4')),
  Buffer.from('00000000', 'hex'), Buffer.from('mdat'),
]);

/// Deterministic bytes behind a real MP4 header, so the upload is recorded `uploaded`.
export function videoLike(length, seed = 0x2545f491) {
  const bytes = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  MP4_PREFIX.copy(bytes);
  return bytes;
}

/// The code block README.md or a page of docs/ marks with `<!-- tested: NAME … -->`, as written there.
export function readmeBlock(name) {
  const docs = readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f));
  for (const file of ['README.md', ...docs]) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const at = text.indexOf(`<!-- tested: ${name}`);
    if (at < 0) continue;
    const block = /```\w*\n([\s\S]*?)```/.exec(text.slice(at));
    if (!block) throw new Error(`no code block follows "tested: ${name}" in ${file}`);
    return block[1];
  }
  throw new Error(`neither README.md nor docs/ has a block marked "tested: ${name}"`);
}
