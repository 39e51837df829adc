/**
 * The runtime: pallets assembled into one call enum, one event enum, storage layouts, signed
 * extensions and the generated metadata. It holds no chain state (only caches of hashed key parts
 * and of stored rows read through views); {@link BlockExecutor} runs it.
 */

import { hexToU8a, u8aToHex } from "@polkadot/util";
import { blake2AsU8a } from "@polkadot/util-crypto";
import { bytesEqual } from "../../protocol/bytes.js";
import { coreRuntimeApis } from "./core-runtime-apis.js";
import { DevChainError } from "./errors.js";
import { type Hasher, hashKey, twox128 } from "./hashing.js";
import {
  encodeMetadataV14,
  encodeMetadataV15,
  LookupBuilder,
  type PalletMeta,
  type StorageEntryMeta,
} from "./metadata.js";
import type {
  CallDef,
  ConstantDef,
  DispatchError,
  ErrorDef,
  EventDef,
  PalletDef,
  RuntimeApiDef,
  RuntimeApiMethodDef,
  RuntimeCallValue,
  StorageDef,
} from "./pallet.js";
import { ModuleError } from "./pallet.js";
import {
  type CodecContext,
  decode,
  decodeFrom,
  defaultValue,
  encode,
  type Field,
  H256,
  type Reader,
  type Type,
  t,
  type VariantDef,
  type VariantValue,
} from "./scale.js";
import { ERA, METADATA_HASH_MODE, MULTI_ADDRESS, MULTI_SIGNATURE } from "./types.js";

export class UnknownRuntimeItemError extends DevChainError {
  override name = "UnknownRuntimeItemError";
}

export class RuntimeDefinitionError extends DevChainError {
  override name = "RuntimeDefinitionError";
}

/** A transaction extension: its explicit (in-extrinsic) and implicit (signed-only) payloads. */
export interface ExtensionDef {
  identifier: string;
  extra: Type;
  additional: Type;
}

/** The extensions @polkadot/api knows by name, in subtensor's order (its custom ones carry no data). */
export const STANDARD_EXTENSIONS: readonly ExtensionDef[] = [
  { identifier: "CheckNonZeroSender", extra: t.tuple(), additional: t.tuple() },
  { identifier: "CheckSpecVersion", extra: t.tuple(), additional: t.u32 },
  { identifier: "CheckTxVersion", extra: t.tuple(), additional: t.u32 },
  { identifier: "CheckGenesis", extra: t.tuple(), additional: H256 },
  { identifier: "CheckMortality", extra: ERA, additional: H256 },
  { identifier: "CheckNonce", extra: t.compact(t.u32), additional: t.tuple() },
  { identifier: "CheckWeight", extra: t.tuple(), additional: t.tuple() },
  { identifier: "ChargeTransactionPayment", extra: t.compact(t.u64), additional: t.tuple() },
  { identifier: "CheckMetadataHash", extra: METADATA_HASH_MODE, additional: t.option(t.array(t.u8, 32)) },
];

export interface RuntimeVersion {
  specName: string;
  implName: string;
  authoringVersion: number;
  specVersion: number;
  implVersion: number;
  /** [blake2_64(api name) hex, version]. */
  apis: Array<[string, number]>;
  transactionVersion: number;
  stateVersion: number;
}

export interface RuntimeConfig {
  pallets: PalletDef[];
  specName?: string;
  specVersion?: number;
  transactionVersion?: number;
  /** First path segment of RuntimeCall/RuntimeEvent; must end in `_runtime` for @polkadot/api. */
  runtimeCrate?: string;
  extensions?: readonly ExtensionDef[];
  /** Runtime APIs advertised in Core_version, by name and version. */
  apis?: Array<[string, number]>;
}

export interface StorageItemInfo {
  pallet: string;
  def: StorageDef;
  /** 0x + twox128(prefix) + twox128(name). */
  prefix: string;
  keys: ReadonlyArray<{ hasher: Hasher; type: Type }>;
  optional: boolean;
  defaultValue: unknown;
}

export interface PalletInfo {
  def: PalletDef;
  callType?: Type;
  eventType?: Type;
  errorType?: Type;
  calls: Map<string, CallDef>;
  events: Map<string, EventDef & { index: number }>;
  errors: Map<string, number>;
  storage: Map<string, StorageItemInfo>;
  constants: Map<string, ConstantDef>;
}

const DEFAULT_APIS: Array<[string, number]> = [
  ["Core", 5],
  ["Metadata", 2],
  ["BlockBuilder", 6],
  ["TaggedTransactionQueue", 3],
  ["AccountNonceApi", 1],
  ["TransactionPaymentApi", 4],
];

/**
 * How many hashed key parts a runtime remembers before starting over: enough for every hotkey and
 * coldkey of a few full subnets (each key part is ~100 bytes of strings).
 */
const KEY_PART_CACHE_SIZE = 65_536;

/**
 * How many storage values a runtime keeps view results of: the weights and bonds rows of a few
 * dozen full subnets (a packed 256-entry row is ~1 KiB).
 */
const VIEW_CACHE_SIZE = 16_384;

/**
 * A pure reading of a storage item's stored bytes into some other form than its decoded value
 * (e.g. a packed weights row): the same bytes must always give an equal result.
 */
export type StorageView<T> = (raw: Uint8Array) => T;

const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Whether `k` encodes as its own bytes under `type` (`[u8; N]` or a newtype of it, like AccountId32). */
function isRawByteKey(type: Type, k: unknown): k is Uint8Array {
  if (!(k instanceof Uint8Array)) return false;
  let ty = type;
  while (ty.kind === "composite" && ty.fields.length === 1 && ty.fields[0]?.name === undefined)
    ty = (ty.fields[0] as Field).type;
  return (
    ty.kind === "array" && k.length === ty.len && ty.inner.kind === "primitive" && ty.inner.prim === "u8"
  );
}

/** SCALE encoding of a storage key part as bare hex, without a Writer for the common key types. */
function encodeKeyHex(type: Type, k: unknown, codec: CodecContext): string {
  if (isRawByteKey(type, k)) return u8aToHex(k).slice(2);
  if (type.kind === "primitive" && typeof k === "number" && Number.isInteger(k) && k >= 0) {
    const size = type.prim === "u8" ? 1 : type.prim === "u16" ? 2 : type.prim === "u32" ? 4 : 0;
    if (size > 0 && k < 2 ** (size * 8)) {
      let hex = "";
      let v = k;
      for (let i = 0; i < size; i++) {
        hex += HEX_BYTE[v & 0xff];
        v >>>= 8;
      }
      return hex;
    }
  }
  return u8aToHex(encode(type, k, codec)).slice(2);
}

const snake = (s: string): string =>
  s
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();

function eventFields(e: EventDef): Field[] {
  if (!e.fields) return [];
  if (Array.isArray(e.fields)) return e.fields.map((type) => ({ type }));
  return Object.entries(e.fields).map(([name, f]) => ("kind" in f ? { name, type: f } : { ...f, name }));
}

function indexed<T extends { name: string; index?: number }>(
  items: readonly T[],
): Array<T & { index: number }> {
  return items.map((item, i) => ({ ...item, index: item.index ?? i }));
}

/** The configured API list plus each declared API not in it, so Core_version advertises them all. */
function advertisedApis(
  configured: Array<[string, number]>,
  declared: readonly RuntimeApiDef[],
): Array<[string, number]> {
  const names = new Set(configured.map(([name]) => name));
  return [
    ...configured,
    ...declared.filter((a) => !names.has(a.name)).map((a): [string, number] => [a.name, a.version]),
  ];
}

/**
 * An assembled runtime.
 *
 * @example
 * const runtime = new Runtime({ pallets: [systemPallet(), timestampPallet(), balancesPallet()] });
 * runtime.metadata; // SCALE bytes of metadata V14
 */
export class Runtime {
  readonly pallets: readonly PalletDef[];
  readonly callType: Type;
  readonly eventType: Type;
  readonly extrinsicType: Type;
  readonly extensions: readonly ExtensionDef[];
  readonly version: RuntimeVersion;
  readonly codec: CodecContext;
  readonly metadata: Uint8Array;
  /** Core APIs first, then the pallets' (in pallet index order). */
  readonly runtimeApis: readonly RuntimeApiDef[];
  readonly #apiMethods = new Map<string, RuntimeApiMethodDef>();
  readonly #crate: string;
  #metadataV15: Uint8Array | undefined;
  readonly #byName = new Map<string, PalletInfo>();
  readonly #byIndex = new Map<number, PalletInfo>();
  /** hasher + encoded key hex -> hashed key part hex (bounded; see KEY_PART_CACHE_SIZE). */
  readonly #keyParts = new Map<string, string>();
  /**
   * Byte-array key parts (account ids, passed again and again as the same objects in an epoch) ->
   * a copy of their bytes, checked on every use, and their hashed key parts by hasher.
   */
  readonly #byteKeyParts = new WeakMap<
    Uint8Array,
    { bytes: Uint8Array; parts: Partial<Record<Hasher, string>> }
  >();
  /**
   * Storage key -> the bytes last read or written there through a view, and the view's result
   * (see {@link viewStored}). One entry per key, so older values kept for historical queries are
   * not held twice; bounded by VIEW_CACHE_SIZE.
   */
  readonly #views = new Map<string, { raw: Uint8Array; view: StorageView<unknown>; value: unknown }>();

  constructor(config: RuntimeConfig) {
    this.pallets = [...config.pallets].sort((a, b) => a.index - b.index);
    const crate = config.runtimeCrate ?? "node_subtensor_runtime";
    this.extensions = config.extensions ?? STANDARD_EXTENSIONS;

    const callVariants: VariantDef[] = [];
    const eventVariants: VariantDef[] = [];
    for (const p of this.pallets) {
      if (this.#byName.has(p.name) || this.#byIndex.has(p.index))
        throw new RuntimeDefinitionError(`duplicate pallet ${p.name} / index ${p.index}`);
      const info = this.#palletInfo(p);
      this.#byName.set(p.name, info);
      this.#byIndex.set(p.index, info);
      if (info.callType)
        callVariants.push({
          name: p.name,
          index: p.index,
          fields: [{ type: info.callType, typeName: `CallableCallFor<${p.name}, Runtime>` }],
        });
      if (info.eventType)
        eventVariants.push({
          name: p.name,
          index: p.index,
          fields: [{ type: info.eventType, typeName: `${snake(p.name)}::Event<Runtime>` }],
        });
    }
    this.callType = { kind: "variant", path: [crate, "RuntimeCall"], variants: callVariants };
    this.eventType = { kind: "variant", path: [crate, "RuntimeEvent"], variants: eventVariants };
    this.codec = { runtimeCall: this.callType, runtimeEvent: this.eventType };
    this.extrinsicType = {
      kind: "composite",
      path: ["sp_runtime", "generic", "unchecked_extrinsic", "UncheckedExtrinsic"],
      params: [
        { name: "Address", type: MULTI_ADDRESS },
        { name: "Call", type: this.callType },
        { name: "Signature", type: MULTI_SIGNATURE },
        { name: "Extra", type: t.tuple(...this.extensions.map((e) => e.extra)) },
      ],
      fields: [{ type: t.vec(t.u8) }],
    };
    this.runtimeApis = [
      ...coreRuntimeApis(this.extrinsicType),
      ...this.pallets.flatMap((p) => p.runtimeApis ?? []),
    ];
    for (const api of this.runtimeApis)
      for (const m of api.methods) this.#apiMethods.set(`${api.name}_${m.name}`, m);
    this.#crate = crate;
    this.version = {
      specName: config.specName ?? "node-subtensor",
      implName: config.specName ?? "node-subtensor",
      authoringVersion: 1,
      specVersion: config.specVersion ?? 425,
      implVersion: 1,
      apis: advertisedApis(config.apis ?? DEFAULT_APIS, this.runtimeApis).map(([name, v]) => [
        u8aToHex(blake2AsU8a(name, 64)),
        v,
      ]),
      transactionVersion: config.transactionVersion ?? 1,
      stateVersion: 1,
    };
    this.metadata = this.#buildMetadata(crate, 14);
  }

  #palletInfo(p: PalletDef): PalletInfo {
    const crate = p.crate ?? `pallet_${snake(p.name)}`;
    const params = [{ name: "T" }];
    const calls = indexed(p.calls ?? []);
    const events = indexed(p.events ?? []);
    const errors = indexed<ErrorDef>(p.errors ?? []);
    const info: PalletInfo = {
      def: p,
      calls: new Map(calls.map((c) => [c.name, c])),
      events: new Map(events.map((e) => [e.name, e])),
      errors: new Map(errors.map((e) => [e.name, e.index])),
      storage: new Map(),
      constants: new Map((p.constants ?? []).map((c) => [c.name, c])),
    };
    if (calls.length > 0)
      info.callType = {
        kind: "variant",
        path: [crate, "pallet", "Call"],
        params,
        variants: calls.map((c) => ({
          name: c.name,
          index: c.index,
          docs: c.docs ?? [],
          fields: c.args.map((a) => ({
            name: a.name,
            type: a.type,
            ...(a.typeName ? { typeName: a.typeName } : {}),
          })),
        })),
      };
    if (events.length > 0)
      info.eventType = {
        kind: "variant",
        path: [crate, "pallet", "Event"],
        params,
        variants: events.map((e) => ({
          name: e.name,
          index: e.index,
          docs: e.docs ?? [],
          fields: eventFields(e),
        })),
      };
    if (errors.length > 0)
      info.errorType = {
        kind: "variant",
        path: [crate, "pallet", "Error"],
        params,
        variants: errors.map((e) => ({ name: e.name, index: e.index, docs: e.docs ?? [], fields: [] })),
      };
    const storagePrefix = u8aToHex(twox128(p.storagePrefix ?? p.name));
    for (const s of p.storage ?? []) {
      const optional = s.query === "Optional";
      info.storage.set(s.name, {
        pallet: p.name,
        def: s,
        prefix: storagePrefix + u8aToHex(twox128(s.name)).slice(2),
        keys: s.keys ?? [],
        optional,
        defaultValue: optional
          ? undefined
          : s.default !== undefined
            ? s.default
            : defaultValue(s.type, this.codec ?? {}),
      });
    }
    return info;
  }

  /** SCALE bytes of metadata V15, built on first use (only V15 clients ask for it). */
  get metadataV15(): Uint8Array {
    this.#metadataV15 ??= this.#buildMetadata(this.#crate, 15);
    return this.#metadataV15;
  }

  /** The runtime API method behind `state_call` name `Api_method`, if declared. */
  runtimeApiMethod(name: string): RuntimeApiMethodDef | undefined {
    return this.#apiMethods.get(name);
  }

  #buildMetadata(crate: string, version: 14 | 15): Uint8Array {
    const lookup = new LookupBuilder(
      () => this.callType,
      () => this.eventType,
    );
    const pallets: PalletMeta[] = this.pallets.map((p) => {
      const info = this.#byName.get(p.name) as PalletInfo;
      const items: StorageEntryMeta[] = [...info.storage.values()].map((s) => {
        const value = lookup.id(s.def.type);
        const keyTypes = s.keys.map((k) => k.type);
        return {
          name: s.def.name,
          modifier: s.optional ? "Optional" : "Default",
          type:
            s.keys.length === 0
              ? { tag: "Plain", value }
              : {
                  tag: "Map",
                  value: {
                    hashers: s.keys.map((k) => k.hasher),
                    key: lookup.id(keyTypes.length === 1 ? (keyTypes[0] as Type) : t.tuple(...keyTypes)),
                    value,
                  },
                },
          fallback: s.optional ? new Uint8Array([0]) : encode(s.def.type, s.defaultValue, this.codec),
          docs: s.def.docs ?? [],
        };
      });
      return {
        name: p.name,
        storage: items.length > 0 ? { prefix: p.storagePrefix ?? p.name, items } : null,
        calls: info.callType ? lookup.id(info.callType) : null,
        events: info.eventType ? lookup.id(info.eventType) : null,
        constants: [...info.constants.values()].map((c) => ({
          name: c.name,
          type: lookup.id(c.type),
          value: encode(c.type, c.value, this.codec),
          docs: c.docs ?? [],
        })),
        errors: info.errorType ? lookup.id(info.errorType) : null,
        index: p.index,
      };
    });
    const extrinsic = {
      type: lookup.id(this.extrinsicType),
      version: 4,
      signedExtensions: this.extensions.map((e) => ({
        identifier: e.identifier,
        type: lookup.id(e.extra),
        additionalSigned: lookup.id(e.additional),
      })),
    };
    lookup.id(this.eventType);
    const runtimeType = lookup.id({ kind: "composite", path: [crate, "Runtime"], fields: [] });
    if (version === 14)
      return encodeMetadataV14({ lookup: lookup.types, pallets, extrinsic, type: runtimeType });
    // V15 only appends to the same registry, so every V14 type keeps its id.
    const errorVariants: VariantDef[] = this.pallets.flatMap((p) => {
      const errorType = this.#byName.get(p.name)?.errorType;
      return errorType
        ? [
            {
              name: p.name,
              index: p.index,
              fields: [{ type: errorType, typeName: `${snake(p.name)}::Error<Runtime>` }],
            },
          ]
        : [];
    });
    const errorType: Type = { kind: "variant", path: [crate, "RuntimeError"], variants: errorVariants };
    const apis = this.runtimeApis.map((api) => ({
      name: api.name,
      methods: api.methods.map((m) => ({
        name: m.name,
        inputs: m.inputs.map((i) => ({ name: i.name, type: lookup.id(i.type) })),
        output: lookup.id(m.output),
        docs: m.docs ?? [],
      })),
      docs: api.docs ?? [],
    }));
    return encodeMetadataV15({
      lookup: lookup.types,
      pallets,
      extrinsic,
      type: runtimeType,
      extrinsicTypes: {
        address: lookup.id(MULTI_ADDRESS),
        call: lookup.id(this.callType),
        signature: lookup.id(MULTI_SIGNATURE),
        extra: lookup.id(t.tuple(...this.extensions.map((e) => e.extra))),
      },
      apis,
      outerEnums: {
        call: lookup.id(this.callType),
        event: lookup.id(this.eventType),
        error: lookup.id(errorType),
      },
    });
  }

  pallet(name: string): PalletInfo {
    const p = this.#byName.get(name);
    if (!p) throw new UnknownRuntimeItemError(`unknown pallet ${name}`);
    return p;
  }

  hasPallet(name: string): boolean {
    return this.#byName.has(name);
  }

  storageItem(pallet: string, item: string): StorageItemInfo {
    const s = this.pallet(pallet).storage.get(item);
    if (!s) throw new UnknownRuntimeItemError(`unknown storage item ${pallet}.${item}`);
    return s;
  }

  call(pallet: string, call: string): CallDef {
    const c = this.pallet(pallet).calls.get(call);
    if (!c) throw new UnknownRuntimeItemError(`unknown call ${pallet}.${call}`);
    return c;
  }

  constant(pallet: string, name: string): unknown {
    const c = this.pallet(pallet).constants.get(name);
    if (!c) throw new UnknownRuntimeItemError(`unknown constant ${pallet}.${name}`);
    return c.value;
  }

  /** Full storage key for `keys` of an item, as 0x-hex. */
  storageKey(item: StorageItemInfo, keys: readonly unknown[]): string {
    if (keys.length > item.keys.length)
      throw new UnknownRuntimeItemError(`${item.pallet}.${item.def.name} takes ${item.keys.length} keys`);
    let key = item.prefix;
    for (let i = 0; i < keys.length; i++) {
      const kd = item.keys[i] as { hasher: Hasher; type: Type };
      key += this.#keyPart(kd.hasher, kd.type, keys[i]);
    }
    return key;
  }

  /** One hashed key part as bare hex; hashes of recently used keys (hotkeys, coldkeys) are remembered. */
  #keyPart(hasher: Hasher, type: Type, k: unknown): string {
    if (isRawByteKey(type, k)) {
      let known = this.#byteKeyParts.get(k);
      if (known === undefined || !bytesEqual(known.bytes, k)) {
        known = { bytes: k.slice(), parts: {} };
        this.#byteKeyParts.set(k, known);
      }
      let part = known.parts[hasher];
      if (part === undefined) {
        part = this.#hashedKeyPart(hasher, type, k);
        known.parts[hasher] = part;
      }
      return part;
    }
    return this.#hashedKeyPart(hasher, type, k);
  }

  #hashedKeyPart(hasher: Hasher, type: Type, k: unknown): string {
    const encoded = encodeKeyHex(type, k, this.codec);
    if (hasher === "Identity") return encoded;
    const id = hasher + encoded;
    let part = this.#keyParts.get(id);
    if (part === undefined) {
      part = u8aToHex(hashKey(hasher, hexToU8a(`0x${encoded}`))).slice(2);
      if (this.#keyParts.size >= KEY_PART_CACHE_SIZE) this.#keyParts.clear();
      this.#keyParts.set(id, part);
    }
    return part;
  }

  /** Decodes the map keys out of a full storage key (null for non-reversible hashers). */
  decodeStorageKey(item: StorageItemInfo, reader: Reader): unknown[] {
    reader.offset = 32;
    return item.keys.map((k) => {
      switch (k.hasher) {
        case "Blake2_128Concat":
          reader.bytes(16);
          return decodeFrom(reader, k.type, this.codec);
        case "Twox64Concat":
          reader.bytes(8);
          return decodeFrom(reader, k.type, this.codec);
        case "Identity":
          return decodeFrom(reader, k.type, this.codec);
        default:
          reader.bytes(k.hasher === "Blake2_256" || k.hasher === "Twox256" ? 32 : 16);
          return null;
      }
    });
  }

  /**
   * Reads the bytes stored at `key` through `view`, once: while the same bytes stay stored there,
   * every later call returns the same result object, which callers share and must not mutate.
   * Stored bytes are never modified in place (a write stores new bytes), so checking the bytes'
   * identity keeps a cached reading right through overlays, rollbacks and later blocks. For hot
   * read-only paths such as the epoch reading every weights and bonds row.
   *
   * @example
   * const row = runtime.viewStored(key, raw, decodePackedRow); // the same object next epoch
   */
  viewStored<T>(key: string, raw: Uint8Array, view: StorageView<T>): T {
    const hit = this.#views.get(key);
    if (hit !== undefined && hit.raw === raw && hit.view === view) return hit.value as T;
    const value = view(raw);
    this.rememberView(key, raw, view, value);
    return value;
  }

  /** Records that `view(raw)` is `value` for the bytes about to be stored at `key` (see {@link viewStored}). */
  rememberView<T>(key: string, raw: Uint8Array, view: StorageView<T>, value: T): void {
    if (this.#views.size >= VIEW_CACHE_SIZE && !this.#views.has(key)) this.#views.clear();
    this.#views.set(key, { raw, view, value });
  }

  encodeCall(call: RuntimeCallValue): Uint8Array {
    return encode(t.runtimeCall, call, this.codec);
  }

  decodeCall(bytes: Uint8Array): RuntimeCallValue {
    return decode(t.runtimeCall, bytes, this.codec) as RuntimeCallValue;
  }

  /** The `RuntimeEvent` value for an event, after checking the pallet and event exist. */
  eventValue(pallet: string, event: string, data: unknown): VariantValue {
    const p = this.pallet(pallet);
    if (!p.events.has(event)) throw new UnknownRuntimeItemError(`unknown event ${pallet}.${event}`);
    return { tag: pallet, value: data === undefined ? { tag: event } : { tag: event, value: data } };
  }

  /** The `sp_runtime::DispatchError` value for a thrown dispatch error. */
  dispatchErrorValue(error: DispatchError): VariantValue {
    if (error instanceof ModuleError) {
      const p = this.pallet(error.pallet);
      const index = p.errors.get(error.error);
      if (index === undefined)
        throw new UnknownRuntimeItemError(`unknown error ${error.pallet}.${error.error}`);
      return { tag: "Module", value: { index: p.def.index, error: new Uint8Array([index, 0, 0, 0]) } };
    }
    return error.value;
  }
}
