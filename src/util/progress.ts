/**
 * A progress display for long work: count, rate, ETA and free-form metrics.
 * Redraws one line on a TTY; prints a plain line every few seconds otherwise
 * (logs and CI stay readable).
 */
export interface ProgressOptions {
  total: number;
  label: string;
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Seconds between plain-text lines when not on a TTY. */
  plainInterval?: number;
  /** Silence all output (library use, --json). */
  silent?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    r = s % 60;
  const mm = String(m).padStart(2, '0'),
    ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastPlain = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private extra = '';

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Advance by `n` units; `metrics` is shown after the bar (e.g. "loss 0.41"). */
  tick(n = 1, metrics?: string): void {
    this.done += n;
    if (metrics !== undefined) this.extra = metrics;
    this.render(false);
  }

  /** Seconds since start. */
  get elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  get rate(): number {
    return this.done / Math.max(this.elapsed, 1e-9);
  }

  line(): string {
    const { total, label, unit = 'it' } = this.opts;
    const frac = total > 0 ? Math.min(1, this.done / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const eta = this.rate > 0 ? (total - this.done) / this.rate : Infinity;
    const rate = this.rate >= 10 ? this.rate.toFixed(0) : this.rate.toFixed(2);
    return (
      `${label} ${bar} ${this.done}/${total} ${rate} ${unit}/s ` +
      `elapsed ${formatDuration(this.elapsed)} ETA ${formatDuration(eta)}${this.extra ? ' ' + this.extra : ''}`
    );
  }

  private render(final: boolean): void {
    if (this.opts.silent) return;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${this.line()}${final ? '\n' : ''}`);
      return;
    }
    const now = this.elapsed;
    if (final || now - this.lastPlain >= (this.opts.plainInterval ?? 5)) {
      this.lastPlain = now;
      this.stream.write(this.line() + '\n');
    }
  }

  /** Final line (always printed unless silent). */
  finish(metrics?: string): void {
    if (metrics !== undefined) this.extra = metrics;
    this.render(true);
  }
}
