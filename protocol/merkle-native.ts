/**
 * The optional native chunk-tree builder (native/merkle, the package `storage-subnet-merkle-native`):
 * a Node-API addon that builds a chunk's whole Merkle tree (every level and the sealed root) in
 * one call, hashing with the OpenSSL inside Node.js. protocol/merkle.ts uses it when it loaded
 * and falls back to its own JavaScript builder otherwise; both give the same bytes.
 *
 * Why a native call: the JavaScript builder makes one node:crypto call per hash, 2,047 for a
 * 1 MiB chunk of 1 KiB leaves, and at ~1.5 µs each the calls cost more than the hashing (the
 * `merkle` benchmark compares both against one raw SHA-256 pass).
 *
 * How it loads, and why this way: the package is an optional dependency (its build needs a C
 * compiler and may fail without failing `npm install`), so it is loaded with a CommonJS `require`
 * from `createRequire(import.meta.url)` inside a try: a missing package is then an ordinary,
 * synchronous, catchable error, and this module and every importer stay synchronous. A static
 * `import` would fail to resolve where the package is missing, and a dynamic `import()` would make
 * the choice asynchronous. The bundler (scripts/bundle-nodes.ts) keeps the package external, and
 * the require resolves it from node_modules next to the bundle, as it does better-sqlite3.
 *
 * The environment variable {@link MERKLE_IMPLEMENTATION_ENV} chooses: unset or `auto` uses the
 * addon when it loads and answers right, `js` forces the JavaScript builder, `native` insists on
 * the addon (loading this module throws when it is missing). Reading one variable at load is the
 * only thing here that looks outside the process's arguments; protocol/ still does no I/O.
 */
import { createRequire } from "node:module";

/** The environment variable that picks the tree builder: `auto` (default), `js` or `native`. */
export const MERKLE_IMPLEMENTATION_ENV = "STORAGE_SUBNET_MERKLE";

/** The addon's package name, as the root package.json's optionalDependencies list it. */
export const NATIVE_MERKLE_PACKAGE = "storage-subnet-merkle-native";

/**
 * The addon's functions. Both take a non-empty Uint8Array and a positive integer leaf size, and
 * throw a TypeError or RangeError otherwise.
 */
export interface NativeMerkle {
  /** Every level packed, leaves first, top node last, then the sealed root: (nodes + 1) × 32 bytes. */
  tree(chunk: Uint8Array, leafSize: number): ArrayBuffer;
  /** The sealed root alone, 32 bytes, with no levels kept. */
  root(chunk: Uint8Array, leafSize: number): ArrayBuffer;
}

/** A value of {@link MERKLE_IMPLEMENTATION_ENV} that is none of `auto`, `js` and `native`. */
export class MerkleImplementationError extends Error {
  override name = "MerkleImplementationError";
}

function isNativeMerkle(value: unknown): value is NativeMerkle {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.tree === "function" && typeof candidate.root === "function";
}

/**
 * Loads the addon as `env` asks: undefined when it is forced off (`js`) or, under `auto`, when it
 * is missing or is not the addon this code expects. Throws {@link MerkleImplementationError} for
 * an unknown choice, and for `native` when the addon does not load.
 *
 * @example loadNativeMerkle({ STORAGE_SUBNET_MERKLE: "js" }) // undefined
 */
export function loadNativeMerkle(
  env: Record<string, string | undefined> = process.env,
): NativeMerkle | undefined {
  const choice = env[MERKLE_IMPLEMENTATION_ENV] ?? "auto";
  if (choice === "js") return undefined;
  if (choice !== "auto" && choice !== "native") {
    throw new MerkleImplementationError(
      `${MERKLE_IMPLEMENTATION_ENV} must be auto, js or native, got ${JSON.stringify(choice)}`,
    );
  }
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(NATIVE_MERKLE_PACKAGE);
  } catch (error) {
    if (choice === "native") {
      throw new MerkleImplementationError(`${NATIVE_MERKLE_PACKAGE} did not load`, { cause: error });
    }
    return undefined;
  }
  if (isNativeMerkle(loaded)) return loaded;
  if (choice === "native") {
    throw new MerkleImplementationError(`${NATIVE_MERKLE_PACKAGE} does not export tree and root`);
  }
  return undefined;
}
