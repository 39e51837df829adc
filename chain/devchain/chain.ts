/**
 * The embedded dev chain ("Anvil for subtensor"): a TypeScript runtime, a transaction pool, block
 * production (instant, interval or manual) and a Substrate JSON-RPC server that an unmodified
 * @polkadot/api connects to.
 *
 * @example
 * const chain = createDevChain({ port: 0, mode: "instant" });
 * await chain.start();
 * const api = await ApiPromise.create({ provider: new WsProvider(chain.endpoint) });
 * // …
 * await api.disconnect();
 * await chain.stop();
 */

import { u8aToHex } from "@polkadot/util";
import { cryptoWaitReady, decodeAddress } from "@polkadot/util-crypto";
import { type Block, computeExtrinsicsRoot, makeBlock } from "./block.js";
import type { ChainEvent } from "./chain-events.js";
import { DevChainError, PoolRejectionError } from "./errors.js";
import { BlockExecutor, type ChainView, type Logger } from "./executive.js";
import {
  type DecodedExtrinsic,
  decodeExtrinsic,
  encodeUnsigned,
  MalformedExtrinsicError,
} from "./extrinsic.js";
import { buildGenesis, DEV_BALANCE, devAccountIds } from "./genesis.js";
import { blake2_256 } from "./hashing.js";
import { type GenesisAccount, InvalidTransaction, type PalletDef } from "./pallet.js";
import { balancesPallet } from "./pallets/balances.js";
import { sudoPallet } from "./pallets/sudo.js";
import { systemPallet } from "./pallets/system.js";
import { timestampPallet } from "./pallets/timestamp.js";
import { DEFAULT_FEES, type FeeConfig, transactionPaymentPallet } from "./pallets/transaction-payment.js";
import { utilityPallet } from "./pallets/utility.js";
import { type ChainStore, ChainStoreError, openSqliteStore } from "./persistence.js";
import { createRpcMethods } from "./rpc-methods.js";
import { type RpcLimits, RpcServer } from "./rpc-server.js";
import { Runtime, type RuntimeConfig } from "./runtime.js";
import { decode } from "./scale.js";
import { State } from "./state.js";

export type BlockMode = "instant" | "interval" | "manual";

export interface DevChainOptions {
  /** TCP port for WebSocket and HTTP JSON-RPC; 0 picks a free one. Default 9944. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** `instant`: a block per submitted transaction batch; `interval` (default): every blockTimeMs; `manual`: dev_newBlock only. */
  mode?: BlockMode;
  /** Interval mode block time. Default 250 ms. */
  blockTimeMs?: number;
  /** SQLite file to persist the chain in and resume from; memory when omitted. */
  db?: string;
  /** Pallets beyond System, Timestamp, Balances, TransactionPayment, Utility and Sudo. */
  pallets?: PalletDef[];
  /** Extra funded accounts: SS58 address or 32-byte public key, balance in rao. */
  accounts?: Array<{ address: string | Uint8Array; balance: bigint }>;
  /** Balance of each of //Alice..//Ferdie. Default 1,000,000 TAO. */
  devBalance?: bigint;
  /** Sudo key (SS58 or public key); //Alice by default. */
  sudo?: string | Uint8Array;
  /** Per-pallet genesis config, handed to each pallet's genesis hook. */
  genesis?: Record<string, unknown>;
  fees?: FeeConfig;
  /** Runtime identity; defaults mirror subtensor (node-subtensor, spec 425). */
  runtime?: Omit<RuntimeConfig, "pallets">;
  /** `system_chain`. Default "Bittensor Dev Chain". */
  chainName?: string;
  /** Where unexpected handler failures are reported. Default console.error. */
  log?: Logger;
  /** Blocks whose state stays queryable. Default 1024. */
  keepStateBlocks?: number;
  /**
   * Delay between a watched transaction's `inBlock` and `finalized` notifications. @polkadot/api
   * drops an `inBlock` result still being fetched when `finalized` arrives, so they must not coincide.
   * Default 100 ms. (chain_getFinalizedHead itself is the head at once.)
   */
  finalityNotificationDelayMs?: number;
  /** Caps on what one RPC client may cost; see {@link DEFAULT_RPC_LIMITS}. */
  rpcLimits?: Partial<RpcLimits>;
  /** Caps on the transaction pool; see {@link DEFAULT_POOL_LIMITS}. */
  poolLimits?: Partial<PoolLimits>;
}

interface PoolEntry {
  xt: DecodedExtrinsic;
  verifiedBirth?: Uint8Array;
  /** Waits for an earlier nonce of its sender. */
  future: boolean;
  /** Head block number when it entered the pool. */
  since: number;
}

/**
 * Caps on the transaction pool, as a Substrate node's `--pool-limit` / `--pool-kbytes` (defaults
 * 8192 transactions, 20 MiB); its future queue (transactions waiting for an earlier nonce) gets a
 * tenth of that, as in Substrate's pool options, and a future transaction that is still waiting
 * after `futureLifetimeBlocks` is dropped, so nonces far ahead cannot park in memory for ever.
 */
export interface PoolLimits {
  maxTransactions: number;
  maxBytes: number;
  maxFutureTransactions: number;
  maxFutureBytes: number;
  futureLifetimeBlocks: number;
}

export const DEFAULT_POOL_LIMITS: Readonly<PoolLimits> = Object.freeze({
  maxTransactions: 8192,
  maxBytes: 20 * 1024 * 1024,
  maxFutureTransactions: 819,
  maxFutureBytes: 2 * 1024 * 1024,
  // @polkadot/api's default mortal era is 64 blocks: past that a signed transaction is dead anyway.
  futureLifetimeBlocks: 64,
});

/** Most transactions one block takes from the pool. */
const MAX_BLOCK_TRANSACTIONS = 2048;

const toAccountId = (a: string | Uint8Array): Uint8Array => (typeof a === "string" ? decodeAddress(a) : a);

export class DevChain {
  readonly options: Readonly<DevChainOptions>;
  readonly runtime: Runtime;
  readonly mode: BlockMode;
  readonly #fees: FeeConfig;
  readonly #log: Logger;
  #state: State;
  readonly #blocks: Block[] = [];
  readonly #byHash = new Map<string, Block>();
  readonly #pool: PoolEntry[] = [];
  readonly #poolLimits: PoolLimits;
  readonly #listeners = new Set<(e: ChainEvent) => void>();
  #server: RpcServer | null = null;
  #store: ChainStore | null = null;
  #timer: NodeJS.Timeout | null = null;
  #scheduled: NodeJS.Immediate | null = null;
  #started = false;
  #runtimeHash: string | undefined;
  readonly #finality = new Set<NodeJS.Timeout>();

  constructor(options: DevChainOptions = {}) {
    this.options = options;
    this.#poolLimits = { ...DEFAULT_POOL_LIMITS, ...options.poolLimits };
    this.mode = options.mode ?? "interval";
    this.#fees = options.fees ?? DEFAULT_FEES;
    this.#log = options.log ?? ((m, e) => console.error(`[devchain] ${m}`, e ?? ""));
    const blockTime = options.blockTimeMs ?? 250;
    const minimumPeriodMs = this.mode === "interval" ? Math.max(1, Math.floor(blockTime / 2)) : 6000;
    const pallets = [
      systemPallet(),
      timestampPallet({ minimumPeriodMs }),
      balancesPallet(),
      transactionPaymentPallet(),
      utilityPallet(),
      sudoPallet(),
      ...(options.pallets ?? []),
    ];
    this.runtime = new Runtime({ ...options.runtime, pallets });
    this.#state = new State({ keepBlocks: options.keepStateBlocks ?? 1024 });
  }

  /** ws://host:port once started. */
  get endpoint(): string {
    if (!this.#server) throw new DevChainError("the dev chain is not started");
    return `ws://${this.options.host ?? "127.0.0.1"}:${this.#server.port}`;
  }

  get httpEndpoint(): string {
    return this.endpoint.replace(/^ws:/, "http:");
  }

  get port(): number {
    if (!this.#server) throw new DevChainError("the dev chain is not started");
    return this.#server.port;
  }

  get head(): Block {
    const b = this.#blocks[this.#blocks.length - 1];
    if (!b) throw new DevChainError("the dev chain has no genesis yet; call start()");
    return b;
  }

  get genesis(): Block {
    const b = this.#blocks[0];
    if (!b) throw new DevChainError("the dev chain has no genesis yet; call start()");
    return b;
  }

  get state(): State {
    return this.#state;
  }

  get pendingExtrinsics(): readonly DecodedExtrinsic[] {
    return this.#pool.map((e) => e.xt);
  }

  blockByNumber(n: number): Block | undefined {
    return this.#blocks[n];
  }

  blockByHash(hash: string): Block | undefined {
    return this.#byHash.get(hash.toLowerCase());
  }

  /** Subscribes to new blocks and transaction status changes; returns the unsubscribe function. */
  onEvent(listener: (e: ChainEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Which runtime wrote a stored chain: the metadata's hash, computed once (only a chain with a file asks). */
  #metadataHash(): string {
    this.#runtimeHash ??= u8aToHex(blake2_256(this.runtime.metadata));
    return this.#runtimeHash;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    await cryptoWaitReady();
    if (this.options.db) {
      const metadataHash = this.#metadataHash();
      this.#store = await openSqliteStore(this.options.db);
      const stored = this.#store.load();
      if (stored) {
        if (stored.runtime !== metadataHash)
          throw new DevChainError(`${this.options.db} was written by a different runtime (metadata changed)`);
        this.#state.load(stored.state, stored.blocks.length - 1);
        for (const b of stored.blocks) this.#push(b);
        if (u8aToHex(this.#state.root()) !== u8aToHex(this.head.header.stateRoot))
          throw new ChainStoreError(`${this.options.db}: state does not match the head block's state root`);
      }
    }
    if (this.#blocks.length === 0) {
      const devIds = devAccountIds();
      const accounts: GenesisAccount[] = [
        ...devIds.map((id) => ({ id, balance: this.options.devBalance ?? DEV_BALANCE })),
        ...(this.options.accounts ?? []).map((a) => ({ id: toAccountId(a.address), balance: a.balance })),
      ];
      const genesis = buildGenesis(
        this.runtime,
        this.#state,
        {
          accounts,
          sudo: this.options.sudo ? toAccountId(this.options.sudo) : (devIds[0] as Uint8Array),
          config: this.options.genesis ?? {},
        },
        this.#fees,
        this.#log,
      );
      this.#push(genesis);
      this.#store?.saveBlock(genesis, new Map(this.#state.entries()), this.#metadataHash());
    }
    this.#server = new RpcServer({
      host: this.options.host ?? "127.0.0.1",
      port: this.options.port ?? 9944,
      methods: createRpcMethods(this),
      log: this.#log,
      ...(this.options.rpcLimits ? { limits: this.options.rpcLimits } : {}),
    });
    try {
      await this.#server.start();
    } catch (e) {
      this.#store?.close();
      this.#store = null;
      this.#server = null;
      throw new DevChainError("cannot start the JSON-RPC server", { cause: e });
    }
    this.#started = true;
    if (this.mode === "interval") {
      this.#timer = setInterval(() => this.#produceSafely(), this.options.blockTimeMs ?? 250);
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#timer = null;
    this.#scheduled = null;
    for (const t of this.#finality) clearTimeout(t);
    this.#finality.clear();
    this.#listeners.clear();
    await this.#server?.stop();
    this.#server = null;
    this.#store?.close();
    this.#store = null;
    this.#started = false;
  }

  #push(block: Block): void {
    this.#blocks.push(block);
    this.#byHash.set(block.hashHex, block);
  }

  #emit(e: ChainEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log("chain listener failed", err);
      }
    }
  }

  #view(): ChainView {
    return {
      genesisHash: this.genesis.hash,
      blockHash: (n) => this.#blocks[n]?.hash,
    };
  }

  #produceSafely(): void {
    try {
      this.newBlock();
    } catch (e) {
      this.#log("block production failed", e);
    }
  }

  /**
   * Validates and queues a transaction (full encoding with length prefix). Returns its hash and
   * whether it waits for an earlier nonce. Throws {@link PoolRejectionError} with the
   * node's RPC error code (1010 invalid, 1013 already imported).
   */
  submit(bytes: Uint8Array): { hash: string; future: boolean } {
    let xt: DecodedExtrinsic;
    try {
      xt = decodeExtrinsic(this.runtime, bytes);
    } catch (e) {
      if (e instanceof MalformedExtrinsicError)
        throw new PoolRejectionError(1010, "Invalid Transaction", {
          details: `Could not decode: ${e.message}`,
          cause: e,
        });
      throw e;
    }
    if (this.#pool.some((p) => p.xt.hash === xt.hash))
      throw new PoolRejectionError(1013, "Transaction Already Imported", {
        details: "Transaction Already Imported",
      });
    const state = this.#state;
    state.begin();
    let entry: PoolEntry;
    let future = false;
    try {
      const exec = new BlockExecutor(this.runtime, state, this.head.header.number + 1, this.#fees, this.#log);
      const checked = exec.check(xt, this.#view(), { allowFuture: true });
      future = checked.future;
      entry = { xt, verifiedBirth: checked.birth, future, since: this.head.header.number };
    } catch (e) {
      if (e instanceof InvalidTransaction)
        throw new PoolRejectionError(1010, "Invalid Transaction", { details: e.message, cause: e });
      throw new PoolRejectionError(1010, "Invalid Transaction", { details: (e as Error).message, cause: e });
    } finally {
      state.rollback();
    }
    this.#admitToPool(entry);
    if (this.mode === "instant" && this.#started && !this.#scheduled) {
      this.#scheduled = setImmediate(() => {
        this.#scheduled = null;
        this.#produceSafely();
      });
    }
    return { hash: xt.hash, future };
  }

  /** Queues a checked transaction, or refuses it (1016, as Substrate's pool) when the pool is full. */
  #admitToPool(entry: PoolEntry): void {
    const limits = this.#poolLimits;
    let count = 0;
    let bytes = 0;
    let futureCount = 0;
    let futureBytes = 0;
    for (const e of this.#pool) {
      count++;
      bytes += e.xt.bytes.length;
      if (e.future) {
        futureCount++;
        futureBytes += e.xt.bytes.length;
      }
    }
    const size = entry.xt.bytes.length;
    const full = entry.future
      ? futureCount + 1 > limits.maxFutureTransactions || futureBytes + size > limits.maxFutureBytes
      : count + 1 > limits.maxTransactions || bytes + size > limits.maxBytes;
    if (full)
      throw new PoolRejectionError(1016, "Immediately Dropped", {
        details: "The transaction couldn't enter the pool because of the limit",
      });
    this.#pool.push(entry);
  }

  /**
   * Builds, executes and finalizes `count` blocks now; returns them. Works in every mode
   * (the `dev_newBlock` RPC calls this).
   */
  newBlock(count = 1): Block[] {
    const out: Block[] = [];
    for (let i = 0; i < count; i++) out.push(this.#buildBlock());
    return out;
  }

  #buildBlock(): Block {
    const parent = this.head;
    const number = parent.header.number + 1;
    const state = this.#state;
    state.begin();
    let body: Uint8Array[];
    const included: PoolEntry[] = [];
    const dropped: PoolEntry[] = [];
    try {
      const exec = new BlockExecutor(this.runtime, state, number, this.#fees, this.#log);
      exec.initialize(parent.hash);
      const previous = exec.storage<bigint>("Timestamp", "Now").get();
      const now = BigInt(Date.now()) > previous ? BigInt(Date.now()) : previous + 1n;
      const inherent = encodeUnsigned(this.runtime, { pallet: "Timestamp", call: "set", args: { now } });
      exec.apply(decodeExtrinsic(this.runtime, inherent), null);
      body = [inherent];
      const view = this.#view();
      let progress = true;
      const remaining = new Set(this.#pool);
      while (progress && included.length < MAX_BLOCK_TRANSACTIONS) {
        progress = false;
        for (const entry of remaining) {
          if (included.length >= MAX_BLOCK_TRANSACTIONS) break;
          try {
            exec.transactional(() => {
              const checked = exec.check(
                entry.xt,
                view,
                entry.verifiedBirth ? { verifiedBirth: entry.verifiedBirth } : {},
              );
              exec.apply(entry.xt, checked);
            });
            included.push(entry);
            body.push(entry.xt.bytes);
            remaining.delete(entry);
            progress = true;
          } catch (e) {
            if (e instanceof InvalidTransaction && e.kind === "Future") {
              if (number - entry.since > this.#poolLimits.futureLifetimeBlocks) {
                dropped.push(entry);
                remaining.delete(entry);
              }
              continue;
            }
            if (!(e instanceof InvalidTransaction)) this.#log(`dropping transaction ${entry.xt.hash}`, e);
            dropped.push(entry);
            remaining.delete(entry);
          }
        }
      }
      exec.finalize();
    } catch (e) {
      while (state.depth > 0) state.rollback();
      throw new DevChainError(`cannot build block ${number}`, { cause: e });
    }
    const changes = state.commitBlock(number);
    const block = makeBlock(
      {
        parentHash: parent.hash,
        number,
        stateRoot: state.root(),
        extrinsicsRoot: computeExtrinsicsRoot(body),
        digest: [],
      },
      body,
    );
    this.#push(block);
    const gone = new Set([...included, ...dropped]);
    for (let i = this.#pool.length - 1; i >= 0; i--)
      if (gone.has(this.#pool[i] as PoolEntry)) this.#pool.splice(i, 1);
    try {
      this.#store?.saveBlock(block, changes, this.#metadataHash());
    } catch (e) {
      this.#log("cannot persist block", e);
    }
    this.#emit({ type: "block", block, changes });
    for (const e of included) this.#emit({ type: "tx", hash: e.xt.hash, status: { inBlock: block.hashHex } });
    if (included.length > 0) {
      const timer = setTimeout(() => {
        this.#finality.delete(timer);
        for (const e of included)
          this.#emit({ type: "tx", hash: e.xt.hash, status: { finalized: block.hashHex } });
      }, this.options.finalityNotificationDelayMs ?? 100);
      this.#finality.add(timer);
    }
    for (const e of dropped) this.#emit({ type: "tx", hash: e.xt.hash, status: "invalid" });
    return block;
  }

  /** Reads a storage item at the head (or at block `at`), decoded. */
  read<V = unknown>(pallet: string, item: string, keys: readonly unknown[] = [], at?: number): V {
    const info = this.runtime.storageItem(pallet, item);
    const key = this.runtime.storageKey(info, keys);
    const raw =
      at === undefined ? this.#state.getAt(key, this.head.header.number) : this.#state.getAt(key, at);
    if (raw === undefined) return info.defaultValue as V;
    return decode(info.def.type, raw, this.runtime.codec) as V;
  }

  /** Writes raw storage directly into a new block (dev_setStorage). */
  setStorage(entries: ReadonlyArray<[string, Uint8Array | null]>): Block {
    const parent = this.head;
    const number = parent.header.number + 1;
    const state = this.#state;
    state.begin();
    try {
      const exec = new BlockExecutor(this.runtime, state, number, this.#fees, this.#log);
      exec.initialize(parent.hash);
      for (const [k, v] of entries) state.set(k.toLowerCase(), v);
      exec.finalize();
    } catch (e) {
      while (state.depth > 0) state.rollback();
      throw new DevChainError("cannot write storage", { cause: e });
    }
    const changes = state.commitBlock(number);
    const block = makeBlock(
      {
        parentHash: parent.hash,
        number,
        stateRoot: state.root(),
        extrinsicsRoot: computeExtrinsicsRoot([]),
        digest: [],
      },
      [],
    );
    this.#push(block);
    this.#store?.saveBlock(block, changes, this.#metadataHash());
    this.#emit({ type: "block", block, changes });
    return block;
  }
}

/** Creates a dev chain; call `start()` to produce genesis and listen. */
export function createDevChain(options: DevChainOptions = {}): DevChain {
  return new DevChain(options);
}
