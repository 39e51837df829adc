/**
 * The Substrate JSON-RPC surface of the dev chain: system_*, chain_*, state_*, author_*, plus
 * dev_newBlock / dev_setStorage. Names and result shapes follow a Substrate node so @polkadot/api
 * works unmodified. Spec: https://polkadot.js.org/docs/substrate/rpc
 */
import { hexToU8a, isHex, u8aToHex } from "@polkadot/util";
import { blake2AsHex, decodeAddress } from "@polkadot/util-crypto";
import { type Block, headerToJson } from "./block.js";
import type { ChainEvent } from "./chain-events.js";
import { PoolRejectionError } from "./errors.js";
import type { DecodedExtrinsic } from "./extrinsic.js";
import { DEFAULT_FEES, type FeeConfig } from "./pallets/transaction-payment.js";
import { INVALID_PARAMS, RpcError, type RpcMethods, Subscription } from "./rpc-server.js";
import type { Runtime } from "./runtime.js";
import { callRuntimeApi, RuntimeApiError } from "./runtime-api.js";
import { type State, StateDiscardedError } from "./state.js";
import type { AccountInfo } from "./types.js";

/** Substrate's code for a failed state query or runtime call ("Client error"). */
const STATE_ERROR = 4003;

function hexParam(v: unknown, name: string): Uint8Array {
  if (typeof v !== "string" || !isHex(v) || v.length % 2 !== 0)
    throw new RpcError(INVALID_PARAMS, `Invalid params: ${name} must be 0x-prefixed hex`);
  return hexToU8a(v);
}

/**
 * `state_call` data: Substrate's `Bytes` accepts hex with or without `0x`, and py-substrate-interface
 * (the bittensor SDK) sends it bare and sends "" for calls without arguments.
 */
function callDataParam(v: unknown): Uint8Array {
  if (v === undefined || v === null || v === "") return new Uint8Array();
  if (typeof v === "string" && !v.startsWith("0x")) return hexParam(`0x${v}`, "data");
  return hexParam(v, "data");
}

function keyParam(v: unknown, name = "key"): string {
  return u8aToHex(hexParam(v, name));
}

function optionalCount(v: unknown, name: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  throw new RpcError(INVALID_PARAMS, `Invalid params: ${name} must be a non-negative integer`);
}

/**
 * What the RPC methods use of the chain. `DevChain` satisfies it; the methods take this seam
 * rather than the class so chain.ts and this file do not import each other.
 */
export interface RpcChain {
  readonly options: Readonly<{ fees?: FeeConfig; chainName?: string }>;
  readonly runtime: Runtime;
  readonly head: Block;
  readonly state: State;
  readonly pendingExtrinsics: readonly DecodedExtrinsic[];
  blockByNumber(n: number): Block | undefined;
  blockByHash(hash: string): Block | undefined;
  onEvent(listener: (e: ChainEvent) => void): () => void;
  read<V = unknown>(pallet: string, item: string, keys?: readonly unknown[], at?: number): V;
  /** Throws {@link PoolRejectionError} when the pool refuses the transaction. */
  submit(bytes: Uint8Array): { hash: string; future: boolean };
  newBlock(count?: number): Block[];
  setStorage(entries: ReadonlyArray<[string, Uint8Array | null]>): Block;
}

function runtimeVersionJson(chain: RpcChain) {
  return { ...chain.runtime.version };
}

export function createRpcMethods(chain: RpcChain): RpcMethods {
  const blockAt = (at: unknown): Block => {
    if (at === undefined || at === null) return chain.head;
    if (typeof at !== "string" || !isHex(at))
      throw new RpcError(INVALID_PARAMS, "Invalid params: block hash expected");
    const b = chain.blockByHash(at);
    if (!b) throw new RpcError(STATE_ERROR, `Client error: UnknownBlock: header not found for ${at}`);
    return b;
  };

  const readAt = (key: string, block: Block): Uint8Array | undefined => {
    try {
      return chain.state.getAt(key, block.header.number);
    } catch (e) {
      if (e instanceof StateDiscardedError) throw new RpcError(STATE_ERROR, `Client error: ${e.message}`);
      throw e;
    }
  };

  const keysAt = (prefix: string, block: Block): string[] => {
    try {
      return chain.state.keysAt(prefix, block.header.number);
    } catch (e) {
      if (e instanceof StateDiscardedError) throw new RpcError(STATE_ERROR, `Client error: ${e.message}`);
      throw e;
    }
  };

  const blockJson = (b: Block) => ({
    block: { header: headerToJson(b.header), extrinsics: b.extrinsics.map((x) => u8aToHex(x)) },
    justifications: null,
  });

  const headSubscription = (notification: string) => () =>
    new Subscription(notification, (emit) => {
      emit(headerToJson(chain.head.header));
      return chain.onEvent((e) => {
        if (e.type === "block") emit(headerToJson(e.block.header));
      });
    });

  const runtimeVersionSubscription = () =>
    new Subscription("state_runtimeVersion", (emit) => {
      emit(runtimeVersionJson(chain));
      return () => {};
    });

  const getBlockHash = (n: unknown): string | null => {
    if (n === undefined || n === null) return chain.head.hashHex;
    const num = typeof n === "string" ? Number(n) : n;
    if (typeof num !== "number" || !Number.isInteger(num) || num < 0)
      throw new RpcError(INVALID_PARAMS, "Invalid params: block number expected");
    return chain.blockByNumber(num)?.hashHex ?? null;
  };

  const submit = (hex: unknown) => {
    const bytes = hexParam(hex, "extrinsic");
    try {
      return chain.submit(bytes);
    } catch (e) {
      if (e instanceof PoolRejectionError) throw new RpcError(e.code, e.message, e.details);
      throw e;
    }
  };

  const stateCall = ([method, data, at]: unknown[]) => {
    if (typeof method !== "string")
      throw new RpcError(INVALID_PARAMS, "Invalid params: method name expected");
    const block = blockAt(at);
    try {
      const out = callRuntimeApi(
        {
          runtime: chain.runtime,
          fees: chain.options.fees ?? DEFAULT_FEES,
          readRaw: (key) => readAt(key, block),
          keysRaw: (prefix) => keysAt(prefix, block),
          blockNumber: block.header.number,
        },
        method,
        callDataParam(data),
      );
      return u8aToHex(out);
    } catch (e) {
      if (e instanceof RpcError) throw e;
      if (e instanceof RuntimeApiError)
        throw new RpcError(STATE_ERROR, `Client error: Execution failed: Other: ${e.message}`);
      throw new RpcError(STATE_ERROR, `Client error: Execution failed: ${(e as Error).message}`);
    }
  };

  const accountNextIndex = ([address]: unknown[]) => {
    let id: Uint8Array;
    try {
      id =
        typeof address === "string" && isHex(address) ? hexToU8a(address) : decodeAddress(address as string);
    } catch (e) {
      throw new RpcError(INVALID_PARAMS, "Invalid params: account address expected", undefined, {
        cause: e,
      });
    }
    let nonce = chain.read<AccountInfo>("System", "Account", [id]).nonce;
    const pending = new Set(
      chain.pendingExtrinsics
        .filter((x) => x.signed && u8aToHex(x.signed.signer) === u8aToHex(id))
        .map((x) => x.signed?.nonce),
    );
    while (pending.has(nonce)) nonce++;
    return nonce;
  };

  const handlers: Record<string, (params: unknown[]) => unknown> = {
    system_chain: () => chain.options.chainName ?? "Bittensor Dev Chain",
    system_name: () => "storage-subnet-devchain",
    system_version: () => "0.1.0",
    system_chainType: () => "Development",
    system_properties: () => ({ ss58Format: 42, tokenDecimals: 9, tokenSymbol: "TAO" }),
    system_health: () => ({ peers: 0, isSyncing: false, shouldHavePeers: false }),
    system_peers: () => [],
    system_nodeRoles: () => ["Authority"],
    system_localPeerId: () => "12D3KooWDevChainLocalPeer",
    system_localListenAddresses: () => [],
    system_syncState: () => ({
      startingBlock: 0,
      currentBlock: chain.head.header.number,
      highestBlock: chain.head.header.number,
    }),
    system_accountNextIndex: accountNextIndex,
    account_nextIndex: accountNextIndex,

    chain_getBlockHash: ([n]) => (Array.isArray(n) ? n.map((x) => getBlockHash(x)) : getBlockHash(n)),
    chain_getHead: () => chain.head.hashHex,
    chain_getFinalizedHead: () => chain.head.hashHex,
    chain_getFinalisedHead: () => chain.head.hashHex,
    chain_getHeader: ([at]) => {
      if (at !== undefined && at !== null && typeof at === "string" && !chain.blockByHash(at)) return null;
      return headerToJson(blockAt(at).header);
    },
    chain_getBlock: ([at]) => {
      if (at !== undefined && at !== null && typeof at === "string" && !chain.blockByHash(at)) return null;
      return blockJson(blockAt(at));
    },
    chain_subscribeNewHeads: headSubscription("chain_newHead"),
    chain_subscribeNewHead: headSubscription("chain_newHead"),
    subscribe_newHead: headSubscription("chain_newHead"),
    chain_subscribeAllHeads: headSubscription("chain_allHead"),
    chain_subscribeFinalizedHeads: headSubscription("chain_finalizedHead"),
    chain_subscribeFinalisedHeads: headSubscription("chain_finalizedHead"),
    chain_subscribeRuntimeVersion: runtimeVersionSubscription,
    chain_getRuntimeVersion: ([at]) => {
      blockAt(at);
      return runtimeVersionJson(chain);
    },

    state_getMetadata: ([at]) => {
      blockAt(at);
      return u8aToHex(chain.runtime.metadata);
    },
    state_getRuntimeVersion: ([at]) => {
      blockAt(at);
      return runtimeVersionJson(chain);
    },
    state_subscribeRuntimeVersion: runtimeVersionSubscription,
    state_getStorage: ([key, at]) => {
      const v = readAt(keyParam(key), blockAt(at));
      return v === undefined ? null : u8aToHex(v);
    },
    state_getStorageAt: ([key, at]) => {
      const v = readAt(keyParam(key), blockAt(at));
      return v === undefined ? null : u8aToHex(v);
    },
    state_getStorageHash: ([key, at]) => {
      const v = readAt(keyParam(key), blockAt(at));
      return v === undefined ? null : blake2AsHex(v, 256);
    },
    state_getStorageSize: ([key, at]) => readAt(keyParam(key), blockAt(at))?.length ?? null,
    state_getKeys: ([prefix, at]) => keysAt(keyParam(prefix ?? "0x", "prefix"), blockAt(at)),
    state_getKeysPaged: ([prefix, count, startKey, at]) => {
      const n = optionalCount(count, "count") ?? 1000;
      if (n > 1000) throw new RpcError(INVALID_PARAMS, "Invalid params: count exceeds 1000");
      const keys = keysAt(keyParam(prefix ?? "0x", "prefix"), blockAt(at));
      const start = startKey === undefined || startKey === null ? null : keyParam(startKey, "startKey");
      const from = start === null ? keys : keys.filter((k) => k > start);
      return from.slice(0, n);
    },
    state_queryStorageAt: ([keys, at]) => {
      if (!Array.isArray(keys)) throw new RpcError(INVALID_PARAMS, "Invalid params: keys must be an array");
      const block = blockAt(at);
      return [
        {
          block: block.hashHex,
          changes: keys.map((k) => {
            const key = keyParam(k);
            const v = readAt(key, block);
            return [key, v === undefined ? null : u8aToHex(v)];
          }),
        },
      ];
    },
    state_subscribeStorage: ([keys]) => {
      if (keys !== undefined && keys !== null && !Array.isArray(keys))
        throw new RpcError(INVALID_PARAMS, "Invalid params: keys must be an array");
      const watched = keys ? keys.map((k) => keyParam(k)) : null;
      return new Subscription("state_storage", (emit) => {
        if (watched) {
          const head = chain.head;
          emit({
            block: head.hashHex,
            changes: watched.map((k) => {
              const v = readAt(k, head);
              return [k, v === undefined ? null : u8aToHex(v)];
            }),
          });
        }
        return chain.onEvent((e) => {
          if (e.type !== "block") return;
          const changes: Array<[string, string | null]> = [];
          if (watched) {
            for (const k of watched) {
              if (!e.changes.has(k)) continue;
              const v = e.changes.get(k);
              changes.push([k, v ? u8aToHex(v) : null]);
            }
          } else for (const [k, v] of e.changes) changes.push([k, v ? u8aToHex(v) : null]);
          if (changes.length > 0) emit({ block: e.block.hashHex, changes });
        });
      });
    },
    state_call: stateCall,
    state_callAt: stateCall,

    author_submitExtrinsic: ([hex]) => submit(hex).hash,
    author_submitAndWatchExtrinsic: ([hex]) => {
      const { hash, future } = submit(hex);
      return new Subscription("author_extrinsicUpdate", (emit, close) => {
        emit(future ? "future" : "ready");
        return chain.onEvent((e) => {
          if (e.type !== "tx" || e.hash !== hash) return;
          if (typeof e.status === "object" && "finalized" in e.status) close(e.status);
          else if (e.status === "invalid" || e.status === "dropped") close(e.status);
          else emit(e.status);
        });
      });
    },
    author_pendingExtrinsics: () => chain.pendingExtrinsics.map((x) => x.hex),

    dev_newBlock: ([opts]) => {
      let count = 1;
      if (opts !== undefined && opts !== null) {
        if (typeof opts !== "object")
          throw new RpcError(INVALID_PARAMS, "Invalid params: expected { count }");
        const c = optionalCount((opts as { count?: unknown }).count, "count");
        if (c !== undefined) count = c;
      }
      if (count > 100_000) throw new RpcError(INVALID_PARAMS, "Invalid params: count exceeds 100000");
      const blocks = chain.newBlock(count);
      return blocks[blocks.length - 1]?.hashHex ?? chain.head.hashHex;
    },
    dev_setStorage: ([entries]) => {
      let list: Array<[string, Uint8Array | null]>;
      const pair = (k: unknown, v: unknown): [string, Uint8Array | null] => [
        keyParam(k),
        v === null ? null : hexParam(v, "value"),
      ];
      if (Array.isArray(entries))
        list = entries.map((e) => (Array.isArray(e) ? pair(e[0], e[1]) : pair(undefined, 0)));
      else if (typeof entries === "object" && entries !== null)
        list = Object.entries(entries).map(([k, v]) => pair(k, v));
      else throw new RpcError(INVALID_PARAMS, "Invalid params: expected [[key, value | null], …]");
      return chain.setStorage(list).hashHex;
    },
  };

  const unsubscribe = [
    "chain_unsubscribeNewHeads",
    "chain_unsubscribeNewHead",
    "unsubscribe_newHead",
    "chain_unsubscribeAllHeads",
    "chain_unsubscribeFinalizedHeads",
    "chain_unsubscribeFinalisedHeads",
    "chain_unsubscribeRuntimeVersion",
    "state_unsubscribeRuntimeVersion",
    "state_unsubscribeStorage",
    "author_unwatchExtrinsic",
  ];
  handlers.rpc_methods = () => ({ version: 1, methods: [...Object.keys(handlers), ...unsubscribe].sort() });
  return { handlers, unsubscribe };
}
