/**
 * Sends a transaction to the dev chain through @polkadot/api and reports what the block said of it:
 * the dispatch error (as "section.Name") and the events' names. Shared by the dev chain call tests.
 */
import type { ApiPromise } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { KeyringPair } from "@polkadot/keyring/types";

export interface TxOutcome {
  errors: string[];
  events: string[];
}

/** Signs, waits for the block, and names the dispatch error (if any) and the events. */
export function sendTx(
  api: ApiPromise,
  tx: SubmittableExtrinsic<"promise">,
  signer: KeyringPair,
): Promise<TxOutcome> {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (r) => {
      if (!r.status.isInBlock && !r.status.isFinalized) return;
      const errors: string[] = [];
      if (r.dispatchError?.isModule) {
        const meta = api.registry.findMetaError(r.dispatchError.asModule);
        errors.push(`${meta.section}.${meta.name}`);
      } else if (r.dispatchError) errors.push(r.dispatchError.type);
      resolve({ errors, events: r.events.map(({ event }) => `${event.section}.${event.method}`) });
    }).catch(reject);
  });
}
