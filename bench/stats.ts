/** Latency percentiles and rates of benchmark runs. */

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Collects latencies in milliseconds, growing its buffer as needed. */
export class LatencyRecorder {
  private samples = new Float64Array(1 << 16);
  private length = 0;

  record(ms: number): void {
    if (this.length === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.length++] = ms;
  }

  /** Returns the count, the median, the 99th percentile and the maximum (nearest rank). */
  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.length).sort();
    return {
      count: this.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: this.length === 0 ? NaN : sorted[this.length - 1]!,
    };
  }
}

/** Returns the nearest-rank percentile `q` (0 < q <= 1) of sorted values, NaN when empty. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Calls `fn` in rounds of `batch` calls until `ms` milliseconds have passed
 * and returns the calls per second.
 */
export function opsPerSecond(fn: () => void, ms: number, batch = 256): number {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn();
    calls += batch;
    elapsed = performance.now() - start;
  }
  return (calls * 1000) / elapsed;
}

/** Keeps a uniform random sample of at most `size` items from a stream (reservoir sampling). */
export class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;

  constructor(private readonly size: number) {}

  offer(item: T): void {
    this.seen++;
    if (this.items.length < this.size) {
      this.items.push(item);
      return;
    }
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.size) this.items[slot] = item;
  }
}
