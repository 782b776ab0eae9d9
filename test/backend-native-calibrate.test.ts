/**
 * The addon's calibration loops (native/peak.h), which give `convkit bench`
 * its measured peak: FMA throughput and clock are consistent with the ISA
 * they report, whatever else runs on the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../src/backend/native-addon.js';
import { skipReason } from './backend-native-util.js';

test('FMA throughput ÷ clock is the FLOPs per cycle of one or two FMA pipes of the reported ISA', { skip: skipReason }, () => {
  const addon = loadAddon();
  for (const threads of [1, 2]) {
    const r = addon.calibrate(threads, 0.005, 20);
    const lanes = { avx512: 16, avx2: 8, sse: 4 }[r.isa];
    assert.ok(lanes, `isa ${r.isa}`);
    assert.equal(r.flopsPerInstruction, 2 * lanes);
    assert.ok(r.ghz > 0.5 && r.ghz < 8, `clock ${r.ghz} GHz`);
    const perCycle = r.gflops / r.ghz / threads;
    // One to two full-width FMAs per cycle (AMD's Zen 4 runs AVX-512 at half width: one).
    assert.ok(perCycle > 0.75 * r.flopsPerInstruction && perCycle < 2.1 * r.flopsPerInstruction, `${perCycle.toFixed(1)} FLOP/cycle per core with ${r.isa}`);
  }
});

test('calibrate refuses arguments outside its ranges', { skip: skipReason }, () => {
  const addon = loadAddon();
  assert.throws(() => addon.calibrate(0, 0.01, 1), /threads/);
  assert.throws(() => addon.calibrate(1, 20, 1), /seconds/);
});
