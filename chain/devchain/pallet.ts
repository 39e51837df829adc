/**
 * The declarative shape of a pallet. A pallet is plain data (calls, storage, events, errors,
 * constants) plus handler functions; the runtime generates the V14 metadata and every codec from it.
 *
 * @example
 * const Counter: PalletDef = {
 *   name: "Counter",
 *   index: 40,
 *   storage: [{ name: "Value", type: t.u32 }],
 *   events: [{ name: "Bumped", fields: { who: ACCOUNT_ID, value: t.u32 } }],
 *   errors: [{ name: "Overflow" }],
 *   calls: [{
 *     name: "bump", index: 0, args: [{ name: "by", type: t.u32 }],
 *     handler(ctx, { by }) {
 *       const who = ensureSigned(ctx.origin);
 *       const value = ctx.storage<number>("Counter", "Value").get() + (by as number);
 *       if (value > 0xffffffff) ctx.fail("Overflow");
 *       ctx.storage<number>("Counter", "Value").set([], value);
 *       ctx.emit("Counter", "Bumped", { who, value });
 *     },
 *   }],
 * };
 */
import { DevChainError, type DevChainErrorOptions } from "./errors.js";
import type { Hasher } from "./hashing.js";
import type { Field, Type, VariantValue } from "./scale.js";

/** Who dispatches a call. `signed.who` is the 32-byte account id. */
export type Origin = { kind: "root" } | { kind: "signed"; who: Uint8Array } | { kind: "none" };

/** A decoded runtime call: pallet name, call name (snake_case, as declared) and its named arguments. */
export interface RuntimeCallValue {
  pallet: string;
  call: string;
  args: Record<string, unknown>;
}

export interface CallArg {
  /** snake_case as in Rust; @polkadot/api shows it in camelCase. */
  name: string;
  type: Type;
  /** The Rust type name shown in metadata (`T::AccountId`, `NetUid`, `Compact<T::Balance>`). */
  typeName?: string;
}

export type DispatchClass = "Normal" | "Operational" | "Mandatory";

export interface CallDef {
  /** snake_case as in Rust (`transfer_keep_alive`); @polkadot/api exposes `transferKeepAlive`. */
  name: string;
  index: number;
  args: CallArg[];
  docs?: string[];
  /** `false` is `Pays::No`: no fee is charged. Default true. */
  pays?: boolean;
  /** Ref-time weight reported in DispatchInfo and used in the fee. Default 100_000_000. */
  weight?: bigint | ((args: Record<string, unknown>) => bigint);
  class?: DispatchClass;
  /**
   * Optional early checks run when the transaction enters the pool and again before dispatch.
   * Throw {@link InvalidTransaction} to reject it (RPC error 1010, no event, no fee).
   */
  validate?(ctx: ValidateContext, args: Record<string, unknown>): void;
  /** Executes the call. Throw a {@link DispatchError} (e.g. via `ctx.fail`) to fail; state changes roll back. */
  handler(ctx: DispatchContext, args: Record<string, unknown>): void;
}

export interface StorageKeyDef {
  hasher: Hasher;
  type: Type;
}

export interface StorageDef {
  name: string;
  /** The value type. */
  type: Type;
  /** Map keys in order; none for a plain value, two for a double map, more for an NMap. */
  keys?: StorageKeyDef[];
  /** `Default` (ValueQuery, the default) returns `default` when absent; `Optional` returns undefined. */
  query?: "Optional" | "Default";
  /** The ValueQuery default; the type's zero value when omitted. */
  default?: unknown;
  docs?: string[];
}

export interface EventDef {
  name: string;
  /** Variant index; declaration order when omitted. */
  index?: number;
  /** Tuple event (`Type[]`) or struct event (record of named fields, snake_case). */
  fields?: Type[] | Record<string, Type | Omit<Field, "name">>;
  docs?: string[];
}

export interface ErrorDef {
  name: string;
  /** Variant index; declaration order when omitted. */
  index?: number;
  docs?: string[];
}

export interface ConstantDef {
  name: string;
  type: Type;
  value: unknown;
  docs?: string[];
}

export interface PalletDef {
  /** PascalCase pallet name (`SubtensorModule`); @polkadot/api exposes it camelCased. */
  name: string;
  /** The pallet index: first byte of its calls, events and module errors. */
  index: number;
  /** Rust crate name used in metadata type paths; default `pallet_<snake_case name>`. */
  crate?: string;
  /** Storage prefix (twox128 input); default `name`. */
  storagePrefix?: string;
  calls?: CallDef[];
  storage?: StorageDef[];
  events?: EventDef[];
  errors?: ErrorDef[];
  constants?: ConstantDef[];
  /** Runtime APIs the pallet answers through `state_call` (subtensor's `*RuntimeApi` traits). */
  runtimeApis?: RuntimeApiDef[];
  /** Runs at the start of every block, in pallet index order. */
  onInitialize?(ctx: BlockContext): void;
  /** Runs after the block's extrinsics, in pallet index order. */
  onFinalize?(ctx: BlockContext): void;
  /** Writes the pallet's genesis state. */
  genesis?(ctx: GenesisContext): void;
}

/** One method of a runtime API: `state_call("<Api>_<name>", SCALE(inputs…))` returns SCALE(output). */
export interface RuntimeApiMethodDef {
  /** snake_case, as in the Rust trait (`get_neurons_lite`). */
  name: string;
  inputs: ReadonlyArray<{ name: string; type: Type }>;
  output: Type;
  docs?: string[];
  /**
   * The result value from the decoded inputs, reading state at the queried block through `ctx`
   * (writes throw). Methods without it are declared in metadata only (the runtime answers them).
   */
  call?(ctx: RuntimeContext, args: unknown[]): unknown;
}

/** A runtime API trait: advertised in `Core_version` and described in metadata V15. */
export interface RuntimeApiDef {
  name: string;
  version: number;
  methods: readonly RuntimeApiMethodDef[];
  docs?: string[];
}

/** Typed access to one storage item. Keys are given in declaration order. */
export interface StorageHandle<V> {
  /** The value; for `Default` items the default when absent, for `Optional` items undefined. */
  get(...keys: unknown[]): V;
  has(...keys: unknown[]): boolean;
  /** Writes a value; `undefined` (or `null` for Optional items) removes it. */
  set(keys: readonly unknown[], value: V | undefined): void;
  remove(...keys: unknown[]): void;
  /** Reads, transforms and writes back; returning undefined removes. Returns the new value. */
  mutate(keys: readonly unknown[], fn: (value: V) => V | undefined): V | undefined;
  /** All entries whose keys start with `prefixKeys`, in storage-key order, with their decoded keys. */
  entries(...prefixKeys: unknown[]): Array<[unknown[], V]>;
  /** Removes every entry under `prefixKeys`; returns how many were removed. */
  clear(...prefixKeys: unknown[]): number;
  /** The full 0x-hex storage key. */
  key(...keys: unknown[]): string;
}

/** What every hook and handler can use. */
export interface RuntimeContext {
  /** Number of the block being built. */
  readonly blockNumber: number;
  storage<V = unknown>(pallet: string, item: string): StorageHandle<V>;
  /** Deposits an event in the current phase. `data` follows the event's fields (object or array). */
  emit(pallet: string, event: string, data?: unknown): void;
  /** Runs `fn` in a storage transaction: if it throws, its writes and events are discarded. */
  transactional<T>(fn: () => T): T;
  /** Dispatches a nested call (sudo, batch); never throws a DispatchError, it returns it. */
  dispatch(call: RuntimeCallValue, origin: Origin): DispatchResult;
  /** Reads a constant of any pallet, decoded. */
  constant<V = unknown>(pallet: string, name: string): V;
}

export type BlockContext = RuntimeContext;

export interface DispatchContext extends RuntimeContext {
  readonly origin: Origin;
  /** The pallet the executing call belongs to. */
  readonly pallet: string;
  /** Throws this pallet's module error `error`. */
  fail(error: string): never;
}

export interface ValidateContext {
  readonly origin: Origin;
  readonly blockNumber: number;
  storage<V = unknown>(pallet: string, item: string): StorageHandle<V>;
}

export interface GenesisAccount {
  /** 32-byte public key. */
  id: Uint8Array;
  /** Free balance in rao. */
  balance: bigint;
}

export interface GenesisContext extends RuntimeContext {
  readonly accounts: readonly GenesisAccount[];
  /** The sudo key (//Alice unless configured). */
  readonly sudo: Uint8Array;
  /** Pallet-specific genesis config passed through DevChainOptions.genesis[palletName]. */
  readonly config: unknown;
}

/** `Ok(())` or the `sp_runtime::DispatchError` value that made it fail. */
export type DispatchResult = { ok: true } | { ok: false; error: VariantValue };

/**
 * A dispatch failure. `value` is the `sp_runtime::DispatchError` variant, except for module errors,
 * which carry pallet and error names and are resolved to `Module { index, error }` by the runtime.
 */
export class DispatchError extends DevChainError {
  override name = "DispatchError";
  constructor(
    readonly value: VariantValue,
    options?: DevChainErrorOptions,
  ) {
    super(`dispatch error ${value.tag}`, options);
  }

  static badOrigin(): DispatchError {
    return new DispatchError({ tag: "BadOrigin" });
  }

  static other(): DispatchError {
    return new DispatchError({ tag: "Other" });
  }

  static cannotLookup(): DispatchError {
    return new DispatchError({ tag: "CannotLookup" });
  }

  /** `Token(kind)`: FundsUnavailable, OnlyProvider, BelowMinimum, CannotCreate, UnknownAsset, Frozen, … */
  static token(kind: string): DispatchError {
    return new DispatchError({ tag: "Token", value: { tag: kind } });
  }

  /** `Arithmetic(kind)`: Underflow, Overflow, DivisionByZero. */
  static arithmetic(kind: "Underflow" | "Overflow" | "DivisionByZero"): DispatchError {
    return new DispatchError({ tag: "Arithmetic", value: { tag: kind } });
  }
}

/** A pallet's own error (`DispatchError::Module`), by names; the runtime resolves the indices. */
export class ModuleError extends DispatchError {
  override name = "ModuleError";
  constructor(
    readonly pallet: string,
    readonly error: string,
    options?: DevChainErrorOptions,
  ) {
    super({ tag: "Module" }, options);
    this.message = `${pallet}.${error}`;
  }
}

export type InvalidTransactionKind =
  | "Call"
  | "Payment"
  | "Future"
  | "Stale"
  | "BadProof"
  | "AncientBirthBlock"
  | "ExhaustsResources"
  | "Custom"
  | "BadMandatory"
  | "MandatoryValidation"
  | "BadSigner";

const INVALID_MESSAGES: Record<InvalidTransactionKind, string> = {
  Call: "Transaction call is not expected",
  Payment: "Inability to pay some fees (e.g. account balance too low)",
  Future: "Transaction will be valid in the future",
  Stale: "Transaction is outdated",
  BadProof: "Transaction has a bad signature",
  AncientBirthBlock: "Transaction has an ancient birth block",
  ExhaustsResources: "Transaction would exhaust the block limits",
  Custom: "Custom error",
  BadMandatory: "A call was labelled as mandatory, but resulted in an Error.",
  MandatoryValidation: "Transaction dispatch is mandatory; transactions must not be validated.",
  BadSigner: "Invalid signing address",
};

/**
 * A transaction rejected before inclusion (`InvalidTransaction`). Travels as JSON-RPC error 1010
 * with `data` like "Custom error: 6", as a Substrate node reports it.
 */
export class InvalidTransaction extends DevChainError {
  override name = "InvalidTransaction";
  constructor(
    readonly kind: InvalidTransactionKind,
    readonly code?: number,
    options?: DevChainErrorOptions,
  ) {
    super(
      kind === "Custom"
        ? `Custom error: ${code ?? 0}`
        : options?.details
          ? `${INVALID_MESSAGES[kind]}: ${options.details}`
          : INVALID_MESSAGES[kind],
      options,
    );
  }
}

/** The account of a signed origin, or BadOrigin. */
export function ensureSigned(origin: Origin): Uint8Array {
  if (origin.kind !== "signed") throw DispatchError.badOrigin();
  return origin.who;
}

/** Passes for the root origin only, else BadOrigin. */
export function ensureRoot(origin: Origin): void {
  if (origin.kind !== "root") throw DispatchError.badOrigin();
}

/** Passes for a signed or root origin; returns the account or null for root. */
export function ensureSignedOrRoot(origin: Origin): Uint8Array | null {
  if (origin.kind === "root") return null;
  return ensureSigned(origin);
}
