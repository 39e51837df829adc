/**
 * Benchmark group "fast": the fast mode (sim/fast/) and experiment sweeps (sim/experiment.ts).
 *
 * - fast.1000-tempos: 1000 tempos of a 256-uid subnet (16 validators, 240 miners of every
 *   behaviour), one thread. Baseline: the 1000 `runEpoch` calls alone on the same subnet (what
 *   settling costs; the ratio is the whole loop over the epoch alone). Goal < 10 s.
 * - fast.sweep-100: a 100-point sweep of 256 uids × 100 tempos on every core. Baseline: one
 *   point's time in this thread × 100 / workers (perfect scaling; ratio ≥ 1 is the overhead of
 *   workers and sharing cores). Goal < 2 min.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { type EpochInput, runEpoch } from "../chain/yuma/epoch.js";
import { parseSweep, runSweep } from "../sim/experiment.js";
import type { FastConfigInput } from "../sim/fast/config.js";
import { runFast } from "../sim/fast/run-fast.js";
import { type BenchGroup, measured } from "./harness.js";

const SUBNET: FastConfigInput = {
  seed: 1,
  tempos: 1000,
  tempo: 100,
  challengesPerTempo: 8,
  miners: [
    { behaviour: "honest", count: 200 },
    { behaviour: "lazy", count: 8, keep: 0.8 },
    { behaviour: "corrupting", count: 8, rate: 0.2 },
    { behaviour: "outsourcer", count: 4 },
    { behaviour: "offline", count: 4 },
    { behaviour: "slow", count: 4 },
    { behaviour: "churning", count: 8 },
    { behaviour: "sybil", count: 4 },
  ],
  validators: [
    { behaviour: "honest", count: 12, stake: 10_000 },
    { behaviour: "copier", count: 2, stake: 5_000 },
    { behaviour: "lazy", count: 2, stake: 2_000 },
  ],
};

export const fastBench: BenchGroup = {
  name: "fast",
  description: "fast mode: 1000 tempos × 256 uids on one thread; a 100-point sweep on every core",
  async run(report, signal) {
    // The epoch alone: record the inputs of a short run, then time runEpoch over 1000 of them.
    const inputs: EpochInput[] = [];
    runFast(
      { ...SUBNET, tempos: 50 },
      {
        epoch: (input) => {
          inputs.push(structuredClone(input));
          return runEpoch(input);
        },
      },
    );
    const epochStart = performance.now();
    for (let t = 0; t < 1000; t++) runEpoch(inputs[10 + (t % 40)] as EpochInput);
    const epochMs = performance.now() - epochStart;

    const start = performance.now();
    const result = runFast(SUBNET, { signal });
    const runMs = performance.now() - start;
    report(
      measured(
        "fast.1000-tempos",
        runMs / 1000,
        "s",
        epochMs / 1000,
        `${result.uids.length} uids, ${result.rows.length} tempos; baseline: 1000 runEpoch calls alone; goal < 10 s`,
      ),
    );
    if (signal.aborted) return;

    const workers = availableParallelism();
    const point: FastConfigInput = { ...SUBNET, tempos: 100 };
    const pointStart = performance.now();
    runFast(point);
    const pointMs = performance.now() - pointStart;
    const sweep = parseSweep({
      name: "bench",
      base: point,
      parameters: { "hyperparameters.kappa": Array.from({ length: 25 }, (_, i) => 16384 + i * 1365) },
      seeds: [1, 2, 3, 4],
    });
    const out = mkdtempSync(join(tmpdir(), "fast-bench-"));
    try {
      const sweepStart = performance.now();
      const summary = await runSweep(sweep, { outDir: out, workers, signal });
      const sweepMs = performance.now() - sweepStart;
      report(
        measured(
          "fast.sweep-100",
          sweepMs / 1000,
          "s",
          (pointMs * summary.points) / workers / 1000,
          `${summary.ran} points × 256 uids × 100 tempos on ${workers} workers; baseline: one point in-thread × ${summary.points} / ${workers}; goal < 120 s`,
        ),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
};
