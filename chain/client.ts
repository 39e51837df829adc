import type { KeyringPair } from "@polkadot/keyring/types";

/** An axon as stored in `SubtensorModule.Axons`. */
export interface AxonInfo {
  block: number;
  version: number;
  /** Dotted IPv4 or IPv6 text; `0.0.0.0` when served with ip 0. */
  ip: string;
  port: number;
  ipType: number;
  protocol: number;
}

/**
 * A subnet's metagraph, read at one block so every vector is consistent. Vectors are indexed by
 * uid; u16 values are as stored on chain (divide by 65535 for a fraction).
 */
export interface Metagraph {
  netuid: number;
  block: number;
  blockHash: string;
  n: number;
  hotkeys: string[];
  coldkeys: string[];
  /** Stake on the hotkey on this subnet (`TotalHotkeyAlpha`), in rao. */
  stake: bigint[];
  active: boolean[];
  validatorPermit: boolean[];
  incentive: number[];
  dividends: number[];
  consensus: number[];
  validatorTrust: number[];
  /** Emission of the last epoch per uid, in rao. */
  emission: bigint[];
  lastUpdate: number[];
  blockAtRegistration: number[];
  axons: (AxonInfo | null)[];
  /** `Weights(netuid, uid)`: sparse rows of (uid, u16). Only when asked for. */
  weights?: [number, number][][];
  /** `Bonds(netuid, uid)`: sparse rows of (uid, u16). Only when asked for. */
  bonds?: [number, number][][];
}

/** Which sparse matrices a metagraph read also fetches (each is one query per uid). */
export interface MetagraphOptions extends ReadOptions {
  weights?: boolean;
  bonds?: boolean;
}

/** The hyperparameters nodes act on. */
export interface Hyperparameters {
  tempo: number;
  weightsVersionKey: bigint;
  weightsSetRateLimit: number;
  minAllowedWeights: number;
  maxAllowedValidators: number;
  maxAllowedUids: number;
  immunityPeriod: number;
  kappa: number;
  bondsMovingAverage: bigint;
  commitRevealWeightsEnabled: boolean;
  revealPeriodEpochs: number;
  activityCutoff: number;
  liquidAlphaEnabled: boolean;
  yuma3Enabled: boolean;
  burn: bigint;
}

/** A weights commit kept until its reveal (the validator persists it across restarts). */
export interface PendingReveal {
  netuid: number;
  uids: number[];
  values: number[];
  salt: number[];
  versionKey: bigint;
  commitHash: string;
  commitBlock: number;
}

export interface TxResult {
  blockHash: string;
  blockNumber: number;
  events: { section: string; method: string; data: unknown[] }[];
}

/** What every read takes. */
export interface ReadOptions {
  /**
   * Stops waiting for the answer: the read rejects with `signal.reason` (a `TimeoutError` for
   * `AbortSignal.timeout`). The request already sent is not recalled; its answer is dropped.
   *
   * @example await client.metagraph(netuid, { signal: AbortSignal.timeout(30_000) })
   */
  signal?: AbortSignal;
}

/**
 * What the miner and validator need from a subtensor chain (the admin calls that set a subnet up
 * are a separate seam: `ChainAdmin`, chain/admin.ts). The implementation,
 * `PolkadotChainClient` (chain/polkadot-client.ts), runs over @polkadot/api against any endpoint:
 * the embedded dev chain, a localnet, testnet or finney.
 */
export interface ChainClient {
  readonly endpoint: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  currentBlock(options?: ReadOptions): Promise<number>;
  /** Calls `onBlock` for every new best block; returns the unsubscribe function. */
  subscribeBlocks(onBlock: (blockNumber: number) => void): Promise<() => void>;
  subnetExists(netuid: number, options?: ReadOptions): Promise<boolean>;
  uidOf(netuid: number, hotkey: string, options?: ReadOptions): Promise<number | undefined>;
  metagraph(netuid: number, options?: MetagraphOptions): Promise<Metagraph>;
  hyperparameters(netuid: number, options?: ReadOptions): Promise<Hyperparameters>;
  /** Registers `hotkey` paying the burn from `coldkey` (a miner's `--register`); returns its uid. */
  burnedRegister(coldkey: KeyringPair, netuid: number, hotkey: string): Promise<number>;
  serveAxon(hotkey: KeyringPair, netuid: number, axon: Omit<AxonInfo, "block">): Promise<TxResult>;
  setCommitment(hotkey: KeyringPair, netuid: number, data: Uint8Array): Promise<TxResult>;
  /** Raw commitment bytes per hotkey (the first `Raw` field of `CommitmentOf`). */
  commitments(netuid: number, options?: ReadOptions): Promise<Map<string, Uint8Array>>;
  /**
   * Sets weights (already u16, as `toU16Weights` produces). Fails with
   * `subtensorModule.CommitRevealEnabled` when the subnet wants commit-reveal: use
   * {@link ChainClient.commitWeights} there.
   */
  setWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
  ): Promise<TxResult>;
  commitWeights(
    hotkey: KeyringPair,
    netuid: number,
    uids: number[],
    weights: number[],
    versionKey: bigint,
    salt: number[],
  ): Promise<PendingReveal>;
  revealWeights(hotkey: KeyringPair, pending: PendingReveal): Promise<TxResult>;
  /** Free balance of the account, in rao. */
  balanceOf(address: string, options?: ReadOptions): Promise<bigint>;
}
