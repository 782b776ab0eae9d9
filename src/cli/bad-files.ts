/**
 * How the commands that read images list the files they could not read:
 * one line per file, naming it and saying why, so a run over many images
 * goes on past a bad one and still says what it left out.
 */
import type { SkippedFile } from '../data/scan.js';

/** "path: reason", the path once (decoding errors name it already). */
function describe(s: SkippedFile): string {
  return s.reason.includes(s.path) ? s.reason : `${s.path}: ${s.reason}`;
}

/** Files left out of a run (--skip-bad), on stderr. */
export function listSkipped(command: string, skipped: readonly SkippedFile[]): void {
  for (const s of skipped) console.error(`convkit ${command}: skipped ${describe(s)}`);
}

/**
 * The files that gave no result (predict, classify): each is its own JSON
 * line {file, error} or a line on stderr, and the run goes on; the exit
 * code is then 1, unless --skip-bad says leaving them out is fine.
 */
export class BadFiles {
  private count = 0;
  constructor(
    private readonly command: string,
    private readonly json: boolean,
  ) {}

  readonly report = (file: SkippedFile): void => {
    this.count++;
    if (this.json) console.log(JSON.stringify({ file: file.path, error: file.reason }));
    else console.error(`convkit ${this.command}: ${describe(file)}`);
  };

  exitCode(skipBad: boolean | undefined): number {
    return this.count > 0 && !skipBad ? 1 : 0;
  }
}
