/**
 * The dev chain under subnet load: a block carrying 256 weight settings, and the epoch block of a
 * full 256-uid subnet whose 64 permitted validators (subtensor's MaxAllowedValidators for a new
 * subnet) each weight every uid. Baseline: an empty block of the same chain, measured in the same run.
 */
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { createDevChain, type DevChain } from "../chain/devchain/chain.js";
import { signExtrinsic } from "../chain/devchain/extrinsic.js";
import type { RuntimeCallValue } from "../chain/devchain/pallet.js";
import { subtensorPallets } from "../chain/devchain/pallets/subtensor/pallets.js";
import { type BenchGroup, measured, percentile, timeIt } from "./harness.js";

const UIDS = 256;
const VALIDATORS = 64;
const WEIGHT_SETTINGS = 256;
const TAO = 1_000_000_000n;

function admin(call: string, args: Record<string, unknown>): RuntimeCallValue {
  return { pallet: "Sudo", call: "sudo", args: { call: { pallet: "AdminUtils", call, args } } };
}

/** Signs and submits `calls` from `signer` with consecutive nonces, then builds one block. */
function submitAll(
  chain: DevChain,
  signer: KeyringPair,
  calls: RuntimeCallValue[],
  firstNonce: number,
): number {
  calls.forEach((call, i) => {
    chain.submit(
      signExtrinsic(chain.runtime, call, signer, { nonce: firstNonce + i, genesisHash: chain.genesis.hash }),
    );
  });
  chain.newBlock();
  return firstNonce + calls.length;
}

export const subtensorBench: BenchGroup = {
  name: "subtensor",
  description: `dev chain with SubtensorModule: a block of ${WEIGHT_SETTINGS} setWeights, and a ${UIDS}-uid epoch block`,
  async run(report) {
    await cryptoWaitReady();
    const chain = createDevChain({ port: 0, mode: "manual", pallets: subtensorPallets(), log: () => {} });
    await chain.start();
    try {
      const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
      const alice = keyring.addFromUri("//Alice");
      const hotkeys = Array.from({ length: UIDS - 1 }, (_, i) => keyring.addFromUri(`//Alice//bench${i}`));
      const netuid = 2;
      let nonce = submitAll(
        chain,
        alice,
        [{ pallet: "SubtensorModule", call: "register_network", args: { hotkey: alice.publicKey } }],
        0,
      );
      nonce = submitAll(
        chain,
        alice,
        [
          admin("sudo_set_tempo", { netuid, tempo: 1000 }),
          admin("sudo_set_commit_reveal_weights_enabled", { netuid, enabled: false }),
          admin("sudo_set_weights_set_rate_limit", { netuid, weights_set_rate_limit: 0n }),
          admin("sudo_set_max_allowed_validators", { netuid, max_allowed_validators: VALIDATORS }),
          admin("sudo_set_max_burn", { netuid, max_burn: 200_000_000n }),
        ],
        nonce,
      );
      nonce = submitAll(
        chain,
        alice,
        hotkeys.map((h) => ({
          pallet: "SubtensorModule",
          call: "burned_register",
          args: { netuid, hotkey: h.publicKey },
        })),
        nonce,
      );
      nonce = submitAll(
        chain,
        alice,
        [alice, ...hotkeys].map((h, i) => ({
          pallet: "SubtensorModule",
          call: "add_stake",
          args: { hotkey: h.publicKey, netuid, amount_staked: BigInt(10 + i) * TAO },
        })),
        nonce,
      );
      // An epoch now hands every staked uid a validator permit.
      nonce = submitAll(chain, alice, [admin("sudo_set_tempo", { netuid, tempo: 1 })], nonce);
      chain.newBlock();
      nonce = submitAll(chain, alice, [admin("sudo_set_tempo", { netuid, tempo: 1000 })], nonce);

      const emptyMs = timeIt(() => chain.newBlock(), 300);
      const dests = Array.from({ length: UIDS }, (_, i) => i);
      // The highest stakes hold the permits; each validator sets weights WEIGHT_SETTINGS / VALIDATORS times.
      const validators = hotkeys.slice(-VALIDATORS);
      const signed = Array.from({ length: WEIGHT_SETTINGS }, (_, k) => {
        const v = k % VALIDATORS;
        const call = {
          pallet: "SubtensorModule",
          call: "set_weights",
          args: { netuid, dests, weights: dests.map((d) => 1 + ((d * 7 + k) % 1000)), version_key: 0n },
        };
        const nonce = Math.floor(k / VALIDATORS);
        return signExtrinsic(chain.runtime, call, validators[v] as KeyringPair, {
          nonce,
          genesisHash: chain.genesis.hash,
        });
      });
      const t0 = performance.now();
      for (const x of signed) chain.submit(x);
      const [block] = chain.newBlock();
      const weightsMs = performance.now() - t0;
      if ((block?.extrinsics.length ?? 0) < signed.length)
        throw new Error("not every setWeights was included");
      report(
        measured(
          `subtensor.weightsBlock${signed.length}`,
          weightsMs,
          "ms",
          emptyMs,
          `submit (signature check) + include ${signed.length} setWeights of ${UIDS} uids from ${VALIDATORS} validators; baseline: empty block`,
        ),
      );

      // The epoch fires every `tempo` blocks once the tempo is set; time those blocks alone, warm
      // (a chain runs the epoch again and again), and take the median.
      nonce = submitAll(chain, alice, [admin("sudo_set_tempo", { netuid, tempo: 3 })], nonce);
      const epochTimes: number[] = [];
      const before = chain.read<bigint>("SubtensorModule", "SubnetEpochIndex", [netuid]);
      for (let i = 0; i < 6; i++) {
        chain.newBlock(2);
        const t1 = performance.now();
        chain.newBlock();
        epochTimes.push(performance.now() - t1);
      }
      const epochs = chain.read<bigint>("SubtensorModule", "SubnetEpochIndex", [netuid]) - before;
      if (epochs < 6n) throw new Error(`expected 6 epochs, ran ${epochs}`);
      const epochMs = percentile(epochTimes, 50);
      report(
        measured(
          `subtensor.epochBlock${UIDS}`,
          epochMs,
          "ms",
          emptyMs,
          `median block running the epoch of ${UIDS} uids, ${VALIDATORS} validators weighting all; baseline: empty block; goal < 25 ms`,
        ),
      );
    } finally {
      await chain.stop();
    }
  },
};
