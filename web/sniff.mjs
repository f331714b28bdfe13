// Is it a video? The server's sniff (functions/domain/src/sniff.rs) in the browser, with the same
// rules and the same reason text, so a file the server would reject is refused before a byte is
// sent. tests/fixtures/sniff-cases.json holds the cases both are tested against
// (tests/browser/sniff.test.mjs and sniff.rs's unit test).

/** How many leading bytes `container` wants (an MPEG-TS packet and the next sync byte). */
export const SNIFF_BYTES = 189;

const ascii = (s) => Array.from(s, (c) => c.charCodeAt(0));

/** The container the bytes (a Uint8Array) start with, or null. */
export function container(head) {
  const at = (offset, magic) => offset + magic.length <= head.length && magic.every((b, i) => head[offset + i] === b);
  if (at(4, ascii('ftyp'))) return 'mp4';
  if (['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'].some((t) => at(4, ascii(t)))) return 'quicktime';
  if (at(0, [0x1a, 0x45, 0xdf, 0xa3])) return 'matroska';
  if (at(0, ascii('RIFF')) && at(8, ascii('AVI '))) return 'avi';
  if (at(0, ascii('OggS'))) return 'ogg';
  if (at(0, [...ascii('FLV'), 0x01])) return 'flv';
  if (at(0, [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11])) return 'asf';
  if (at(0, [0x00, 0x00, 0x01, 0xba])) return 'mpeg-ps';
  if (head[0] === 0x47 && head[188] === 0x47) return 'mpeg-ts';
  return null;
}

/** The reason the server records for bytes that are not a video, or null. */
export function rejection(head) {
  if (head.length === 0) return 'the object is empty';
  if (container(head) !== null) return null;
  return 'the first bytes are not a known video container (MP4/QuickTime, WebM/Matroska, AVI, '
    + 'MPEG, Ogg, FLV, ASF)';
}

/** Why the server would reject this File (or Blob), or null: reads only its first bytes. */
export async function sniffFile(file) {
  const head = new Uint8Array(await file.slice(0, SNIFF_BYTES).arrayBuffer());
  return rejection(head);
}
