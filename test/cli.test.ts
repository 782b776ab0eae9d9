import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main, usage } from '../src/cli/main.js';

test('help lists every command with a one-line summary', () => {
  const text = usage();
  assert.match(text, /Usage: convkit <command>/);
  assert.match(text, /doctor\s+\S/);
});

test('an unknown command exits 2', async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (m: string) => errors.push(m);
  try {
    assert.equal(await main(['no-such-command']), 2);
  } finally {
    console.error = orig;
  }
  assert.match(errors.join('\n'), /unknown command "no-such-command"/);
});
