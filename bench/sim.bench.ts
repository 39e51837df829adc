/**
 * The simulator at two sizes:
 * - `sim`: 20 miners × 10 tempos (3 validators, tempo 10, six adversaries) in both modes:
 *   `process` (one OS process per node, the default at this size) and `inprocess`;
 * - `sim-256` (run only when named: about 3.5 minutes on a quiet 2-core machine): 256 uids, 247 miners and 8 validators
 *   with the CLI's default adversaries, 8 tempos, `inprocess` as the CLI runs it.
 * `sim` also reports process mode against inprocess (`sim.process_vs_inprocess_20x10`).
 * Each run is reported against the bare chain doing the same bootstrap and the same number of
 * blocks without any node (measured in the same run), with where the wall time goes (each phase as
 * a share of the whole run) and the run's peak memory (PSS summed over its processes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { processPssBytes } from "../sim/memory.js";
import { defaultAdversaries, defaultValidatorStakes, parseScenario, type Scenario } from "../sim/scenario.js";
import { runSimulation } from "../sim/simulator.js";
import { type BenchGroup, type BenchResult, measured } from "./harness.js";

/** The chain alone: subnet bootstrap with the same neurons, then as many blocks as the run makes. */
async function bareChainMs(scenario: Scenario, blocks: number): Promise<number> {
  const start = performance.now();
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice");
  const bob = keyring.addFromUri("//Bob");
  const chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets() });
  await chain.start();
  const client = new PolkadotChainClient({ endpoint: chain.endpoint });
  try {
    await client.start();
    const { netuid } = await bootstrapSubnet(client, {
      sudo: alice,
      ownerHotkey: keyring.addFromUri("//Alice//bench-owner").address,
      hyperparameters: [["sudoSetTempo", scenario.tempo]],
      registrations: Array.from({ length: scenario.miners + scenario.validatorStakes.length }, (_, i) => ({
        coldkey: bob,
        hotkey: keyring.addFromUri(`//Bench//n${i}`).address,
      })),
    });
    for (let i = 0; i < blocks; i++) chain.newBlock(1);
    await client.metagraph(netuid, { weights: true });
    return performance.now() - start;
  } finally {
    await client.stop();
    await chain.stop();
  }
}

/**
 * Runs `scenario` in each of `modes` and reports its figures, named `sim.<figure><suffix><tag>`
 * (`tag` is `_inprocess` for an inprocess run that is not the only mode); stops at an aborted run.
 */
async function benchRuns(
  scenario: Scenario,
  modes: readonly ("process" | "inprocess")[],
  suffix: string,
  goals: { seconds: number; memory?: string; processRatio?: number },
  report: (r: BenchResult) => void,
  signal: AbortSignal,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sim-bench-"));
  const pssBefore = processPssBytes(process.pid) ?? null;
  try {
    let bare: number | undefined;
    const walls = new Map<string, number>();
    for (const mode of modes) {
      const result = await runSimulation({ scenario, outDir: join(dir, mode), signal, mode });
      if (result.aborted) return;
      const t = result.timings;
      walls.set(mode, t.totalMs);
      const lastBlock = result.tempos.at(-1)?.block ?? scenario.tempos * (scenario.tempo + 1);
      bare ??= await bareChainMs(scenario, lastBlock);
      const s = (ms: number) => ms / 1000;
      const tag = `${suffix}${mode === "inprocess" && modes.length > 1 ? "_inprocess" : ""}`;
      report(
        measured(
          `sim.wall${tag}`,
          s(t.totalMs),
          "s",
          s(bare),
          `${mode} mode; baseline: the bare dev chain, same bootstrap and block count, no nodes; goal ≤ ${goals.seconds} s`,
        ),
      );
      const share = (name: string, ms: number, what: string) =>
        report(measured(`sim.${name}${tag}`, s(ms), "s", s(t.totalMs), `share of the whole run: ${what}`));
      share("nodes_start", t.nodesStartMs, "miners (libp2p, SQLite), commitments, validators");
      share("rounds", t.roundsMs, "validator rounds: fill, challenge, weights");
      if (mode === modes[0]) {
        share("chain_start", t.chainStartMs, "dev chain and client start");
        share("bootstrap", t.bootstrapMs, "subnet, sudo, registrations, stake, permit epoch");
        share("blocks", t.blocksMs, "driving blocks to each epoch (Yuma)");
        share("metagraph", t.metagraphMs, "metagraph reads per tempo");
      }
      const first = t.perTempo[0]?.roundsMs ?? 0;
      const rest = t.perTempo.slice(1).map((p) => p.roundsMs);
      const steady = rest.length > 0 ? rest.reduce((a, b) => a + b, 0) / rest.length : 0;
      report(
        measured(
          `sim.rounds_steady_per_tempo${tag}`,
          steady,
          "ms",
          first,
          "baseline: tempo 1, where validators also fill every miner",
        ),
      );
      report(
        measured(
          `sim.peak_memory${tag}`,
          t.peakMemoryBytes / 2 ** 20,
          "MiB",
          pssBefore === null ? null : pssBefore / 2 ** 20,
          `${t.peakMemoryMethod === "pss-sampled" ? `PSS summed over ${t.nodeProcesses + 1} processes, sampled every second` : "peak RSS of the one process"}; baseline: this process's PSS before the runs${goals.memory ? `; goal ≤ ${goals.memory}` : ""}`,
        ),
      );
    }
    const processWall = walls.get("process");
    const inprocessWall = walls.get("inprocess");
    if (processWall !== undefined && inprocessWall !== undefined)
      report(
        measured(
          `sim.process_vs_inprocess${suffix}`,
          processWall / 1000,
          "s",
          inprocessWall / 1000,
          `process mode's wall time; baseline: the same run in inprocess mode${goals.processRatio ? `; goal ≤ ${goals.processRatio}×` : ""}`,
        ),
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const simBench: BenchGroup = {
  name: "sim",
  description:
    "whole-network simulator: 20 miners × 10 tempos in both modes, where the time goes, peak memory",
  async run(report, signal) {
    const scenario = parseScenario({
      name: "bench",
      miners: 20,
      tempos: 10,
      tempo: 10,
      adversaries: { lazy: 2, corrupting: 1, outsourcer: 1, offline: 1, churning: 1 },
    });
    await benchRuns(
      scenario,
      ["process", "inprocess"],
      "_20x10",
      // The goals of issue 18: process mode within 1.5× of in-process, and in 1.2 GiB summed.
      { seconds: 120, memory: "1.2 GiB", processRatio: 1.5 },
      report,
      signal,
    );
  },
};

export const sim256Bench: BenchGroup = {
  name: "sim-256",
  description: "whole-network simulator at 256 uids (247 miners, 8 validators, 8 tempos), inprocess",
  async run(report, signal) {
    const miners = 247;
    const scenario = parseScenario({
      name: "bench-256",
      miners,
      validatorStakes: defaultValidatorStakes(8),
      adversaries: defaultAdversaries(miners),
    });
    await benchRuns(scenario, ["inprocess"], "_256", { seconds: 120 }, report, signal);
  },
};
