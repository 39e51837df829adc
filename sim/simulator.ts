/**
 * The whole network in one process: the embedded dev chain, a subnet bootstrapped through the
 * chain client, real miners (libp2p over TCP on 127.0.0.1, SQLite under `<out>/nodes/`) and real
 * validators, driven tempo by tempo.
 *
 * Determinism (same seed and scenario → identical CSV files):
 * - The chain runs in `manual` mode. The simulator includes transactions with an inclusion pump (a
 *   block as soon as the pool holds one) and drives epochs itself: after the validators' rounds it
 *   produces blocks one by one until the subnet's epoch runs, then reads the metagraph at that
 *   block. How transactions were batched into blocks before the epoch does not change the epoch's
 *   block number or what it pays.
 * - Validators get a seeded `random`. Their rounds visit miners concurrently, so the order in which
 *   miners draw nonces depends on timing; the simulator keys each draw by the miner it belongs to
 *   (the validator reads that miner's chunk roots synchronously just before drawing the nonce, see
 *   {@link trackMinerReads}), so miner m always gets the same nonces whatever the interleaving.
 *   Spot retrievals are off (retrieveProbability 0): their draws cannot be attributed that way.
 * - The scoring policy's latency term is off by default (see scenario.ts): latencies differ by
 *   milliseconds between runs.
 * - Miners read the metagraph once at start (budgets never move with the validators' growing
 *   stake); wall times and latencies go to timings.json, never to CSV.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { type Metagraph, PolkadotChainClient } from "../chain/client.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/subtensor/pallets.js";
import { submitWeights } from "../chain/weights.js";
import { authReady } from "../neurons/auth.js";
import { createMiner, type Miner, type MinerBehaviour } from "../neurons/miner/miner.js";
import { folderUsedBytes } from "../neurons/miner/partition.js";
import { createP2PNode } from "../neurons/p2p/node.js";
import { createValidator, type Validator } from "../neurons/validator/validator.js";
import { ValidatorDb } from "../neurons/validator/validator-db.js";
import {
  type AdversaryName,
  createAdversary,
  createValidatorAdversary,
  type OnlineSchedule,
  type ValidatorAdversary,
  type ValidatorAdversaryName,
} from "./adversaries.js";
import type { ChallengeRow, MetagraphRow, RunWriter, ScoreRow, TempoRecord } from "./report.js";
import { assignBehaviours, assignValidatorBehaviours, type Scenario } from "./scenario.js";

const TAO = 1_000_000_000n;
const U16 = 65_535;

/** The run could not be set up or driven; `cause` has the underlying error. */
export class SimulationError extends Error {
  override readonly name = "SimulationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Wall times in milliseconds (machine-dependent: written to timings.json only). */
export interface SimTimings {
  chainStartMs: number;
  bootstrapMs: number;
  nodesStartMs: number;
  roundsMs: number;
  blocksMs: number;
  metagraphMs: number;
  lifecycleMs: number;
  totalMs: number;
  perTempo: { tempo: number; roundsMs: number; blocksMs: number; metagraphMs: number }[];
  /** Peak resident set size of this process, bytes. */
  peakRssBytes: number;
  /** Epochs that ran while validators were still setting weights (the tempo is too short). */
  epochsCrossedDuringRounds: number;
}

export interface SimResult {
  scenario: Scenario;
  netuid: number;
  behaviours: Map<number, string>;
  tempos: TempoRecord[];
  timings: SimTimings;
  aborted: boolean;
}

export interface TempoProgress {
  tempo: number;
  of: number;
  block: number;
  elapsedMs: number;
  honestShare: number;
}

export interface SimulatorInit {
  scenario: Scenario;
  /** Run directory; node databases go to `<outDir>/nodes/`. */
  outDir: string;
  /** Where each tempo's rows go as soon as they exist (so an interrupted run keeps them). */
  writer?: RunWriter;
  /** Aborting stops after the current step; every node is stopped and what was written stays. */
  signal?: AbortSignal;
  onProgress?: (p: TempoProgress) => void;
  /** Free-text progress of the set-up phase. */
  onStage?: (stage: string) => void;
}

/** `n` bytes from SHA-256 over (seed, label, counter): the run's only source of randomness. */
export function seededBytes(seed: number, label: string, counter: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let block = 0, off = 0; off < n; block++, off += 32) {
    const h = createHash("sha256").update(`${seed}|${label}|${counter}|${block}`).digest();
    out.set(h.subarray(0, Math.min(32, n - off)), off);
  }
  return out;
}

/**
 * Wraps a validator database so every `chunkRoots(minerId)` call reports the miner. The validator
 * calls it synchronously right before drawing a challenge nonce, so the draw can be keyed by miner.
 */
export function trackMinerReads(db: ValidatorDb, onMiner: (minerId: number) => void): ValidatorDb {
  return new Proxy(db, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "chunkRoots")
        return (minerId: number) => {
          onMiner(minerId);
          return target.chunkRoots(minerId);
        };
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** A seeded `random` for one validator whose draws are keyed by the miner last read (see above). */
function perMinerRandom(
  seed: number,
  validatorIndex: number,
): {
  random: (n: number) => Uint8Array;
  onMiner: (id: number) => void;
} {
  let miner = -1;
  const counters = new Map<string, number>();
  return {
    onMiner: (id) => {
      miner = id;
    },
    random: (n) => {
      const label = `validator${validatorIndex}/miner${miner}/n${n}`;
      const counter = counters.get(label) ?? 0;
      counters.set(label, counter + 1);
      return seededBytes(seed, label, counter, n);
    },
  };
}

interface SimMiner {
  index: number;
  hotkey: KeyringPair;
  behaviourName: AdversaryName | "honest";
  behaviour?: MinerBehaviour;
  online: OnlineSchedule;
  /** Share of a miner's free space this hotkey offers (sybils split one disk). */
  diskShare: number;
  /** Online state forced by a scenario event (overrides the schedule from that tempo on). */
  forced?: boolean;
  node?: Miner;
}

interface SimValidator {
  index: number;
  hotkey: KeyringPair;
  coldkey: KeyringPair;
  stakeTao: number;
  behaviourName: ValidatorAdversaryName | "honest";
  /** An honest validator node, or the adversary that sets weights in its place. */
  node?: { db: ValidatorDb; validator: Validator };
  adversary?: ValidatorAdversary;
}

function aborted(signal?: AbortSignal): boolean {
  return signal?.aborted === true;
}

/**
 * Runs a scenario end to end and returns every tempo's records.
 *
 * @example
 * const result = await runSimulation({ scenario: parseScenario({ miners: 8 }), outDir: "runs/x" });
 */
export async function runSimulation(init: SimulatorInit): Promise<SimResult> {
  const { scenario, outDir, signal } = init;
  const stage = init.onStage ?? (() => undefined);
  const t0 = performance.now();
  const timings: SimTimings = {
    chainStartMs: 0,
    bootstrapMs: 0,
    nodesStartMs: 0,
    roundsMs: 0,
    blocksMs: 0,
    metagraphMs: 0,
    lifecycleMs: 0,
    totalMs: 0,
    perTempo: [],
    peakRssBytes: 0,
    epochsCrossedDuringRounds: 0,
  };
  const nodesDir = join(outDir, "nodes");
  mkdirSync(nodesDir, { recursive: true });

  await cryptoWaitReady();
  await authReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const sudo = keyring.addFromUri("//Alice");
  const ownerHotkey = keyring.addFromUri("//Alice//sim-owner");
  const minerColdkey = keyring.addFromUri("//Sim//miners");
  const behaviourNames = assignBehaviours(scenario);
  const validatorBehaviours = assignValidatorBehaviours(scenario);
  const validatorKeys = scenario.validatorStakes.map((stakeTao, i) => ({
    stakeTao,
    behaviourName: validatorBehaviours[i] ?? "honest",
    hotkey: keyring.addFromUri(`//Sim//validator${i}`),
    coldkey: keyring.addFromUri(`//Sim//validator${i}//coldkey`),
  }));

  let chain: DevChain | undefined;
  let client: PolkadotChainClient | undefined;
  let pump: NodeJS.Timeout | undefined;
  let proxyNode: Libp2p | undefined;
  const miners: SimMiner[] = [];
  const validators: SimValidator[] = [];
  const tempos: TempoRecord[] = [];
  const behaviours = new Map<number, string>();
  let netuid = -1;

  try {
    // --- chain ---
    stage("starting the dev chain");
    let t = performance.now();
    const tao = (x: number) => BigInt(Math.round(x * 1e9));
    chain = createDevChain({
      port: 0,
      mode: "manual",
      pallets: subtensorPallets(),
      accounts: [
        // Registration burn rises with registrations; a large balance keeps big runs clear of it.
        { address: minerColdkey.address, balance: 1_000_000n * TAO },
        ...validatorKeys.map((v) => ({ address: v.coldkey.address, balance: tao(v.stakeTao) + 100n * TAO })),
      ],
    });
    await chain.start();
    const devChain = chain;
    // The inclusion pump: transactions land in the next block; epochs are driven below.
    pump = setInterval(() => {
      if (devChain.pendingExtrinsics.length > 0) devChain.newBlock(1);
    }, 2);
    client = new PolkadotChainClient({ endpoint: chain.endpoint });
    await client.start();
    timings.chainStartMs = performance.now() - t;

    // --- subnet bootstrap ---
    stage("bootstrapping the subnet");
    t = performance.now();
    netuid = await client.registerNetwork(sudo, ownerHotkey.address);
    const setters: [string, number | boolean][] = [
      ["sudoSetTempo", scenario.tempo],
      ["sudoSetCommitRevealWeightsEnabled", false],
      ["sudoSetWeightsSetRateLimit", 0],
      ["sudoSetMaxAllowedValidators", scenario.validatorStakes.length],
      ...Object.entries(scenario.hyperparameters),
    ];
    for (const [setter, value] of setters) await client.sudoAdmin(sudo, setter, [netuid, value]);
    behaviours.set(0, "owner");
    for (const v of validatorKeys) {
      const uid = await client.burnedRegister(v.coldkey, netuid, v.hotkey.address);
      behaviours.set(uid, v.behaviourName);
    }
    for (let i = 0; i < scenario.miners; i++) {
      const hotkey = keyring.addFromUri(`//Sim//miner${i}`);
      const uid = await client.burnedRegister(minerColdkey, netuid, hotkey.address);
      const behaviourName = behaviourNames[i] ?? "honest";
      behaviours.set(uid, behaviourName);
      miners.push({ index: i, hotkey, behaviourName, online: () => true, diskShare: 1 });
    }
    for (const v of validatorKeys)
      await client.addStake(v.coldkey, v.hotkey.address, netuid, tao(v.stakeTao));
    await advanceEpoch(devChain, netuid, 1, scenario.tempo);
    const permits = await client.metagraph(netuid);
    for (const v of validatorKeys) {
      const uid = permits.hotkeys.indexOf(v.hotkey.address);
      if (permits.validatorPermit[uid] !== true)
        throw new SimulationError(
          `validator ${v.hotkey.address} (uid ${uid}) did not get a validator permit`,
        );
    }
    timings.bootstrapMs = performance.now() - t;
    if (aborted(signal)) return finish(true);

    // --- nodes ---
    stage(`starting ${scenario.miners} miners and ${validatorKeys.length} validators`);
    t = performance.now();
    const o = scenario.adversaryOptions;
    const needsProxy = (scenario.adversaries.outsourcer ?? 0) > 0;
    if (needsProxy) proxyNode = await createP2PNode();
    const honestTarget = miners.find((m) => m.behaviourName === "honest");
    for (const m of miners) {
      if (m.behaviourName === "honest") continue;
      const adversary = createAdversary(m.behaviourName, {
        seed: scenario.seed * 7919 + m.index,
        lazyKeep: o.lazyKeep,
        corruptRate: o.corruptRate,
        slowDelayMs: Math.round(o.slowDelayFraction * scenario.validator.challengeTimeoutMs),
        offlineFromTempo: o.offlineFromTempo,
        churnPeriod: o.churnPeriod,
        sybilGroup: o.sybilGroup,
        node: () => {
          if (!proxyNode) throw new SimulationError("no proxy node");
          return proxyNode;
        },
        target: () => honestTarget?.node?.announcedAddress ?? "",
      });
      if (adversary.behaviour) m.behaviour = adversary.behaviour;
      m.online = adversary.online;
      m.diskShare = adversary.diskShare;
    }
    const startMiner = async (m: SimMiner) => {
      const node = createMiner({
        ...(m.behaviour ? { behaviour: m.behaviour } : {}),
        settings: {
          netuid,
          dbRoot: join(nodesDir, "miners"),
          chunkSize: scenario.miner.chunkSize,
          threshold: 1,
          listen: { ip: "127.0.0.1", port: 0 },
          // Budgets are set once at start, so they never move with timing-dependent reads.
          metagraphIntervalMs: 24 * 3_600_000,
          // The simulator publishes the address itself, one transaction at a time (see announce).
          announce: false,
        },
        chain: client as PolkadotChainClient,
        hotkey: m.hotkey,
        // A simulated disk of fixed size: free space shrinks as the miner's own files grow, as on a
        // real disk, so (free + used) — what the budget is a share of — stays the disk size and a
        // restarted miner gets the same budget as before.
        freeBytes: (dir) =>
          Math.max(
            0,
            Math.floor(scenario.miner.freeChunks * m.diskShare) * scenario.miner.chunkSize -
              folderUsedBytes(dir),
          ),
      });
      await node.start();
      m.node = node;
    };
    // Miners start concurrently but announce one by one: one transaction per block, so the block
    // count (and with it every epoch's emission) does not depend on how transactions were batched.
    const announce = async (m: SimMiner) => {
      if (!m.node) return;
      await (client as PolkadotChainClient).setCommitment(
        m.hotkey,
        netuid,
        new TextEncoder().encode(m.node.announcedAddress),
      );
    };
    const startAll = async (list: SimMiner[]) => {
      await inBatches(list, 8, startMiner);
      for (const m of list) await announce(m);
    };
    await startAll(miners);
    for (const [i, v] of validatorKeys.entries()) {
      if (v.behaviourName !== "honest") {
        validators.push({
          index: i,
          ...v,
          adversary: createValidatorAdversary(v.behaviourName, scenario.seed * 104_729 + i),
        });
        continue;
      }
      const dir = join(nodesDir, `validator${i}`);
      mkdirSync(dir, { recursive: true });
      const db = ValidatorDb.open(join(dir, "validator.sqlite"));
      const r = perMinerRandom(scenario.seed, i);
      const validator = createValidator({
        settings: {
          netuid,
          chunkSize: scenario.miner.chunkSize,
          chunksPerChallenge: scenario.validator.chunksPerChallenge,
          leavesPerChunk: scenario.validator.leavesPerChunk,
          challengeTimeoutMs: scenario.validator.challengeTimeoutMs,
          fillPerRound: scenario.validator.fillPerRound,
          retrieveProbability: 0,
          weightsIntervalBlocks: 1,
          policy: scenario.policy,
          autoRun: false,
        },
        chain: client,
        hotkey: v.hotkey,
        db: trackMinerReads(db, r.onMiner),
        secret: seededBytes(scenario.seed, `validator${i}/secret`, 0, 32),
        random: r.random,
      });
      validators.push({ index: i, ...v, node: { db, validator } });
      await validator.start();
    }
    // Tempo 1 starts right after an epoch.
    await advanceEpoch(devChain, netuid, 1, scenario.tempo);
    timings.nodesStartMs = performance.now() - t;

    // --- tempos ---
    const minerUids = new Map<string, number>();
    const graph0 = await client.metagraph(netuid);
    graph0.hotkeys.forEach((h, uid) => {
      minerUids.set(h, uid);
    });
    const lastCounts = new Map<string, { pass: number; fail: number; timeout: number }>();
    for (let tempo = 1; tempo <= scenario.tempos; tempo++) {
      if (aborted(signal)) return finish(true);
      // Lifecycle: schedules and events.
      const epochBefore = epochIndex(devChain, netuid);
      t = performance.now();
      for (const e of scenario.events) {
        const m = miners[e.miner];
        if (e.tempo === tempo && m) m.forced = e.action === "online";
      }
      const restart: SimMiner[] = [];
      for (const m of miners) {
        const want = m.forced ?? m.online(tempo);
        if (want && !m.node) restart.push(m);
        else if (!want && m.node) {
          await m.node.stop();
          delete m.node;
        }
      }
      await startAll(restart);
      timings.lifecycleMs += performance.now() - t;

      t = performance.now();
      const lastEpoch = await client.metagraph(netuid);
      for (let r = 0; r < scenario.roundsPerTempo; r++)
        await Promise.all(validators.map(async (v) => v.node?.validator.runRound()));
      // Adversarial validators set their weights once per tempo, one after the other.
      for (const v of validators) {
        if (!v.adversary) continue;
        const weights = v.adversary.weights({
          graph: lastEpoch,
          self: minerUids.get(v.hotkey.address) ?? -1,
          tempo,
          minerUids: miners.map((m) => minerUids.get(m.hotkey.address) ?? -1),
        });
        await submitWeights(client, v.hotkey, netuid, weights);
      }
      const roundsMs = performance.now() - t;
      await waitForEmptyPool(devChain);
      if (epochIndex(devChain, netuid) !== epochBefore) timings.epochsCrossedDuringRounds++;

      // Scores and challenge counts, before the epoch.
      const scores: ScoreRow[] = [];
      const challenges: ChallengeRow[] = [];
      for (const v of validators) {
        if (!v.node) continue;
        const { db, validator } = v.node;
        const vUid = minerUids.get(v.hotkey.address) ?? -1;
        const s = await validator.scores();
        for (const m of miners) {
          const mUid = minerUids.get(m.hotkey.address) ?? -1;
          scores.push({
            tempo,
            validatorUid: vUid,
            minerUid: mUid,
            behaviour: m.behaviourName,
            score: s[mUid] ?? 0,
          });
          const record = db.minerByHotkey(m.hotkey.address);
          const now = record ? db.challengeCounts(record.id) : { pass: 0, fail: 0, timeout: 0 };
          const key = `${v.index}/${m.index}`;
          const before = lastCounts.get(key) ?? { pass: 0, fail: 0, timeout: 0 };
          lastCounts.set(key, { pass: now.pass, fail: now.fail, timeout: now.timeout });
          challenges.push({
            tempo,
            validatorUid: vUid,
            minerUid: mUid,
            behaviour: m.behaviourName,
            pass: now.pass - before.pass,
            fail: now.fail - before.fail,
            timeout: now.timeout - before.timeout,
          });
        }
      }

      t = performance.now();
      await advanceEpoch(devChain, netuid, 1, scenario.tempo);
      const blocksMs = performance.now() - t;
      t = performance.now();
      const graph = await client.metagraph(netuid, { weights: true });
      const metagraphMs = performance.now() - t;
      const record: TempoRecord = {
        tempo,
        block: graph.block,
        metagraph: metagraphRows(
          graph,
          tempo,
          behaviours,
          new Set(validatorKeys.map((v) => v.hotkey.address)),
        ),
        scores,
        challenges,
        weights: validators.map((v) => {
          const uid = graph.hotkeys.indexOf(v.hotkey.address);
          const row = new Map(graph.weights?.[uid] ?? []);
          return miners.map((m) => row.get(minerUids.get(m.hotkey.address) ?? -1) ?? 0);
        }),
        minerUids: miners.map((m) => minerUids.get(m.hotkey.address) ?? -1),
        validatorUids: validators.map((v) => minerUids.get(v.hotkey.address) ?? -1),
      };
      for (const s of record.scores) {
        const vi = record.validatorUids.indexOf(s.validatorUid);
        const mi = record.minerUids.indexOf(s.minerUid);
        s.weight = record.weights[vi]?.[mi] ?? 0;
      }
      tempos.push(record);
      init.writer?.appendTempo(record);
      timings.roundsMs += roundsMs;
      timings.blocksMs += blocksMs;
      timings.metagraphMs += metagraphMs;
      timings.perTempo.push({ tempo, roundsMs, blocksMs, metagraphMs });
      init.onProgress?.({
        tempo,
        of: scenario.tempos,
        block: graph.block,
        elapsedMs: performance.now() - t0,
        honestShare: honestMinerShare(record),
      });
    }
    return finish(false);
  } finally {
    if (pump) clearInterval(pump);
    // Let the chain's finality notifications of the last transactions arrive before disconnecting.
    await new Promise((resolve) => setTimeout(resolve, 150));
    for (const v of validators) {
      await v.node?.validator.stop().catch(() => undefined);
      v.node?.db.close();
    }
    await Promise.all(miners.map(async (m) => m.node?.stop().catch(() => undefined)));
    await Promise.resolve(proxyNode?.stop()).catch(() => undefined);
    await client?.stop().catch(() => undefined);
    await chain?.stop().catch(() => undefined);
  }

  function finish(wasAborted: boolean): SimResult {
    timings.totalMs = performance.now() - t0;
    timings.peakRssBytes = process.resourceUsage().maxRSS * 1024;
    return { scenario, netuid, behaviours, tempos, timings, aborted: wasAborted };
  }
}

/** Share of this tempo's miner emission that went to honest miners. */
export function honestMinerShare(record: TempoRecord): number {
  let honest = 0n;
  let all = 0n;
  for (const row of record.metagraph) {
    if (row.role !== "miner") continue;
    all += row.emission;
    if (row.behaviour === "honest") honest += row.emission;
  }
  return all === 0n ? 0 : Number((honest * 1_000_000n) / all) / 1_000_000;
}

function metagraphRows(
  graph: Metagraph,
  tempo: number,
  behaviours: Map<number, string>,
  validatorHotkeys: Set<string>,
): MetagraphRow[] {
  const rows: MetagraphRow[] = [];
  for (let uid = 0; uid < graph.n; uid++) {
    const hotkey = graph.hotkeys[uid] as string;
    const behaviour = behaviours.get(uid) ?? "unknown";
    rows.push({
      tempo,
      block: graph.block,
      uid,
      hotkey,
      role: uid === 0 ? "owner" : validatorHotkeys.has(hotkey) ? "validator" : "miner",
      behaviour,
      stake: graph.stake[uid] ?? 0n,
      incentive: (graph.incentive[uid] ?? 0) / U16,
      emission: graph.emission[uid] ?? 0n,
      dividends: (graph.dividends[uid] ?? 0) / U16,
      consensus: (graph.consensus[uid] ?? 0) / U16,
      validatorTrust: (graph.validatorTrust[uid] ?? 0) / U16,
    });
  }
  return rows;
}

function epochIndex(chain: DevChain, netuid: number): bigint {
  return BigInt(chain.read<bigint | number>("SubtensorModule", "SubnetEpochIndex", [netuid]));
}

/** Produces blocks one at a time until the subnet has run `count` more epochs. */
async function advanceEpoch(chain: DevChain, netuid: number, count: number, tempo: number): Promise<void> {
  await waitForEmptyPool(chain);
  const target = epochIndex(chain, netuid) + BigInt(count);
  for (let i = 0; i < (tempo + 2) * (count + 1); i++) {
    chain.newBlock(1);
    if (epochIndex(chain, netuid) >= target) return;
  }
  throw new SimulationError(`the subnet's epoch did not run within ${(tempo + 2) * (count + 1)} blocks`);
}

async function waitForEmptyPool(chain: DevChain): Promise<void> {
  for (let i = 0; chain.pendingExtrinsics.length > 0; i++) {
    if (i > 5_000) throw new SimulationError("transactions stayed in the pool for 10 s");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}
