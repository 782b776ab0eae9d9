/**
 * The study report's notes come from the run's numbers: each step's test
 * accuracy is placed above, within or below the book's range for that
 * step, whatever the profile.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { againstBook, writeStudyReport } from '../src/studies/report.js';
import { getStudy, type StepName, type StudyProfile } from '../src/studies/steps.js';
import type { StudyStepOutcome } from '../src/studies/study.js';

const work = mkdtempSync(join(tmpdir(), 'convkit-notes-'));
after(() => rmSync(work, { recursive: true, force: true }));

function outcome(name: StepName, testAccuracy: number): StudyStepOutcome {
  return {
    name,
    status: 'trained',
    record: {
      name,
      recipe: name,
      settings: {},
      testAccuracy,
      valAccuracy: testAccuracy,
      epochs: 1,
      wallSeconds: 1,
      trainSeconds: 1,
      trainImages: 10,
      params: { trainable: 1, total: 1 },
      history: { epoch: [0], history: { acc: [0.9], val_acc: [testAccuracy] } },
      classNames: ['cats', 'dogs'],
      wrong: [],
      finishedAt: new Date(0).toISOString(),
    },
  };
}

async function notesOf(profile: StudyProfile, outcomes: StudyStepOutcome[]): Promise<string[]> {
  const out = join(work, profile);
  await writeStudyReport({
    out,
    study: getStudy('cats-vs-dogs'),
    profile,
    base: 'mobilenet_v1',
    data: 'photos',
    outcomes,
    includeImages: false,
    seed: 1,
    wallSeconds: 1,
    checked: { root: 'photos', classNames: ['cats', 'dogs'], counts: { train: 10 }, skipped: [] },
  });
  return (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { notes: string[] }).notes;
}

test("quick profile: the notes place each step above, within or below the book's range", async () => {
  const notes = await notesOf('quick', [
    outcome('scratch', 0.705),
    outcome('augment', 0.731),
    outcome('features', 0.98),
    outcome('features-augment', 0.97),
    outcome('finetune', 0.975),
  ]);
  const text = notes.join('\n');
  assert.match(text, /scratch 70\.5 %, below the book's 71\.0–74\.0 %/);
  assert.match(text, /augment 73\.1 %, below the book's 82\.0–85\.0 %/);
  assert.match(text, /features 98\.0 %, above the book's 90\.0–97\.0 %/);
  assert.match(text, /features-augment 97\.0 %, within the book's 96\.0–97\.5 %/);
  assert.match(text, /finetune 97\.5 %, within the book's 96\.0–97\.5 %/);
  assert.doesNotMatch(text, /Accuracies are below the book's/);
});

test("book and best profiles: no fixed claim about the transfer steps' settings; the comparison follows the numbers", async () => {
  for (const profile of ['book', 'best'] as const) {
    const text = (await notesOf(profile, [outcome('scratch', 0.75), outcome('finetune', 0.95)])).join('\n');
    assert.doesNotMatch(text, /have one setting, the book's/);
    assert.match(text, new RegExp(`Profile ${profile}: every step runs its recipe's ${profile} settings`));
    assert.match(text, /scratch 75\.0 %, above the book's 71\.0–74\.0 %; finetune 95\.0 %, below the book's 96\.0–97\.5 %/);
  }
});

test('againstBook compares at the printed precision', () => {
  assert.equal(againstBook(0.74, [0.71, 0.74]), 'within');
  assert.equal(againstBook(0.7400000001, [0.71, 0.74]), 'within');
  assert.equal(againstBook(0.741, [0.71, 0.74]), 'above');
  assert.equal(againstBook(0.709, [0.71, 0.74]), 'below');
});
