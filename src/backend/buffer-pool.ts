/**
 * Large kernel outputs reuse the memory of tensors already disposed.
 *
 * A fresh 127 MB activation (mini-Xception's first block, batch 32) is
 * mapped from the OS page by page as the kernel first writes it, and
 * unmapped again when it is freed: on a mini-Xception training step the
 * kernel's page faults took 2.0 s of system time against 2.6 s of user
 * time. Training allocates the same sizes at every step, so the arrays of
 * disposed tensors are kept (up to a cap) and handed to the next kernel
 * output of the same byte length.
 *
 * An array is reused only when no tensor holds it or a view of it any more
 * and it never left the backend: readSync (dataSync, data, bufferSync)
 * hands out the backend's own array, which the caller may keep after the
 * tensor is disposed, so a buffer once read is never pooled.
 */

/** Outputs below this size come from the allocator as before (their page faults are few). */
const MIN_POOLED_BYTES = 1 << 20;

const DEFAULT_CAP_MB = 1024;

/** Bytes kept for reuse (CONVKIT_BUFFER_POOL_MB; 0 turns the pool off). */
function poolCap(): number {
  const value = process.env.CONVKIT_BUFFER_POOL_MB;
  const mb = value === undefined || value.trim() === '' ? DEFAULT_CAP_MB : Number(value);
  if (Number.isFinite(mb) && mb >= 0) return mb * 2 ** 20;
  // Read when the backend loads, where an exception would take the whole backend down: said, not thrown.
  console.error(`convkit: CONVKIT_BUFFER_POOL_MB=${JSON.stringify(value)} is not a number of megabytes ≥ 0; using ${DEFAULT_CAP_MB}`);
  return DEFAULT_CAP_MB * 2 ** 20;
}

interface Tracked {
  /** Tensors (data ids) whose values are this buffer or a view of it. */
  holders: number;
  /** Handed out by readSync: someone outside the backend may hold it. */
  exposed: boolean;
}

export interface BufferPoolOptions {
  /** Bytes kept for reuse; 0 turns the pool off. */
  capBytes?: number;
  /** Fill every buffer it hands out with NaN first, so a kernel that does not write all of its output shows (a check for tests). */
  poison?: boolean;
}

export class BufferPool {
  private readonly cap: number;
  private readonly poison: boolean;
  private readonly tracked = new WeakMap<ArrayBufferLike, Tracked>();
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Pooled buffers oldest first, so that sizes no longer asked for make room for new ones. */
  private readonly order: ArrayBuffer[] = [];
  private bytes = 0;
  /** Outputs served from the pool and from fresh memory (for tests and benchmarks). */
  readonly stats = { reused: 0, fresh: 0 };

  constructor(options: BufferPoolOptions = {}) {
    this.cap = options.capBytes ?? poolCap();
    this.poison = options.poison ?? process.env.CONVKIT_BUFFER_POOL_POISON === '1';
  }

  /** An uninitialized float32 array of `n` elements, for a kernel that writes every element. */
  alloc(n: number): Float32Array {
    const size = n * 4;
    if (n < 1024) return new Float32Array(n);
    if (this.cap === 0 || size < MIN_POOLED_BYTES) return new Float32Array(Buffer.allocUnsafeSlow(size).buffer, 0, n);
    let buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.order.splice(this.order.indexOf(buffer), 1);
      this.bytes -= size;
      this.stats.reused++;
    } else {
      // A Buffer this large has an ArrayBuffer of its own, of exactly this length.
      buffer = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;
      this.stats.fresh++;
    }
    this.tracked.set(buffer, { holders: 0, exposed: false });
    const out = new Float32Array(buffer, 0, n);
    if (this.poison) out.fill(NaN);
    return out;
  }

  /** A tensor now holds `values` (or a view of a pooled buffer). */
  hold(values: unknown): void {
    const t = this.entry(values);
    if (t) t.holders++;
  }

  /** `values` left the backend: its buffer is never reused. */
  expose(values: unknown): void {
    const t = this.entry(values);
    if (t) t.exposed = true;
  }

  /** A tensor holding `values` was deleted; the buffer returns to the pool when it was the last. */
  release(values: unknown): void {
    const t = this.entry(values);
    if (!t || --t.holders > 0 || t.exposed) return;
    const buffer = (values as Float32Array).buffer as ArrayBuffer;
    this.tracked.delete(buffer);
    const size = buffer.byteLength;
    if (size > this.cap) return;
    while (this.bytes + size > this.cap) this.evictOldest();
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.order.push(buffer);
    this.bytes += size;
  }

  /** Drops every pooled buffer (the garbage collector frees them). */
  clear(): void {
    this.free.clear();
    this.order.length = 0;
    this.bytes = 0;
  }

  get pooledBytes(): number {
    return this.bytes;
  }

  private entry(values: unknown): Tracked | undefined {
    return ArrayBuffer.isView(values) ? this.tracked.get(values.buffer) : undefined;
  }

  private evictOldest(): void {
    const buffer = this.order.shift()!;
    const list = this.free.get(buffer.byteLength)!;
    list.splice(list.indexOf(buffer), 1);
    this.bytes -= buffer.byteLength;
  }
}

/** The native backend's pool: its kernels allocate outputs from it, its tensors return their arrays to it. */
export const outputPool = new BufferPool();
