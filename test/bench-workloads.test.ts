/**
 * The bench harness's FLOP counting against hand-computed values (no timing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerCosts, vgg16ConvBase, workloadFlops, workloads, type LayerSpec } from '../src/bench/workloads.js';
import { median } from '../src/util/stats.js';
import { mergeRounds, peakFlops, type BenchReport } from '../src/bench/index.js';

const byName = Object.fromEntries(workloads().map((w) => [w.name, w]));

test('3×3 conv 128→128 on 4×75×75: 2·4·75·75·9·128·128 FLOPs', () => {
  assert.equal(workloadFlops(byName.conv3x3), 6_635_520_000);
});

test('VGG16 conv base at 224 px: the known 15.35 G multiply-adds', () => {
  assert.equal(workloadFlops({ input: [224, 224, 3], layers: vgg16ConvBase(), mode: 'forward', batch: 1 }), 2 * 15_346_630_656);
  const shapes = layerCosts([150, 150, 3], vgg16ConvBase()).map((c) => c.outShape.join('x'));
  assert.equal(shapes.at(-1), '4x4x512');
});

test('a tiny training net: forward + dW of trainable layers + dX after the first trainable one', () => {
  const layers: LayerSpec[] = [
    { kind: 'conv', name: 'a', filters: 2, kernel: 3, padding: 'valid', activation: 'relu', trainable: false }, // 3·3·9·1·2 = 162
    { kind: 'conv', name: 'b', filters: 3, kernel: 3, padding: 'same', activation: 'relu', trainable: true }, // 3·3·9·2·3 = 486
    { kind: 'flatten', name: 'f' },
    { kind: 'dense', name: 'd', units: 1, activation: 'sigmoid', trainable: true }, // 27
  ];
  assert.equal(workloadFlops({ input: [5, 5, 1], layers, mode: 'forward', batch: 2 }), 2 * 2 * (162 + 486 + 27));
  // forward 675 + dW (486 + 27) + dX (27: only the dense layer's input gradient is needed)
  assert.equal(workloadFlops({ input: [5, 5, 1], layers, mode: 'train', batch: 2 }), 2 * 2 * 1215);
});

test("small CNN training step: 3× forward minus the first conv's input gradient", () => {
  // per image: conv 148²·27·32 + 72²·288·64 + 34²·576·128 + 15²·1152·128 + dense 6272·512 + 512
  const convs = [18_925_056, 95_551_488, 85_229_568, 33_177_600];
  const dense = [3_211_264, 512];
  const forward = [...convs, ...dense].reduce((a, b) => a + b, 0);
  assert.equal(forward, 236_095_488);
  assert.equal(workloadFlops(byName.small_cnn_epoch), 2 * 20 * (3 * forward - convs[0]));
});

test('VGG16 fine-tuning step: forward + block 5 and head gradients only', () => {
  const block5Conv = 9 * 9 * 9 * 512 * 512; // each of the 3 convs at 9×9
  const head = 8192 * 256 + 256;
  const extra = 3 * block5Conv + head /* dW */ + 2 * block5Conv + head; /* dX: conv5_2, conv5_3, both dense */
  assert.equal(workloadFlops(byName.vgg16_finetune_step) - workloadFlops(byName.vgg16_forward), 2 * 20 * (head + extra));
});

test('median and peak FLOPS', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const avx2 = peakFlops('processor\t: 0\ncpu MHz\t\t: 2445.000\nflags\t\t: fpu sse2 avx fma avx2\n');
  assert.equal(avx2.ghz, 2.445);
  assert.equal(avx2.flopsPerCycle, 32);
  assert.ok(Math.abs(avx2.gflops - avx2.cores * 32 * 2.445) < 1e-9);
  const avx512 = peakFlops('cpu MHz\t\t: 2600.000\nflags\t\t: fpu avx fma avx2 avx512f avx512bw\n');
  assert.equal(avx512.flopsPerCycle, 64);
  assert.ok(Math.abs(avx512.gflops - avx512.cores * 64 * 2.6) < 1e-9);
  assert.equal(peakFlops('cpu MHz\t\t: 2000.000\nflags\t\t: fpu sse2 avx\n').flopsPerCycle, 16);
});

test("rounds: each rate is the median round's, each ratio the median of the rounds' own ratios", () => {
  const round = (native: number, pytorch: number, onnxRatio: number): BenchReport =>
    ({
      peak_gflops: 1,
      calibrated_peak_gflops: null,
      workloads: {
        mini_xception_epoch: {
          native: { images_per_s: native, gflops: native * 2 },
          wasm: null,
          pytorch: { images_per_s: pytorch, gflops: pytorch * 2 },
          speedup_vs_pytorch: native / pytorch,
        },
      },
      inference: {
        mobilenet_v1_inference: {
          native: { batch1_ms: 10, batch32_images_per_s: 50 * onnxRatio },
          onnxruntime: { batch1_ms: 5, batch32_images_per_s: 50 },
          throughput_ratio: onnxRatio,
          latency_ratio: 2,
        },
      },
      details: { notes: [] },
    }) as unknown as BenchReport;
  // The machine slowed during round 2: both sides' rates dropped, their ratio held.
  const merged = mergeRounds([round(20, 16, 0.5), round(10, 5, 0.4), round(24, 20, 0.6)]);
  const row = merged.workloads.mini_xception_epoch!;
  assert.equal(row.native!.images_per_s, 20);
  assert.equal(row.pytorch!.images_per_s, 16);
  assert.equal(row.speedup_vs_pytorch, 1.25, 'median of 1.25, 2 and 1.2');
  assert.equal(merged.inference.mobilenet_v1_inference!.throughput_ratio, 0.5);
  assert.deepEqual(
    merged.details.rounds?.map((r) => r.mini_xception_epoch),
    [1.25, 2, 1.2],
  );
  assert.match(merged.details.notes.at(-1)!, /3 rounds/);
});
