import { ChainLayerError } from "./errors.js";

/**
 * Where `--subtensor.network` points, as the bittensor tools resolve it. `local` is the embedded
 * dev chain's default address (`npm run devchain` listens there), or a local subtensor node.
 */
export const NETWORK_ENDPOINTS = {
  local: "ws://127.0.0.1:9944",
  test: "wss://test.finney.opentensor.ai:443",
  finney: "wss://entrypoint-finney.opentensor.ai:443",
} as const;

export type NetworkName = keyof typeof NETWORK_ENDPOINTS;

/** `--subtensor.network` names no network this client knows. */
export class UnknownNetworkError extends ChainLayerError {
  override name = "UnknownNetworkError";
}

/** `chain_endpoint` wins over `network`, as in bittensor's `--subtensor.chain_endpoint`. */
export function resolveEndpoint(options: { network?: string; chainEndpoint?: string | undefined }): string {
  if (options.chainEndpoint) return options.chainEndpoint;
  const network = (options.network ?? "local") as NetworkName;
  const endpoint = NETWORK_ENDPOINTS[network];
  if (!endpoint)
    throw new UnknownNetworkError(`unknown subtensor network "${options.network}" (local, test or finney)`);
  return endpoint;
}
