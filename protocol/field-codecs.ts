/**
 * The building blocks of the wire codec (protocol/codec.ts): a byte {@link Writer} and
 * {@link Reader}, and field codecs that each know one field's layout once — its size and checks
 * for encoding, its bytes, and how to read it back from untrusted input. A message is a
 * {@link struct} of field codecs in wire order, so its layout is written down in one place.
 *
 * A codec is described by a {@link Field}: a function from the field's name (used in error
 * messages, e.g. "challenge.chunks.leafIndices") to the codec itself, so names are built once,
 * when the description is, and never while encoding or decoding.
 *
 * Every check throws {@link CodecError}: "invalid-field" for a value out of range, "truncated"
 * for input that ends (or a count that cannot fit) before the field does. Encoding validates in
 * `size`, so `write` never meets a value it cannot write; decoding validates while it reads, the
 * same rules, so whatever decodes re-encodes to the same bytes.
 */
import { CodecError } from "./codec-errors.js";

export class Writer {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  u32(v: number): void {
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  u64(v: number): void {
    this.view.setUint32(this.pos, Math.floor(v / 2 ** 32));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** u16 byte length, then UTF-8. The string was validated (no lone surrogates) by the size pass. */
  string(s: string): void {
    const start = this.pos;
    this.pos += 2;
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      }
      if (c < 0x80) {
        buf[this.pos++] = c;
      } else if (c < 0x800) {
        buf[this.pos++] = 0xc0 | (c >> 6);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      } else if (c < 0x10000) {
        buf[this.pos++] = 0xe0 | (c >> 12);
        buf[this.pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      } else {
        buf[this.pos++] = 0xf0 | (c >> 18);
        buf[this.pos++] = 0x80 | ((c >> 12) & 0x3f);
        buf[this.pos++] = 0x80 | ((c >> 6) & 0x3f);
        buf[this.pos++] = 0x80 | (c & 0x3f);
      }
    }
    this.view.setUint16(start, this.pos - start - 2);
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length) {
      throw new Error(`codec bug: wrote ${this.pos} of ${this.buf.length} measured bytes`);
    }
    return this.buf;
  }
}

/**
 * One strict UTF-8 decoder for every Reader: without `stream` a decoder keeps no state between
 * calls, and constructing one per frame cost more than decoding a store id.
 */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class Reader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.pos) truncated(`field at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    // 2^53 - 1 has 21 bits above the low 32.
    if (hi > 0x1fffff) invalid(`u64 at offset ${this.pos} is not a safe integer`);
    this.pos += 8;
    return hi * 2 ** 32 + lo;
  }

  /** `n` bytes as a subarray of the input (no copy). */
  fixed(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A u32 element count, checked to fit the remaining bytes at `minElementSize` bytes each. */
  count(minElementSize: number, field: string): number {
    const n = this.u32();
    if (n * minElementSize > this.remaining()) truncated(`${field} (${n} elements)`);
    return n;
  }

  increasingU32s(bound: number, field: string, minElementSize = 4): number[] {
    const n = this.count(minElementSize, field);
    const out: number[] = new Array(n);
    let prev = -1;
    for (let i = 0; i < n; i++) {
      const v = this.view.getUint32(this.pos);
      this.pos += 4;
      if (v <= prev || v >= bound) invalid(`${field} must be strictly increasing and below ${bound}`);
      out[i] = v;
      prev = v;
    }
    return out;
  }

  string(max: number, field: string): string {
    const n = this.u16();
    if (n > max) invalid(`${field} is ${n} bytes, over the limit of ${max}`);
    const bytes = this.fixed(n);
    try {
      return UTF8.decode(bytes);
    } catch {
      // Deliberately no cause: a CodecError with a cause means an unexpected exception was wrapped.
      throw new CodecError("invalid-field", `${field} is not valid UTF-8`);
    }
  }
}

/** One field's layout: its checked size for encoding, its bytes, and how to read it back. */
export interface Codec<T> {
  /** Validates `value` for encoding and returns its encoded size in bytes. */
  size(value: T): number;
  /** Writes a value `size` accepted. */
  write(w: Writer, value: T): void;
  /** Reads and validates a value from untrusted bytes. */
  read(r: Reader): T;
}

/** A codec description: given the field's name (for error messages), the codec. */
export type Field<T> = (name: string) => Codec<T>;

export function invalid(message: string): never {
  throw new CodecError("invalid-field", message);
}

export function truncated(what: string): never {
  throw new CodecError("truncated", `input ends inside the ${what}`);
}

export function checkUint(v: number, max: number, field: string, min = 0): void {
  if (!Number.isInteger(v) || v < min || v > max) invalid(`${field} must be an integer in [${min}, ${max}]`);
}

export function checkSafeUint(v: number, field: string): void {
  if (!Number.isSafeInteger(v) || v < 0) invalid(`${field} must be a non-negative safe integer`);
}

export function checkFixed(b: Uint8Array, length: number, field: string): void {
  if (!(b instanceof Uint8Array) || b.length !== length) invalid(`${field} must be ${length} bytes`);
}

function checkArray(a: readonly unknown[], field: string): void {
  if (!Array.isArray(a)) invalid(`${field} is not an array`);
}

/** Strictly increasing u32s, each below `bound`. */
export function checkIncreasing(a: readonly number[], bound: number, field: string): void {
  checkArray(a, field);
  let prev = -1;
  for (const v of a) {
    if (!Number.isInteger(v) || v <= prev || v > 0xffffffff || v >= bound) {
      invalid(`${field} must be strictly increasing u32s below ${bound}`);
    }
    prev = v;
  }
}

/** UTF-8 byte length of a well-formed string, or -1 if it holds a lone surrogate. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i++;
      n += 4;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 3;
  }
  return n;
}

/** A u8, u16 or u32 in [min, max]. */
function uint(bytes: 1 | 2 | 4, range: { min?: number; max?: number } = {}): Field<number> {
  const limit = bytes === 1 ? 0xff : bytes === 2 ? 0xffff : 0xffffffff;
  const min = range.min ?? 0;
  const max = range.max ?? limit;
  const ranged = min > 0 || max < limit;
  return (name) => ({
    size(v) {
      checkUint(v, max, name, min);
      return bytes;
    },
    write: bytes === 1 ? (w, v) => w.u8(v) : bytes === 2 ? (w, v) => w.u16(v) : (w, v) => w.u32(v),
    read(r) {
      const v = bytes === 1 ? r.u8() : bytes === 2 ? r.u16() : r.u32();
      if (ranged) checkUint(v, max, name, min);
      return v;
    },
  });
}

/** u8. */
export const u8 = (range?: { min?: number; max?: number }): Field<number> => uint(1, range);
/** u32 big-endian. */
export const u32 = (range?: { min?: number; max?: number }): Field<number> => uint(4, range);

/** u64 big-endian holding a safe integer (< 2^53). */
export const u64: Field<number> = (name) => ({
  size(v) {
    checkSafeUint(v, name);
    return 8;
  },
  write: (w, v) => w.u64(v),
  read: (r) => r.u64(),
});

/** A u8 (or u16) code standing for one of a set of values: `codes` maps each value to its code. */
export function enumeration<V extends string | number>(
  codes: ReadonlyMap<V, number>,
  bytes: 1 | 2 = 1,
): Field<V> {
  const values = new Map([...codes].map(([value, code]) => [code, value]));
  return (name) => ({
    size(v) {
      if (!codes.has(v)) invalid(`${name} ${String(v)} is not a known value`);
      return bytes;
    },
    write: (w, v) => (bytes === 1 ? w.u8(codes.get(v) as number) : w.u16(codes.get(v) as number)),
    read(r) {
      const code = bytes === 1 ? r.u8() : r.u16();
      const value = values.get(code);
      if (value === undefined) invalid(`${name} ${code} is not a known value`);
      return value;
    },
  });
}

/** Exactly `length` bytes, read as a view of the input. */
export function fixedBytes(length: number): Field<Uint8Array> {
  return (name) => ({
    size(b) {
      checkFixed(b, length, name);
      return length;
    },
    write: (w, b) => w.bytes(b),
    read: (r) => r.fixed(length),
  });
}

/** A u32 byte length, then the bytes (read as a view of the input). */
export const bytes: Field<Uint8Array> = (name) => ({
  size(b) {
    if (!(b instanceof Uint8Array)) invalid(`${name} is not a Uint8Array`);
    return 4 + b.length;
  },
  write(w, b) {
    w.u32(b.length);
    w.bytes(b);
  },
  read: (r) => r.fixed(r.u32()),
});

/** A u16 byte length, then at most `max` bytes of well-formed UTF-8; `nonEmpty` refuses "". */
export function string(max: number, options: { nonEmpty?: boolean } = {}): Field<string> {
  const nonEmpty = options.nonEmpty ?? false;
  return (name) => ({
    size(s) {
      if (typeof s !== "string") invalid(`${name} is not a string`);
      const n = utf8Length(s);
      if (n < 0) invalid(`${name} is not well-formed Unicode`);
      if (n > max) invalid(`${name} is ${n} bytes, over the limit of ${max}`);
      if (nonEmpty && n === 0) invalid(`${name} is empty`);
      return 2 + n;
    },
    write: (w, s) => w.string(s),
    read(r) {
      const s = r.string(max, name);
      if (nonEmpty && s.length === 0) invalid(`${name} is empty`);
      return s;
    },
  });
}

/** A u32 count, then strictly increasing u32s. */
export const increasingU32s: Field<number[]> = (name) => ({
  size(a) {
    checkIncreasing(a, Number.POSITIVE_INFINITY, name);
    return 4 + 4 * a.length;
  },
  write(w, a) {
    w.u32(a.length);
    for (const v of a) w.u32(v);
  },
  read: (r) => r.increasingU32s(Number.POSITIVE_INFINITY, name),
});

/**
 * A u32 count, then the elements. `minElementSize` is the fewest bytes an element takes: a count
 * that cannot fit the bytes left is refused before anything is allocated.
 */
export function list<T>(element: Field<T>, minElementSize: number): Field<T[]> {
  return (name) => {
    const codec = element(name);
    return {
      size(a) {
        checkArray(a, name);
        let size = 4;
        for (const item of a) size += codec.size(item);
        return size;
      },
      write(w, a) {
        w.u32(a.length);
        for (const item of a) codec.write(w, item);
      },
      read(r) {
        const n = r.count(minElementSize, name);
        const out: T[] = [];
        for (let i = 0; i < n; i++) out.push(codec.read(r));
        return out;
      },
    };
  };
}

/** A u8 flag (0 absent, 1 present), then the value when present; absent is `null`. */
export function nullable<T>(inner: Field<T>): Field<T | null> {
  return (name) => {
    const codec = inner(name);
    return {
      size: (v) => (v === null ? 1 : 1 + codec.size(v)),
      write(w, v) {
        if (v === null) {
          w.u8(0);
        } else {
          w.u8(1);
          codec.write(w, v);
        }
      },
      read(r) {
        const flag = r.u8();
        if (flag > 1) invalid(`${name} flag`);
        return flag === 1 ? codec.read(r) : null;
      },
    };
  };
}

/** No bytes: a value known from context (a message's `type`, given by the frame's type byte). */
export function literal<V extends string>(value: V): Field<V> {
  return () => ({ size: () => 0, write: () => undefined, read: () => value });
}

/**
 * An object whose fields follow each other on the wire in the order listed. `check`, when given,
 * validates what spans fields (e.g. a leaf size no larger than the chunk size) after reading and
 * before writing.
 *
 * @example
 * const retrieve = struct({ storeId: string(64, { nonEmpty: true }), chunkIndex: u32() })("retrieve");
 */
export function struct<T extends object>(
  fields: { [K in keyof T]: Field<T[K]> },
  check?: (value: T, name: string) => void,
): Field<T> {
  return (name) => {
    const keys = Object.keys(fields) as (keyof T & string)[];
    const codecs = keys.map((key) => (fields[key] as Field<unknown>)(`${name}.${key}`));
    const n = keys.length;
    return {
      size(value) {
        if (typeof value !== "object" || value === null) invalid(`${name} is not an object`);
        let size = 0;
        for (let i = 0; i < n; i++) size += (codecs[i] as Codec<unknown>).size(value[keys[i] as keyof T]);
        check?.(value, name);
        return size;
      },
      write(w, value) {
        for (let i = 0; i < n; i++) (codecs[i] as Codec<unknown>).write(w, value[keys[i] as keyof T]);
      },
      read(r) {
        const out = {} as Record<string, unknown>;
        for (let i = 0; i < n; i++) out[keys[i] as string] = (codecs[i] as Codec<unknown>).read(r);
        check?.(out as T, name);
        return out as T;
      },
    };
  };
}
