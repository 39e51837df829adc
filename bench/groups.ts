import type { BenchGroup } from "./harness.js";

/**
 * Every benchmark group, in the order `npm run bench` runs them. A group is loaded lazily so
 * `npm run bench -- codec` does not pay for importing the chain.
 */
export const benchGroups: Record<string, () => Promise<BenchGroup>> = {
  merkle: async () => (await import("./merkle.bench.js")).merkleBench,
  erasure: async () => (await import("./erasure.bench.js")).erasureBench,
  codec: async () => (await import("./codec.bench.js")).codecBench,
  store: async () => (await import("./store.bench.js")).storeBench,
  yuma: async () => (await import("./yuma.bench.js")).yumaBenchGroup,
  miner: async () => (await import("./miner.bench.js")).minerBench,
  storage: async () => (await import("./storage.bench.js")).storageBench,
  validator: async () => (await import("./validator.bench.js")).validatorBench,
  "validator-round": async () => (await import("./validator-round.bench.js")).validatorRoundBench,
  sim: async () => (await import("./sim.bench.js")).simBench,
  "sim-256": async () => (await import("./sim.bench.js")).sim256Bench,
  fast: async () => (await import("./fast.bench.js")).fastBench,
  devchain: async () => (await import("./devchain.bench.js")).devchainBench,
  subtensor: async () => (await import("./subtensor.bench.js")).subtensorBench,
  "node-start": async () => (await import("./node-start.bench.js")).nodeStartBench,
};

/** Groups `npm run bench` runs only when named, being too long for a full run (minutes each). */
export const namedOnlyGroups: ReadonlySet<string> = new Set(["sim-256"]);
