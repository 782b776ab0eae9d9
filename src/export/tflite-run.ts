/**
 * Runs an export graph in float32 with TF.js ops, batch by batch: the
 * calibration pass of the int8 export watches every tensor's range through
 * it. TFLite's SAME padding and TF.js's agree (asymmetric for stride 2).
 */
import * as tf from '@tensorflow/tfjs';
import type { Graph, GraphOp } from './tflite-graph.js';

/** Called with each tensor the graph computes (the input included), inside the run's tidy. */
export type TensorObserver = (index: number, value: tf.Tensor) => void;

function activate(x: tf.Tensor, a: GraphOp['options']['activation']): tf.Tensor {
  return a === 'RELU' ? tf.relu(x) : a === 'RELU6' ? tf.relu6(x) : x;
}

const pad = (o: GraphOp['options']) => (o.padding === 'VALID' ? 'valid' : 'same');

export class GraphRunner {
  /** Constants in TF.js layouts, made once. */
  private readonly constants = new Map<number, tf.Tensor>();

  constructor(private readonly graph: Graph) {}

  private constant(i: number, layout: 'as-is' | 'conv' | 'depthwise' | 'dense' = 'as-is'): tf.Tensor {
    const key = layout === 'as-is' ? i : -1 - i;
    let t = this.constants.get(key);
    if (!t) {
      const g = this.graph.tensors[i]!;
      // Kept: made inside a run's tidy, it outlives the run.
      t = tf.keep(
        tf.tidy(() => {
          const v = g.data instanceof Int32Array ? tf.tensor(g.data, g.shape, 'int32') : tf.tensor(g.data!, g.shape, 'float32');
          if (layout === 'conv') return tf.transpose(v, [1, 2, 3, 0]);
          if (layout === 'depthwise') {
            const [, kh, kw, ch] = g.shape as [number, number, number, number];
            return v.reshape([kh, kw, ch, 1]);
          }
          return layout === 'dense' ? tf.transpose(v) : v;
        }),
      );
      this.constants.set(key, t);
    }
    return t;
  }

  private step(op: GraphOp, x: tf.Tensor, read: (i: number) => tf.Tensor): tf.Tensor {
    const o = op.options;
    const [, w, b] = op.inputs;
    switch (op.op) {
      case 'CONV_2D':
        return activate(
          tf.add(tf.conv2d(x as tf.Tensor4D, this.constant(w!, 'conv') as tf.Tensor4D, o.strides!, pad(o), 'NHWC', o.dilations), this.constant(b!)),
          o.activation,
        );
      case 'DEPTHWISE_CONV_2D': {
        const kernel = this.constant(w!, 'depthwise') as tf.Tensor4D;
        const [kh, kw] = [kernel.shape[0], kernel.shape[1]];
        const channels = x.shape[3]!;
        const k = o.depthMultiplier === 1 ? kernel : kernel.reshape([kh, kw, channels, o.depthMultiplier!]);
        return activate(
          tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, k as tf.Tensor4D, o.strides!, pad(o), 'NHWC', o.dilations), this.constant(b!)),
          o.activation,
        );
      }
      case 'FULLY_CONNECTED':
        return activate(tf.add(tf.matMul(x as tf.Tensor2D, this.constant(w!, 'dense') as tf.Tensor2D), this.constant(b!)), o.activation);
      case 'MAX_POOL_2D':
        return tf.maxPool(x as tf.Tensor4D, o.filter!, o.strides!, pad(o));
      case 'AVERAGE_POOL_2D':
        return tf.avgPool(x as tf.Tensor4D, o.filter!, o.strides!, pad(o));
      case 'MEAN':
        return tf.mean(x, Array.from(this.graph.tensors[op.inputs[1]!]!.data!), o.keepDims);
      case 'RESHAPE':
        return tf.reshape(x, o.newShape!);
      case 'ADD':
      case 'SUB':
      case 'MUL': {
        const y = read(op.inputs[1]!);
        const f = op.op === 'ADD' ? tf.add : op.op === 'SUB' ? tf.sub : tf.mul;
        return activate(f(x, y), o.activation);
      }
      case 'CONCATENATION':
        return activate(
          tf.concat(
            op.inputs.map((i) => read(i)),
            o.axis,
          ),
          o.activation,
        );
      case 'PAD': {
        const p = Array.from(this.graph.tensors[op.inputs[1]!]!.data!);
        return tf.pad(
          x,
          [0, 1, 2, 3].map((d) => [p[2 * d]!, p[2 * d + 1]!] as [number, number]),
        );
      }
      case 'SOFTMAX':
        return tf.softmax(x);
      case 'LOGISTIC':
        return tf.sigmoid(x);
      case 'RELU':
        return tf.relu(x);
      case 'RELU6':
        return tf.relu6(x);
      case 'TANH':
        return tf.tanh(x);
      default:
        throw new Error(`${op.op} is not a float op`);
    }
  }

  /** The graph's output for `x` ([batch, h, w, c] float pixels); `observe` sees every tensor on the way. */
  run(x: tf.Tensor4D, observe?: TensorObserver): tf.Tensor {
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[this.graph.input, x]]);
      observe?.(this.graph.input, x);
      const read = (i: number) => values.get(i) ?? this.constant(i);
      for (const op of this.graph.ops) {
        const y = this.step(op, read(op.inputs[0]!), read);
        values.set(op.outputs[0]!, y);
        observe?.(op.outputs[0]!, y);
      }
      return values.get(this.graph.output)!;
    });
  }

  dispose(): void {
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }
}
