/**
 * PNGs convkit writes carry a tEXt chunk "Software: convkit", so a later
 * run may replace its own image at the same path and never a user's file.
 */
import { crc32 } from 'node:zlib';

const KEY = 'Software';
const VALUE = 'convkit';
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Signature (8) + IHDR chunk (4 length + 4 type + 13 data + 4 CRC): the text chunk goes right after. */
const AFTER_IHDR = 33;

function textChunk(): Buffer {
  const body = Buffer.concat([Buffer.from('tEXt'), Buffer.from(KEY, 'latin1'), Buffer.from([0]), Buffer.from(VALUE, 'latin1')]);
  const chunk = Buffer.alloc(body.length + 8);
  chunk.writeUInt32BE(body.length - 4, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), body.length + 4);
  return chunk;
}

/** `png` with convkit's text chunk after its header. */
export function markPng(png: Uint8Array): Buffer {
  const buf = Buffer.from(png);
  if (!buf.subarray(0, 8).equals(SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error('markPng: not a PNG');
  return Buffer.concat([buf.subarray(0, AFTER_IHDR), textChunk(), buf.subarray(AFTER_IHDR)]);
}

/** True for a PNG that markPng marked. */
export function isMarkedPng(buf: Uint8Array): boolean {
  const mark = textChunk();
  return Buffer.from(buf.subarray(AFTER_IHDR, AFTER_IHDR + mark.length)).equals(mark);
}
