/**
 * A captioned grid of images composed with sharp: "most confidently wrong"
 * test images, augmented samples of one photo, filters of a layer.
 */
import sharp, { type OverlayOptions, type Sharp } from 'sharp';
import { ConvkitError } from '../util/errors.js';

/** Raw HWC uint8 pixels (1, 3 or 4 channels), an encoded image (PNG, JPEG…) or a file path. */
export type ImageSource = Uint8Array | string;

export interface GridTile {
  data: ImageSource;
  /** Pixel size of raw `data`; ignored for encoded images and paths. */
  width?: number;
  height?: number;
  /** Channels of raw `data`; default inferred from its length. */
  channels?: 1 | 3 | 4;
  /** Text under the tile; `\n` starts a new line (e.g. "true cat\npred dog 0.97"). */
  caption?: string;
}

export interface ImageGridOptions {
  /** Tiles per row (default: up to 6). */
  columns?: number;
  /** Cell size in px [width, height]; each image is fitted inside, keeping its aspect ratio. Default: the largest tile, capped at 256. */
  tileSize?: number | [number, number];
  /** Caption font size in px. */
  fontSize?: number;
  /** Gap between cells in px. */
  gap?: number;
  background?: string;
  /** Optional heading above the grid. */
  title?: string;
}

const MAX_DEFAULT_TILE = 256;

/** Signatures of the encoded formats sharp reads from a buffer (SVG's '<' included). */
function isEncoded(b: Uint8Array): boolean {
  const s = (i: number): number => b[i] ?? -1;
  return (
    (s(0) === 0x89 && s(1) === 0x50 && s(2) === 0x4e && s(3) === 0x47) || // PNG
    (s(0) === 0xff && s(1) === 0xd8 && s(2) === 0xff) || // JPEG
    (s(0) === 0x52 && s(1) === 0x49 && s(2) === 0x46 && s(3) === 0x46) || // RIFF (WebP)
    (s(0) === 0x47 && s(1) === 0x49 && s(2) === 0x46) || // GIF
    s(0) === 0x3c
  ); // '<' (SVG)
}

type RawSize = { width?: number; height?: number; channels?: 1 | 3 | 4 };

/** Channels when `bytes` is exactly width × height × (1, 3 or 4), else undefined. */
function rawChannels(bytes: number, raw: RawSize): 1 | 3 | 4 | undefined {
  const { width, height } = raw;
  if (!width || !height) return undefined;
  const channels = raw.channels ?? bytes / (width * height);
  return (channels === 1 || channels === 3 || channels === 4) && bytes === width * height * channels ? channels : undefined;
}

/**
 * A sharp pipeline for any ImageSource (validated). A buffer whose size
 * matches the given width × height is raw pixels, whatever its first bytes:
 * a red value of 60 is not the '<' of an SVG.
 */
export function sharpFromSource(src: ImageSource, raw: RawSize = {}, name = 'image'): Sharp {
  if (typeof src === 'string') return sharp(src);
  if (!(src instanceof Uint8Array))
    throw new ConvkitError(
      `${name}: data is not a Uint8Array, Buffer or path`,
      'pass HWC uint8 pixels with width and height, an encoded PNG/JPEG, or a file path',
    );
  const channels = rawChannels(src.length, raw);
  if (channels) return sharp(src, { raw: { width: raw.width!, height: raw.height!, channels } });
  // Encoded images may come with a width and height, which are then ignored.
  if (isEncoded(src)) return sharp(src);
  if (!raw.width || !raw.height) throw new ConvkitError(`${name}: raw pixels need width and height`, 'pass {data, width, height} for HWC uint8 pixels');
  throw new ConvkitError(
    `${name}: ${src.length} bytes do not make a ${raw.width}×${raw.height} image with ${raw.channels ?? '1, 3 or 4'} channels`,
    'check width, height and channels of the HWC pixel array',
  );
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Lays `tiles` out in rows with their captions underneath; resolves to a PNG. */
export async function imageGrid(tiles: GridTile[], options: ImageGridOptions = {}): Promise<Buffer> {
  if (tiles.length === 0) throw new ConvkitError('imageGrid: no tiles', 'pass at least one image');
  const columns = Math.max(1, Math.floor(options.columns ?? Math.min(6, tiles.length)));
  const gap = options.gap ?? 8;
  const fontSize = options.fontSize ?? 13;
  const background = options.background ?? '#ffffff';
  // Decode every tile once to learn its size.
  const decoded = await Promise.all(
    tiles.map(async (t, i) => {
      const name = `tile ${i}${typeof t.data === 'string' ? ` (${t.data})` : ''}`;
      try {
        const { data, info } = await sharpFromSource(t.data, t, name).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        return { data, width: info.width, height: info.height };
      } catch (err) {
        if (err instanceof ConvkitError) throw err;
        throw new ConvkitError(`imageGrid: cannot read ${name}: ${(err as Error).message}`, 'pass a readable PNG/JPEG or raw HWC pixels');
      }
    }),
  );
  const [cellW, cellH] =
    typeof options.tileSize === 'number'
      ? [options.tileSize, options.tileSize]
      : (options.tileSize ?? [
          Math.min(MAX_DEFAULT_TILE, Math.max(...decoded.map((d) => d.width))),
          Math.min(MAX_DEFAULT_TILE, Math.max(...decoded.map((d) => d.height))),
        ]);
  const captionLines = Math.max(0, ...tiles.map((t) => (t.caption ? t.caption.split('\n').length : 0)));
  const lineH = Math.round(fontSize * 1.3);
  const captionH = captionLines ? captionLines * lineH + 6 : 0;
  const titleH = options.title ? Math.round(fontSize * 1.5) + gap : 0;
  const rows = Math.ceil(tiles.length / columns);
  const width = gap + columns * (cellW + gap);
  const height = titleH + gap + rows * (cellH + captionH + gap);

  const overlays: OverlayOptions[] = [];
  const texts: string[] = [];
  if (options.title)
    texts.push(`<text x="${gap}" y="${gap + fontSize * 1.1}" font-size="${Math.round(fontSize * 1.15)}" font-weight="bold">${escapeXml(options.title)}</text>`);
  await Promise.all(
    decoded.map(async (d, i) => {
      const col = i % columns,
        row = Math.floor(i / columns);
      const x0 = gap + col * (cellW + gap),
        y0 = titleH + gap + row * (cellH + captionH + gap);
      const fitted = await sharp(d.data, { raw: { width: d.width, height: d.height, channels: 4 } })
        .resize(cellW, cellH, { fit: 'inside', kernel: d.width < cellW / 2 ? 'nearest' : 'lanczos3' })
        .png()
        .toBuffer({ resolveWithObject: true });
      overlays.push({ input: fitted.data, left: x0 + Math.floor((cellW - fitted.info.width) / 2), top: y0 + Math.floor((cellH - fitted.info.height) / 2) });
      const caption = tiles[i]!.caption;
      if (caption) {
        // Roughly 0.6 em per character in DejaVu Sans: cut lines that would spill into the next cell.
        const maxChars = Math.max(4, Math.floor((cellW + gap) / (fontSize * 0.6)));
        caption.split('\n').forEach((full, k) => {
          const line = full.length > maxChars ? `${full.slice(0, maxChars - 1)}…` : full;
          texts.push(
            `<text x="${x0 + cellW / 2}" y="${y0 + cellH + 4 + (k + 0.85) * lineH}" font-size="${fontSize}" text-anchor="middle">${escapeXml(line)}</text>`,
          );
        });
      }
    }),
  );
  if (texts.length) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, sans-serif" fill="#222">${texts.join('')}</g></svg>`;
    overlays.push({ input: Buffer.from(svg), left: 0, top: 0 });
  }
  return sharp({ create: { width, height, channels: 4, background } })
    .composite(overlays)
    .flatten({ background })
    .png()
    .toBuffer();
}
