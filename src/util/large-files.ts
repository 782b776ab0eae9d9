/**
 * Whole-file reads and digests past 2 GiB. fs.readFile refuses files over
 * 2 GiB and a hash's update() buffers over 2 GiB ("data is too long"); the
 * features of a big base over a big folder (MobileNet v2's 7×7×1280 floats
 * for Imagenette's 9,469 training images: 2.4 GB) pass both.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';

/** Bytes per read() and per hash update(): well under both limits. */
const CHUNK = 1 << 28;

/** The file's bytes in one freshly allocated (hence 8-byte aligned) array, read in chunks. */
export async function readLargeFile(path: string): Promise<Uint8Array> {
  const handle = await fs.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(bytes, at, Math.min(CHUNK, size - at), at);
      if (bytesRead === 0) return bytes.subarray(0, at); // shrank while read: the size check that follows names it
      at += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** SHA-256 (hex) of the bytes of `parts` in order, fed to the hash in chunks. */
export function sha256(parts: Uint8Array | readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const part of partList(parts)) for (let at = 0; at < part.byteLength; at += CHUNK) h.update(part.subarray(at, Math.min(part.byteLength, at + CHUNK)));
  return h.digest('hex');
}

function partList(parts: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return parts instanceof Uint8Array ? [parts] : parts;
}
