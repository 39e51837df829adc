/**
 * The simulator at the issue's reference size: 20 miners × 10 tempos (3 validators, tempo 10,
 * the default adversaries of the mixed scenario), in both modes: `process` (one OS process per
 * node, the default at this size) and `inprocess`. Reports each run against the bare chain doing
 * the same bootstrap and the same number of blocks without any node (measured in the same run),
 * where the wall time goes, each phase as a share of the whole run, and the run's peak memory
 * (PSS summed over its processes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { PolkadotChainClient } from "../chain/client.js";
import { createDevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/subtensor/pallets.js";
import { processPssBytes } from "../sim/memory.js";
import { parseScenario } from "../sim/scenario.js";
import { runSimulation } from "../sim/simulator.js";
import { type BenchGroup, measured } from "./harness.js";

const MINERS = 20;
const TEMPOS = 10;
const TEMPO = 10;

/** The chain alone: subnet bootstrap with the same neurons, then as many blocks as the run makes. */
async function bareChainMs(blocks: number): Promise<number> {
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
    const netuid = await client.registerNetwork(alice, keyring.addFromUri("//Alice//bench-owner").address);
    await client.sudoAdmin(alice, "sudoSetTempo", [netuid, TEMPO]);
    for (let i = 0; i < MINERS + 3; i++)
      await client.burnedRegister(bob, netuid, keyring.addFromUri(`//Bench//n${i}`).address);
    for (let i = 0; i < blocks; i++) chain.newBlock(1);
    await client.metagraph(netuid, { weights: true });
    return performance.now() - start;
  } finally {
    await client.stop();
    await chain.stop();
  }
}

export const simBench: BenchGroup = {
  name: "sim",
  description: "whole-network simulator: 20 miners × 10 tempos in process, where the time goes, peak memory",
  async run(report, signal) {
    const dir = mkdtempSync(join(tmpdir(), "sim-bench-"));
    const pssBefore = processPssBytes(process.pid) ?? null;
    try {
      const scenario = parseScenario({
        name: "bench",
        miners: MINERS,
        tempos: TEMPOS,
        tempo: TEMPO,
        adversaries: { lazy: 2, corrupting: 1, outsourcer: 1, offline: 1, churning: 1 },
      });
      let bare: number | undefined;
      for (const mode of ["process", "inprocess"] as const) {
        const result = await runSimulation({ scenario, outDir: join(dir, mode), signal, mode });
        if (result.aborted) return;
        const t = result.timings;
        const lastBlock = result.tempos[result.tempos.length - 1]?.block ?? TEMPOS * (TEMPO + 1);
        bare ??= await bareChainMs(lastBlock);
        const s = (ms: number) => ms / 1000;
        const tag = mode === "process" ? "" : "_inprocess";
        report(
          measured(
            `sim.wall_20x10${tag}`,
            s(t.totalMs),
            "s",
            s(bare),
            `${mode} mode; baseline: the bare dev chain, same bootstrap and block count, no nodes; goal < 120 s`,
          ),
        );
        const share = (name: string, ms: number, what: string) =>
          report(measured(`sim.${name}${tag}`, s(ms), "s", s(t.totalMs), `share of the whole run: ${what}`));
        share("nodes_start", t.nodesStartMs, "miners (libp2p, SQLite), commitments, validators");
        share("rounds", t.roundsMs, "validator rounds: fill, challenge, weights");
        if (mode === "process") {
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
            `${t.peakMemoryMethod === "pss-sampled" ? `PSS summed over ${t.nodeProcesses + 1} processes, sampled every second` : "peak RSS of the one process"}; baseline: this process's PSS before the runs; goal < 3 GiB`,
          ),
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
