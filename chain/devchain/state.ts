/**
 * Key/value chain state: the head state in a map, a stack of overlays for the block being built
 * (and nested storage transactions), and per-block undo logs so recent blocks stay queryable.
 *
 * The state root is blake2-256 of the sum (mod 2^256) of blake2-256(key ++ value) over all
 * entries. It commits to the whole state like a trie root does (not trie-compatible; no proofs),
 * and updates in O(changes) per block instead of re-hashing everything.
 */

import { hexToU8a } from "@polkadot/util";
import { bytesEqual } from "../../protocol/bytes.js";
import { DevChainError, type DevChainErrorOptions } from "./errors.js";
import { blake2_256 } from "./hashing.js";

export class StateDiscardedError extends DevChainError {
  override name = "StateDiscardedError";
  constructor(
    readonly blockNumber: number,
    options?: DevChainErrorOptions,
  ) {
    super(`State already discarded for block ${blockNumber}`, options);
  }
}

export class StateLayerError extends DevChainError {
  override name = "StateLayerError";
}

type Layer = Map<string, Uint8Array | null>;

const MOD = 1n << 256n;

function entryHash(key: string, value: Uint8Array): bigint {
  const keyBytes = hexToU8a(key);
  const data = new Uint8Array(keyBytes.length + value.length);
  data.set(keyBytes);
  data.set(value, keyBytes.length);
  const h = blake2_256(data);
  const view = new DataView(h.buffer, h.byteOffset, 32);
  // The hash read as one big-endian 256-bit integer.
  return (
    (view.getBigUint64(0) << 192n) |
    (view.getBigUint64(8) << 128n) |
    (view.getBigUint64(16) << 64n) |
    view.getBigUint64(24)
  );
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface StateOptions {
  /** How many recent blocks keep their state queryable. */
  keepBlocks?: number;
}

/** Keys are lowercase 0x-hex strings, so string order is byte order. */
export class State {
  readonly #base = new Map<string, Uint8Array>();
  /** entryHash of every committed entry, kept beside #base. */
  readonly #hashes = new Map<string, bigint>();
  readonly #sorted: string[] = [];
  readonly #layers: Layer[] = [];
  readonly #undo: Array<{ number: number; changes: Layer }> = [];
  readonly #keepBlocks: number;
  #acc = 0n;
  #head = 0;

  constructor(options: StateOptions = {}) {
    this.#keepBlocks = options.keepBlocks ?? 1024;
  }

  /** Number of the last committed block. */
  get headNumber(): number {
    return this.#head;
  }

  get size(): number {
    return this.#base.size;
  }

  get depth(): number {
    return this.#layers.length;
  }

  get(key: string): Uint8Array | undefined {
    for (let i = this.#layers.length - 1; i >= 0; i--) {
      const v = (this.#layers[i] as Layer).get(key);
      if (v !== undefined) return v ?? undefined;
    }
    return this.#base.get(key);
  }

  set(key: string, value: Uint8Array | null): void {
    const top = this.#layers[this.#layers.length - 1];
    if (!top) throw new StateLayerError("state writes need an open layer (begin())");
    top.set(key, value);
  }

  begin(): void {
    this.#layers.push(new Map());
  }

  /** Merges the top layer into the one below. */
  commit(): void {
    const top = this.#layers.pop();
    const below = this.#layers[this.#layers.length - 1];
    if (!top || !below) throw new StateLayerError("commit without a nested layer");
    for (const [k, v] of top) below.set(k, v);
  }

  rollback(): void {
    if (!this.#layers.pop()) throw new StateLayerError("rollback without a layer");
  }

  /** Keys starting with `prefix` in the current (overlaid) state, sorted. */
  keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (let i = lowerBound(this.#sorted, prefix); i < this.#sorted.length; i++) {
      const k = this.#sorted[i] as string;
      if (!k.startsWith(prefix)) break;
      out.push(k);
    }
    if (this.#layers.length === 0) return out;
    const touched = new Set<string>();
    for (const layer of this.#layers) for (const k of layer.keys()) if (k.startsWith(prefix)) touched.add(k);
    if (touched.size === 0) return out;
    const all = new Set(out);
    for (const k of touched) all.add(k);
    return [...all].filter((k) => this.get(k) !== undefined).sort();
  }

  /**
   * Folds the single open layer into the head state as block `number`; returns what changed
   * (key -> new value or null).
   */
  commitBlock(number: number): Layer {
    if (this.#layers.length !== 1)
      throw new StateLayerError(`commitBlock with ${this.#layers.length} layers open`);
    const changes = this.#layers.pop() as Layer;
    const undo: Layer = new Map();
    for (const [k, v] of changes) {
      const old = this.#base.get(k);
      if (old === undefined && v === null) continue;
      undo.set(k, old ?? null);
      // Rewritten with the same bytes (a stored vector or bond row that did not move): the root is unchanged.
      if (old !== undefined && v !== null && bytesEqual(old, v)) {
        this.#base.set(k, v);
        continue;
      }
      if (old !== undefined) this.#acc = (this.#acc - this.#hashOf(k, old) + MOD) % MOD;
      if (v === null) {
        this.#base.delete(k);
        this.#hashes.delete(k);
        const i = lowerBound(this.#sorted, k);
        if (this.#sorted[i] === k) this.#sorted.splice(i, 1);
      } else {
        const h = entryHash(k, v);
        this.#hashes.set(k, h);
        this.#acc = (this.#acc + h) % MOD;
        if (old === undefined) this.#sorted.splice(lowerBound(this.#sorted, k), 0, k);
        this.#base.set(k, v);
      }
    }
    this.#head = number;
    this.#undo.push({ number, changes: undo });
    if (this.#undo.length > this.#keepBlocks) this.#undo.shift();
    return changes;
  }

  /** The entry hash of a committed entry: remembered since it was stored, so a change hashes once. */
  #hashOf(key: string, value: Uint8Array): bigint {
    return this.#hashes.get(key) ?? entryHash(key, value);
  }

  /** The root of the committed head state. */
  root(): Uint8Array {
    const bytes = new Uint8Array(32);
    let v = this.#acc;
    for (let i = 31; i >= 0; i--) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return blake2_256(bytes);
  }

  #checkAvailable(number: number): void {
    if (number > this.#head) throw new StateDiscardedError(number);
    if (number === this.#head) return;
    const oldest = this.#undo[0];
    // Undo log i reverts block undo[i].number to undo[i].number - 1.
    if (!oldest || oldest.number > number + 1) throw new StateDiscardedError(number);
  }

  /** The committed value of `key` as of block `number`. */
  getAt(key: string, number: number): Uint8Array | undefined {
    this.#checkAvailable(number);
    let v: Uint8Array | null | undefined = this.#base.get(key);
    for (let i = this.#undo.length - 1; i >= 0; i--) {
      const u = this.#undo[i] as { number: number; changes: Layer };
      if (u.number <= number) break;
      const old = u.changes.get(key);
      if (old !== undefined) v = old;
    }
    return v ?? undefined;
  }

  /** Keys starting with `prefix` as of block `number`, sorted. */
  keysAt(prefix: string, number: number): string[] {
    this.#checkAvailable(number);
    const saved = this.#layers.splice(0);
    let keys: string[];
    try {
      keys = this.keysWithPrefix(prefix);
    } finally {
      this.#layers.push(...saved);
    }
    if (number === this.#head) return keys;
    const all = new Set(keys);
    for (let i = this.#undo.length - 1; i >= 0; i--) {
      const u = this.#undo[i] as { number: number; changes: Layer };
      if (u.number <= number) break;
      for (const k of u.changes.keys()) if (k.startsWith(prefix)) all.add(k);
    }
    return [...all].filter((k) => this.getAt(k, number) !== undefined).sort();
  }

  /** Every committed entry (for persistence). */
  entries(): IterableIterator<[string, Uint8Array]> {
    return this.#base.entries();
  }

  /** Loads committed entries (resume from disk) as of block `head`. */
  load(entries: Iterable<[string, Uint8Array]>, head: number): void {
    if (this.#base.size !== 0 || this.#layers.length !== 0)
      throw new StateLayerError("load into a used state");
    for (const [k, v] of entries) {
      this.#base.set(k, v);
      const h = entryHash(k, v);
      this.#hashes.set(k, h);
      this.#acc = (this.#acc + h) % MOD;
    }
    this.#sorted.push(...[...this.#base.keys()].sort());
    this.#head = head;
  }
}
