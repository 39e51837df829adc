/**
 * The shape every benchmark group shares. A group measures its subject and a baseline in the same
 * run and reports figures as ratios against it, so the numbers mean something on any machine.
 */
export interface BenchResult {
  /** Dotted name, group first: `merkle.verify`. */
  name: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, in the same unit, or null where none applies. */
  baseline: number | null;
  /** value / baseline, null without a baseline. */
  ratio: number | null;
  /** What the baseline is and what the goal is, for the human-readable output. */
  note?: string;
}

export interface BenchGroup {
  name: string;
  description: string;
  run(report: (result: BenchResult) => void, signal: AbortSignal): Promise<void>;
}

/** Runs `fn` repeatedly for at least `minMs` and returns the mean time per call in milliseconds. */
export function timeIt(fn: () => void, minMs = 300, minIterations = 3): number {
  // One warm-up call so JIT compilation is not measured.
  fn();
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || iterations < minIterations) {
    fn();
    iterations++;
    elapsed = performance.now() - start;
  }
  return elapsed / iterations;
}

/** Async variant of {@link timeIt}. */
export async function timeItAsync(fn: () => Promise<void>, minMs = 300, minIterations = 3): Promise<number> {
  await fn();
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs || iterations < minIterations) {
    await fn();
    iterations++;
    elapsed = performance.now() - start;
  }
  return elapsed / iterations;
}

/**
 * Builds a result. The ratio is always value / baseline; the unit says which direction is better
 * (MiB/s: higher; µs or bytes: lower).
 */
export function measured(
  name: string,
  value: number,
  unit: string,
  baseline: number | null,
  note?: string,
): BenchResult {
  return {
    name,
    value,
    unit,
    baseline,
    ratio: baseline ? value / baseline : null,
    ...(note ? { note } : {}),
  };
}

/** The p-th percentile (0..100) of a list of samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
