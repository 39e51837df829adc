/**
 * Executes the runtime against state: storage handles, events, transactional dispatch, and the
 * per-transaction checks (signature, era, nonce, fee) a Substrate executive performs.
 */
import { bytesEqual } from "../../protocol/bytes.js";
import { additionalSigned, type DecodedExtrinsic, eraBirth, verifyExtrinsicSignature } from "./extrinsic.js";
import {
  type DispatchContext,
  DispatchError,
  type DispatchResult,
  InvalidTransaction,
  ModuleError,
  type Origin,
  type RuntimeCallValue,
  type RuntimeContext,
  type StorageHandle,
  type ValidateContext,
} from "./pallet.js";
import {
  type CallDispatchInfo,
  callDispatchInfo,
  computeFee,
  type FeeConfig,
  withdrawFee,
} from "./pallets/transaction-payment.js";
import type { Runtime, StorageItemInfo, StorageView } from "./runtime.js";
import { decode, encode, Reader, ScaleError, type VariantValue, Writer } from "./scale.js";
import type { State } from "./state.js";
import { type AccountInfo, EVENT_RECORD } from "./types.js";

/** Logs unexpected handler failures (bugs), which the chain turns into `DispatchError::Other`. */
export type Logger = (message: string, error?: unknown) => void;

/**
 * Storage handle operations for hot read-only paths (the epoch): stored values read through a
 * {@link StorageView} once per stored value, the results shared between readers.
 */
export interface ViewStorageHandle<V> extends StorageHandle<V> {
  /**
   * {@link StorageHandle.entries} with each value read through `view`, once per stored value (see
   * {@link Runtime.viewStored}): results are shared, never mutate them.
   */
  viewEntries<T>(view: StorageView<T>, ...prefixKeys: unknown[]): Array<[unknown[], T]>;
  /**
   * Stores `raw`, bytes the caller encoded as the item's type (they are not checked), and records
   * `viewed` as what `view` reads from them. The caller gives `viewed` up: it must not change it.
   */
  setEncoded<T>(keys: readonly unknown[], raw: Uint8Array, view: StorageView<T>, viewed: T): void;
}

/** Whether a handle (from a block context) offers the view operations. */
export function isViewStorageHandle<V>(h: StorageHandle<V>): h is ViewStorageHandle<V> {
  return h instanceof Handle;
}

/** What a storage handle reads and writes through: the block's state, or a past block's view. */
type StorageSource = Pick<State, "get" | "set" | "keysWithPrefix">;

class Handle<V> implements ViewStorageHandle<V> {
  constructor(
    private readonly runtime: Runtime,
    private readonly state: StorageSource,
    private readonly item: StorageItemInfo,
  ) {}

  #full(keys: readonly unknown[]): string {
    if (keys.length !== this.item.keys.length)
      throw new ScaleError(`${this.item.pallet}.${this.item.def.name} needs ${this.item.keys.length} keys`);
    return this.runtime.storageKey(this.item, keys);
  }

  get(...keys: unknown[]): V {
    const raw = this.state.get(this.#full(keys));
    if (raw === undefined) return this.item.defaultValue as V;
    return decode(this.item.def.type, raw, this.runtime.codec) as V;
  }

  has(...keys: unknown[]): boolean {
    return this.state.get(this.#full(keys)) !== undefined;
  }

  set(keys: readonly unknown[], value: V | undefined): void {
    const key = this.#full(keys);
    if (value === undefined || (this.item.optional && value === null)) this.state.set(key, null);
    else this.state.set(key, encode(this.item.def.type, value, this.runtime.codec));
  }

  remove(...keys: unknown[]): void {
    this.state.set(this.#full(keys), null);
  }

  mutate(keys: readonly unknown[], fn: (value: V) => V | undefined): V | undefined {
    const next = fn(this.get(...keys));
    this.set(keys, next);
    return next;
  }

  entries(...prefixKeys: unknown[]): Array<[unknown[], V]> {
    return this.#entries(prefixKeys, (_, raw) => decode(this.item.def.type, raw, this.runtime.codec) as V);
  }

  viewEntries<T>(view: StorageView<T>, ...prefixKeys: unknown[]): Array<[unknown[], T]> {
    return this.#entries(prefixKeys, (k, raw) => this.runtime.viewStored(k, raw, view));
  }

  #entries<T>(
    prefixKeys: unknown[],
    decodeValue: (key: string, raw: Uint8Array) => T,
  ): Array<[unknown[], T]> {
    const prefix = this.runtime.storageKey(this.item, prefixKeys);
    return this.state.keysWithPrefix(prefix).map((k) => {
      const raw = this.state.get(k) as Uint8Array;
      const keyBytes = Buffer.from(k.slice(2), "hex");
      const keys = this.runtime.decodeStorageKey(this.item, new Reader(keyBytes));
      return [keys, decodeValue(k, raw)];
    });
  }

  setEncoded<T>(keys: readonly unknown[], raw: Uint8Array, view: StorageView<T>, viewed: T): void {
    const key = this.#full(keys);
    this.runtime.rememberView(key, raw, view, viewed);
    this.state.set(key, raw);
  }

  clear(...prefixKeys: unknown[]): number {
    const keys = this.state.keysWithPrefix(this.runtime.storageKey(this.item, prefixKeys));
    for (const k of keys) this.state.set(k, null);
    return keys.length;
  }

  key(...keys: unknown[]): string {
    return this.runtime.storageKey(this.item, keys);
  }
}

/** Raised when a read-only context (a runtime API call) is asked to change state. */
export class ReadOnlyStateError extends ScaleError {
  override name = "ReadOnlyStateError";
}

/**
 * A read-only {@link RuntimeContext} over the state of block `blockNumber` (runtime API calls run
 * against a past or the best block and change nothing).
 */
export function createViewContext(
  runtime: Runtime,
  source: { get(key: string): Uint8Array | undefined; keysWithPrefix(prefix: string): string[] },
  blockNumber: number,
): RuntimeContext {
  const readOnly = (): never => {
    throw new ReadOnlyStateError("runtime API calls cannot change state");
  };
  const state: StorageSource = { get: source.get, keysWithPrefix: source.keysWithPrefix, set: readOnly };
  const handles = new Map<string, StorageHandle<unknown>>();
  return {
    blockNumber,
    storage<V>(pallet: string, item: string): StorageHandle<V> {
      const name = `${pallet}.${item}`;
      let h = handles.get(name);
      if (!h) {
        h = new Handle(runtime, state, runtime.storageItem(pallet, item));
        handles.set(name, h);
      }
      return h as StorageHandle<V>;
    },
    emit: readOnly,
    transactional: <T>(fn: () => T) => fn(),
    dispatch: readOnly,
    constant: <V>(pallet: string, name: string) => runtime.constant(pallet, name) as V,
  };
}

/** Chain facts the transaction checks need. */
export interface ChainView {
  genesisHash: Uint8Array;
  /** Hash of block `number` on the best chain, if known. */
  blockHash(number: number): Uint8Array | undefined;
}

export interface CheckedTransaction {
  who: Uint8Array;
  nonce: number;
  /** Fee including tip. */
  fee: bigint;
  tip: bigint;
  info: CallDispatchInfo;
}

export interface ApplyOutcome {
  result: DispatchResult;
  info: CallDispatchInfo;
}

/**
 * One block's execution context. Every write goes to the state's open overlay; the chain commits
 * or discards the overlay as a whole.
 */
export class BlockExecutor implements RuntimeContext {
  readonly #events: Uint8Array[] = [];
  #phase: VariantValue = { tag: "Initialization" };
  /** pallet -> item -> handle (two levels: no key string built per storage access). */
  readonly #handles = new Map<string, Map<string, StorageHandle<unknown>>>();
  #extrinsicIndex = 0;

  constructor(
    readonly runtime: Runtime,
    readonly state: State,
    readonly blockNumber: number,
    private readonly fees: FeeConfig,
    private readonly log: Logger,
  ) {}

  get eventCount(): number {
    return this.#events.length;
  }

  storage<V = unknown>(pallet: string, item: string): StorageHandle<V> {
    let byItem = this.#handles.get(pallet);
    if (!byItem) {
      byItem = new Map();
      this.#handles.set(pallet, byItem);
    }
    let h = byItem.get(item);
    if (!h) {
      h = new Handle(this.runtime, this.state, this.runtime.storageItem(pallet, item));
      byItem.set(item, h);
    }
    return h as StorageHandle<V>;
  }

  emit(pallet: string, event: string, data?: unknown): void {
    const record = { phase: this.#phase, event: this.runtime.eventValue(pallet, event, data), topics: [] };
    this.#events.push(encode(EVENT_RECORD, record, this.runtime.codec));
  }

  transactional<T>(fn: () => T): T {
    this.state.begin();
    const mark = this.#events.length;
    try {
      const out = fn();
      this.state.commit();
      return out;
    } catch (e) {
      this.state.rollback();
      this.#events.length = mark;
      throw e;
    }
  }

  constant<V = unknown>(pallet: string, name: string): V {
    return this.runtime.constant(pallet, name) as V;
  }

  dispatch(call: RuntimeCallValue, origin: Origin): DispatchResult {
    try {
      const def = this.runtime.call(call.pallet, call.call);
      const ctx = this.#dispatchContext(origin, call.pallet);
      this.transactional(() => def.handler(ctx, call.args));
      return { ok: true };
    } catch (e) {
      if (e instanceof DispatchError) {
        try {
          return { ok: false, error: this.runtime.dispatchErrorValue(e) };
        } catch (inner) {
          this.log(`bad module error from ${call.pallet}.${call.call}`, inner);
          return { ok: false, error: { tag: "Other" } };
        }
      }
      this.log(`unexpected failure in ${call.pallet}.${call.call}`, e);
      return { ok: false, error: { tag: "Other" } };
    }
  }

  #dispatchContext(origin: Origin, pallet: string): DispatchContext {
    return {
      origin,
      pallet,
      blockNumber: this.blockNumber,
      storage: <V>(p: string, item: string) => this.storage<V>(p, item),
      emit: (p: string, event: string, data?: unknown) => this.emit(p, event, data),
      transactional: <T>(fn: () => T) => this.transactional(fn),
      dispatch: (call: RuntimeCallValue, o: Origin) => this.dispatch(call, o),
      constant: <V>(p: string, name: string) => this.constant<V>(p, name),
      fail(error: string): never {
        throw new ModuleError(pallet, error);
      },
    };
  }

  setPhase(phase: VariantValue): void {
    this.#phase = phase;
  }

  /** Writes System.Number/ParentHash/BlockHash, clears last block's events, runs on_initialize hooks. */
  initialize(parentHash: Uint8Array): void {
    this.#phase = { tag: "Initialization" };
    this.storage("System", "Number").set([], this.blockNumber);
    this.storage("System", "ParentHash").set([], parentHash);
    this.storage("System", "BlockHash").set([this.blockNumber - 1], parentHash);
    this.storage("System", "Events").remove();
    this.storage("System", "EventCount").remove();
    for (const p of this.runtime.pallets) p.onInitialize?.(this);
  }

  /** Runs on_finalize hooks and writes System.Events / EventCount / ExtrinsicCount. */
  finalize(): void {
    this.#phase = { tag: "Finalization" };
    for (const p of this.runtime.pallets) p.onFinalize?.(this);
    const w = new Writer();
    w.compact(this.#events.length);
    for (const e of this.#events) w.bytes(e);
    this.state.set(this.storage("System", "Events").key(), w.finish());
    this.storage("System", "EventCount").set([], this.#events.length);
    this.storage("System", "ExtrinsicCount").set([], this.#extrinsicIndex);
  }

  /**
   * The checks a transaction must pass to enter the pool or a block. Read-only.
   * `verified` skips the signature when it was already checked against the same birth hash.
   */
  check(
    xt: DecodedExtrinsic,
    view: ChainView,
    options: { verifiedBirth?: Uint8Array; allowFuture?: boolean } = {},
  ): CheckedTransaction & { birth: Uint8Array; future: boolean } {
    const verifiedBirth = options.verifiedBirth;
    const s = xt.signed;
    if (!s)
      throw new InvalidTransaction("Call", undefined, { details: "unsigned transactions are not accepted" });
    if (s.metadataHashEnabled)
      throw new InvalidTransaction("BadProof", undefined, { details: "metadata hash mode" });
    let birth = view.genesisHash;
    if (s.era) {
      const n = eraBirth(s.era, this.blockNumber);
      const h = n < this.blockNumber ? view.blockHash(n) : undefined;
      if (!h) throw new InvalidTransaction("AncientBirthBlock");
      birth = h;
    }
    if (!verifiedBirth || !bytesEqual(verifiedBirth, birth)) {
      const additional = additionalSigned(this.runtime, {
        specVersion: this.runtime.version.specVersion,
        transactionVersion: this.runtime.version.transactionVersion,
        genesisHash: view.genesisHash,
        birthHash: birth,
      });
      if (!verifyExtrinsicSignature(xt, additional)) throw new InvalidTransaction("BadProof");
    }
    const account = this.storage<AccountInfo>("System", "Account").get(s.signer);
    if (s.nonce < account.nonce) throw new InvalidTransaction("Stale");
    const future = s.nonce > account.nonce;
    if (future && !options.allowFuture) throw new InvalidTransaction("Future");
    const def = this.runtime.call(xt.call.pallet, xt.call.call);
    const info = callDispatchInfo(def, xt.call);
    const fee = computeFee(this.fees, info, xt.bytes.length) + s.tip;
    if (account.data.free < fee) throw new InvalidTransaction("Payment");
    if (def.validate && !future) {
      const vctx: ValidateContext = {
        origin: { kind: "signed", who: s.signer },
        blockNumber: this.blockNumber,
        storage: (p, i) => this.storage(p, i),
      };
      def.validate(vctx, xt.call.args);
    }
    return { who: s.signer, nonce: s.nonce, fee, tip: s.tip, info, birth, future };
  }

  /** Applies a checked signed transaction or an inherent (unsigned, origin None). */
  apply(xt: DecodedExtrinsic, checked: CheckedTransaction | null): ApplyOutcome {
    const index = this.#extrinsicIndex;
    this.#phase = { tag: "ApplyExtrinsic", value: index };
    let info: CallDispatchInfo;
    let origin: Origin;
    if (checked) {
      info = checked.info;
      origin = { kind: "signed", who: checked.who };
      this.storage<AccountInfo>("System", "Account").mutate([checked.who], (a) => ({
        ...a,
        nonce: a.nonce + 1,
      }));
      if (!withdrawFee(this, checked.who, checked.fee)) throw new InvalidTransaction("Payment");
    } else {
      info = { ...callDispatchInfo(this.runtime.call(xt.call.pallet, xt.call.call), xt.call), pays: false };
      origin = { kind: "none" };
    }
    const result = this.dispatch(xt.call, origin);
    if (checked && checked.fee > 0n)
      this.emit("TransactionPayment", "TransactionFeePaid", {
        who: checked.who,
        actual_fee: checked.fee,
        tip: checked.tip,
      });
    const dispatchInfo = {
      weight: { ref_time: info.weight, proof_size: 0n },
      class: { tag: info.class },
      pays_fee: { tag: info.pays ? "Yes" : "No" },
    };
    if (result.ok) this.emit("System", "ExtrinsicSuccess", { dispatch_info: dispatchInfo });
    else
      this.emit("System", "ExtrinsicFailed", { dispatch_error: result.error, dispatch_info: dispatchInfo });
    this.#extrinsicIndex++;
    return { result, info };
  }
}
