/**
 * An in-memory StorageService for the HTTP layer's unit tests: no miners, but honest where the
 * gateway can tell. CIDs are computed by protocol/content-id.ts importFile over the body, blocks
 * are served and read back verified (readFile/readRange), visibility follows the contract (own
 * copy, else a public one), a put counts in usage() from the moment put() is called, and nothing
 * becomes visible unless the whole body arrived, the signal stayed quiet and beforeCommit passed.
 */
import { CID } from "multiformats/cid";
import {
  type FileInfo,
  FileNotFoundError,
  type FileStatus,
  FileUnavailableError,
  NetworkFullError,
  type PutOptions,
  type PutRequest,
  RangeNotSatisfiableError,
  type ReadOptions,
  type Requester,
  type StorageService,
} from "../../neurons/validator/storage/service.js";
import { CHUNK_BYTES, importFile, readFile, readRange } from "../../protocol/content-id.js";

export interface MemoryStorageServiceInit {
  dataShards?: number;
  parityShards?: number;
  /** Bytes the "network" holds in all; a put that would pass it fails NetworkFullError. */
  capacityBytes?: number;
  now?: () => number;
}

interface StoredFile {
  info: FileInfo;
  blocks: Map<string, Uint8Array>;
}

export interface MemoryStorageService extends StorageService {
  /** Files visible now, across owners. */
  readonly visibleFiles: number;
  /** Puts between put() and their end (committed or not). */
  readonly putsInFlight: number;
  /** Makes reads of `cid` fail as if too many pieces were lost (FileUnavailableError). */
  makeUnavailable(cid: string): void;
  /** Resolves when a put has consumed at least `bytes` of its body (for tests that stop a client mid-body). */
  waitForProgress(bytes: number): Promise<void>;
  /** Resolves when no put is in flight. */
  waitForIdle(): Promise<void>;
}

/**
 * @example
 * const service = createMemoryStorageService({ capacityBytes: 64 << 20 });
 * const gateway = createGatewayServer({ service, ... });
 */
export function createMemoryStorageService(init: MemoryStorageServiceInit = {}): MemoryStorageService {
  const dataShards = init.dataShards ?? 10;
  const parityShards = init.parityShards ?? 4;
  const capacity = init.capacityBytes ?? Number.POSITIVE_INFINITY;
  const now = init.now ?? Date.now;
  /** owner/cid → file. */
  const files = new Map<string, StoredFile>();
  const inFlight = new Map<symbol, PutRequest>();
  const unavailable = new Set<string>();
  /** Bytes each put in flight has consumed. */
  const progress = new Map<symbol, number>();
  let progressWaiters: Array<{ bytes: number; resolve: () => void }> = [];
  let idleWaiters: Array<() => void> = [];

  const key = (owner: string, cid: string) => `${owner}/${cid}`;
  const live = (file: StoredFile): boolean => file.info.expiresAt === null || file.info.expiresAt > now();
  const visible = (cid: string, requester: Requester): StoredFile | undefined => {
    if (requester !== null) {
      const own = files.get(key(requester, cid));
      if (own !== undefined && live(own)) return own;
    }
    for (const file of files.values())
      if (file.info.cid === cid && file.info.public && live(file)) return file;
    return undefined;
  };
  const storedBytes = (): number => {
    let total = 0;
    for (const file of files.values()) total += file.info.size;
    for (const request of inFlight.values()) total += request.size;
    return total;
  };
  const reportProgress = (bytes: number): void => {
    const ready = progressWaiters.filter((waiter) => waiter.bytes <= bytes);
    progressWaiters = progressWaiters.filter((waiter) => waiter.bytes > bytes);
    for (const waiter of ready) waiter.resolve();
  };

  return {
    get visibleFiles() {
      return [...files.values()].filter(live).length;
    },
    get putsInFlight() {
      return inFlight.size;
    },
    makeUnavailable(cid) {
      unavailable.add(cid);
    },
    waitForIdle() {
      if (inFlight.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    waitForProgress(bytes) {
      if ([...progress.values()].some((consumed) => consumed >= bytes)) return Promise.resolve();
      return new Promise((resolve) => progressWaiters.push({ bytes, resolve }));
    },

    async put(request: PutRequest, body: AsyncIterable<Uint8Array>, options: PutOptions = {}) {
      // Counted in usage() and capacity before the first await, as the contract asks.
      const ticket = Symbol("put");
      if (storedBytes() + request.size > capacity) {
        throw new NetworkFullError(`the network holds at most ${capacity} bytes`);
      }
      inFlight.set(ticket, request);
      try {
        const blocks = new Map<string, Uint8Array>();
        let consumed = 0;
        const counted = async function* (): AsyncGenerator<Uint8Array> {
          for await (const chunk of body) {
            options.signal?.throwIfAborted();
            consumed += chunk.length;
            options.onProgress?.(consumed);
            progress.set(ticket, consumed);
            reportProgress(consumed);
            yield chunk;
          }
        };
        const root = await importFile(counted(), {
          onBlock: (cid, bytes) => {
            options.signal?.throwIfAborted();
            blocks.set(cid.toString(), bytes);
          },
        });
        options.signal?.throwIfAborted();
        await options.beforeCommit?.();
        options.signal?.throwIfAborted();
        const createdAt = now();
        const leaves = Math.ceil(consumed / CHUNK_BYTES);
        const info: FileInfo = {
          cid: root.toString(),
          owner: request.owner,
          size: consumed,
          public: request.public,
          createdAt,
          expiresAt: request.ttlMs === null ? null : createdAt + request.ttlMs,
          dataShards,
          parityShards,
          stripes: Math.ceil(leaves / dataShards),
          redundancy: "full",
        };
        files.set(key(request.owner, info.cid), { info, blocks });
        return info;
      } finally {
        inFlight.delete(ticket);
        progress.delete(ticket);
        if (inFlight.size === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      }
    },

    stat(cid, requester) {
      return visible(cid, requester)?.info;
    },

    async *read(cid, requester, options: ReadOptions = {}) {
      const file = visible(cid, requester);
      if (file === undefined) throw new FileNotFoundError(`no file ${cid}`);
      if (unavailable.has(cid)) throw new FileUnavailableError(`${cid} has lost too many pieces`);
      const fetchBlock = async (block: CID) => {
        const bytes = file.blocks.get(block.toString());
        if (bytes === undefined) throw new FileUnavailableError(`block ${block} is missing`);
        return bytes;
      };
      const root = CID.parse(file.info.cid);
      if (options.range === undefined) {
        yield* readFile(root, fetchBlock, { signal: options.signal });
        return;
      }
      const { offset, length } = options.range;
      if (offset + length > file.info.size || (offset >= file.info.size && length > 0)) {
        throw new RangeNotSatisfiableError(`${offset}+${length} is outside the file`, file.info.size);
      }
      yield* readRange(root, offset, length, fetchBlock, { signal: options.signal });
    },

    async block(cid, requester, options = {}) {
      options.signal?.throwIfAborted();
      let text: string;
      try {
        text = CID.parse(cid).toV1().toString();
      } catch {
        return undefined;
      }
      const own =
        requester === null ? [] : [...files.values()].filter((file) => file.info.owner === requester);
      const shared = [...files.values()].filter((file) => file.info.public);
      for (const file of [...own, ...shared]) {
        if (!live(file)) continue;
        const bytes = file.blocks.get(text);
        if (bytes !== undefined) return bytes;
      }
      return undefined;
    },

    list(owner) {
      return [...files.values()]
        .filter((file) => file.info.owner === owner && live(file))
        .map((file) => file.info)
        .sort((a, b) => b.createdAt - a.createdAt);
    },

    status(cid, requester): FileStatus | undefined {
      const file = visible(cid, requester);
      if (file === undefined) return undefined;
      const leaves = Math.ceil(file.info.size / CHUNK_BYTES);
      const stripesDetail = Array.from({ length: file.info.stripes }, (_, index) => {
        const stripeData = Math.min(dataShards, leaves - index * dataShards);
        return {
          index,
          dataShards: stripeData,
          pieces: Array.from({ length: stripeData + parityShards }, (_, shard) => ({
            shard,
            miner: `memory-miner-${shard}`,
            uid: shard,
            state: "ok" as const,
          })),
          // A file made unavailable has a stripe that cannot be rebuilt, as the real index says.
          margin: unavailable.has(cid) ? -1 : parityShards,
        };
      });
      const total = stripesDetail.reduce((sum, stripe) => sum + stripe.pieces.length, 0);
      return {
        ...file.info,
        stripesDetail,
        health: stripesDetail.length === 0 ? parityShards : Math.min(...stripesDetail.map((s) => s.margin)),
        pieces: { total, lost: 0, repaired: 0, pendingRepair: 0 },
      };
    },

    remove(cid, owner) {
      return files.delete(key(owner, cid));
    },

    usage(owner) {
      let bytes = 0;
      let count = 0;
      for (const file of files.values()) {
        if (file.info.owner !== owner || !live(file)) continue;
        bytes += file.info.size;
        count += 1;
      }
      for (const request of inFlight.values()) {
        if (request.owner !== owner) continue;
        bytes += request.size;
        count += 1;
      }
      return { bytes, files: count };
    },

    async start() {},
    async stop() {},
  };
}
