/**
 * Which miner the validator reaches at an address. A committed address is only a claim: anyone
 * can commit another miner's multiaddr under their own hotkey, and then every request sent "to"
 * that hotkey lands on the other miner (a store overwrites the victim's chunks; a challenge earns
 * the alias the victim's score). So the validator talks to a miner only after the peer at its
 * address has proven, over the connection, that it holds the miner's hotkey (the signed hello of
 * protocol/hello.ts), and each peer id and each transport address belongs to one hotkey at a
 * time: a second claimant is refused before anything is sent to it.
 */

import { decodeAddress } from "@polkadot/util-crypto";
import { sr25519Verify } from "@polkadot/wasm-crypto";
import { bytesEqual } from "../../protocol/bytes.js";
import { helloProofPayload } from "../../protocol/hello.js";
import type { HelloMessage } from "../../protocol/messages.js";

/** A miner proven to hold its hotkey at an address. */
export interface MinerSession {
  /** The committed multiaddr the proof was made at (a new one needs a new proof). */
  address: string;
  /** The libp2p peer id that answered there. */
  peer: string;
}

/**
 * The part of a multiaddr that names a place on the network (`/ip4/…/tcp/…`), without the peer id.
 *
 * @example transportOf("/ip4/10.0.0.5/tcp/8091/p2p/12D3Koo…") // "/ip4/10.0.0.5/tcp/8091"
 */
export function transportOf(address: string): string {
  const at = address.indexOf("/p2p/");
  return at === -1 ? address : address.slice(0, at);
}

/**
 * Whether a miner's hello answer proves it holds `minerHotkey` (ss58): it carries a proof by that
 * public key, over the nonce this validator sent and both keys, that verifies.
 *
 * @example helloProves(reply, { nonce, validatorKey: hotkey.publicKey, minerHotkey: record.hotkey })
 */
export function helloProves(
  hello: HelloMessage,
  expected: { nonce: Uint8Array; validatorKey: Uint8Array; minerHotkey: string },
): boolean {
  const proof = hello.proof;
  if (proof === null || !bytesEqual(hello.nonce, expected.nonce)) return false;
  let minerKey: Uint8Array;
  try {
    minerKey = decodeAddress(expected.minerHotkey);
  } catch {
    return false;
  }
  if (!bytesEqual(proof.hotkey, minerKey)) return false;
  try {
    return sr25519Verify(
      proof.signature,
      helloProofPayload(expected.nonce, expected.validatorKey, minerKey),
      minerKey,
    );
  } catch {
    return false;
  }
}

/**
 * The proven sessions, and who holds each peer id and transport address. Plain maps: one entry
 * per miner in the metagraph at most ({@link retain} drops the rest each sync).
 *
 * @example
 * const sessions = createMinerSessions();
 * if (sessions.claimant({ peer, address }) !== undefined) refuse();
 * sessions.bind(minerId, { address, peer });
 */
export interface MinerSessions {
  /** The miner's session if it was proven at exactly `address`. */
  sessionOf(minerId: number, address: string): MinerSession | undefined;
  /** Any session of the miner, whatever its address (to hang up an old connection). */
  anySessionOf(minerId: number): MinerSession | undefined;
  /** Another miner holding this peer id or transport address, if any. */
  claimant(minerId: number, at: { peer?: string; address: string }): number | undefined;
  /** Binds a proven miner to its peer and address; false, binding nothing, when another holds either. */
  bind(minerId: number, session: MinerSession): boolean;
  /** Forgets a miner's session and claims. */
  release(minerId: number): void;
  /** Forgets every miner not in `minerIds`. */
  retain(minerIds: ReadonlySet<number>): void;
}

export function createMinerSessions(): MinerSessions {
  const sessions = new Map<number, MinerSession>();
  const byPeer = new Map<string, number>();
  const byTransport = new Map<string, number>();

  const release = (minerId: number): void => {
    const session = sessions.get(minerId);
    if (session === undefined) return;
    sessions.delete(minerId);
    if (byPeer.get(session.peer) === minerId) byPeer.delete(session.peer);
    const transport = transportOf(session.address);
    if (byTransport.get(transport) === minerId) byTransport.delete(transport);
  };

  const claimant: MinerSessions["claimant"] = (minerId, at) => {
    const byAddress = byTransport.get(transportOf(at.address));
    if (byAddress !== undefined && byAddress !== minerId) return byAddress;
    const peerHolder = at.peer === undefined ? undefined : byPeer.get(at.peer);
    if (peerHolder !== undefined && peerHolder !== minerId) return peerHolder;
    return undefined;
  };

  return {
    sessionOf(minerId, address) {
      const session = sessions.get(minerId);
      return session?.address === address ? session : undefined;
    },
    anySessionOf: (minerId) => sessions.get(minerId),
    claimant,
    bind(minerId, session) {
      if (claimant(minerId, session) !== undefined) return false;
      release(minerId);
      sessions.set(minerId, session);
      byPeer.set(session.peer, minerId);
      byTransport.set(transportOf(session.address), minerId);
      return true;
    },
    release,
    retain(minerIds) {
      for (const minerId of [...sessions.keys()]) if (!minerIds.has(minerId)) release(minerId);
    },
  };
}
