/**
 * Whether an ELF shared object (the native addon) is whole. Loading a file
 * cut short maps pages past its end, and the first touch of one kills the
 * process with SIGBUS and no message; reading the ELF header first avoids that.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ElfShortfall {
  /** Bytes in the file. */
  size: number;
  /** Bytes its headers say it has. */
  needed: number;
}

/** Reads up to `length` bytes at `offset`, never past the file's `size`. */
function readAt(fd: number, size: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
  return buf.subarray(0, buf.length ? readSync(fd, buf, 0, buf.length, offset) : 0);
}

/** Field reader for one ELF class (32/64-bit) and byte order. */
function fields(header: Buffer): ((b: Buffer, at: number, bytes: 2 | 4 | 8) => number) | undefined {
  if (header.length < 4 || header.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const little = header[5] === 1;
  return (b, at, bytes) => {
    if (bytes === 8) return Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at));
    return bytes === 4 ? (little ? b.readUInt32LE(at) : b.readUInt32BE(at)) : little ? b.readUInt16LE(at) : b.readUInt16BE(at);
  };
}

/** Offsets of the ELF header fields and program header fields, per class. */
const LAYOUT = {
  32: { ehsize: 52, word: 4, phoff: 0x1c, shoff: 0x20, phentsize: 0x2a, phnum: 0x2c, shentsize: 0x2e, shnum: 0x30, pOffset: 4, pFilesz: 0x10 },
  64: { ehsize: 64, word: 8, phoff: 0x20, shoff: 0x28, phentsize: 0x36, phnum: 0x38, shentsize: 0x3a, shnum: 0x3c, pOffset: 8, pFilesz: 0x20 },
} as const;

/** Bytes the file needs: its section header table and every segment's file bytes. */
function neededBytes(fd: number, size: number, header: Buffer, read: NonNullable<ReturnType<typeof fields>>): number {
  const l = LAYOUT[header[4] === 2 ? 64 : 32];
  if (header.length < l.ehsize) return l.ehsize;
  const phoff = read(header, l.phoff, l.word),
    phentsize = read(header, l.phentsize, 2),
    phnum = read(header, l.phnum, 2);
  let needed = Math.max(l.ehsize, read(header, l.shoff, l.word) + read(header, l.shentsize, 2) * read(header, l.shnum, 2), phoff + phentsize * phnum);
  const table = readAt(fd, size, phoff, phentsize * phnum);
  for (let at = 0; phentsize > 0 && at + phentsize <= table.length; at += phentsize) {
    needed = Math.max(needed, read(table, at + l.pOffset, l.word) + read(table, at + l.pFilesz, l.word));
  }
  return needed;
}

/** How much of `path` is missing; undefined when it is whole or not an ELF file. */
export function elfShortfall(path: string): ElfShortfall | undefined {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = readAt(fd, size, 0, 64);
    const read = fields(header);
    if (!read) return undefined;
    const needed = neededBytes(fd, size, header, read);
    return needed > size ? { size, needed } : undefined;
  } finally {
    closeSync(fd);
  }
}
