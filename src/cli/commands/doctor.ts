import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { initBackend } from '../../backend/index.js';
import { parseCommandArgs } from '../args.js';
import type { Command } from '../command.js';

const spec = {
  name: 'doctor',
  usage: 'convkit doctor [--json]\n  Shows the TensorFlow.js backend in use, its threads and native library.',
  options: { json: { type: 'boolean' } },
} as const;

const doctor: Command = {
  async run(argv) {
    const { values } = parseCommandArgs(spec, argv);
    if (values.help) {
      console.log(spec.usage);
      return 0;
    }
    const info = await initBackend();
    const report = {
      backend: info.name,
      tfjsBackend: tf.getBackend(),
      tfjs: tf.version.tfjs,
      threads: info.threads,
      ...info.details,
      notices: info.notices,
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
    };
    if (values.json) console.log(JSON.stringify(report));
    else for (const [k, v] of Object.entries(report)) console.log(`${k.padEnd(12)} ${Array.isArray(v) ? v.join('; ') || '-' : v}`);
    return 0;
  },
};
export default doctor;
