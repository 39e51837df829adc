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
 * - The storage workload (sim/storage-workload.ts) draws from the seed and the tempo, works one
 *   request at a time, and runs the gateway's maintenance on simulated time once per tempo
 *   (sim/sim-gateway.ts); read latencies go to summary.json, never to files.csv.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { bootstrapSubnet } from "../chain/bootstrap.js";
import type { Metagraph } from "../chain/client.js";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { DEFAULT_RPC_LIMITS } from "../chain/devchain/rpc-server.js";
import { PolkadotChainClient } from "../chain/polkadot-client.js";
import { submitWeights } from "../chain/weights.js";
import { authReady } from "../neurons/auth.js";
import type { ChallengeCounts } from "../neurons/validator/validator-db.js";
import { CHUNK_BYTES } from "../protocol/content-id.js";
import { toU16Weights, U16_MAX } from "../protocol/scoring.js";
import {
  type AdversaryName,
  type AdversarySettings,
  createAdversary,
  createValidatorAdversary,
  type OnlineSchedule,
  type ValidatorAdversary,
  type ValidatorAdversaryName,
} from "./adversaries.js";
import { SimError } from "./errors.js";
import { type MemorySampler, sampleMemory } from "./memory.js";
import { createInProcessHost } from "./node-runtime.js";
import type { MinerSpec, NodeHost, SimMinerNode, SimValidatorNode, ValidatorSpec } from "./nodes.js";
import { createProcessHost, createThreadHost } from "./remote-host.js";
import type {
  ChallengeRow,
  MetagraphRow,
  RunWriter,
  ScoreRow,
  TempoRecord,
  ValidatorMinerRow,
} from "./report.js";
import { assignBehaviours, assignValidatorBehaviours, eventMiners, type Scenario } from "./scenario.js";
import {
  createStorageWorkload,
  type FileRow,
  type MinerLiveness,
  type ReadTiming,
  type StorageWorkload,
  seededRandom,
} from "./storage-workload.js";

const TAO = 1_000_000_000n;

/** The run could not be set up or driven; `cause` has the underlying error. */
export class SimulationError extends SimError {
  override readonly name = "SimulationError";
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
  /** Every get of the storage workload, in order (wall-clock figures: summary only, never CSV). */
  reads: ReadTiming[];
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

/** A validator's keys and role, fixed before the chain starts. */
interface ValidatorKeys {
  stakeTao: number;
  behaviourName: ValidatorAdversaryName | "honest";
  hotkey: KeyringPair;
  coldkey: KeyringPair;
}

/** Every key of the run, derived from fixed URIs (so a seed gives the same accounts). */
interface SimKeys {
  keyring: Keyring;
  sudo: KeyringPair;
  ownerHotkey: KeyringPair;
  minerColdkey: KeyringPair;
  validatorKeys: ValidatorKeys[];
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
  /** Left for good (a leave event, churn, or its uid pruned): never started again. */
  departed?: boolean;
  /** Its uid went to a new registration: no longer in the metagraph or the reports. */
  deregistered?: boolean;
}

interface SimValidator extends ValidatorKeys {
  index: number;
  /** An honest validator node, or the adversary that sets weights in its place. */
  node?: SimValidatorNode;
  adversary?: ValidatorAdversary;
}

/** What is running and must be stopped, filled in as each part starts. */
interface Running {
  chain?: DevChain;
  client?: PolkadotChainClient;
  /** The inclusion pump's timer. */
  pump?: NodeJS.Timeout;
  host?: NodeHost;
}

/** The dev chain as the simulator drives it. */
interface SimChain {
  chain: DevChain;
  client: PolkadotChainClient;
  /** Each subnet's last epoch: its block and per-uid trust (u16), from the chain's epoch hook. */
  epochTrust: Map<number, { block: number; trust: Uint16Array }>;
}

/** The bootstrapped subnet and its nodes, as every step after the bootstrap sees them. */
interface SimNetwork {
  scenario: Scenario;
  chain: DevChain;
  client: PolkadotChainClient;
  netuid: number;
  host: NodeHost;
  miners: SimMiner[];
  validators: SimValidator[];
  timings: SimTimings;
  keys: SimKeys;
  nodesDir: string;
  /** Uid of each registered hotkey (ss58), re-read after every replacement registration. */
  uids: Map<string, number>;
  behaviours: Map<number, string>;
  /** The storage workload and the validator running its gateway, when the scenario has one. */
  storage?: { workload: StorageWorkload; gateway: SimValidator; reads: ReadTiming[] };
  /** Departed miners whose replacement registers at the next tempo's start. */
  replacementsDue: number;
  /** Churn's fractional miners carried to the next tempo. */
  churnCarry: number;
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

function tao(x: number): bigint {
  return BigInt(Math.round(x * 1e9));
}

/**
 * Runs a scenario end to end and returns every tempo's records. The steps, in order:
 * {@link startChain}, {@link bootstrapSimSubnet}, {@link startNodes}, then per tempo
 * {@link runTempos} ({@link setMinersOnline}, {@link runRounds}, {@link collectReports}, the epoch,
 * {@link tempoRecord}, handed to the writer), and {@link stopRunning} whatever happened.
 *
 * @example
 * const result = await runSimulation({ scenario: parseScenario({ miners: 8 }), outDir: "runs/x" });
 */
export async function runSimulation(init: SimulatorInit): Promise<SimResult> {
  const { scenario, outDir, signal } = init;
  const stage = init.onStage ?? (() => undefined);
  const t0 = performance.now();
  const timings = emptyTimings(init.mode ?? "inprocess");
  const nodesDir = join(outDir, "nodes");
  mkdirSync(nodesDir, { recursive: true });

  await cryptoWaitReady();
  await authReady();
  const keys = deriveKeys(scenario);
  const running: Running = {};
  // In process the kernel's peak RSS is exact and free; node processes need sampling.
  const memory =
    timings.mode === "process"
      ? sampleMemory(() => [process.pid, ...(running.host?.pids() ?? [])], 1_000)
      : undefined;
  const finish = (
    netuid: number,
    behaviours: Map<number, string>,
    tempos: TempoRecord[],
    wasAborted: boolean,
    reads: ReadTiming[] = [],
  ): SimResult => {
    finishTimings(timings, t0, memory);
    return { scenario, netuid, behaviours, tempos, timings, aborted: wasAborted, reads };
  };

  try {
    stage("starting the dev chain");
    let t = performance.now();
    const nodeCount = scenario.miners + scenario.validatorStakes.length;
    const { chain, client, epochTrust } = await startChain(keys, nodeCount, running);
    timings.chainStartMs = performance.now() - t;

    stage("bootstrapping the subnet");
    t = performance.now();
    const { netuid, behaviours, miners } = await bootstrapSimSubnet({
      chain,
      client,
      scenario,
      keys,
      nodesDir,
    });
    timings.bootstrapMs = performance.now() - t;
    if (aborted(signal)) return finish(netuid, behaviours, [], true);

    stage(`starting ${scenario.miners} miners and ${keys.validatorKeys.length} validators`);
    t = performance.now();
    // Node processes sign their transactions with the simulator's copy of their key (the miners
    // list grows with replacements, so it is searched when a node asks).
    const pairOf = (address: string): KeyringPair | undefined =>
      keys.validatorKeys.find((v) => v.hotkey.address === address)?.hotkey ??
      net.miners.find((m) => m.hotkey.address === address)?.hotkey;
    running.host = createHost(chain, { client, pairOf }, join(nodesDir, "logs"), timings.mode, init.threads);
    const net: SimNetwork = {
      scenario,
      chain,
      client,
      netuid,
      host: running.host,
      miners,
      validators: [],
      timings,
      keys,
      nodesDir,
      uids: new Map(),
      behaviours,
      replacementsDue: 0,
      churnCarry: 0,
    };
    await startNodes(net, keys.validatorKeys, nodesDir, stage);
    timings.nodesStartMs = performance.now() - t;

    const tempos: TempoRecord[] = [];
    const stopped = await runTempos(net, { behaviours, epochTrust, tempos, init, t0 });
    return finish(netuid, behaviours, tempos, stopped, net.storage?.reads);
  } finally {
    memory?.stop();
    await stopRunning(running);
  }
}

function emptyTimings(mode: "inprocess" | "process"): SimTimings {
  return {
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
    mode,
    epochsCrossedDuringRounds: 0,
  };
}

/** The sudo key, the subnet owner's hotkey, the miners' coldkey and each validator's keys and role. */
function deriveKeys(scenario: Scenario): SimKeys {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const validatorBehaviours = assignValidatorBehaviours(scenario);
  return {
    keyring,
    sudo: keyring.addFromUri("//Alice"),
    ownerHotkey: keyring.addFromUri("//Alice//sim-owner"),
    minerColdkey: keyring.addFromUri("//Sim//miners"),
    validatorKeys: scenario.validatorStakes.map((stakeTao, i) => ({
      stakeTao,
      behaviourName: validatorBehaviours[i] ?? "honest",
      hotkey: keyring.addFromUri(validatorUri(i)),
      coldkey: keyring.addFromUri(`//Sim//validator${i}//coldkey`),
    })),
  };
}

/**
 * Starts the dev chain in `manual` mode with the miners' and validators' funds, the inclusion pump
 * and a chain client; each part goes into `running` as it starts, so a failure still stops it.
 */
async function startChain(keys: SimKeys, nodeCount: number, running: Running): Promise<SimChain> {
  const epochTrust: SimChain["epochTrust"] = new Map();
  const chain = createDevChain({
    port: 0,
    mode: "manual",
    // In process mode every node opens its own chain connection; the default cap (100) would refuse
    // the nodes of a large run.
    rpcLimits: { maxConnections: Math.max(DEFAULT_RPC_LIMITS.maxConnections, nodeCount + 16) },
    pallets: subtensorPallets({
      onEpoch: (id, block, out) => {
        epochTrust.set(id, { block, trust: out.trust });
      },
    }),
    accounts: [
      // Registration burn rises with registrations; a large balance keeps big runs clear of it.
      { address: keys.minerColdkey.address, balance: 1_000_000n * TAO },
      ...keys.validatorKeys.map((v) => ({
        address: v.coldkey.address,
        balance: tao(v.stakeTao) + 100n * TAO,
      })),
    ],
  });
  running.chain = chain;
  await chain.start();
  // The inclusion pump: transactions land in the next block; epochs are driven by the simulator.
  running.pump = setInterval(() => {
    if (chain.pendingExtrinsics.length > 0) chain.newBlock(1);
  }, 2);
  const client = new PolkadotChainClient({ endpoint: chain.endpoint });
  running.client = client;
  await client.start();
  return { chain, client, epochTrust };
}

/**
 * Registers the subnet with the scenario's hyperparameters, the validators and the miners (whose
 * specs it builds), stakes the validators and runs the first epoch, which gives them their permits.
 */
async function bootstrapSimSubnet(init: {
  chain: DevChain;
  client: PolkadotChainClient;
  scenario: Scenario;
  keys: SimKeys;
  nodesDir: string;
}): Promise<{ netuid: number; behaviours: Map<number, string>; miners: SimMiner[] }> {
  const { chain: devChain, client, scenario, nodesDir } = init;
  const { keyring, sudo, ownerHotkey, minerColdkey, validatorKeys } = init.keys;
  const behaviourNames = assignBehaviours(scenario);
  const behaviours = new Map<number, string>();
  const miners: SimMiner[] = [];
  const minerHotkeys = Array.from({ length: scenario.miners }, (_, i) =>
    keyring.addFromUri(`//Sim//miner${i}`),
  );
  const subnet = await bootstrapSubnet(client, {
    sudo,
    ownerHotkey: ownerHotkey.address,
    hyperparameters: [
      ["sudoSetTempo", scenario.tempo],
      ["sudoSetCommitRevealWeightsEnabled", false],
      ["sudoSetWeightsSetRateLimit", 0],
      // One permit per validator, and one for the owner's hotkey: it accrues the owner cut as stake
      // every block, so over a long run (or a long bootstrap: 256 registrations take ~500 blocks)
      // it would otherwise take the smallest validator's permit. Miners never get one.
      ["sudoSetMaxAllowedValidators", scenario.validatorStakes.length + 1],
      ...Object.entries(scenario.hyperparameters),
    ],
    registrations: [
      ...validatorKeys.map((v) => ({ coldkey: v.coldkey, hotkey: v.hotkey.address })),
      ...minerHotkeys.map((hotkey) => ({ coldkey: minerColdkey, hotkey: hotkey.address })),
    ],
    stakes: validatorKeys.map((v) => ({
      coldkey: v.coldkey,
      hotkey: v.hotkey.address,
      amountRao: tao(v.stakeTao),
    })),
    firstEpoch: (id) => advanceEpoch(devChain, id, 1, scenario.tempo),
  });
  const netuid = subnet.netuid;
  behaviours.set(0, "owner");
  for (const [i, v] of validatorKeys.entries()) behaviours.set(subnet.uids[i] as number, v.behaviourName);
  for (let i = 0; i < scenario.miners; i++) {
    const uid = subnet.uids[validatorKeys.length + i] as number;
    const miner = simMiner(scenario, i, behaviourNames[i] ?? "honest", netuid, nodesDir);
    behaviours.set(uid, miner.behaviourName);
    miners.push(miner);
  }
  const permits = await client.metagraph(netuid);
  for (const v of validatorKeys) {
    const uid = permits.hotkeys.indexOf(v.hotkey.address);
    if (permits.validatorPermit[uid] !== true)
      throw new SimulationError(`validator ${v.hotkey.address} (uid ${uid}) did not get a validator permit`);
  }
  return { netuid, behaviours, miners };
}

/** A miner's hotkey, behaviour, schedule and spec, by its index in registration order. */
function simMiner(
  scenario: Scenario,
  i: number,
  behaviourName: AdversaryName | "honest",
  netuid: number,
  nodesDir: string,
): SimMiner {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const hotkeyUri = `//Sim//miner${i}`;
  const o = scenario.adversaryOptions;
  const adversary: AdversarySettings = {
    seed: scenario.seed * 7919 + i,
    lazyKeep: o.lazyKeep,
    corruptRate: o.corruptRate,
    slowDelayMs: Math.round(o.slowDelayFraction * scenario.validator.challengeTimeoutMs),
    offlineFromTempo: o.offlineFromTempo,
    churnPeriod: o.churnPeriod,
    sybilGroup: o.sybilGroup,
    dropAfterChallenges: o.dropAfterChallenges,
    readDelayMs: o.readDelayMs,
  };
  // The schedule and disk share are the simulator's to carry out; the answering behaviour is
  // built where the node runs (sim/nodes.ts).
  const { online, diskShare } =
    behaviourName === "honest"
      ? { online: () => true, diskShare: 1 }
      : createAdversary(behaviourName, { ...adversary, node: noHook, target: noHook });
  // User pieces are 1 MiB leaves: with a storage workload miners take chunks that large, and
  // their disk is counted in such chunks.
  const storage = scenario.storage.enabled;
  const chunkSize = storage ? Math.max(scenario.miner.chunkSize, CHUNK_BYTES) : scenario.miner.chunkSize;
  const freeChunks = storage ? scenario.storage.minerFreeChunks : scenario.miner.freeChunks;
  return {
    index: i,
    hotkey: keyring.addFromUri(hotkeyUri),
    behaviourName,
    online,
    spec: {
      index: i,
      hotkeyUri,
      behaviour: behaviourName,
      adversary,
      netuid,
      dbRoot: join(nodesDir, "miners"),
      chunkSize,
      diskBytes: Math.floor(freeChunks * diskShare) * chunkSize,
    },
  };
}

function createHost(
  chain: DevChain,
  service: { client: PolkadotChainClient; pairOf(address: string): KeyringPair | undefined },
  logDir: string,
  mode: "inprocess" | "process",
  threads: number | undefined,
): NodeHost {
  const { client } = service;
  // Node processes reach the chain through the simulator's client (sim/ipc-chain-client.ts): a
  // client of their own cost each 0.45 s of CPU to start and 13 MiB.
  if (mode === "process") return createProcessHost({ endpoint: chain.endpoint, logDir, chain: service });
  if (threads === 0) return createInProcessHost({ chain: client, logDir });
  return createThreadHost({ endpoint: chain.endpoint, logDir, ...(threads ? { threads } : {}) });
}

/**
 * Starts every miner (publishing its address) and every honest validator, then runs an epoch so
 * tempo 1 starts right after one.
 */
async function startNodes(
  net: SimNetwork,
  validatorKeys: readonly ValidatorKeys[],
  nodesDir: string,
  stage: (stage: string) => void,
): Promise<void> {
  // Starting takes a while (about a second of CPU per node process): say how far it got.
  let said = performance.now();
  await startMiners(net, net.miners, (started) => {
    if (performance.now() - said < 5_000 || started === net.miners.length) return;
    said = performance.now();
    stage(`${started}/${net.miners.length} miners started`);
  });
  net.validators.push(...(await startValidators(net, validatorKeys, nodesDir)));
  const gateway = net.validators.find((v) => v.node?.gatewayUrl !== undefined);
  if (gateway?.node?.gatewayUrl)
    net.storage = {
      workload: createStorageWorkload({ scenario: net.scenario, gatewayUrl: gateway.node.gatewayUrl }),
      gateway,
      reads: [],
    };
  await advanceEpoch(net.chain, net.netuid, 1, net.scenario.tempo);
}

/** Starts `list`, publishes each one's address and points the outsourcers at their target. */
async function startMiners(
  net: SimNetwork,
  list: readonly SimMiner[],
  onBatch?: (started: number) => void,
): Promise<void> {
  await inBatches(
    list,
    8,
    async (m) => {
      m.node = await net.host.startMiner(m.spec);
      if (net.host.mode === "process") net.timings.nodeProcesses++;
    },
    onBatch,
  );
  // Miners start concurrently but announce one by one: one transaction per block, so the block
  // count (and with it every epoch's emission) does not depend on how transactions were batched.
  for (const m of list) {
    if (!m.node) continue;
    await net.client.setCommitment(m.hotkey, net.netuid, new TextEncoder().encode(m.node.announcedAddress));
  }
  await retargetOutsourcers(net.miners);
}

/** Outsourcers forward to the first honest miner, at whatever address it has now. */
async function retargetOutsourcers(miners: readonly SimMiner[]): Promise<void> {
  const address = miners.find((m) => m.behaviourName === "honest")?.node?.announcedAddress ?? "";
  for (const m of miners) {
    if (m.behaviourName !== "outsourcer" || !m.node || m.forwardsTo === address) continue;
    await m.node.retarget(address);
    m.forwardsTo = address;
  }
}

/**
 * Starts the honest validators' nodes and makes the adversarial ones' stand-ins. They start
 * concurrently (a start only reads the chain); the list keeps their order.
 */
function startValidators(
  net: SimNetwork,
  validatorKeys: readonly ValidatorKeys[],
  nodesDir: string,
): Promise<SimValidator[]> {
  const { scenario } = net;
  return Promise.all(
    validatorKeys.map(async (v, i): Promise<SimValidator> => {
      if (v.behaviourName !== "honest")
        return {
          index: i,
          ...v,
          adversary: createValidatorAdversary(v.behaviourName, scenario.seed * 104_729 + i),
        };
      const gateway = i === gatewayValidator(validatorKeys, scenario);
      const s = scenario.storage;
      const spec: ValidatorSpec = {
        index: i,
        hotkeyUri: validatorUri(i),
        netuid: net.netuid,
        dir: join(nodesDir, `validator${i}`),
        seed: scenario.seed,
        // Its pieces are 1 MiB leaves, so its chunks are that large (its synthetic fill too).
        chunkSize: gateway ? Math.max(scenario.miner.chunkSize, CHUNK_BYTES) : scenario.miner.chunkSize,
        chunksPerChallenge: scenario.validator.chunksPerChallenge,
        leavesPerChunk: scenario.validator.leavesPerChunk,
        challengeTimeoutMs: scenario.validator.challengeTimeoutMs,
        fillPerRound: scenario.validator.fillPerRound,
        policy: scenario.policy,
        ...(gateway
          ? {
              gateway: {
                dataShards: s.dataShards,
                parityShards: s.parityShards,
                repairBandwidth: s.repairBandwidth,
                offlineGraceMs: s.offlineGraceTempos * tempoMs(scenario),
                repairThreshold: s.repairThreshold,
                repair: s.repair,
                scoreRetrievals: s.scoreRetrievals,
              },
            }
          : {}),
      };
      const node = await net.host.startValidator(spec);
      if (net.host.mode === "process") net.timings.nodeProcesses++;
      return { index: i, ...v, node };
    }),
  );
}

/** The validator running the storage gateway: the most staked honest one (none without a workload). */
function gatewayValidator(validatorKeys: readonly ValidatorKeys[], scenario: Scenario): number {
  if (!scenario.storage.enabled) return -1;
  let best = -1;
  for (const [i, v] of validatorKeys.entries())
    if (v.behaviourName === "honest" && (best < 0 || v.stakeTao > (validatorKeys[best]?.stakeTao ?? 0)))
      best = i;
  return best;
}

/** Simulated milliseconds per tempo: what the gateway's clock moves on by each tempo. */
function tempoMs(scenario: Scenario): number {
  return scenario.tempo * scenario.storage.blockSeconds * 1000;
}

/** What the tempo loop reads and where its records go. */
interface TempoLoop {
  behaviours: Map<number, string>;
  epochTrust: SimChain["epochTrust"];
  /** Every finished tempo's record is appended here. */
  tempos: TempoRecord[];
  init: SimulatorInit;
  /** When the run started (for progress). */
  t0: number;
}

/**
 * Runs the scenario's tempos: miners on and off line, the validators' rounds, the epoch, and each
 * tempo's record handed to the writer as soon as it exists. Returns whether it was aborted.
 */
async function runTempos(net: SimNetwork, loop: TempoLoop): Promise<boolean> {
  const { scenario, timings } = net;
  const uidOf = await readUids(net);
  await allowPruning(net);
  // Each (validator, miner) pair's challenge counts at the end of the previous tempo.
  const lastCounts = new Map<string, ChallengeCounts>();
  for (let tempo = 1; tempo <= scenario.tempos; tempo++) {
    if (aborted(loop.init.signal)) return true;
    const epochBefore = epochIndex(net.chain, net.netuid);
    let t = performance.now();
    await replaceDeparted(net, uidOf);
    await setMinersOnline(net, tempo);
    await departMiners(net, tempo);
    timings.lifecycleMs += performance.now() - t;

    const storageStep = await runStorageTempo(net, tempo);

    t = performance.now();
    await runRounds(net, tempo, uidOf);
    const roundsMs = performance.now() - t;
    await waitForEmptyPool(net.chain);
    if (epochIndex(net.chain, net.netuid) !== epochBefore) timings.epochsCrossedDuringRounds++;

    // Scores and challenge counts, before the epoch.
    const { scores, challenges } = await collectReports(net, tempo, uidOf, lastCounts);

    t = performance.now();
    await advanceEpoch(net.chain, net.netuid, 1, scenario.tempo);
    const blocksMs = performance.now() - t;
    t = performance.now();
    const graph = await net.client.metagraph(net.netuid, { weights: true });
    const metagraphMs = performance.now() - t;
    const record = tempoRecord(net, tempo, graph, uidOf, {
      behaviours: loop.behaviours,
      trust: loop.epochTrust.get(net.netuid)?.trust,
      scores,
      challenges,
    });
    if (net.storage && storageStep) {
      const measured = await net.storage.workload.measure(tempo, liveness(net));
      let minerEmission = 0n;
      for (const row of record.metagraph) if (row.role === "miner") minerEmission += row.emission;
      record.files = { tempo, ...measured, ...storageStep, minerEmission };
    }
    loop.tempos.push(record);
    loop.init.writer?.appendTempo(record);
    timings.roundsMs += roundsMs;
    timings.blocksMs += blocksMs;
    timings.metagraphMs += metagraphMs;
    timings.perTempo.push({ tempo, roundsMs, blocksMs, metagraphMs });
    loop.init.onProgress?.({
      tempo,
      of: scenario.tempos,
      block: graph.block,
      elapsedMs: performance.now() - loop.t0,
      honestShare: honestMinerShare(record),
    });
  }
  return false;
}

/**
 * Each neuron's uid, read once all are registered and again after each replacement registration
 * (which takes a pruned uid); a hotkey no longer registered has -1.
 */
async function readUids(net: SimNetwork): Promise<(hotkey: KeyringPair) => number> {
  await refreshUids(net);
  return (hotkey) => net.uids.get(hotkey.address) ?? -1;
}

async function refreshUids(net: SimNetwork): Promise<void> {
  const graph = await net.client.metagraph(net.netuid);
  net.uids.clear();
  graph.hotkeys.forEach((h, uid) => {
    net.uids.set(h, uid);
  });
}

/** Miners still registered (a departed miner stays until its uid is pruned). */
function registeredMiners(net: SimNetwork): SimMiner[] {
  return net.miners.filter((m) => !m.deregistered);
}

/** Whether the scenario makes miners leave for good (so new ones register in their place). */
function hasDepartures(scenario: Scenario): boolean {
  return scenario.storage.churnPerTempo > 0 || scenario.events.some((e) => e.action === "leave");
}

/**
 * Makes the subnet full, so a new registration prunes a uid as on a real subnet (the lowest
 * emission, subtensor's rule). A small dev subnet is under subtensor's MinAllowedUids (64), which
 * no extrinsic lowers, so the simulator writes it with the dev chain's dev_setStorage first.
 */
async function allowPruning(net: SimNetwork): Promise<void> {
  if (!hasDepartures(net.scenario)) return;
  const registered = net.uids.size;
  const runtime = net.chain.runtime;
  const key = runtime.storageKey(runtime.storageItem("SubtensorModule", "MinAllowedUids"), [net.netuid]);
  net.chain.setStorage([[key, new Uint8Array([registered & 0xff, registered >> 8])]]);
  await net.client.sudoAdmin(net.keys.sudo, "sudoSetMaxAllowedUids", [net.netuid, registered]);
  // A new registration is immune for a tempo (so the replacements of one tempo do not prune each
  // other), while the first miners, registered at the bootstrap, are past theirs by tempo 2.
  await net.client.sudoAdmin(net.keys.sudo, "sudoSetImmunityPeriod", [net.netuid, net.scenario.tempo + 2]);
  await waitForEmptyPool(net.chain);
}

/**
 * Miners leaving for good this tempo: `leave` events, then churn (a seeded choice among the
 * miners still up). Each is stopped for good; its replacement registers at the next tempo's
 * start, when the departed miner's missed challenges have lowered its emission, so the chain's
 * pruning (lowest emission) takes its uid as it would on a real subnet.
 */
async function departMiners(net: SimNetwork, tempo: number): Promise<void> {
  const leaving = new Set<SimMiner>();
  for (const e of net.scenario.events) {
    if (e.tempo !== tempo || e.action !== "leave") continue;
    for (const index of eventMiners(e)) {
      const m = net.miners[index];
      if (m && !m.departed) leaving.add(m);
    }
  }
  const s = net.scenario.storage;
  if (s.churnPerTempo > 0 && tempo >= s.churnFromTempo) {
    net.churnCarry += s.churnPerTempo;
    const count = Math.floor(net.churnCarry);
    net.churnCarry -= count;
    const random = seededRandom((net.scenario.seed * 48_271 + tempo * 31) >>> 0);
    const up = net.miners.filter((m) => !m.departed && !leaving.has(m) && m.node);
    for (let i = 0; i < count && up.length > 0; i++) {
      const [m] = up.splice(Math.floor(random() * up.length), 1);
      if (m) leaving.add(m);
    }
  }
  for (const m of leaving) {
    m.departed = true;
    await m.node?.stop();
    delete m.node;
    net.replacementsDue++;
  }
}

/**
 * Registers a new honest miner for each departure of the last tempo and starts it. The chain
 * prunes the uid with the lowest emission: usually the departed miner's, but it may be another
 * (an adversary earning nothing); whichever miner lost its uid is stopped for good.
 */
async function replaceDeparted(net: SimNetwork, uidOf: (hotkey: KeyringPair) => number): Promise<void> {
  if (net.replacementsDue === 0) return;
  const fresh: SimMiner[] = [];
  for (; net.replacementsDue > 0; net.replacementsDue--) {
    const m = simMiner(net.scenario, net.miners.length, "honest", net.netuid, net.nodesDir);
    const uid = await net.client.burnedRegister(net.keys.minerColdkey, net.netuid, m.hotkey.address);
    net.behaviours.set(uid, m.behaviourName);
    net.miners.push(m);
    fresh.push(m);
  }
  await refreshUids(net);
  for (const m of net.miners) {
    if (m.deregistered || uidOf(m.hotkey) >= 0) continue;
    m.deregistered = true;
    m.departed = true;
    await m.node?.stop();
    delete m.node;
  }
  await startMiners(
    net,
    fresh.filter((m) => !m.deregistered),
  );
}

/** Which miners' pieces are gone for good and which are down now, by hotkey. */
function liveness(net: SimNetwork): MinerLiveness {
  const byHotkey = new Map(net.miners.map((m) => [m.hotkey.address, m]));
  return {
    gone: (hotkey) => {
      const m = byHotkey.get(hotkey);
      return m === undefined || m.departed === true;
    },
    down: (hotkey) => {
      const m = byHotkey.get(hotkey);
      return m === undefined || m.departed === true || m.node === undefined;
    },
  };
}

/**
 * The storage workload's part of a tempo, before the validators' rounds (so the reads a miner
 * served or refused count in this tempo's weights): a gateway restart when an event asks, the
 * gateway's maintenance on a tempo's worth of simulated time, then the clients' puts and gets.
 */
async function runStorageTempo(
  net: SimNetwork,
  tempo: number,
): Promise<
  | Omit<FileRow, "tempo" | "files" | "userBytes" | "storedBytes" | "lost" | "atRisk" | "minerEmission">
  | undefined
> {
  const storage = net.storage;
  const node = storage?.gateway.node;
  if (!storage || !node) return undefined;
  if (net.scenario.events.some((e) => e.tempo === tempo && e.action === "gateway-restart"))
    storage.workload.setGateway(await node.restartGateway());
  const tick = await node.storageTick(tempoMs(net.scenario));
  const { puts, putsFailed, reads } = await storage.workload.runTempo(tempo);
  storage.reads.push(...reads);
  return {
    puts,
    putsFailed,
    gets: reads.length,
    getsVerified: reads.filter((r) => r.ok).length,
    piecesRepaired: tick.repaired,
    piecesMarkedLost: tick.marked,
    repairBytes: tick.repairBytes,
    repairTemposMean: tick.repairTempos.mean,
    repairTemposMax: tick.repairTempos.max,
  };
}

/** Applies this tempo's scenario events and online schedules: stops and restarts miners. */
async function setMinersOnline(net: SimNetwork, tempo: number): Promise<void> {
  for (const e of net.scenario.events) {
    if (e.tempo !== tempo || (e.action !== "online" && e.action !== "offline")) continue;
    for (const index of eventMiners(e)) {
      const m = net.miners[index];
      if (m) m.forced = e.action === "online";
    }
  }
  const restart: SimMiner[] = [];
  for (const m of net.miners) {
    if (m.departed) continue;
    const want = m.forced ?? m.online(tempo);
    if (want && !m.node) restart.push(m);
    else if (!want && m.node) {
      await m.node.stop();
      delete m.node;
      delete m.forwardsTo;
    }
  }
  await startMiners(net, restart);
}

/**
 * The honest validators' rounds (all validators concurrently, round after round; weights in the
 * last), then the adversarial validators' weights, once per tempo, one after the other.
 */
async function runRounds(
  net: SimNetwork,
  tempo: number,
  uidOf: (hotkey: KeyringPair) => number,
): Promise<void> {
  const { scenario, validators } = net;
  const lastEpoch = await net.client.metagraph(net.netuid);
  for (let r = 0; r < scenario.roundsPerTempo; r++)
    await Promise.all(validators.map(async (v) => v.node?.runRound(r === scenario.roundsPerTempo - 1)));
  for (const v of validators) {
    if (!v.adversary) continue;
    const weights = v.adversary.weights({
      graph: lastEpoch,
      self: uidOf(v.hotkey),
      tempo,
      minerUids: registeredMiners(net).map((m) => uidOf(m.hotkey)),
    });
    await submitWeights(net.client, v.hotkey, net.netuid, toU16Weights(weights));
  }
}

/**
 * Each honest validator's score of every miner and the challenges it sent each one this tempo
 * (the difference of its cumulative counts from `lastCounts`, which it updates).
 */
async function collectReports(
  net: SimNetwork,
  tempo: number,
  uidOf: (hotkey: KeyringPair) => number,
  lastCounts: Map<string, ChallengeCounts>,
): Promise<{ scores: ScoreRow[]; challenges: ChallengeRow[] }> {
  const scores: ScoreRow[] = [];
  const challenges: ChallengeRow[] = [];
  const minerHotkeys = net.miners.map((m) => m.hotkey.address);
  const none: ChallengeCounts = { pass: 0, fail: 0, timeout: 0 };
  for (const v of net.validators) {
    if (!v.node) continue;
    const vUid = uidOf(v.hotkey);
    const report = await v.node.report(minerHotkeys);
    for (const m of registeredMiners(net)) {
      const mUid = uidOf(m.hotkey);
      const row: ValidatorMinerRow = {
        tempo,
        validatorUid: vUid,
        minerUid: mUid,
        behaviour: m.behaviourName,
      };
      scores.push({ ...row, score: report.scores[mUid] ?? 0 });
      const now = report.counts[m.index] ?? none;
      const key = `${v.index}/${m.index}`;
      const before = lastCounts.get(key) ?? none;
      lastCounts.set(key, { pass: now.pass, fail: now.fail, timeout: now.timeout });
      challenges.push({
        ...row,
        pass: now.pass - before.pass,
        fail: now.fail - before.fail,
        timeout: now.timeout - before.timeout,
      });
    }
  }
  return { scores, challenges };
}

/** The tempo's record from the metagraph read after its epoch; each score row gets its weight. */
function tempoRecord(
  net: SimNetwork,
  tempo: number,
  graph: Metagraph,
  uidOf: (hotkey: KeyringPair) => number,
  rows: {
    behaviours: Map<number, string>;
    trust: Uint16Array | undefined;
    scores: ScoreRow[];
    challenges: ChallengeRow[];
  },
): TempoRecord {
  const { validators } = net;
  const miners = registeredMiners(net);
  const record: TempoRecord = {
    tempo,
    block: graph.block,
    metagraph: metagraphRows(
      graph,
      tempo,
      rows.behaviours,
      new Set(validators.map((v) => v.hotkey.address)),
      rows.trust,
    ),
    scores: rows.scores,
    challenges: rows.challenges,
    weights: validators.map((v) => {
      const uid = graph.hotkeys.indexOf(v.hotkey.address);
      const row = new Map(graph.weights?.[uid] ?? []);
      return miners.map((m) => row.get(uidOf(m.hotkey)) ?? 0);
    }),
    minerUids: miners.map((m) => uidOf(m.hotkey)),
    validatorUids: validators.map((v) => uidOf(v.hotkey)),
  };
  for (const s of record.scores) {
    const vi = record.validatorUids.indexOf(s.validatorUid);
    const mi = record.minerUids.indexOf(s.minerUid);
    s.weight = record.weights[vi]?.[mi] ?? 0;
  }
  return record;
}

/** Total time and peak memory, once the run is over. */
function finishTimings(timings: SimTimings, t0: number, memory: MemorySampler | undefined): void {
  timings.totalMs = performance.now() - t0;
  timings.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  memory?.sample();
  const pss = memory?.peakBytes() ?? null;
  timings.peakMemoryBytes = pss ?? timings.peakRssBytes;
  timings.peakMemoryMethod =
    timings.mode === "inprocess" ? "rss" : pss === null ? "rss-this-process-only" : "pss-sampled";
}

/** Stops whatever `running` holds: the nodes, then the client, then the chain. */
async function stopRunning(running: Running): Promise<void> {
  if (running.pump) clearInterval(running.pump);
  // Let the chain's finality notifications of the last transactions arrive before disconnecting.
  await new Promise((resolve) => setTimeout(resolve, 150));
  await running.host?.stop().catch(() => undefined);
  await running.client?.stop().catch(() => undefined);
  await running.chain?.stop().catch(() => undefined);
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
      incentive: (graph.incentive[uid] ?? 0) / U16_MAX,
      emission: graph.emission[uid] ?? 0n,
      dividends: (graph.dividends[uid] ?? 0) / U16_MAX,
      trust: trust && uid < trust.length ? (trust[uid] as number) / U16_MAX : null,
      consensus: (graph.consensus[uid] ?? 0) / U16_MAX,
      validatorTrust: (graph.validatorTrust[uid] ?? 0) / U16_MAX,
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
