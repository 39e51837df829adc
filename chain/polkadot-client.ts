import { once } from "node:events";
import { ApiPromise, WsProvider } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { StorageKey } from "@polkadot/types";
import type { DispatchError } from "@polkadot/types/interfaces";
import type { Codec } from "@polkadot/types/types";
import { u8aToHex } from "@polkadot/util";
import { decodeAddress, encodeAddress } from "@polkadot/util-crypto";
import type { ChainAdmin } from "./admin.js";
import type {
  AxonInfo,
  ChainClient,
  Hyperparameters,
  Metagraph,
  MetagraphOptions,
  PendingReveal,
  ReadOptions,
  TxResult,
} from "./client.js";
import {
  ChainDispatchError,
  ChainError,
  ChainModuleError,
  ChainUnavailableError,
  TransactionRejectedError,
} from "./errors.js";
import { ipToInteger, ipToText } from "./ip.js";
import { weightsCommitHash } from "./weights.js";

export interface PolkadotChainClientOptions {
  endpoint: string;
  /** How long `start` waits for the first connection. */
  connectTimeoutMs?: number;
  /** Wait for finality rather than inclusion before a transaction resolves. */
  waitForFinalization?: boolean;
  /** Per-transaction timeout. */
  txTimeoutMs?: number;
}

type QueryFn = ((...args: unknown[]) => Promise<Codec>) & {
  entries: (...args: unknown[]) => Promise<[StorageKey, Codec][]>;
  /** Many keys of a map in one `state_queryStorageAt` (absent where the node lacks that RPC). */
  multi?: (keys: unknown[]) => Promise<Codec[]>;
};

/**
 * One storage map read at many keys: in one `state_queryStorageAt` request (pages of 250 keys)
 * where the node has it, else one request per key. Each key is the map's arguments in order.
 */
async function readMany(query: QueryFn, keys: unknown[][]): Promise<Codec[]> {
  if (keys.length === 0) return [];
  if (query.multi) return query.multi(keys.map((key) => (key.length === 1 ? key[0] : key)));
  return Promise.all(keys.map((key) => query(...key)));
}

/** A storage query by pallet and item name, with a clear error when the chain lacks it. */
function queryOf(query: unknown, pallet: string, item: string): QueryFn {
  const fn = (query as Record<string, Record<string, QueryFn> | undefined>)[pallet]?.[item];
  if (!fn) throw new ChainError(`the chain has no storage ${pallet}.${item}: is this a subtensor endpoint?`);
  return fn;
}

/** A call builder by pallet and call name, with a clear error when the chain lacks it. */
function txOf(
  api: ApiPromise,
  pallet: string,
  call: string,
): (...args: unknown[]) => SubmittableExtrinsic<"promise"> {
  const fn = (
    api.tx as unknown as Record<
      string,
      Record<string, (...args: unknown[]) => SubmittableExtrinsic<"promise">> | undefined
    >
  )[pallet]?.[call];
  if (!fn) throw new ChainError(`the chain has no call ${pallet}.${call}: is this a subtensor endpoint?`);
  return fn;
}

/** `promise`, or `signal.reason` as soon as `signal` aborts, whichever comes first. */
async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  const done = new AbortController();
  const aborted = once(signal, "abort", { signal: done.signal }).then(() => {
    throw signal.reason;
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    done.abort();
  }
}

function toNumber(value: { toString(): string }): number {
  return Number(value.toString());
}

function toBigInt(value: { toString(): string }): bigint {
  return BigInt(value.toString());
}

/**
 * The {@link ChainClient} and {@link ChainAdmin} over @polkadot/api. Reconnects by itself
 * (WsProvider retries with a 2.5 s interval); calls made while disconnected wait for the
 * connection, up to `connectTimeoutMs`, then fail with ChainUnavailableError.
 */
export class PolkadotChainClient implements ChainClient, ChainAdmin {
  readonly endpoint: string;
  private apiInstance: ApiPromise | undefined;
  private readonly options: Required<PolkadotChainClientOptions>;
  /**
   * The last metagraph read and the block it was read at: a block's state never changes, so a
   * read at the same block (a node reads it twice on start-up, before and after serving) is
   * answered from it.
   */
  private lastGraph: { key: string; graph: Metagraph } | undefined;

  constructor(options: PolkadotChainClientOptions) {
    this.endpoint = options.endpoint;
    this.options = { connectTimeoutMs: 30_000, waitForFinalization: false, txTimeoutMs: 120_000, ...options };
  }

  /** The underlying API, for callers that need a query this interface does not cover. */
  get api(): ApiPromise {
    if (!this.apiInstance) throw new ChainError("chain client is not started");
    return this.apiInstance;
  }

  async start(): Promise<void> {
    if (this.apiInstance) return;
    const provider = new WsProvider(this.endpoint, 2_500, {}, this.options.connectTimeoutMs);
    const api = new ApiPromise({ provider, noInitWarn: true, throwOnConnect: false });
    const timeout = AbortSignal.timeout(this.options.connectTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () =>
          reject(
            new ChainUnavailableError(
              `cannot reach the chain at ${this.endpoint} within ${this.options.connectTimeoutMs} ms`,
            ),
          );
        timeout.addEventListener("abort", onAbort, { once: true });
        api.isReadyOrError.then(
          () => {
            timeout.removeEventListener("abort", onAbort);
            resolve();
          },
          (cause: unknown) =>
            reject(new ChainUnavailableError(`cannot connect to ${this.endpoint}`, { cause })),
        );
      });
    } catch (err) {
      await api.disconnect().catch(() => undefined);
      throw err;
    }
    this.apiInstance = api;
  }

  async stop(): Promise<void> {
    const api = this.apiInstance;
    this.apiInstance = undefined;
    await api?.disconnect();
  }

  /**
   * The API once its socket is up. While WsProvider reconnects, @polkadot/api fails requests at
   * once ("WebSocket is not connected"), so a call waits here for the `connected` event, up to
   * `connectTimeoutMs`, and then fails with ChainUnavailableError.
   */
  private async connected(caller?: AbortSignal): Promise<ApiPromise> {
    caller?.throwIfAborted();
    const api = this.api;
    if (api.isConnected) return api;
    const timeoutMs = this.options.connectTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = caller ? AbortSignal.any([timeout, caller]) : timeout;
      const onConnected = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        api.off("connected", onConnected);
        if (caller?.aborted) reject(caller.reason);
        else
          reject(
            new ChainUnavailableError(`lost ${this.endpoint} and not reconnected within ${timeoutMs} ms`),
          );
      };
      api.once("connected", onConnected);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return api;
  }

  /**
   * Runs a read until it answers or `signal` aborts; a failure caused by the socket dropping
   * mid-call becomes ChainUnavailableError.
   */
  private async read<T>(fn: (api: ApiPromise) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const api = await this.connected(signal);
    try {
      return await raceSignal(fn(api), signal);
    } catch (cause) {
      if (signal?.aborted || cause instanceof ChainError || api.isConnected) throw cause;
      throw new ChainUnavailableError(`lost the connection to ${this.endpoint}`, { cause });
    }
  }

  async currentBlock(options: ReadOptions = {}): Promise<number> {
    return this.read(async (api) => (await api.rpc.chain.getHeader()).number.toNumber(), options.signal);
  }

  async subscribeBlocks(onBlock: (blockNumber: number) => void): Promise<() => void> {
    return this.read((api) => api.rpc.chain.subscribeNewHeads((header) => onBlock(header.number.toNumber())));
  }

  async subnetExists(netuid: number, options: ReadOptions = {}): Promise<boolean> {
    const added = await this.read(
      (api) => queryOf(api.query, "subtensorModule", "networksAdded")(netuid),
      options.signal,
    );
    return added.toString() === "true";
  }

  async uidOf(netuid: number, hotkey: string, options: ReadOptions = {}): Promise<number | undefined> {
    const uid = await this.read(
      (api) => queryOf(api.query, "subtensorModule", "uids")(netuid, hotkey),
      options.signal,
    );
    const option = uid as unknown as { isSome: boolean; unwrap(): { toString(): string } };
    return option.isSome ? toNumber(option.unwrap()) : undefined;
  }

  async metagraph(netuid: number, options: MetagraphOptions = {}): Promise<Metagraph> {
    return this.read(() => this.readMetagraph(netuid, options), options.signal);
  }

  private async readMetagraph(netuid: number, options: MetagraphOptions): Promise<Metagraph> {
    const header = await this.api.rpc.chain.getHeader();
    const blockHash = header.hash.toHex();
    const key = `${netuid}/${blockHash}/${options.weights === true}/${options.bonds === true}`;
    // A copy: the caller may change what it gets.
    if (this.lastGraph?.key === key) return structuredClone(this.lastGraph.graph);
    const graph = await this.readMetagraphAt(netuid, blockHash, header.number.toNumber(), options);
    this.lastGraph = { key, graph: structuredClone(graph) };
    return graph;
  }

  private async readMetagraphAt(
    netuid: number,
    blockHash: string,
    block: number,
    options: MetagraphOptions,
  ): Promise<Metagraph> {
    const at = await this.api.at(blockHash);
    const q = (item: string) => queryOf(at.query, "subtensorModule", item);
    const n = toNumber(await q("subnetworkN")(netuid));
    const uids = Array.from({ length: n }, (_, i) => i);
    // One request per item for all uids (a 256-uid subnet was 1,280 requests one by one).
    const keyCodecs = await readMany(
      q("keys"),
      uids.map((uid) => [netuid, uid]),
    );
    const hotkeys = keyCodecs.map((k) => k.toString());
    const [coldkeyCodecs, stakeCodecs, axonCodecs, regCodecs] = await Promise.all([
      readMany(
        q("owner"),
        hotkeys.map((h) => [h]),
      ),
      readMany(
        q("totalHotkeyAlpha"),
        hotkeys.map((h) => [h, netuid]),
      ),
      readMany(
        q("axons"),
        hotkeys.map((h) => [netuid, h]),
      ),
      readMany(
        q("blockAtRegistration"),
        uids.map((uid) => [netuid, uid]),
      ),
    ]);
    const [active, permit, incentive, dividends, consensus, vtrust, emission, lastUpdate] = await Promise.all(
      [
        q("active")(netuid),
        q("validatorPermit")(netuid),
        q("incentive")(netuid),
        q("dividends")(netuid),
        q("consensus")(netuid),
        q("validatorTrust")(netuid),
        q("emission")(netuid),
        q("lastUpdate")(netuid),
      ],
    );
    const vector = <T>(codec: unknown, map: (v: { toString(): string }) => T, fill: T): T[] => {
      const list = (codec as unknown as { toString(): string }[]) ?? [];
      const out = Array.from(list, map);
      while (out.length < n) out.push(fill);
      return out.slice(0, n);
    };
    const sparse = async (item: "weights" | "bonds"): Promise<[number, number][][]> => {
      const rows = await readMany(
        q(item),
        uids.map((uid) => [netuid, uid]),
      );
      return rows.map((row) =>
        Array.from(row as unknown as { 0: { toString(): string }; 1: { toString(): string } }[], (pair) => [
          toNumber(pair[0]),
          toNumber(pair[1]),
        ]),
      );
    };
    const graph: Metagraph = {
      netuid,
      block,
      blockHash,
      n,
      hotkeys,
      coldkeys: coldkeyCodecs.map((c) => c.toString()),
      stake: stakeCodecs.map(toBigInt),
      active: vector(active, (v) => v.toString() === "true", false),
      validatorPermit: vector(permit, (v) => v.toString() === "true", false),
      incentive: vector(incentive, toNumber, 0),
      dividends: vector(dividends, toNumber, 0),
      consensus: vector(consensus, toNumber, 0),
      validatorTrust: vector(vtrust, toNumber, 0),
      emission: vector(emission, toBigInt, 0n),
      lastUpdate: vector(lastUpdate, toNumber, 0),
      blockAtRegistration: regCodecs.map(toNumber),
      axons: axonCodecs.map((codec) => {
        const option = codec as unknown as {
          isSome: boolean;
          unwrap(): Record<
            "block" | "version" | "ip" | "port" | "ipType" | "protocol",
            { toString(): string }
          >;
        };
        if (!option.isSome) return null;
        const a = option.unwrap();
        const ipType = toNumber(a.ipType);
        return {
          block: toNumber(a.block),
          version: toNumber(a.version),
          ip: ipToText(toBigInt(a.ip), ipType),
          port: toNumber(a.port),
          ipType,
          protocol: toNumber(a.protocol),
        };
      }),
    };
    if (options.weights) graph.weights = await sparse("weights");
    if (options.bonds) graph.bonds = await sparse("bonds");
    return graph;
  }

  async hyperparameters(netuid: number, options: ReadOptions = {}): Promise<Hyperparameters> {
    return this.read(() => this.readHyperparameters(netuid), options.signal);
  }

  private async readHyperparameters(netuid: number): Promise<Hyperparameters> {
    const q = (item: string) => queryOf(this.api.query, "subtensorModule", item);
    const [
      tempo,
      versionKey,
      rateLimit,
      minWeights,
      maxValidators,
      maxUids,
      immunity,
      kappa,
      bondsMa,
      crEnabled,
      revealPeriod,
      cutoff,
      liquidAlpha,
      yuma3,
      burn,
    ] = await Promise.all([
      q("tempo")(netuid),
      q("weightsVersionKey")(netuid),
      q("weightsSetRateLimit")(netuid),
      q("minAllowedWeights")(netuid),
      q("maxAllowedValidators")(netuid),
      q("maxAllowedUids")(netuid),
      q("immunityPeriod")(netuid),
      q("kappa")(netuid),
      q("bondsMovingAverage")(netuid),
      q("commitRevealWeightsEnabled")(netuid),
      q("revealPeriodEpochs")(netuid),
      q("activityCutoff")(netuid),
      q("liquidAlphaOn")(netuid),
      q("yuma3On")(netuid),
      q("burn")(netuid),
    ]);
    return {
      tempo: toNumber(tempo),
      weightsVersionKey: toBigInt(versionKey),
      weightsSetRateLimit: toNumber(rateLimit),
      minAllowedWeights: toNumber(minWeights),
      maxAllowedValidators: toNumber(maxValidators),
      maxAllowedUids: toNumber(maxUids),
      immunityPeriod: toNumber(immunity),
      kappa: toNumber(kappa),
      bondsMovingAverage: toBigInt(bondsMa),
      commitRevealWeightsEnabled: crEnabled.toString() === "true",
      revealPeriodEpochs: toNumber(revealPeriod),
      activityCutoff: toNumber(cutoff),
      liquidAlphaEnabled: liquidAlpha.toString() === "true",
      yuma3Enabled: yuma3.toString() === "true",
      burn: toBigInt(burn),
    };
  }

  async registerNetwork(coldkey: KeyringPair, hotkey: string): Promise<number> {
    const result = await this.submit(coldkey, txOf(this.api, "subtensorModule", "registerNetwork")(hotkey));
    const added = result.events.find((e) => e.section === "subtensorModule" && e.method === "NetworkAdded");
    if (!added) throw new ChainError("registerNetwork succeeded without a NetworkAdded event");
    return Number(String(added.data[0]));
  }

  async burnedRegister(coldkey: KeyringPair, netuid: number, hotkey: string): Promise<number> {
    const result = await this.submit(
      coldkey,
      txOf(this.api, "subtensorModule", "burnedRegister")(netuid, hotkey),
    );
    const registered = result.events.find(
      (e) => e.section === "subtensorModule" && e.method === "NeuronRegistered",
    );
    if (!registered) throw new ChainError("burnedRegister succeeded without a NeuronRegistered event");
    return Number(String(registered.data[1]));
  }

  async serveAxon(hotkey: KeyringPair, netuid: number, axon: Omit<AxonInfo, "block">): Promise<TxResult> {
    const { ip } = ipToInteger(axon.ip);
    const tx = txOf(this.api, "subtensorModule", "serveAxon")(
      netuid,
      axon.version,
      ip,
      axon.port,
      axon.ipType,
      axon.protocol,
      0,
      0,
    );
    return this.submit(hotkey, tx);
  }

  async setCommitment(hotkey: KeyringPair, netuid: number, data: Uint8Array): Promise<TxResult> {
    if (data.length > 128)
      throw new ChainError(`a Raw commitment holds at most 128 bytes, got ${data.length}`);
    const info = { fields: [{ [`Raw${data.length}`]: u8aToHex(data) }] };
    return this.submit(hotkey, txOf(this.api, "commitments", "setCommitment")(netuid, info));
  }

  async commitments(netuid: number, options: ReadOptions = {}): Promise<Map<string, Uint8Array>> {
    const entries = await this.read(
      (api) => queryOf(api.query, "commitments", "commitmentOf").entries(netuid),
      options.signal,
    );
    const out = new Map<string, Uint8Array>();
    for (const [key, value] of entries) {
      const hotkey = encodeAddress(decodeAddress(key.args[1]?.toString() ?? ""), 42);
      const option = value as unknown as { isSome: boolean; unwrap(): { info: { fields: unknown[] } } };
      if (!option.isSome) continue;
      const field = option.unwrap().info.fields[0] as
        | { isRaw?: boolean; asRaw?: { toU8a(bare: boolean): Uint8Array }; toU8a(): Uint8Array }
        | undefined;
      if (!field) continue;
      // `Data` encodes RawN as byte N+1 followed by N bytes.
      const encoded = field.toU8a();
      const tag = encoded[0] ?? 0;
      if (tag >= 1 && tag <= 129) out.set(hotkey, encoded.subarray(1, tag));
    }
    return out;
  }

  async addStake(coldkey: KeyringPair, hotkey: string, netuid: number, amountRao: bigint): Promise<TxResult> {
    return this.submit(coldkey, txOf(this.api, "subtensorModule", "addStake")(hotkey, netuid, amountRao));
  }

  async setWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
  ): Promise<TxResult> {
    return this.submit(
      hotkey,
      txOf(this.api, "subtensorModule", "setWeights")(netuid, uids, weights, versionKey),
    );
  }

  async commitWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
    salt: number[],
  ): Promise<PendingReveal> {
    const commitHash = weightsCommitHash(this.api, hotkey.address, netuid, uids, weights, salt, versionKey);
    const result = await this.submit(
      hotkey,
      txOf(this.api, "subtensorModule", "commitWeights")(netuid, commitHash),
    );
    return { netuid, uids, values: weights, salt, versionKey, commitHash, commitBlock: result.blockNumber };
  }

  async revealWeights(hotkey: KeyringPair, pending: PendingReveal): Promise<TxResult> {
    const tx = txOf(this.api, "subtensorModule", "revealWeights")(
      pending.netuid,
      pending.uids,
      pending.values,
      pending.salt,
      pending.versionKey,
    );
    return this.submit(hotkey, tx);
  }

  async sudoAdmin(sudoKey: KeyringPair, setter: string, args: unknown[]): Promise<TxResult> {
    const inner = txOf(this.api, "adminUtils", setter)(...args);
    const result = await this.submit(sudoKey, txOf(this.api, "sudo", "sudo")(inner));
    // Sudo reports the inner call's outcome in its Sudid event rather than failing the extrinsic.
    const sudid = result.events.find((e) => e.section === "sudo" && e.method === "Sudid");
    const outcome = sudid?.data[0] as { isErr?: boolean; asErr?: DispatchError } | undefined;
    if (outcome?.isErr && outcome.asErr) throw this.decodeDispatchError(outcome.asErr);
    return result;
  }

  async transfer(from: KeyringPair, to: string, amountRao: bigint): Promise<TxResult> {
    return this.submit(from, txOf(this.api, "balances", "transferKeepAlive")(to, amountRao));
  }

  async balanceOf(address: string, options: ReadOptions = {}): Promise<bigint> {
    const account = (await this.read(
      (api) => queryOf(api.query, "system", "account")(address),
      options.signal,
    )) as unknown as {
      data: { free: { toString(): string } };
    };
    return toBigInt(account.data.free);
  }

  private decodeDispatchError(error: DispatchError): ChainError {
    if (error.isModule) {
      const meta = this.api.registry.findMetaError(error.asModule);
      return new ChainModuleError(meta.section, meta.name, meta.docs.join(" "));
    }
    return new ChainDispatchError(error.type);
  }

  /** Signs, submits and waits for inclusion (or finality); a failed dispatch throws its named error. */
  private async submit(signer: KeyringPair, tx: SubmittableExtrinsic<"promise">): Promise<TxResult> {
    await this.connected();
    const wantFinal = this.options.waitForFinalization;
    const signal = AbortSignal.timeout(this.options.txTimeoutMs);
    return new Promise<TxResult>((resolve, reject) => {
      let unsubscribe: (() => void) | undefined;
      let finished = false;
      const finish = (fn: () => void) => {
        if (finished) return;
        finished = true;
        signal.removeEventListener("abort", onAbort);
        unsubscribe?.();
        fn();
      };
      const onAbort = () =>
        finish(() =>
          reject(new ChainError(`transaction not included within ${this.options.txTimeoutMs} ms`)),
        );
      signal.addEventListener("abort", onAbort, { once: true });
      tx.signAndSend(signer, { nonce: -1 }, (result) => {
        const { status, dispatchError } = result;
        if (status.isInvalid || status.isDropped || status.isUsurped) {
          finish(() => reject(new TransactionRejectedError(`transaction ${status.type.toLowerCase()}`)));
          return;
        }
        const done = wantFinal ? status.isFinalized : status.isInBlock || status.isFinalized;
        if (!done) return;
        if (dispatchError) {
          finish(() => reject(this.decodeDispatchError(dispatchError)));
          return;
        }
        const blockHash = (status.isInBlock ? status.asInBlock : status.asFinalized).toHex();
        const events = result.events.map(({ event }) => ({
          section: event.section,
          method: event.method,
          data: [...event.data],
        }));
        this.api.rpc.chain.getHeader(blockHash).then(
          (header) => finish(() => resolve({ blockHash, blockNumber: header.number.toNumber(), events })),
          (cause: unknown) =>
            finish(() => reject(new ChainError("cannot read the inclusion block", { cause }))),
        );
      })
        .then((unsub) => {
          // Inclusion can arrive before signAndSend resolves: close the watch then, not never.
          if (finished) unsub();
          else unsubscribe = unsub;
        })
        .catch((cause: unknown) => {
          const message = cause instanceof Error ? cause.message : String(cause);
          finish(() => reject(new TransactionRejectedError(message, { cause })));
        });
    });
  }
}
