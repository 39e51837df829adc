/**
 * Runs a bundled node program (`dist/neurons/<node>.bundle.cjs`, built by scripts/bundle-nodes.ts)
 * with V8's code cache, so a node does not parse and compile its 4 MB of code on every start.
 *
 * Node.js 22.1+ has a compile cache of its own (`module.enableCompileCache`): it is used where
 * present. Node.js 20 has none, so the bundle is compiled here as a `vm.Script` with the bytes of
 * the last start's cache, and once the node is up ({@link saveCodeCache}) the script's cache,
 * holding every function compiled so far, is written for the next start.
 *
 * The cache lives in a directory the operator can find and delete at any time: the
 * `STORAGE_SUBNET_CODE_CACHE` environment variable (`off` turns the cache off), else
 * `$XDG_CACHE_HOME/storage-subnet/code-cache`, else `~/.cache/storage-subnet/code-cache`. One file
 * per program, checkout, build and Node.js flags: `<program>-<path hash>-<source hash>-<runtime hash>.v8`. A file is
 * used only when it belongs to the user running the node (a cache is code the node runs), its
 * own checksum holds and V8 accepts it (same V8 version, flags and source);
 * anything else (a truncated, corrupt, foreign or oversized file, a directory that cannot be read
 * or written) is ignored and the node starts as without a cache.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import Module, { createRequire } from "node:module";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

/** A cache file larger than this is not read (V8's cache of the ~4 MB node bundles is ~4–8 MB). */
export const MAX_CODE_CACHE_BYTES = 64 * 1024 * 1024;

/** The environment variable naming the cache directory, or `off`. */
export const CODE_CACHE_ENV = "STORAGE_SUBNET_CODE_CACHE";

/** First bytes of every cache file this module writes (a format version, so a later one can change it). */
const MAGIC = Buffer.from("sscc1\n");
const CHECKSUM_BYTES = 32;
const HEADER_BYTES = MAGIC.length + CHECKSUM_BYTES;

/** A temporary cache file older than this was left by a process killed while writing it. */
const ABANDONED_TEMPORARY_MS = 60_000;

/** Where {@link saveCodeCache}, called from the bundled node, finds the loader's save step. */
const SAVE_HOOK = Symbol.for("storage-subnet.code-cache.save");

/** How a start used the cache. */
export type CodeCacheStatus =
  /** Compiled from the cached bytes. */
  | "hit"
  /** No cache file for this build yet. */
  | "miss"
  /** A file was there but unusable: bad checksum, truncated, oversized, or refused by V8. */
  | "rejected"
  /** Node.js's own compile cache (22.1+) was used. */
  | "node"
  /** The cache is off, or its directory cannot be used. */
  | "off";

export interface CodeCacheOptions {
  /** The cache directory; `null` turns the cache off. Default {@link codeCacheDir}(). */
  dir?: string | null;
  /** Files larger than this are ignored. Default {@link MAX_CODE_CACHE_BYTES}. */
  maxBytes?: number;
  /** Use Node.js's own compile cache where it has one. Default true. */
  nodeCompileCache?: boolean;
}

/** A bundle that ran: how it used the cache, and the step that writes the cache for next time. */
export interface CodeCacheRun {
  readonly status: CodeCacheStatus;
  /** The cache file this build reads and writes; undefined when the cache is off. */
  readonly file: string | undefined;
  /**
   * Writes the cache when this start could not use one (once; later calls do nothing). Never
   * throws: a cache that cannot be written only costs the next start its compile time.
   */
  save(): void;
}

/**
 * The cache directory from the environment: `STORAGE_SUBNET_CODE_CACHE` (null when `off`), else
 * under `XDG_CACHE_HOME`, else under `~/.cache`.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const chosen = env[CODE_CACHE_ENV];
  if (chosen !== undefined && chosen !== "") return chosen === "off" ? null : chosen;
  const base = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "storage-subnet", "code-cache");
}

/**
 * Runs the CommonJS bundle `bundle` as the process's program, compiled with the code cache.
 *
 * @example runCachedBundle(new URL("./miner.bundle.cjs", import.meta.url));
 */
export function runCachedBundle(bundle: string | URL, options: CodeCacheOptions = {}): CodeCacheRun {
  const file = typeof bundle === "string" ? bundle : fileURLToPath(bundle);
  const dir = options.dir === undefined ? codeCacheDir() : options.dir;
  const nodeCache = (Module as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
  if (dir !== null && options.nodeCompileCache !== false && typeof nodeCache === "function") {
    return runWithNodeCompileCache(file, dir, nodeCache);
  }
  const source = readFileSync(file, "utf8");
  // The bundle's path is part of the name: two checkouts on one machine keep a file each.
  const program = `${basename(file).replace(/\.c?js$/, "")}-${sha256(file).subarray(0, 4).toString("hex")}`;
  const sourceHash = sha256(source).subarray(0, 12).toString("hex");
  const cacheFile = dir === null ? undefined : join(dir, `${program}-${sourceHash}-${runtimeHash()}.v8`);
  const cached = cacheFile === undefined ? undefined : readCacheFile(cacheFile, options.maxBytes);
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    ...(cached?.data ? { cachedData: cached.data } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  let status: CodeCacheStatus = "off";
  if (cacheFile !== undefined) {
    if (cached?.data === undefined) status = cached?.unusable ? "rejected" : "miss";
    else status = script.cachedDataRejected ? "rejected" : "hit";
  }
  let saved = status === "hit" || status === "off";
  const run: CodeCacheRun = {
    status,
    file: cacheFile,
    save() {
      if (saved || cacheFile === undefined) return;
      saved = true;
      // Another process of this build got there first (a simulator starts many at once).
      if (status === "miss" && existsSync(cacheFile)) return;
      writeCacheFile(cacheFile, script.createCachedData(), `${program}-`, `${program}-${sourceHash}-`);
    },
  };
  (globalThis as Record<symbol, unknown>)[SAVE_HOOK] = () => run.save();
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  const module = new Module(file);
  module.filename = file;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return run;
}

/**
 * Called by a node once it is up (serving, validating): the loader that started it writes the
 * code cache, now holding every function start-up compiled. Does nothing when the node was not
 * started through {@link runCachedBundle} (tests, the in-process simulator).
 */
export function saveCodeCache(): void {
  const save = (globalThis as Record<symbol, unknown>)[SAVE_HOOK];
  if (typeof save === "function") save();
}

/** Node.js 22.1+: its own cache, flushed at {@link saveCodeCache} where Node.js can (22.10+). */
function runWithNodeCompileCache(file: string, dir: string, enable: (dir?: string) => unknown): CodeCacheRun {
  try {
    enable(dir);
  } catch {
    // A directory Node.js cannot use only means no cache.
  }
  const flush = (Module as { flushCompileCache?: () => void }).flushCompileCache;
  let saved = false;
  const run: CodeCacheRun = {
    status: "node",
    file: undefined,
    save() {
      if (saved) return;
      saved = true;
      try {
        flush?.();
      } catch {
        // As above: the next start compiles again.
      }
    },
  };
  (globalThis as Record<symbol, unknown>)[SAVE_HOOK] = () => run.save();
  createRequire(file)(file);
  return run;
}

function sha256(data: string | Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/**
 * What besides the source decides whether V8 accepts a cache: its version, the architecture and
 * the flags (a simulator's node runs with other V8 flags than an operator's node, and each keeps
 * its own file rather than overwriting the other's).
 */
function runtimeHash(): string {
  const flags = [process.version, process.arch, ...process.execArgv, process.env.NODE_OPTIONS ?? ""];
  return sha256(flags.join("\0")).subarray(0, 4).toString("hex");
}

/** The cached bytes when the file holds a whole, unaltered cache; `unusable` when one is there but not. */
function readCacheFile(file: string, maxBytes = MAX_CODE_CACHE_BYTES): { data?: Buffer; unusable?: true } {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return {};
  }
  try {
    const { size, uid } = fstatSync(fd);
    if (size < HEADER_BYTES || size > maxBytes) return { unusable: true };
    // The cache is code this process runs: only a file of this process's own user is.
    if (process.getuid && uid !== process.getuid()) return { unusable: true };
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) return { unusable: true };
      read += n;
    }
    const data = bytes.subarray(HEADER_BYTES);
    const intact =
      bytes.subarray(0, MAGIC.length).equals(MAGIC) &&
      bytes.subarray(MAGIC.length, HEADER_BYTES).equals(sha256(data));
    return intact ? { data } : { unusable: true };
  } catch {
    return { unusable: true };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `data` to `file` whole or not at all (a temporary file renamed over it), then removes the
 * files of other builds of the same program (`programPrefix` but not `buildPrefix`) and temporary
 * files abandoned by killed writers.
 */
function writeCacheFile(file: string, data: Buffer, programPrefix: string, buildPrefix: string): void {
  const dir = dirname(file);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, Buffer.concat([MAGIC, sha256(data), data]));
    renameSync(temporary, file);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Left behind in a directory we cannot write to anyway.
    }
    return;
  }
  try {
    const now = Date.now();
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(programPrefix)) continue;
      const path = join(dir, name);
      const olderBuild = name.endsWith(".v8") && !name.startsWith(buildPrefix);
      // A temporary file a killed process left behind (a live writer renames its own within seconds).
      const abandoned = name.endsWith(".tmp") && now - statSync(path).mtimeMs > ABANDONED_TEMPORARY_MS;
      if (olderBuild || abandoned) rmSync(path, { force: true });
    }
  } catch {
    // Another process pruned first, or the directory went away: nothing to do.
  }
}
