/**
 * The whole network on one machine: the embedded dev chain, a subnet bootstrapped through the
 * chain client, real miners (libp2p over TCP on 127.0.0.1, SQLite under `<out>/nodes/`) and real
 * validators, driven tempo by tempo. The nodes run in this process (`inprocess`, for hundreds: on
 * worker threads, one per core) or one OS process each (`process`); sim/remote-host.ts hosts both,
 * and every host runs nodes the same way (sim/node-runtime.ts), so a seed gives the same CSV files
 * in either mode.
 *
 * Determinism (same seed and scenario → identical CSV files):
 * - The chain runs in `manual` mode. The simulator includes transactions with an inclusion pump (a
 *   block as soon as the pool holds one) and drives epochs itself: after the validators' rounds it
 *   produces blocks one by one until the subnet's epoch runs, then reads the metagraph at that
 *   block. How transactions were batched into blocks before the epoch does not change the epoch's
 *   block number or what it pays.
 * - Validators get a seeded `random` whose draws are keyed by the miner they are for
 *   (sim/nodes.ts `perMinerRandom`), so miner m always gets the same nonces whatever order the
 *   concurrent round visits miners in. Spot retrievals are off (their outcomes depend on timing).
 * - The scoring policy's latency term is off by default (see scenario.ts): latencies differ by
 *   milliseconds between runs.
 * - Miners read the metagraph once at start (budgets never move with the validators' growing
 *   stake); wall times and latencies go to timings.json, never to CSV.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { type Metagraph, PolkadotChainClient } from "../chain/client.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { submitWeights } from "../chain/weights.js";
import { authReady } from "../neurons/auth.js";
import {
  type AdversaryName,
  type AdversarySettings,
  createAdversary,
  createValidatorAdversary,
  type OnlineSchedule,
  type ValidatorAdversary,
  type ValidatorAdversaryName,
} from "./adversaries.js";
import { sampleMemory } from "./memory.js";
import { createInProcessHost } from "./node-runtime.js";
import type { MinerSpec, NodeHost, SimMinerNode, SimValidatorNode } from "./nodes.js";
import { createProcessHost, createThreadHost } from "./remote-host.js";
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
  /**
   * Peak memory of the whole run, bytes. In process, this process's peak RSS (the kernel's exact
   * figure). With node processes, the summed PSS of this process and every node process, sampled
   * every second (sim/memory.ts); where PSS cannot be read (not Linux), this process's RSS only.
   */
  peakMemoryBytes: number;
  peakMemoryMethod: "rss" | "pss-sampled" | "rss-this-process-only";
  /** Node processes started (`process` mode; restarts count again). */
  nodeProcesses: number;
  mode: "inprocess" | "process";
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
  /** Where the nodes run: `inprocess` (default) or `process` (one OS process each). */
  mode?: "inprocess" | "process";
  /**
   * `inprocess`: worker threads hosting the nodes (default one per core, so a big run uses every
   * core); 0 runs every node on the simulator's own thread.
   */
  threads?: number;
}

interface SimMiner {
  index: number;
  hotkey: KeyringPair;
  behaviourName: AdversaryName | "honest";
  spec: MinerSpec;
  online: OnlineSchedule;
  /** Online state forced by a scenario event (overrides the schedule from that tempo on). */
  forced?: boolean;
  node?: SimMinerNode;
  /** For an outsourcer: the address it was last told to forward to. */
  forwardsTo?: string;
}

interface SimValidator {
  index: number;
  hotkey: KeyringPair;
  coldkey: KeyringPair;
  stakeTao: number;
  behaviourName: ValidatorAdversaryName | "honest";
  /** An honest validator node, or the adversary that sets weights in its place. */
  node?: SimValidatorNode;
  adversary?: ValidatorAdversary;
}

const noHook = (): never => {
  throw new SimulationError("an adversary's live hooks are only given where its node runs");
};

function validatorUri(index: number): string {
  return `//Sim//validator${index}`;
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
    peakMemoryBytes: 0,
    peakMemoryMethod: "rss",
    nodeProcesses: 0,
    mode: init.mode ?? "inprocess",
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
    hotkey: keyring.addFromUri(validatorUri(i)),
    coldkey: keyring.addFromUri(`//Sim//validator${i}//coldkey`),
  }));

  let chain: DevChain | undefined;
  let client: PolkadotChainClient | undefined;
  let pump: NodeJS.Timeout | undefined;
  let host: NodeHost | undefined;
  // In process the kernel's peak RSS is exact and free; node processes need sampling.
  const memory =
    timings.mode === "process"
      ? sampleMemory(() => [process.pid, ...(host?.pids() ?? [])], 1_000)
      : undefined;
  const miners: SimMiner[] = [];
  const validators: SimValidator[] = [];
  const tempos: TempoRecord[] = [];
  const behaviours = new Map<number, string>();
  let netuid = -1;
  /** Each subnet's last epoch: its block and per-uid trust (u16), from the chain's epoch hook. */
  const epochTrust = new Map<number, { block: number; trust: Uint16Array }>();

  try {
    // --- chain ---
    stage("starting the dev chain");
    let t = performance.now();
    const tao = (x: number) => BigInt(Math.round(x * 1e9));
    chain = createDevChain({
      port: 0,
      mode: "manual",
      pallets: subtensorPallets({
        onEpoch: (id, block, out) => {
          epochTrust.set(id, { block, trust: out.trust });
        },
      }),
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
      // One permit per validator, and one for the owner's hotkey: it accrues the owner cut as stake
      // every block, so over a long run (or a long bootstrap: 256 registrations take ~500 blocks)
      // it would otherwise take the smallest validator's permit. Miners never get one.
      ["sudoSetMaxAllowedValidators", scenario.validatorStakes.length + 1],
      ...Object.entries(scenario.hyperparameters),
    ];
    for (const [setter, value] of setters) await client.sudoAdmin(sudo, setter, [netuid, value]);
    behaviours.set(0, "owner");
    for (const v of validatorKeys) {
      const uid = await client.burnedRegister(v.coldkey, netuid, v.hotkey.address);
      behaviours.set(uid, v.behaviourName);
    }
    const o = scenario.adversaryOptions;
    for (let i = 0; i < scenario.miners; i++) {
      const hotkeyUri = `//Sim//miner${i}`;
      const hotkey = keyring.addFromUri(hotkeyUri);
      const uid = await client.burnedRegister(minerColdkey, netuid, hotkey.address);
      const behaviourName = behaviourNames[i] ?? "honest";
      behaviours.set(uid, behaviourName);
      const adversary: AdversarySettings = {
        seed: scenario.seed * 7919 + i,
        lazyKeep: o.lazyKeep,
        corruptRate: o.corruptRate,
        slowDelayMs: Math.round(o.slowDelayFraction * scenario.validator.challengeTimeoutMs),
        offlineFromTempo: o.offlineFromTempo,
        churnPeriod: o.churnPeriod,
        sybilGroup: o.sybilGroup,
      };
      // The schedule and disk share are the simulator's to carry out; the answering behaviour is
      // built where the node runs (sim/nodes.ts).
      const { online, diskShare } =
        behaviourName === "honest"
          ? { online: () => true, diskShare: 1 }
          : createAdversary(behaviourName, { ...adversary, node: noHook, target: noHook });
      miners.push({
        index: i,
        hotkey,
        behaviourName,
        online,
        spec: {
          index: i,
          hotkeyUri,
          behaviour: behaviourName,
          adversary,
          netuid,
          dbRoot: join(nodesDir, "miners"),
          chunkSize: scenario.miner.chunkSize,
          diskBytes: Math.floor(scenario.miner.freeChunks * diskShare) * scenario.miner.chunkSize,
        },
      });
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
    if (aborted(signal)) return await finish(true);

    // --- nodes ---
    stage(`starting ${scenario.miners} miners and ${validatorKeys.length} validators`);
    t = performance.now();
    const logDir = join(nodesDir, "logs");
    host =
      timings.mode === "process"
        ? createProcessHost({ endpoint: chain.endpoint, logDir })
        : init.threads === 0
          ? createInProcessHost({ chain: client, logDir })
          : createThreadHost({
              endpoint: chain.endpoint,
              logDir,
              ...(init.threads ? { threads: init.threads } : {}),
            });
    const nodeHost = host;
    const honestTarget = miners.find((m) => m.behaviourName === "honest");
    const startMiner = async (m: SimMiner) => {
      m.node = await nodeHost.startMiner(m.spec);
      if (nodeHost.mode === "process") timings.nodeProcesses++;
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
    // Outsourcers forward to the first honest miner, at whatever address it has now.
    const retargetOutsourcers = async () => {
      const address = honestTarget?.node?.announcedAddress ?? "";
      for (const m of miners) {
        if (m.behaviourName !== "outsourcer" || !m.node || m.forwardsTo === address) continue;
        await m.node.retarget(address);
        m.forwardsTo = address;
      }
    };
    const startAll = async (list: SimMiner[], onBatch?: (started: number) => void) => {
      await inBatches(list, 8, startMiner, onBatch);
      for (const m of list) await announce(m);
      await retargetOutsourcers();
    };
    // Starting takes a while (about a second of CPU per node process): say how far it got.
    let said = performance.now();
    await startAll(miners, (started) => {
      if (performance.now() - said < 5_000 || started === miners.length) return;
      said = performance.now();
      stage(`${started}/${miners.length} miners started`);
    });
    // Validators start concurrently (a start only reads the chain); the list keeps their order.
    const started = await Promise.all(
      validatorKeys.map(async (v, i): Promise<SimValidator> => {
        if (v.behaviourName !== "honest")
          return {
            index: i,
            ...v,
            adversary: createValidatorAdversary(v.behaviourName, scenario.seed * 104_729 + i),
          };
        const node = await nodeHost.startValidator({
          index: i,
          hotkeyUri: validatorUri(i),
          netuid,
          dir: join(nodesDir, `validator${i}`),
          seed: scenario.seed,
          chunkSize: scenario.miner.chunkSize,
          chunksPerChallenge: scenario.validator.chunksPerChallenge,
          leavesPerChunk: scenario.validator.leavesPerChunk,
          challengeTimeoutMs: scenario.validator.challengeTimeoutMs,
          fillPerRound: scenario.validator.fillPerRound,
          policy: scenario.policy,
        });
        if (nodeHost.mode === "process") timings.nodeProcesses++;
        return { index: i, ...v, node };
      }),
    );
    validators.push(...started);
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
      if (aborted(signal)) return await finish(true);
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
          delete m.forwardsTo;
        }
      }
      await startAll(restart);
      timings.lifecycleMs += performance.now() - t;

      t = performance.now();
      const lastEpoch = await client.metagraph(netuid);
      for (let r = 0; r < scenario.roundsPerTempo; r++)
        await Promise.all(validators.map(async (v) => v.node?.runRound(r === scenario.roundsPerTempo - 1)));
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
      const minerHotkeys = miners.map((m) => m.hotkey.address);
      for (const v of validators) {
        if (!v.node) continue;
        const vUid = minerUids.get(v.hotkey.address) ?? -1;
        const report = await v.node.report(minerHotkeys);
        const s = report.scores;
        for (const m of miners) {
          const mUid = minerUids.get(m.hotkey.address) ?? -1;
          scores.push({
            tempo,
            validatorUid: vUid,
            minerUid: mUid,
            behaviour: m.behaviourName,
            score: s[mUid] ?? 0,
          });
          const now = report.counts[m.index] ?? { pass: 0, fail: 0, timeout: 0 };
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
          epochTrust.get(netuid)?.trust,
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
    return await finish(false);
  } finally {
    memory?.stop();
    if (pump) clearInterval(pump);
    // Let the chain's finality notifications of the last transactions arrive before disconnecting.
    await new Promise((resolve) => setTimeout(resolve, 150));
    await host?.stop().catch(() => undefined);
    await client?.stop().catch(() => undefined);
    await chain?.stop().catch(() => undefined);
  }

  async function finish(wasAborted: boolean): Promise<SimResult> {
    timings.totalMs = performance.now() - t0;
    timings.peakRssBytes = process.resourceUsage().maxRSS * 1024;
    memory?.sample();
    const pss = memory?.peakBytes() ?? null;
    timings.peakMemoryBytes = pss ?? timings.peakRssBytes;
    timings.peakMemoryMethod =
      timings.mode === "inprocess" ? "rss" : pss === null ? "rss-this-process-only" : "pss-sampled";
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
  trust: Uint16Array | undefined,
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
      trust: trust && uid < trust.length ? (trust[uid] as number) / U16 : null,
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
  onBatch?: (done: number) => void,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map(fn));
    onBatch?.(Math.min(items.length, i + size));
  }
}
