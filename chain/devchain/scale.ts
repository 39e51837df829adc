/**
 * A small SCALE codec driven by declarative type descriptions. The same descriptions generate the
 * metadata's portable type registry, so what the chain encodes is exactly what @polkadot/api decodes.
 *
 * Value mapping (JS <-> SCALE):
 * - integers up to 32 bits: `number`; 64 bits and wider: `bigint` (encoding accepts either)
 * - `bool`: boolean; `str`: string
 * - `Vec<u8>` and `[u8; N]`: `Uint8Array` (encoding also accepts a 0x-hex string)
 * - other sequences, arrays and tuples: arrays
 * - composites with named fields: objects; one unnamed field: the inner value; several: an array
 * - variants: `{ tag: "Name", value }` where value follows the composite rules (undefined if no fields)
 * - `Option<T>` (built with {@link t.option}): `T | null`
 *
 * Spec: https://docs.substrate.io/reference/scale-codec/
 */

import { hexToU8a, isHex } from "@polkadot/util";
import { DevChainError } from "./errors.js";

export type PrimitiveName =
  | "bool"
  | "char"
  | "str"
  | "u8"
  | "u16"
  | "u32"
  | "u64"
  | "u128"
  | "u256"
  | "i8"
  | "i16"
  | "i32"
  | "i64"
  | "i128"
  | "i256";

export interface Field {
  name?: string;
  type: Type;
  /** The Rust type name shown in metadata, e.g. `T::AccountId` or `NetUid`. */
  typeName?: string;
  docs?: string[];
}

export interface VariantDef {
  name: string;
  index: number;
  fields: Field[];
  docs?: string[];
}

export interface TypeParam {
  name: string;
  type?: Type;
}

export type Type =
  | { kind: "primitive"; prim: PrimitiveName }
  | { kind: "compact"; inner: Type }
  | { kind: "sequence"; inner: Type }
  | { kind: "array"; inner: Type; len: number }
  | { kind: "tuple"; items: Type[] }
  | { kind: "composite"; path: string[]; params?: TypeParam[]; fields: Field[]; docs?: string[] }
  | {
      kind: "variant";
      path: string[];
      params?: TypeParam[];
      variants: VariantDef[];
      docs?: string[];
      /** Set by {@link t.option}: the JS value is `T | null` instead of `{ tag }`. */
      option?: boolean;
    }
  /**
   * The runtime's outer call enum (for sudo, utility, proxies…). Its JS value is a
   * `{ pallet, call, args }` object ({@link RuntimeCallLike}).
   */
  | { kind: "runtimeCall" }
  /** The runtime's outer event enum; JS value `{ tag: pallet, value: { tag: event, value } }`. */
  | { kind: "runtimeEvent" }
  /** A named type whose definition is resolved lazily (recursive types). */
  | { kind: "lazy"; resolve: () => Type };

export interface RuntimeCallLike {
  pallet: string;
  call: string;
  args: Record<string, unknown>;
}

export interface VariantValue {
  tag: string;
  value?: unknown;
}

/** Thrown when bytes do not decode or a value does not fit its type. */
export class ScaleError extends DevChainError {
  override name = "ScaleError";
}

const prim = (p: PrimitiveName): Type => ({ kind: "primitive", prim: p });

/** Type builders. Example: `t.struct(["pallet_x", "Info"], { a: t.u16, b: t.vec(t.u8) })`. */
export const t = {
  bool: prim("bool"),
  str: prim("str"),
  u8: prim("u8"),
  u16: prim("u16"),
  u32: prim("u32"),
  u64: prim("u64"),
  u128: prim("u128"),
  i8: prim("i8"),
  i16: prim("i16"),
  i32: prim("i32"),
  i64: prim("i64"),
  i128: prim("i128"),
  compact: (inner: Type): Type => ({ kind: "compact", inner }),
  vec: (inner: Type): Type => ({ kind: "sequence", inner }),
  array: (inner: Type, len: number): Type => ({ kind: "array", inner, len }),
  tuple: (...items: Type[]): Type => ({ kind: "tuple", items }),
  /** A composite with named fields, in declaration order. */
  struct: (path: string[], fields: Record<string, Type | Field>, params?: TypeParam[]): Type => ({
    kind: "composite",
    path,
    ...(params ? { params } : {}),
    fields: Object.entries(fields).map(([name, f]) => ("kind" in f ? { name, type: f } : { ...f, name })),
  }),
  /** A composite with unnamed fields (a Rust tuple struct / newtype). */
  newtype: (path: string[], ...items: Type[]): Type => ({
    kind: "composite",
    path,
    fields: items.map((type) => ({ type })),
  }),
  /**
   * An enum. Variants are `name -> fields`, where fields is `[]` (unit), an array of types
   * (tuple variant) or a record (struct variant). Indices follow declaration order unless `indices` says otherwise.
   */
  enum: (
    path: string[],
    variants: Record<string, Type[] | Record<string, Type | Field>>,
    indices?: Record<string, number>,
  ): Type => ({
    kind: "variant",
    path,
    variants: Object.entries(variants).map(([name, fs], i) => ({
      name,
      index: indices?.[name] ?? i,
      fields: Array.isArray(fs)
        ? fs.map((type) => ({ type }))
        : Object.entries(fs).map(([fname, f]) =>
            "kind" in f ? { name: fname, type: f } : { ...f, name: fname },
          ),
    })),
  }),
  option: (inner: Type): Type => ({
    kind: "variant",
    path: ["Option"],
    params: [{ name: "T", type: inner }],
    option: true,
    variants: [
      { name: "None", index: 0, fields: [] },
      { name: "Some", index: 1, fields: [{ type: inner }] },
    ],
  }),
  result: (ok: Type, err: Type): Type => ({
    kind: "variant",
    path: ["Result"],
    params: [
      { name: "T", type: ok },
      { name: "E", type: err },
    ],
    variants: [
      { name: "Ok", index: 0, fields: [{ type: ok }] },
      { name: "Err", index: 1, fields: [{ type: err }] },
    ],
  }),
  runtimeCall: { kind: "runtimeCall" } as Type,
  runtimeEvent: { kind: "runtimeEvent" } as Type,
  lazy: (resolve: () => Type): Type => ({ kind: "lazy", resolve }),
};

/** Common Substrate types, with the paths @polkadot/api recognises. */
export const UNIT: Type = t.tuple();
export const BYTES: Type = t.vec(t.u8);
export const H256: Type = t.newtype(["primitive_types", "H256"], t.array(t.u8, 32));
export const ACCOUNT_ID: Type = t.newtype(["sp_core", "crypto", "AccountId32"], t.array(t.u8, 32));

/** A growable byte buffer for encoding. */
export class Writer {
  // Most encodes are storage keys and small values; a large value grows the buffer by doubling.
  private buf = new Uint8Array(64);
  private len = 0;
  /** A view of `buf` for 64-bit writes, made on first use and dropped when `buf` grows. */
  #view: DataView | undefined;

  /** Makes room for `extra` more bytes, so a loop of known size grows the buffer once. */
  reserve(extra: number): void {
    this.ensure(extra);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.#view = undefined;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** Little-endian unsigned integer of at most 4 bytes, from a number already range-checked. */
  smallUint(v: number, size: number): void {
    this.ensure(size);
    for (let i = 0; i < size; i++) {
      this.buf[this.len++] = v & 0xff;
      v >>>= 8;
    }
  }

  /** Little-endian unsigned integer of `size` bytes. */
  uint(v: bigint, size: number): void {
    this.ensure(size);
    // 32 bits per BigInt step instead of 8: u64 balances and u128 fixed-point values are common.
    let x = v;
    let i = 0;
    for (; i + 4 <= size; i += 4) {
      this.#u32(Number(x & 0xffffffffn));
      x >>= 32n;
    }
    for (; i < size; i++) {
      this.buf[this.len++] = Number(x & 0xffn);
      x >>= 8n;
    }
  }

  #u32(v: number): void {
    const b = this.buf;
    const o = this.len;
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    b[o + 2] = (v >>> 16) & 0xff;
    b[o + 3] = v >>> 24;
    this.len = o + 4;
  }

  /**
   * Writes one element of a {@link FixedLayout} when `v` already has the JS shape and range the
   * generic encoder would accept without conversion; returns false (writing nothing) otherwise.
   */
  fixed(code: FixedCode, v: unknown): boolean {
    if (code === FIXED_BOOL) return this.#fixedBool(v);
    if (code === FIXED_U64) return this.#fixedU64(v);
    return this.#fixedUint(v, code);
  }

  #fixedUint(v: unknown, size: 1 | 2 | 4): boolean {
    if (typeof v !== "number" || !(v >= 0 && v <= (UINT_MAX[size] as number)) || Math.floor(v) !== v)
      return false;
    if (this.len + size > this.buf.length) this.ensure(size);
    const b = this.buf;
    const o = this.len;
    b[o] = v & 0xff;
    if (size > 1) {
      b[o + 1] = (v >>> 8) & 0xff;
      if (size > 2) {
        b[o + 2] = (v >>> 16) & 0xff;
        b[o + 3] = v >>> 24;
      }
    }
    this.len = o + size;
    return true;
  }

  #fixedU64(v: unknown): boolean {
    if (typeof v !== "bigint" || v < 0n || v > U64_MAX) return false;
    this.ensure(8);
    // setBigUint64 writes without the intermediate BigInts that shifting and masking allocate.
    this.#view ??= new DataView(this.buf.buffer);
    this.#view.setBigUint64(this.len, v, true);
    this.len += 8;
    return true;
  }

  #fixedBool(v: unknown): boolean {
    if (typeof v !== "boolean") return false;
    this.ensure(1);
    this.buf[this.len++] = v ? 1 : 0;
    return true;
  }

  compact(v: bigint | number): void {
    // Lengths and small counters: no BigInt on the way.
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 30) {
      if (v < 64) this.byte(v << 2);
      else if (v < 2 ** 14) this.smallUint((v << 2) | 1, 2);
      else this.smallUint(v * 4 + 2, 4);
      return;
    }
    const n = BigInt(v);
    if (n < 0n) throw new ScaleError(`compact of a negative number ${n}`);
    if (n < 64n) this.byte(Number(n) << 2);
    else if (n < 1n << 14n) this.uint((n << 2n) | 1n, 2);
    else if (n < 1n << 30n) this.uint((n << 2n) | 2n, 4);
    else {
      let bytes = 0;
      for (let x = n; x > 0n; x >>= 8n) bytes++;
      this.byte(((bytes - 4) << 2) | 3);
      this.uint(n, bytes);
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** A cursor over bytes for decoding. */
export class Reader {
  offset = 0;
  constructor(readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  byte(): number {
    const b = this.data[this.offset];
    if (b === undefined) throw new ScaleError("unexpected end of input");
    this.offset++;
    return b;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.offset + n > this.data.length) throw new ScaleError("unexpected end of input");
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Like {@link bytes}, but a copy that does not share the input's buffer. */
  copy(n: number): Uint8Array {
    if (n < 0 || this.offset + n > this.data.length) throw new ScaleError("unexpected end of input");
    const out = this.data.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** Little-endian unsigned integer of at most 4 bytes, as a number. */
  smallUint(size: number): number {
    if (this.offset + size > this.data.length) throw new ScaleError("unexpected end of input");
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.data[this.offset + i] as number);
    this.offset += size;
    return v;
  }

  uint(size: number): bigint {
    const b = this.bytes(size);
    let v = 0n;
    let i = size - 1;
    // Bytes above the last whole 32-bit word first, then 32 bits per BigInt step.
    for (; i >= 0 && (i + 1) % 4 !== 0; i--) v = (v << 8n) | BigInt(b[i] as number);
    for (; i >= 3; i -= 4) {
      const word =
        ((b[i] as number) * 0x1000000 +
          (((b[i - 1] as number) << 16) | ((b[i - 2] as number) << 8) | (b[i - 3] as number))) >>>
        0;
      v = (v << 32n) | BigInt(word);
    }
    return v;
  }

  compact(): bigint {
    const first = this.byte();
    switch (first & 3) {
      case 0:
        return BigInt(first >> 2);
      case 1:
        return BigInt((first | (this.byte() << 8)) >> 2);
      case 2: {
        const rest = this.uint(3);
        return (BigInt(first) | (rest << 8n)) >> 2n;
      }
      default:
        return this.uint((first >> 2) + 4);
    }
  }

  compactNumber(): number {
    const first = this.data[this.offset];
    if (first !== undefined && (first & 3) !== 3) {
      const mode = first & 3;
      if (mode === 0) {
        this.offset++;
        return first >> 2;
      }
      return Math.floor(this.smallUint(mode === 1 ? 2 : 4) / 4);
    }
    const v = this.compact();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ScaleError(`length ${v} is too large`);
    return Number(v);
  }
}

const INT_BYTES: Record<PrimitiveName, number> = {
  bool: 1,
  char: 4,
  str: 0,
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  u128: 16,
  u256: 32,
  i8: 1,
  i16: 2,
  i32: 4,
  i64: 8,
  i128: 16,
  i256: 32,
};

const SIGNED: Record<PrimitiveName, boolean> = {
  bool: false,
  char: false,
  str: false,
  u8: false,
  u16: false,
  u32: false,
  u64: false,
  u128: false,
  u256: false,
  i8: true,
  i16: true,
  i32: true,
  i64: true,
  i128: true,
  i256: true,
};

const isSigned = (p: PrimitiveName): boolean => SIGNED[p];

/**
 * Element encodings the sequence fast path handles: little-endian unsigned integers of 1, 2 or 4
 * bytes held as JS numbers, u64 held as bigint, and bool.
 */
type FixedCode = 1 | 2 | 4 | 8 | 0;
const FIXED_BOOL = 0;
const FIXED_U64 = 8;
const U64_MAX = (1n << 64n) - 1n;
/** Largest value of an unsigned integer by byte size. */
const UINT_MAX: readonly number[] = [0, 0xff, 0xffff, 0, 0xffffffff];

const FIXED_CODES: Partial<Record<PrimitiveName, FixedCode>> = { bool: 0, u8: 1, u16: 2, u32: 4, u64: 8 };

/**
 * A sequence element made only of fixed-size primitives: one (`scalar`) or a tuple of them. Weights
 * and bonds (`Vec<(u16, u16)>`) and the per-uid vectors (`Vec<u16>`, `Vec<u64>`, `Vec<bool>`) take
 * this path; everything else goes through the generic encoder.
 */
interface FixedLayout {
  codes: FixedCode[];
  scalar: boolean;
  /** Encoded bytes per element. */
  size: number;
}

function fixedCodeOf(ty: Type): FixedCode | undefined {
  return ty.kind === "primitive" ? FIXED_CODES[ty.prim] : undefined;
}

function fixedLayout(inner: Type): FixedLayout | undefined {
  const single = fixedCodeOf(inner);
  if (single !== undefined) return { codes: [single], scalar: true, size: single || 1 };
  if (inner.kind !== "tuple" || inner.items.length < 2) return undefined;
  const codes: FixedCode[] = [];
  let size = 0;
  for (const item of inner.items) {
    const c = fixedCodeOf(item);
    if (c === undefined) return undefined;
    codes.push(c);
    size += c || 1;
  }
  return { codes, scalar: false, size };
}

function encodeFixedSequence(
  w: Writer,
  layout: FixedLayout,
  inner: Type,
  value: unknown[],
  ctx: CodecContext,
  what: string,
): void {
  w.reserve(value.length * layout.size);
  const codes = layout.codes;
  if (layout.scalar) {
    const code = codes[0] as FixedCode;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (!w.fixed(code, v)) encodeInto(w, inner, v, ctx, what);
    }
    return;
  }
  const items = (inner as { items: Type[] }).items;
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (!Array.isArray(v) || v.length !== codes.length) {
      // The generic encoder reports the shape error.
      encodeInto(w, inner, v, ctx, what);
      continue;
    }
    for (let j = 0; j < codes.length; j++) {
      if (!w.fixed(codes[j] as FixedCode, v[j])) encodeInto(w, items[j] as Type, v[j], ctx, what);
    }
  }
}

function readFixed(r: Reader, view: DataView, code: FixedCode): unknown {
  const o = r.offset;
  switch (code) {
    case FIXED_BOOL: {
      const b = view.getUint8(o);
      if (b > 1) throw new ScaleError(`invalid bool byte ${b}`);
      r.offset = o + 1;
      return b === 1;
    }
    case 1:
      r.offset = o + 1;
      return view.getUint8(o);
    case 2:
      r.offset = o + 2;
      return view.getUint16(o, true);
    case 4:
      r.offset = o + 4;
      return view.getUint32(o, true);
    default:
      r.offset = o + 8;
      return view.getBigUint64(o, true);
  }
}

function decodeFixedSequence(r: Reader, layout: FixedLayout, len: number): unknown[] {
  if (len * layout.size > r.remaining) throw new ScaleError("unexpected end of input");
  const d = r.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: unknown[] = new Array(len);
  const codes = layout.codes;
  if (layout.scalar) {
    const code = codes[0] as FixedCode;
    for (let i = 0; i < len; i++) out[i] = readFixed(r, view, code);
    return out;
  }
  if (codes.length === 2) {
    const a = codes[0] as FixedCode;
    const b = codes[1] as FixedCode;
    for (let i = 0; i < len; i++) out[i] = [readFixed(r, view, a), readFixed(r, view, b)];
    return out;
  }
  for (let i = 0; i < len; i++) {
    const item: unknown[] = new Array(codes.length);
    for (let j = 0; j < codes.length; j++) item[j] = readFixed(r, view, codes[j] as FixedCode);
    out[i] = item;
  }
  return out;
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "string" && /^(0x[0-9a-fA-F]+|-?\d+)$/.test(v)) return BigInt(v);
  throw new ScaleError(`expected an integer for ${what}, got ${typeof v}`);
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string" && isHex(v)) return hexToU8a(v);
  if (Array.isArray(v) && v.every((x) => typeof x === "number")) return Uint8Array.from(v);
  throw new ScaleError(`expected bytes for ${what}`);
}

/** Follows lazy and runtime-call indirections. `runtimeCall` resolves through `ctx`. */
export interface CodecContext {
  runtimeCall?: Type;
  runtimeEvent?: Type;
}

function resolve(type: Type, ctx: CodecContext): Type {
  let ty = type;
  for (;;) {
    if (ty.kind === "lazy") ty = ty.resolve();
    else if (ty.kind === "runtimeCall") {
      if (!ctx.runtimeCall) throw new ScaleError("no runtime call type in this context");
      ty = ctx.runtimeCall;
    } else if (ty.kind === "runtimeEvent") {
      if (!ctx.runtimeEvent) throw new ScaleError("no runtime event type in this context");
      ty = ctx.runtimeEvent;
    } else return ty;
  }
}

const isU8 = (ty: Type): boolean => ty.kind === "primitive" && ty.prim === "u8";

function encodeFields(w: Writer, fields: Field[], value: unknown, ctx: CodecContext, what: string): void {
  if (fields.length === 0) return;
  if (fields.every((f) => f.name !== undefined)) {
    if (typeof value !== "object" || value === null) throw new ScaleError(`expected an object for ${what}`);
    const obj = value as Record<string, unknown>;
    for (const f of fields) encodeInto(w, f.type, obj[f.name as string], ctx, `${what}.${f.name}`);
    return;
  }
  if (fields.length === 1) {
    encodeInto(w, (fields[0] as Field).type, value, ctx, what);
    return;
  }
  if (!Array.isArray(value) || value.length !== fields.length)
    throw new ScaleError(`expected an array of ${fields.length} for ${what}`);
  for (const [i, f] of fields.entries()) encodeInto(w, f.type, value[i], ctx, `${what}[${i}]`);
}

function decodeFields(r: Reader, fields: Field[], ctx: CodecContext): unknown {
  if (fields.length === 0) return undefined;
  if (fields.every((f) => f.name !== undefined)) {
    const out: Record<string, unknown> = {};
    for (const f of fields) out[f.name as string] = decodeFrom(r, f.type, ctx);
    return out;
  }
  if (fields.length === 1) return decodeFrom(r, (fields[0] as Field).type, ctx);
  return fields.map((f) => decodeFrom(r, f.type, ctx));
}

/** Encodes `value` as `type` into `w`. */
export function encodeInto(
  w: Writer,
  type: Type,
  value: unknown,
  ctx: CodecContext = {},
  what = "value",
): void {
  if (type.kind === "runtimeCall") {
    const c = value as RuntimeCallLike;
    if (typeof c !== "object" || c === null || typeof c.pallet !== "string")
      throw new ScaleError(`expected a { pallet, call, args } call for ${what}`);
    encodeInto(w, resolve(type, ctx), { tag: c.pallet, value: { tag: c.call, value: c.args } }, ctx, what);
    return;
  }
  const ty = resolve(type, ctx);
  switch (ty.kind) {
    case "primitive": {
      if (ty.prim === "bool") {
        if (typeof value !== "boolean") throw new ScaleError(`expected a boolean for ${what}`);
        w.byte(value ? 1 : 0);
        return;
      }
      if (ty.prim === "str") {
        if (typeof value !== "string") throw new ScaleError(`expected a string for ${what}`);
        const b = new TextEncoder().encode(value);
        w.compact(b.length);
        w.bytes(b);
        return;
      }
      const size = INT_BYTES[ty.prim];
      // Hot path (weights, bonds, uids): small unsigned integers given as numbers skip BigInt.
      if (size <= 4 && typeof value === "number" && !isSigned(ty.prim)) {
        if (!Number.isInteger(value) || value < 0 || value >= 2 ** (size * 8))
          throw new ScaleError(`${value} does not fit ${ty.prim} (${what})`);
        w.smallUint(value, size);
        return;
      }
      let n = toBigInt(value, what);
      const bits = BigInt(size * 8);
      if (isSigned(ty.prim)) {
        const half = 1n << (bits - 1n);
        if (n < -half || n >= half) throw new ScaleError(`${n} does not fit ${ty.prim} (${what})`);
        if (n < 0n) n += 1n << bits;
      } else if (n < 0n || n >= 1n << bits) throw new ScaleError(`${n} does not fit ${ty.prim} (${what})`);
      w.uint(n, size);
      return;
    }
    case "compact": {
      const inner = resolve(ty.inner, ctx);
      if (inner.kind === "tuple" && inner.items.length === 0) return;
      if (inner.kind === "composite" && inner.fields.length === 1) {
        const f = inner.fields[0] as Field;
        const v = f.name !== undefined ? (value as Record<string, unknown>)[f.name] : value;
        w.compact(toBigInt(v, what));
        return;
      }
      w.compact(toBigInt(value, what));
      return;
    }
    case "sequence": {
      if (isU8(ty.inner)) {
        const b = toBytes(value, what);
        w.compact(b.length);
        w.bytes(b);
        return;
      }
      if (!Array.isArray(value)) throw new ScaleError(`expected an array for ${what}`);
      w.compact(value.length);
      const layout = fixedLayout(ty.inner);
      if (layout) {
        encodeFixedSequence(w, layout, ty.inner, value, ctx, what);
        return;
      }
      // Element labels are not built per element: this loop carries weights and bonds matrices.
      for (let i = 0; i < value.length; i++) encodeInto(w, ty.inner, value[i], ctx, what);
      return;
    }
    case "array": {
      if (isU8(ty.inner)) {
        const b = toBytes(value, what);
        if (b.length !== ty.len)
          throw new ScaleError(`expected ${ty.len} bytes for ${what}, got ${b.length}`);
        w.bytes(b);
        return;
      }
      if (!Array.isArray(value) || value.length !== ty.len)
        throw new ScaleError(`expected an array of ${ty.len} for ${what}`);
      for (const [i, v] of value.entries()) encodeInto(w, ty.inner, v, ctx, `${what}[${i}]`);
      return;
    }
    case "tuple": {
      if (ty.items.length === 0) return;
      if (ty.items.length === 1) {
        encodeInto(w, ty.items[0] as Type, value, ctx, what);
        return;
      }
      if (!Array.isArray(value) || value.length !== ty.items.length)
        throw new ScaleError(`expected a tuple of ${ty.items.length} for ${what}`);
      for (let i = 0; i < ty.items.length; i++) encodeInto(w, ty.items[i] as Type, value[i], ctx, what);
      return;
    }
    case "composite":
      encodeFields(w, ty.fields, value, ctx, what);
      return;
    case "variant": {
      if (ty.option) {
        if (value === null || value === undefined) w.byte(0);
        else {
          w.byte(1);
          encodeInto(w, (ty.variants[1] as VariantDef).fields[0]?.type as Type, value, ctx, what);
        }
        return;
      }
      const v = value as VariantValue;
      const variant =
        typeof value === "string"
          ? ty.variants.find((x) => x.name === value)
          : typeof v === "object" && v !== null
            ? ty.variants.find((x) => x.name === v.tag)
            : undefined;
      if (!variant) throw new ScaleError(`unknown variant for ${what}: ${JSON.stringify(v?.tag ?? value)}`);
      w.byte(variant.index);
      encodeFields(
        w,
        variant.fields,
        typeof value === "string" ? undefined : v.value,
        ctx,
        `${what}.${variant.name}`,
      );
      return;
    }
    default:
      throw new ScaleError(`cannot encode ${(ty as Type).kind}`);
  }
}

/** Decodes one value of `type` from `r`. */
export function decodeFrom(r: Reader, type: Type, ctx: CodecContext = {}): unknown {
  if (type.kind === "runtimeCall") {
    const outer = decodeFrom(r, resolve(type, ctx), ctx) as VariantValue;
    const inner = outer.value as VariantValue;
    return { pallet: outer.tag, call: inner.tag, args: (inner.value as Record<string, unknown>) ?? {} };
  }
  const ty = resolve(type, ctx);
  switch (ty.kind) {
    case "primitive": {
      if (ty.prim === "bool") {
        const b = r.byte();
        if (b > 1) throw new ScaleError(`invalid bool byte ${b}`);
        return b === 1;
      }
      if (ty.prim === "str") {
        const len = r.compactNumber();
        return new TextDecoder("utf-8", { fatal: true }).decode(r.bytes(len));
      }
      const size = INT_BYTES[ty.prim];
      if (size <= 4) {
        const v = r.smallUint(size);
        return isSigned(ty.prim) && v >= 2 ** (size * 8 - 1) ? v - 2 ** (size * 8) : v;
      }
      let n = r.uint(size);
      if (isSigned(ty.prim) && n >= 1n << BigInt(size * 8 - 1)) n -= 1n << BigInt(size * 8);
      return size <= 4 ? Number(n) : n;
    }
    case "compact": {
      const inner = resolve(ty.inner, ctx);
      if (inner.kind === "tuple" && inner.items.length === 0) return [];
      const n = r.compact();
      let base = inner;
      if (inner.kind === "composite" && inner.fields.length === 1)
        base = resolve((inner.fields[0] as Field).type, ctx);
      const size = base.kind === "primitive" ? INT_BYTES[base.prim] : 16;
      if (n >= 1n << BigInt(size * 8)) throw new ScaleError("compact value out of range");
      const v = size <= 4 ? Number(n) : n;
      if (inner.kind === "composite" && inner.fields.length === 1 && inner.fields[0]?.name !== undefined)
        return { [inner.fields[0].name]: v };
      return v;
    }
    case "sequence": {
      const len = r.compactNumber();
      if (isU8(ty.inner)) return r.copy(len);
      if (len > r.remaining) throw new ScaleError(`sequence length ${len} exceeds input`);
      const layout = fixedLayout(ty.inner);
      if (layout) return decodeFixedSequence(r, layout, len);
      const out: unknown[] = [];
      for (let i = 0; i < len; i++) out.push(decodeFrom(r, ty.inner, ctx));
      return out;
    }
    case "array": {
      if (isU8(ty.inner)) return r.copy(ty.len);
      const out: unknown[] = [];
      for (let i = 0; i < ty.len; i++) out.push(decodeFrom(r, ty.inner, ctx));
      return out;
    }
    case "tuple":
      if (ty.items.length === 0) return [];
      if (ty.items.length === 1) return decodeFrom(r, ty.items[0] as Type, ctx);
      return ty.items.map((item) => decodeFrom(r, item, ctx));
    case "composite":
      return decodeFields(r, ty.fields, ctx);
    case "variant": {
      const index = r.byte();
      const variant = ty.variants.find((x) => x.index === index);
      if (!variant) throw new ScaleError(`invalid variant index ${index} for ${ty.path.join("::")}`);
      if (ty.option) return index === 0 ? null : decodeFields(r, variant.fields, ctx);
      const value = decodeFields(r, variant.fields, ctx);
      return value === undefined ? { tag: variant.name } : { tag: variant.name, value };
    }
    default:
      throw new ScaleError(`cannot decode ${(ty as Type).kind}`);
  }
}

/** Encodes a value to bytes. */
export function encode(type: Type, value: unknown, ctx: CodecContext = {}): Uint8Array {
  const w = new Writer();
  encodeInto(w, type, value, ctx);
  return w.finish();
}

/** Decodes bytes completely; trailing bytes are an error. */
export function decode(type: Type, data: Uint8Array, ctx: CodecContext = {}): unknown {
  const r = new Reader(data);
  const v = decodeFrom(r, type, ctx);
  if (r.remaining !== 0) throw new ScaleError(`${r.remaining} trailing bytes`);
  return v;
}

/** The zero value of a type: what a `Default` storage item holds when nothing is stored. */
export function defaultValue(type: Type, ctx: CodecContext = {}): unknown {
  const ty = resolve(type, ctx);
  switch (ty.kind) {
    case "primitive":
      if (ty.prim === "bool") return false;
      if (ty.prim === "str") return "";
      return INT_BYTES[ty.prim] <= 4 ? 0 : 0n;
    case "compact":
      return defaultValue(ty.inner, ctx);
    case "sequence":
      return isU8(ty.inner) ? new Uint8Array() : [];
    case "array":
      return isU8(ty.inner)
        ? new Uint8Array(ty.len)
        : Array.from({ length: ty.len }, () => defaultValue(ty.inner, ctx));
    case "tuple":
      if (ty.items.length === 0) return [];
      if (ty.items.length === 1) return defaultValue(ty.items[0] as Type, ctx);
      return ty.items.map((i) => defaultValue(i, ctx));
    case "composite": {
      if (ty.fields.length === 0) return undefined;
      if (ty.fields.every((f) => f.name !== undefined))
        return Object.fromEntries(ty.fields.map((f) => [f.name, defaultValue(f.type, ctx)]));
      if (ty.fields.length === 1) return defaultValue((ty.fields[0] as Field).type, ctx);
      return ty.fields.map((f) => defaultValue(f.type, ctx));
    }
    case "variant": {
      if (ty.option) return null;
      const first = ty.variants[0];
      if (!first) throw new ScaleError("an empty enum has no default");
      if (first.fields.length === 0) return { tag: first.name };
      const composite: Type = { kind: "composite", path: [], fields: first.fields };
      return { tag: first.name, value: defaultValue(composite, ctx) };
    }
    default:
      throw new ScaleError("no default");
  }
}
