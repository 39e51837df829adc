/**
 * The run's memory as the machine sees it: the sum over the simulator's processes of their
 * proportional set size (PSS, Linux `/proc/<pid>/smaps_rollup`), sampled on an interval. PSS
 * splits pages shared between processes (the node binary, about 45 MiB of each process's RSS)
 * among them, so the sum is what the run holds; a sum of RSS would count the shared pages once per
 * process. Samples miss spikes shorter than the interval.
 */
import { readFileSync } from "node:fs";

/** PSS of one process in bytes, or undefined where /proc has no smaps_rollup (not Linux, or gone). */
export function processPssBytes(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return undefined;
  }
  const match = /^Pss:\s+(\d+) kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

export interface MemorySampler {
  /** Takes one sample now (also done on the interval). */
  sample(): void;
  /** Largest summed PSS seen, bytes; null where PSS cannot be read. */
  peakBytes(): number | null;
  stop(): void;
}

/**
 * @example
 * const sampler = sampleMemory(() => [process.pid, ...host.pids()]);
 * … run …
 * sampler.stop(); console.log(sampler.peakBytes());
 */
export function sampleMemory(pids: () => readonly number[], intervalMs = 500): MemorySampler {
  const supported = processPssBytes(process.pid) !== undefined;
  let peak = 0;
  const sample = () => {
    if (!supported) return;
    let sum = 0;
    for (const pid of pids()) sum += processPssBytes(pid) ?? 0;
    peak = Math.max(peak, sum);
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  sample();
  return {
    sample,
    peakBytes: () => (supported ? peak : null),
    stop: () => clearInterval(timer),
  };
}
