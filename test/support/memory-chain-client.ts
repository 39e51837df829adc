/**
 * A `ChainClient` (and `ChainAdmin`) that keeps a small subtensor in memory, for unit tests and
 * benches that need a chain's answers but not a chain: no sockets, no blocks unless asked for.
 * It passes the same compliance suite as the real client (test/memory-chain-client.test.ts).
 *
 * Like the dev chain in `instant` mode, every transaction makes one block. `advance` makes empty
 * blocks; a subnet's epoch runs on subtensor's schedule and hands validator permits to the
 * `maxAllowedValidators` hotkeys with the most stake. Left out: emission, consensus and bonds
 * (their vectors stay 0), burn and stake costs (balances move only by `transfer`), and the
 * reveal window (a reveal succeeds whenever its commit exists).
 *
 * @example
 * const chain = new MemoryChainClient();
 * const { netuid } = await bootstrapSubnet(chain, { sudo: alice, ownerHotkey: owner.address, ... });
 * chain.advance(chain.blocksToEpoch(netuid));
 */
import { createHash } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainAdmin } from "../../chain/admin.js";
import type {
  AxonInfo,
  ChainClient,
  Hyperparameters,
  Metagraph,
  MetagraphOptions,
  PendingReveal,
  ReadOptions,
  TxResult,
} from "../../chain/client.js";
import { ChainError, ChainModuleError } from "../../chain/errors.js";

/** Subtensor's defaults for a new subnet, as far as nodes read them. */
const DEFAULT_HYPERPARAMETERS: Hyperparameters = {
  tempo: 360,
  weightsVersionKey: 0n,
  weightsSetRateLimit: 100,
  minAllowedWeights: 1,
  maxAllowedValidators: 64,
  maxAllowedUids: 256,
  immunityPeriod: 4096,
  kappa: 32_767,
  bondsMovingAverage: 900_000n,
  commitRevealWeightsEnabled: true,
  revealPeriodEpochs: 1,
  activityCutoff: 5000,
  liquidAlphaEnabled: false,
  yuma3Enabled: false,
  burn: 0n,
};

/** Setters accepted and ignored: no stake threshold here, any stake can earn a permit. */
const IGNORED_SETTERS = new Set(["sudoSetStakeThreshold"]);

interface Neuron {
  hotkey: string;
  coldkey: string;
  stake: bigint;
  permit: boolean;
  lastUpdate: number;
  registeredAt: number;
  axon: AxonInfo | null;
  weights: [number, number][];
}

interface Subnet {
  hyperparameters: Hyperparameters;
  neurons: Neuron[];
  commitments: Map<string, Uint8Array>;
  /** Weight commits by commit hash. */
  commits: Map<string, { hotkey: string; pending: PendingReveal }>;
}

export interface MemoryChainClientInit {
  endpoint?: string;
  /** Free balances at genesis, in rao, by address. */
  balances?: Record<string, bigint>;
}

function moduleError(error: string): ChainModuleError {
  return new ChainModuleError("subtensorModule", error, "");
}

export class MemoryChainClient implements ChainClient, ChainAdmin {
  readonly endpoint: string;
  /** The head block number. */
  block = 0;
  private readonly subnets = new Map<number, Subnet>();
  private readonly balances = new Map<string, bigint>();
  private readonly subscribers = new Set<(blockNumber: number) => void>();

  constructor(init: MemoryChainClientInit = {}) {
    this.endpoint = init.endpoint ?? "memory://chain";
    for (const [address, balance] of Object.entries(init.balances ?? {})) this.balances.set(address, balance);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.subscribers.clear();
  }

  /** Makes `count` empty blocks, running every epoch that falls due. */
  advance(count = 1): void {
    for (let i = 0; i < count; i++) {
      this.block++;
      for (const [netuid, subnet] of this.subnets) {
        // Subtensor's schedule: an epoch runs where (block + netuid + 1) % (tempo + 1) == 0.
        if ((this.block + netuid + 1) % (subnet.hyperparameters.tempo + 1) === 0) this.runEpoch(subnet);
      }
      for (const onBlock of [...this.subscribers]) onBlock(this.block);
    }
  }

  /** Blocks to make so that the subnet's next epoch has run. */
  blocksToEpoch(netuid: number): number {
    const period = this.subnet(netuid).hyperparameters.tempo + 1;
    const next = (this.block + netuid + 1) % period;
    return period - next;
  }

  async currentBlock(options: ReadOptions = {}): Promise<number> {
    options.signal?.throwIfAborted();
    return this.block;
  }

  async subscribeBlocks(onBlock: (blockNumber: number) => void): Promise<() => void> {
    const subscriber = (n: number) => onBlock(n);
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  async subnetExists(netuid: number, options: ReadOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted();
    return this.subnets.has(netuid);
  }

  async uidOf(netuid: number, hotkey: string, options: ReadOptions = {}): Promise<number | undefined> {
    options.signal?.throwIfAborted();
    const uid = this.subnets.get(netuid)?.neurons.findIndex((n) => n.hotkey === hotkey) ?? -1;
    return uid >= 0 ? uid : undefined;
  }

  async metagraph(netuid: number, options: MetagraphOptions = {}): Promise<Metagraph> {
    options.signal?.throwIfAborted();
    const neurons = this.subnets.get(netuid)?.neurons ?? [];
    const zeros = neurons.map(() => 0);
    const graph: Metagraph = {
      netuid,
      block: this.block,
      blockHash: blockHash(this.block),
      n: neurons.length,
      hotkeys: neurons.map((n) => n.hotkey),
      coldkeys: neurons.map((n) => n.coldkey),
      stake: neurons.map((n) => n.stake),
      active: neurons.map(() => true),
      validatorPermit: neurons.map((n) => n.permit),
      incentive: [...zeros],
      dividends: [...zeros],
      consensus: [...zeros],
      validatorTrust: [...zeros],
      emission: neurons.map(() => 0n),
      lastUpdate: neurons.map((n) => n.lastUpdate),
      blockAtRegistration: neurons.map((n) => n.registeredAt),
      axons: neurons.map((n) => (n.axon ? { ...n.axon } : null)),
    };
    if (options.weights) graph.weights = neurons.map((n) => n.weights.map(([uid, w]) => [uid, w]));
    if (options.bonds) graph.bonds = neurons.map(() => []);
    return graph;
  }

  async hyperparameters(netuid: number, options: ReadOptions = {}): Promise<Hyperparameters> {
    options.signal?.throwIfAborted();
    return { ...this.subnet(netuid).hyperparameters };
  }

  async registerNetwork(coldkey: KeyringPair, hotkey: string): Promise<number> {
    let netuid = 1;
    while (this.subnets.has(netuid)) netuid++;
    const { blockNumber } = this.include();
    this.subnets.set(netuid, {
      hyperparameters: { ...DEFAULT_HYPERPARAMETERS },
      neurons: [],
      commitments: new Map(),
      commits: new Map(),
    });
    // Subtensor registers the owner's hotkey at uid 0.
    this.subnet(netuid).neurons.push(neuron(hotkey, coldkey.address, blockNumber));
    return netuid;
  }

  async burnedRegister(coldkey: KeyringPair, netuid: number, hotkey: string): Promise<number> {
    const subnet = this.subnets.get(netuid);
    if (!subnet) throw moduleError("SubnetNotExists");
    if (subnet.neurons.some((n) => n.hotkey === hotkey)) throw moduleError("HotKeyAlreadyRegisteredInSubNet");
    if (subnet.neurons.length >= subnet.hyperparameters.maxAllowedUids) throw moduleError("SubnetFull");
    const { blockNumber } = this.include();
    subnet.neurons.push(neuron(hotkey, coldkey.address, blockNumber));
    return subnet.neurons.length - 1;
  }

  async serveAxon(hotkey: KeyringPair, netuid: number, axon: Omit<AxonInfo, "block">): Promise<TxResult> {
    const n = this.neuron(netuid, hotkey.address);
    const result = this.include();
    n.axon = { ...axon, block: result.blockNumber };
    return result;
  }

  async setCommitment(hotkey: KeyringPair, netuid: number, data: Uint8Array): Promise<TxResult> {
    if (data.length > 128)
      throw new ChainError(`a Raw commitment holds at most 128 bytes, got ${data.length}`);
    this.neuron(netuid, hotkey.address);
    const result = this.include();
    this.subnet(netuid).commitments.set(hotkey.address, Uint8Array.from(data));
    return result;
  }

  async commitments(netuid: number, options: ReadOptions = {}): Promise<Map<string, Uint8Array>> {
    options.signal?.throwIfAborted();
    const stored = this.subnets.get(netuid)?.commitments ?? new Map<string, Uint8Array>();
    return new Map([...stored].map(([hotkey, bytes]) => [hotkey, Uint8Array.from(bytes)]));
  }

  async setWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
  ): Promise<TxResult> {
    const hp = this.subnet(netuid).hyperparameters;
    if (hp.commitRevealWeightsEnabled) throw moduleError("CommitRevealEnabled");
    return this.storeWeights(hotkey.address, netuid, uids, weights, versionKey);
  }

  async commitWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
    salt: number[],
  ): Promise<PendingReveal> {
    this.neuron(netuid, hotkey.address);
    const commitHash = `0x${createHash("sha256")
      .update(JSON.stringify([hotkey.address, netuid, uids, weights, salt, versionKey.toString()]))
      .digest("hex")}`;
    const { blockNumber } = this.include();
    const pending = { netuid, uids, values: weights, salt, versionKey, commitHash, commitBlock: blockNumber };
    this.subnet(netuid).commits.set(commitHash, { hotkey: hotkey.address, pending });
    return pending;
  }

  async revealWeights(hotkey: KeyringPair, pending: PendingReveal): Promise<TxResult> {
    const commits = this.subnet(pending.netuid).commits;
    const commit = commits.get(pending.commitHash);
    if (!commit || commit.hotkey !== hotkey.address) throw moduleError("NoWeightsCommitFound");
    commits.delete(pending.commitHash);
    return this.storeWeights(
      hotkey.address,
      pending.netuid,
      pending.uids,
      pending.values,
      pending.versionKey,
    );
  }

  async addStake(
    _coldkey: KeyringPair,
    hotkey: string,
    netuid: number,
    amountRao: bigint,
  ): Promise<TxResult> {
    const n = this.neuron(netuid, hotkey);
    const result = this.include();
    n.stake += amountRao;
    return result;
  }

  /** Runs the `adminUtils` setters for the hyperparameters above (`sudoSetTempo` sets `tempo`). */
  async sudoAdmin(_sudoKey: KeyringPair, setter: string, args: unknown[]): Promise<TxResult> {
    if (IGNORED_SETTERS.has(setter)) return this.include();
    const [netuid, value] = args;
    const name = setter.replace(/^sudoSet/, "");
    const key = (name.charAt(0).toLowerCase() + name.slice(1)) as keyof Hyperparameters;
    if (typeof netuid !== "number" || !(key in DEFAULT_HYPERPARAMETERS))
      throw new ChainError(`the in-memory chain has no setter ${setter}(${args.map(String).join(", ")})`);
    const hp = this.subnet(netuid).hyperparameters as unknown as Record<string, unknown>;
    const current = hp[key];
    const result = this.include();
    hp[key] =
      typeof current === "bigint"
        ? BigInt(value as number)
        : typeof current === "boolean"
          ? Boolean(value)
          : value;
    return result;
  }

  async transfer(from: KeyringPair, to: string, amountRao: bigint): Promise<TxResult> {
    const balance = this.balances.get(from.address) ?? 0n;
    if (balance < amountRao) throw new ChainModuleError("balances", "InsufficientBalance", "");
    const result = this.include();
    this.balances.set(from.address, balance - amountRao);
    this.balances.set(to, (this.balances.get(to) ?? 0n) + amountRao);
    return result;
  }

  async balanceOf(address: string, options: ReadOptions = {}): Promise<bigint> {
    options.signal?.throwIfAborted();
    return this.balances.get(address) ?? 0n;
  }

  private subnet(netuid: number): Subnet {
    const subnet = this.subnets.get(netuid);
    if (!subnet) throw moduleError("SubnetNotExists");
    return subnet;
  }

  private neuron(netuid: number, hotkey: string): Neuron {
    const n = this.subnet(netuid).neurons.find((x) => x.hotkey === hotkey);
    if (!n) throw moduleError("HotKeyNotRegisteredInSubNet");
    return n;
  }

  private storeWeights(
    hotkey: string,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
  ): TxResult {
    const n = this.neuron(netuid, hotkey);
    const hp = this.subnet(netuid).hyperparameters;
    if (versionKey !== hp.weightsVersionKey) throw moduleError("IncorrectWeightVersionKey");
    if (n.lastUpdate !== 0 && this.block + 1 - n.lastUpdate < hp.weightsSetRateLimit)
      throw moduleError("SettingWeightsTooFast");
    const result = this.include();
    n.weights = uids.map((uid, i) => [uid, weights[i] ?? 0]);
    n.lastUpdate = result.blockNumber;
    return result;
  }

  /** A transaction's block: the next one, made now (as the dev chain's instant mode does). */
  private include(): TxResult {
    this.advance(1);
    return { blockHash: blockHash(this.block), blockNumber: this.block, events: [] };
  }

  private runEpoch(subnet: Subnet): void {
    const ranked = subnet.neurons
      .map((n, uid) => ({ uid, stake: n.stake }))
      .filter((x) => x.stake > 0n)
      .sort((a, b) => (a.stake === b.stake ? a.uid - b.uid : a.stake > b.stake ? -1 : 1))
      .slice(0, subnet.hyperparameters.maxAllowedValidators);
    const permitted = new Set(ranked.map((x) => x.uid));
    subnet.neurons.forEach((n, uid) => {
      n.permit = permitted.has(uid);
    });
  }
}

function neuron(hotkey: string, coldkey: string, block: number): Neuron {
  return {
    hotkey,
    coldkey,
    stake: 0n,
    permit: false,
    lastUpdate: 0,
    registeredAt: block,
    axon: null,
    weights: [],
  };
}

/** A stable 32-byte hash per block number. */
function blockHash(block: number): string {
  return `0x${createHash("sha256").update(`memory-block-${block}`).digest("hex")}`;
}
