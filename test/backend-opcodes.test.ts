/**
 * The addon's op codes: native/opcodes.h and src/backend/opcodes.ts give
 * every name the same number (no addon needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as opcodes from '../src/backend/opcodes.js';
import { packageRoot } from '../src/util/paths.js';

/** Each `enum class Name : int { kA = 0, ... };` of the header as {Name: {A: 0, ...}}. */
function headerEnums(text: string): Record<string, Record<string, number>> {
  const enums: Record<string, Record<string, number>> = {};
  for (const [, name, body] of text.matchAll(/enum class (\w+) : int \{([^}]*)\};/g)) {
    const members: Record<string, number> = {};
    for (const item of body!.split(',')) {
      const m = /^\s*k(\w+) = (\d+)\s*$/.exec(item);
      assert.ok(m, `${name}: "${item.trim()}" is not written as kName = number`);
      members[m[1]!] = Number(m[2]);
    }
    enums[name!] = members;
  }
  return enums;
}

test('native/opcodes.h and src/backend/opcodes.ts agree', () => {
  const header = headerEnums(readFileSync(join(packageRoot(), 'native', 'opcodes.h'), 'utf8'));
  assert.ok(Object.keys(header).length > 0, 'enums found in the header');
  assert.deepEqual(header, { ...opcodes });
});

test('no two names of a table share a number', () => {
  for (const [table, codes] of Object.entries(opcodes)) {
    const numbers = Object.values(codes);
    assert.equal(new Set(numbers).size, numbers.length, table);
  }
});
