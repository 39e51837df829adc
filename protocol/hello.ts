/**
 * The hello proof: how a miner shows a validator, over the connection the validator dialled, that
 * it holds the hotkey the validator reached it for. A committed address is only a claim (anyone
 * may commit another miner's address under their own hotkey); a signature by the hotkey over a
 * nonce the validator just drew is not.
 *
 * The miner signs, with its hotkey (sr25519):
 *
 *   HELLO_PROOF_DOMAIN ‖ nonce (HELLO_NONCE_LENGTH) ‖ validator public key (32) ‖ miner public key (32)
 *
 * - the nonce is fresh per hello, so an old proof cannot be replayed;
 * - the validator's key is in it, so a proof given to one validator is worth nothing to another;
 * - the miner's key is in it, so the validator checks that the key that signed is the hotkey the
 *   address was committed under, and refuses any other (an alias of someone else's address).
 */

import { ProtocolError } from "./errors.js";
import { HELLO_NONCE_LENGTH, PUBLIC_KEY_LENGTH } from "./messages.js";

/** Domain tag of the hello proof: never a valid request signature, nor the other way round. */
export const HELLO_PROOF_DOMAIN = "storage-subnet/hello/v1";

/** The arguments of {@link helloProofPayload} have the wrong lengths. */
export class HelloProofInputError extends ProtocolError {
  override name = "HelloProofInputError";
}

/**
 * The bytes a miner signs in its hello answer, and a validator verifies.
 *
 * @example
 * const proof = { hotkey: miner.publicKey, signature: miner.sign(helloProofPayload(nonce, validatorKey, miner.publicKey)) };
 */
export function helloProofPayload(
  nonce: Uint8Array,
  validatorKey: Uint8Array,
  minerKey: Uint8Array,
): Uint8Array {
  if (nonce.length !== HELLO_NONCE_LENGTH) {
    throw new HelloProofInputError(`a hello nonce is ${HELLO_NONCE_LENGTH} bytes`);
  }
  if (validatorKey.length !== PUBLIC_KEY_LENGTH || minerKey.length !== PUBLIC_KEY_LENGTH) {
    throw new HelloProofInputError(`a public key is ${PUBLIC_KEY_LENGTH} bytes`);
  }
  const domain = new TextEncoder().encode(HELLO_PROOF_DOMAIN);
  const out = new Uint8Array(domain.length + HELLO_NONCE_LENGTH + 2 * PUBLIC_KEY_LENGTH);
  out.set(domain, 0);
  out.set(nonce, domain.length);
  out.set(validatorKey, domain.length + HELLO_NONCE_LENGTH);
  out.set(minerKey, domain.length + HELLO_NONCE_LENGTH + PUBLIC_KEY_LENGTH);
  return out;
}
