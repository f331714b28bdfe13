// web/sniff.mjs, the page's refusal of a non-video before any byte is sent, against the server's
// sniff: the same cases (tests/fixtures/sniff-cases.json, which sniff.rs's unit test reads too),
// the same reason texts (read from sniff.rs), and the real media fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { root } from './stack.mjs';
import { container, rejection, sniffFile, SNIFF_BYTES } from '../../web/sniff.mjs';

test('the page sniffs as the server does: same cases, same reasons, the real fixtures', async () => {
  const { cases } = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/sniff-cases.json'), 'utf8'));
  for (const c of cases) {
    const bytes = Buffer.from(c.hex, 'hex');
    assert.equal(container(bytes), c.container, c.name);
    assert.equal(rejection(bytes) === null, c.container !== null, c.name);
  }
  const rust = readFileSync(path.join(root, 'functions/domain/src/sniff.rs'), 'utf8');
  const literal = (start) => {
    const m = new RegExp(`"(${start}[^"]*)"`).exec(rust);
    assert.ok(m, `sniff.rs has a reason starting "${start}"`);
    return m[1].replace(/\\\n\s*/g, '');
  };
  assert.equal(rejection(Buffer.from('%PDF-1.7')), literal('the first bytes are not'));
  assert.equal(rejection(Buffer.alloc(0)), literal('the object is empty'));
  assert.match(rust, new RegExp(`SNIFF_BYTES: u64 = ${SNIFF_BYTES};`));

  const media = path.join(root, 'tests/fixtures/media');
  const expected = { '.mp4': 'mp4', '.mov': 'mp4', '.webm': 'matroska' };
  for (const name of readdirSync(media).filter((n) => path.extname(n) in expected)) {
    const bytes = readFileSync(path.join(media, name));
    const found = container(bytes.subarray(0, SNIFF_BYTES));
    assert.ok(found === expected[path.extname(name)] || (found === 'quicktime' && name.endsWith('.mov')), `${name}: ${found}`);
    assert.equal(await sniffFile(new Blob([bytes])), null, name);
  }
  assert.match(await sniffFile(new Blob(['just some notes'])), /not a known video container/);
});
