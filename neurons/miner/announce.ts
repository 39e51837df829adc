/**
 * Announcing the miner on chain: the axon (ip and port, what subtensor keeps per neuron) and the
 * commitment (the full multiaddr with the peer id, which validators dial). Each is written only
 * when the chain does not already hold it.
 */
import type { Libp2p } from "@libp2p/interface";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { ChainClient } from "../../chain/client.js";
import { bytesEqual } from "../../protocol/bytes.js";
import type { Logger } from "../logger.js";
import { tcpMultiaddrText } from "../p2p/node.js";

export interface AnnounceSettings {
  netuid: number;
  /** libp2p listen address; port 0 picks a free one. */
  listen: { ip: string; port: number };
  /** Address published on chain; default: the listen ip, or a non-loopback interface address. */
  externalIp?: string;
  /** Write the axon and the commitment; false only computes the address. Default true. */
  announce?: boolean;
}

export interface Announcer {
  /** The multiaddr published in the commitment, `/ip4/…/tcp/…/p2p/<peer id>` (after `publish`). */
  readonly address: string;
  /** True once the axon and commitment on chain match this miner's address. */
  readonly published: boolean;
  /**
   * Publishes the node's address. A failure is logged, not thrown: serving goes on and the caller
   * retries later (while `published` is false).
   */
  publish(node: Libp2p | undefined): Promise<void>;
}

/**
 * @example
 * const announcer = createAnnouncer({ chain, hotkey, settings, log });
 * await announcer.publish(node);
 * announcer.address; // "/ip4/203.0.113.7/tcp/8091/p2p/12D3…"
 */
export function createAnnouncer(init: {
  chain: ChainClient;
  /** Signs the axon and commitment transactions. */
  hotkey: KeyringPair;
  settings: AnnounceSettings;
  log: Logger;
}): Announcer {
  const { chain, hotkey, settings, log } = init;
  let address = "";
  let published = false;

  async function announce(node: Libp2p | undefined): Promise<void> {
    if (node === undefined) return;
    const addrs = node.getMultiaddrs().map((a) => a.toString());
    const tcp = addrs
      .map((a) => /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)/.exec(a))
      .filter((m): m is RegExpExecArray => m !== null);
    const port = Number(tcp[0]?.[3] ?? settings.listen.port);
    const wildcard = settings.listen.ip === "0.0.0.0" || settings.listen.ip === "::";
    const ip =
      settings.externalIp ??
      (wildcard ? (tcp.find((m) => !isLoopback(m[2] ?? ""))?.[2] ?? "127.0.0.1") : settings.listen.ip);
    address = `${tcpMultiaddrText(ip, port)}/p2p/${node.peerId.toString()}`;
    if (settings.announce === false) return;

    // Subtensor refuses loopback axons; a loopback-only miner publishes 0.0.0.0 and relies on
    // the commitment, which holds the full multiaddr.
    const axonIp = isLoopback(ip) ? "0.0.0.0" : ip;
    // The axon and the commitment are written independently: subtensor's serving rate limit can
    // refuse a new axon (a miner restarted within 50 blocks of its last one), and that must not
    // keep validators, who dial the commitment, from the new address.
    const failures: unknown[] = [];
    try {
      const graph = await chain.metagraph(settings.netuid);
      const uid = graph.hotkeys.indexOf(hotkey.address);
      const axon = uid >= 0 ? graph.axons[uid] : null;
      if (axon?.ip !== axonIp || axon.port !== port) {
        await chain.serveAxon(hotkey, settings.netuid, {
          version: 1,
          ip: axonIp,
          port,
          ipType: axonIp.includes(":") ? 6 : 4,
          protocol: 4,
        });
        log.info("served axon", { ip: axonIp, port });
      }
    } catch (error) {
      failures.push(error);
    }
    try {
      const commitment = new TextEncoder().encode(address);
      const current = (await chain.commitments(settings.netuid)).get(hotkey.address);
      if (current === undefined || !bytesEqual(current, commitment)) {
        await chain.setCommitment(hotkey, settings.netuid, commitment);
        log.info("published commitment", { multiaddr: address });
      }
    } catch (error) {
      failures.push(error);
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, "cannot publish the axon nor the commitment");
  }

  return {
    get address() {
      return address;
    },
    get published() {
      return published;
    },
    async publish(node) {
      try {
        await announce(node);
        published = true;
      } catch (error) {
        log.warn("cannot publish the axon or commitment yet; retrying at the next metagraph refresh", {
          error,
        });
      }
    },
  };
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1" || ip === "localhost";
}
