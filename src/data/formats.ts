/**
 * The image formats convkit reads, one list for every command: folders are
 * listed by these extensions, and a decoded file must hold one of these
 * formats whatever its name says.
 */
import { extname } from 'node:path';

interface ImageFormat {
  name: string;
  /** sharp's metadata `format` (and, for HEIF containers, the compression that makes it AVIF). */
  sharp: string;
  compression?: string;
  extensions: readonly string[];
}

// BMP needs ImageMagick and HEIC an HEVC decoder, neither of which sharp's build has.
const FORMATS: readonly ImageFormat[] = [
  { name: 'JPEG', sharp: 'jpeg', extensions: ['.jpg', '.jpeg', '.jpe'] },
  { name: 'PNG', sharp: 'png', extensions: ['.png'] },
  { name: 'WebP', sharp: 'webp', extensions: ['.webp'] },
  { name: 'GIF', sharp: 'gif', extensions: ['.gif'] },
  { name: 'TIFF', sharp: 'tiff', extensions: ['.tif', '.tiff'] },
  { name: 'AVIF', sharp: 'heif', compression: 'av1', extensions: ['.avif'] },
];

export const IMAGE_EXTENSIONS: readonly string[] = FORMATS.flatMap((f) => f.extensions);

/** "JPEG (.jpg .jpeg .jpe), PNG (.png), …" for messages. */
export const READABLE_FORMATS = FORMATS.map((f) => `${f.name} (${f.extensions.join(' ')})`).join(', ');

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Why a file whose name is not a readable image's is refused. */
export function notImageReason(path: string): string {
  const ext = extname(path).toLowerCase();
  return `${ext ? `${ext} files are` : 'a file without an extension is'} not read; convkit reads ${READABLE_FORMATS}`;
}

/** Whether sharp's view of a file's content is a readable format. */
export function isReadableFormat(format: string | undefined, compression: string | undefined): boolean {
  return FORMATS.some((f) => f.sharp === format && (f.compression === undefined || f.compression === compression));
}
