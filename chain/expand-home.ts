import { homedir } from "node:os";
import { resolve } from "node:path";

/**
 * Expands a leading `~` (alone or followed by `/`) to `home` and makes the path absolute: the one
 * rule for every user-given path (wallets, node databases, config files).
 *
 * @example
 * expandHome("~/bittensor-db", "/home/ana"); // "/home/ana/bittensor-db"
 */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === "~") return resolve(home);
  if (path.startsWith("~/")) return resolve(home, path.slice(2));
  return resolve(path);
}
