/**
 * One validator challenging many real miners once: a full validator round (metagraph sync, then
 * per miner one challenge that also asks for evictions, with proof verification, the outcomes
 * recorded in one transaction) against in-process miners over libp2p on loopback, on the embedded
 * dev chain. Steady rounds go over the stream each miner's first round left open
 * (STORAGE_SESSION_PROTOCOL). Baseline: the same round's metagraph sync alone.
 *
 * `BENCH_ROUNDS=30 BENCH_CPU_PROFILE=/tmp/round.cpuprofile npm run bench -- validator-round`
 * profiles 30 steady rounds (miners and validator share this process, so both sides show).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import { createDevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { authReady } from "../neurons/auth.js";
import { createMiner, type Miner } from "../neurons/miner/miner.js";
import { createValidator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import { type BenchGroup, measured, percentile } from "./harness.js";

/** Miners in the bench; 256 in-process libp2p hosts do not fit a 2-core bench run alongside the rest. */
const MINERS = 64;
const CHUNK = 64 * 1024;
const TAO = 1_000_000_000n;
/** Steady rounds timed (their median is reported); `BENCH_ROUNDS` overrides, e.g. for a profile. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/**
 * With `BENCH_CPU_PROFILE=<file>`, a CPU profile of the steady rounds only (not the set-up) is
 * written there, for Chrome DevTools or any .cpuprofile reader.
 */
async function startProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env.BENCH_CPU_PROFILE;
  if (!file) return undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

export const validatorRoundBench: BenchGroup = {
  name: "validator-round",
  description: `one validator challenging ${MINERS} real miners once (a full round)`,
  async run(report) {
    await cryptoWaitReady();
    await authReady();
    const dir = mkdtempSync(join(tmpdir(), "bench-round-"));
    const chain = createDevChain({ port: 0, mode: "instant", pallets: subtensorPallets(), log: () => {} });
    await chain.start();
    const client = new PolkadotChainClient({ endpoint: chain.endpoint });
    const miners: Miner[] = [];
    let db: ValidatorDb | undefined;
    try {
      await client.start();
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const alice = keyring.addFromUri("//Alice");
      const bob = keyring.addFromUri("//Bob");
      const validatorKey = keyring.addFromUri("//Bob//bench-validator");
      const minerKeys = Array.from({ length: MINERS }, (_, i) => keyring.addFromUri(`//Charlie//bench${i}`));
      const charlie = keyring.addFromUri("//Charlie");
      const { netuid } = await bootstrapSubnet(client, {
        sudo: alice,
        ownerHotkey: keyring.addFromUri("//Alice//owner").address,
        hyperparameters: [
          ["sudoSetTempo", 1000],
          ["sudoSetCommitRevealWeightsEnabled", false],
          ["sudoSetMaxBurn", 200_000_000],
        ],
        registrations: [
          { coldkey: bob, hotkey: validatorKey.address },
          ...minerKeys.map((k) => ({ coldkey: charlie, hotkey: k.address })),
        ],
        stakes: [{ coldkey: bob, hotkey: validatorKey.address, amountRao: 1_000n * TAO }],
        // An epoch hands the validator its permit: a tempo of 1 for two blocks.
        firstEpoch: async (id) => {
          await client.sudoAdmin(alice, "sudoSetTempo", [id, 1]);
          chain.newBlock(2);
          await client.sudoAdmin(alice, "sudoSetTempo", [id, 1000]);
        },
      });
      for (const hotkey of minerKeys) {
        const miner = createMiner({
          settings: {
            netuid,
            dbRoot: join(dir, "miners"),
            chunkSize: CHUNK,
            threshold: 1,
            listen: { ip: "127.0.0.1", port: 0 },
            metagraphIntervalMs: 3_600_000,
            announce: true,
          },
          chain: client,
          hotkey,
          freeBytes: () => 4 * CHUNK,
        });
        await miner.start();
        miners.push(miner);
      }
      db = ValidatorDb.open(join(dir, "validator.sqlite"));
      const validator = createValidator({
        settings: {
          netuid,
          chunkSize: CHUNK,
          autoRun: false,
          retrieveProbability: 0,
          weightsIntervalBlocks: 1e9,
        },
        chain: client,
        hotkey: validatorKey,
        db,
        secret: new Uint8Array(32).fill(7),
      });
      await validator.start();
      await validator.runRound(); // fills every miner
      const rounds: number[] = [];
      const syncs: number[] = [];
      const stopProfile = await startProfile();
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        const r = await validator.runRound();
        rounds.push(performance.now() - t0);
        if (r.challenges.pass !== MINERS)
          throw new Error(`expected ${MINERS} passes, got ${r.challenges.pass}`);
        const t1 = performance.now();
        await client.metagraph(netuid);
        await client.commitments(netuid);
        syncs.push(performance.now() - t1);
      }
      await stopProfile?.();
      await validator.stop();
      const roundMs = percentile(rounds, 50);
      report(
        measured(
          `validator.round${MINERS}`,
          roundMs,
          "ms",
          percentile(syncs, 50),
          `challenge ${MINERS} miners once (all in parallel); baseline: the metagraph + commitments sync alone`,
        ),
      );
      report(
        measured(
          "validator.round.per_miner",
          roundMs / MINERS,
          "ms",
          null,
          `round time / ${MINERS}; goal ≤ 3 ms; 256 miners would take about 4× if the round stays CPU-bound (not measured)`,
        ),
      );
    } finally {
      for (const m of miners) await m.stop().catch(() => undefined);
      db?.close();
      await client.stop().catch(() => undefined);
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
