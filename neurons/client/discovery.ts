/**
 * Finding gateways on chain (design 15): a validator serving the client API publishes its URL as
 * its commitment (`--api.public_url`); miners commit multiaddrs, which start with "/", so the two
 * never mix. A client keeps the registered hotkeys whose commitment is an http(s) URL, highest
 * stake first, and uses the first whose `/v1/info` names that same hotkey (gateway-pool.ts checks
 * it, and moves on to the next on a failure).
 */
import type { ChainClient, ReadOptions } from "../../chain/client.js";
import { NoGatewayError } from "./errors.js";
import type { Gateway, GatewayResolver } from "./gateway-pool.js";

/** A gateway found on chain, with the stake that ranks it. */
export interface DiscoveredGateway extends Gateway {
  hotkey: string;
  uid: number;
  /** Stake on the hotkey in the subnet, in rao. */
  stake: bigint;
}

/**
 * The gateways committed on subnet `netuid`, highest stake first (ties: lower uid first).
 * A commitment that is not the UTF-8 text of an http(s) URL, or whose hotkey is not registered,
 * is left out.
 *
 * @example
 * const [best] = await discoverGateways(chain, 1);
 */
export async function discoverGateways(
  chain: ChainClient,
  netuid: number,
  options: ReadOptions = {},
): Promise<DiscoveredGateway[]> {
  const [commitments, metagraph] = await Promise.all([
    chain.commitments(netuid, options),
    chain.metagraph(netuid, options),
  ]);
  const found: DiscoveredGateway[] = [];
  for (const [uid, hotkey] of metagraph.hotkeys.entries()) {
    const commitment = commitments.get(hotkey);
    const url = commitment === undefined ? undefined : gatewayUrlOf(commitment);
    if (url === undefined) continue;
    found.push({ url, hotkey, uid, stake: metagraph.stake[uid] ?? 0n });
  }
  return found.sort((a, b) => (a.stake === b.stake ? a.uid - b.uid : a.stake > b.stake ? -1 : 1));
}

/**
 * A resolver for createStorageClient that discovers the gateways on first use; it throws
 * NoGatewayError when the subnet has none.
 *
 * @example
 * const client = createStorageClient({ gateway: chainGateways(chain, 1), hotkey, userSecret });
 */
export function chainGateways(
  chain: ChainClient,
  netuid: number,
  options: ReadOptions = {},
): GatewayResolver {
  return async function* () {
    const found = await discoverGateways(chain, netuid, options);
    if (found.length === 0) {
      throw new NoGatewayError(
        `no validator on subnet ${netuid} publishes a gateway URL in its commitment; pass --gateway URL`,
      );
    }
    yield* found;
  };
}

/** The URL a commitment holds, or undefined when it holds something else (a miner's multiaddr). */
export function gatewayUrlOf(commitment: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(commitment).trim();
  } catch {
    return undefined;
  }
  if (!/^https?:\/\//i.test(text)) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? text : undefined;
  } catch {
    return undefined;
  }
}
