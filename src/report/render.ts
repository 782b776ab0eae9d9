/**
 * Vega-Lite spec → SVG string (vega's headless renderer, no canvas needed)
 * → PNG (sharp, whose librsvg draws the text with the system's fontconfig
 * fonts; Debian's fonts-dejavu-core is enough).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import sharp from 'sharp';

/** What every plot returns: the SVG text, its PNG rendering and the Vega-Lite spec. */
export interface Figure {
  svg: string;
  png: Buffer;
  spec: TopLevelSpec;
}

/** Shared look: white background, sans-serif text that fontconfig maps to DejaVu Sans. */
export const PLOT_CONFIG = {
  background: 'white',
  font: 'sans-serif',
  padding: 8,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#eee', domainColor: '#888', tickColor: '#888' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
  title: { fontSize: 14, fontWeight: 'bold', anchor: 'start', offset: 10 },
  header: { labelFontSize: 12, titleFontSize: 12 },
} as const;

/** Compiles a Vega-Lite spec and renders it headlessly to SVG. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const { spec: vgSpec } = compile(spec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterizes an SVG with sharp. `scale` 2 gives crisp PNGs on high-density
 * screens and in print: a 400×300 SVG becomes an 800×600 PNG.
 */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toBuffer();
}

/** Compiles, renders and rasterizes in one step. */
export async function renderFigure(spec: TopLevelSpec, scale = 2): Promise<Figure> {
  const svg = await vegaLiteToSvg(spec);
  return { svg, png: await svgToPng(svg, scale), spec };
}

/** The SVG's own width and height in px (from its root element). */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const num = (name: string): number => Number(new RegExp(`\\b${name}="([\\d.]+)"`).exec(root)?.[1] ?? NaN);
  return { width: num('width'), height: num('height') };
}

/**
 * Vega numbers its clip paths and gradients from 1 in every SVG, so several
 * SVGs inlined in one HTML page would share ids; this prefixes them.
 */
export function uniquifySvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) ids.add(m[1]!);
  if (ids.size === 0) return svg;
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (whole, id: string) => (ids.has(id) ? `url(#${prefix}-${id})` : whole))
    .replace(/href="#([^"]+)"/g, (whole, id: string) => (ids.has(id) ? `href="#${prefix}-${id}"` : whole));
}

/**
 * True when librsvg draws real glyphs. Without any font installed it draws
 * the same empty box for every character, so two different words of equal
 * length rasterize identically.
 */
export async function fontsRender(): Promise<boolean> {
  const word = async (text: string): Promise<Buffer> =>
    sharp(
      Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="160" height="30"><rect width="160" height="30" fill="white"/><text x="4" y="22" font-family="${PLOT_CONFIG.font}" font-size="18">${text}</text></svg>`,
      ),
    )
      .raw()
      .toBuffer();
  const [a, b] = await Promise.all([word('accuracy'), word('epochlow')]);
  return !a.equals(b);
}
