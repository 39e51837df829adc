/**
 * Where a miner keeps its databases:
 *
 *   <db_root>/<netuid>/<miner_hotkey>/<validator_hotkey>.sqlite   one chunk store per validator
 *   <db_root>/<netuid>/<miner_hotkey>/_partition.sqlite           allocation and eviction log
 *
 * `db_root` defaults to `~/bittensor-db`; a leading `~` is expanded to the home folder. The
 * netuid and the miner hotkey separate several miners (or subnets) sharing one root. Hotkeys are
 * used as file names, so each must be a safe path segment (letters, digits, `.`, `_`, `-`,
 * starting with a letter or digit; ss58 addresses are). The partition file starts with `_`, which
 * no valid hotkey segment does, so the two kinds of file never collide.
 */

import { join } from "node:path";
import { expandHome } from "../../chain/expand-home.js";
import { NodeError } from "../errors.js";

/** Default root of every miner database. */
export const DEFAULT_DB_ROOT = "~/bittensor-db";

/** File name of the partition database inside a miner's folder. */
export const PARTITION_DB_FILE = "_partition.sqlite";

/** Suffix of a validator's chunk store file. */
export const STORE_FILE_SUFFIX = ".sqlite";

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A hotkey or netuid that cannot be used as a file name. */
export class InvalidPathSegmentError extends NodeError {
  override name = "InvalidPathSegmentError";
  constructor(
    readonly what: string,
    readonly value: string,
    options?: ErrorOptions,
  ) {
    super(`${what} ${JSON.stringify(value)} is not a safe path segment`, options);
  }
}

/** Throws `InvalidPathSegmentError` unless `value` is safe to use as one file or folder name. */
export function assertPathSegment(what: string, value: string): void {
  if (!SEGMENT.test(value)) throw new InvalidPathSegmentError(what, value);
}

export interface StoreLayoutInit {
  /** Root folder (default `~/bittensor-db`). */
  dbRoot?: string;
  netuid: number;
  minerHotkey: string;
  /** Home folder for `~` expansion (default `os.homedir()`). */
  home?: string;
}

/** The resolved paths of one miner's databases. */
export interface StoreLayout {
  /** `<db_root>/<netuid>/<miner_hotkey>`: every file of this miner. */
  readonly dir: string;
  /** The partition database. */
  readonly partitionPath: string;
  /** The chunk store of one validator. */
  storePath(validatorHotkey: string): string;
  /** The validator a file name in `dir` belongs to, or undefined for any other file. */
  validatorOfFile(fileName: string): string | undefined;
}

/**
 * @example
 * const layout = resolveStoreLayout({ netuid: 21, minerHotkey: "5F...", home: "/home/ana" });
 * layout.storePath("5G..."); // "/home/ana/bittensor-db/21/5F.../5G....sqlite"
 */
export function resolveStoreLayout(init: StoreLayoutInit): StoreLayout {
  if (!Number.isSafeInteger(init.netuid) || init.netuid < 0) {
    throw new InvalidPathSegmentError("netuid", String(init.netuid));
  }
  assertPathSegment("miner hotkey", init.minerHotkey);
  const root = expandHome(init.dbRoot ?? DEFAULT_DB_ROOT, init.home);
  const dir = join(root, String(init.netuid), init.minerHotkey);
  return {
    dir,
    partitionPath: join(dir, PARTITION_DB_FILE),
    storePath(validatorHotkey: string): string {
      assertPathSegment("validator hotkey", validatorHotkey);
      return join(dir, validatorHotkey + STORE_FILE_SUFFIX);
    },
    validatorOfFile(fileName: string): string | undefined {
      if (!fileName.endsWith(STORE_FILE_SUFFIX)) return undefined;
      const hotkey = fileName.slice(0, -STORE_FILE_SUFFIX.length);
      return SEGMENT.test(hotkey) ? hotkey : undefined;
    },
  };
}
