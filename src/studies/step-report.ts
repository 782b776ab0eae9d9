/** A trained step or candidate as a report section: the figures both study reports show of a recorded run. */
import type { StepReport } from '../report/html.js';
import type { RecordedRun } from './run-step.js';

/** The settings named in `keys` that a run recorded, as report lines (lists as 150×150, objects as JSON). */
export function settingsLines(settings: Record<string, unknown>, keys: readonly string[]): Record<string, string | number> {
  const lines: Record<string, string | number> = {};
  for (const key of keys) {
    const v = settings[key];
    if (v !== undefined && v !== null) lines[key] = Array.isArray(v) ? v.join('×') : typeof v === 'object' ? JSON.stringify(v) : (v as string | number);
  }
  return lines;
}

export function stepReportOf(name: string, description: string, r: RecordedRun, extra: Record<string, string | number>): StepReport {
  return {
    name,
    description,
    testAccuracy: r.testAccuracy,
    valAccuracy: r.valAccuracy,
    epochs: r.epochs,
    wallSeconds: r.wallSeconds,
    imagesPerSecond: r.imagesPerSecond,
    params: r.params,
    history: r.history,
    confusion: r.confusion,
    classNames: r.classNames,
    extra,
  };
}
