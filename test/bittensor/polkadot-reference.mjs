// The reference side of the conformance suite: populates the dev chain and reads it back with
// @polkadot/api, printing JSON for pytest to compare the bittensor SDK's and btcli's reads with.
//   node polkadot-reference.mjs populate ws://… NETUID   registers miners and stakes on NETUID
//   node polkadot-reference.mjs read ws://… NETUID       prints { block, uids, hotkeys, coldkeys, stakes, tempo }
//   node polkadot-reference.mjs weights ws://… NETUID    prints { weights (per uid [[dest, u16]]), incentive,
//                                                         dividends, lastUpdate, validatorPermit, axons, commitReveal }
//   node polkadot-reference.mjs subnet ws://… NETUID     the read, plus the owner, identity, hyperparameters
//                                                        (storage items, by btcli's names) and the owner's stakes
//   node polkadot-reference.mjs calls ws://… B-I,B-I…     the call each extrinsic (block-index, as btcli prints
//                                                        extrinsic identifiers) carries, as "section.method"
import { ApiPromise, Keyring, WsProvider } from "@polkadot/api";
import { cryptoWaitReady } from "@polkadot/util-crypto";

const [mode, endpoint, netuidArg] = process.argv.slice(2);
const netuid = Number(netuidArg ?? 1);
const TAO = 1_000_000_000n;

/** Signs and waits for inclusion; throws on a dispatch error so a broken set-up fails loudly. */
function send(api, tx, signer) {
  return new Promise((resolve, reject) => {
    tx.signAndSend(signer, (r) => {
      if (!r.status.isInBlock && !r.status.isFinalized) return;
      if (r.dispatchError) {
        const e = r.dispatchError.isModule ? api.registry.findMetaError(r.dispatchError.asModule) : null;
        reject(new Error(e ? `${e.section}.${e.name}` : r.dispatchError.toString()));
      } else resolve();
    }).catch(reject);
  });
}

async function populate(api, keyring) {
  const alice = keyring.addFromUri("//Alice");
  const miners = ["//Alice//miner1", "//Alice//miner2"].map((uri) => keyring.addFromUri(uri));
  for (const m of miners) await send(api, api.tx.subtensorModule.burnedRegister(netuid, m.address), alice);
  // Distinct stakes so a permutation of uids or of stakes cannot pass.
  await send(api, api.tx.subtensorModule.addStake(alice.address, netuid, 100n * TAO), alice);
  await send(api, api.tx.subtensorModule.addStake(miners[0].address, netuid, 7n * TAO), alice);
  return { miners: miners.map((m) => m.address) };
}

async function read(api) {
  const q = api.query.subtensorModule;
  const n = (await q.subnetworkN(netuid)).toNumber();
  const uids = [...Array(n).keys()];
  const hotkeys = await Promise.all(uids.map(async (uid) => (await q.keys(netuid, uid)).toString()));
  const coldkeys = await Promise.all(hotkeys.map(async (h) => (await q.owner(h)).toString()));
  const stakes = await Promise.all(
    hotkeys.map(async (h) => (await q.totalHotkeyAlpha(h, netuid)).toString()),
  );
  const block = (await api.rpc.chain.getHeader()).number.toNumber();
  const tempo = (await q.tempo(netuid)).toNumber();
  return { block, uids, hotkeys, coldkeys, stakes, tempo };
}

async function weights(api) {
  const q = api.query.subtensorModule;
  const n = (await q.subnetworkN(netuid)).toNumber();
  const uids = [...Array(n).keys()];
  const rows = await Promise.all(uids.map((uid) => q.weights(netuid, uid)));
  const numbers = async (item) => (await q[item](netuid)).map((v) => Number(v.toString()));
  const hotkeys = await Promise.all(uids.map(async (uid) => (await q.keys(netuid, uid)).toString()));
  const axons = await Promise.all(
    hotkeys.map(async (h) => {
      const axon = await q.axons(netuid, h);
      if (axon.isNone) return null;
      const a = axon.unwrap();
      return { ip: a.ip.toString(), port: a.port.toNumber(), ipType: a.ipType.toNumber() };
    }),
  );
  return {
    weights: rows.map((row) => row.map(([dest, w]) => [dest.toNumber(), w.toNumber()])),
    incentive: await numbers("incentive"),
    dividends: await numbers("dividends"),
    lastUpdate: await numbers("lastUpdate"),
    validatorPermit: (await q.validatorPermit(netuid)).map((v) => v.isTrue),
    axons,
    commitReveal: (await q.commitRevealWeightsEnabled(netuid)).isTrue,
  };
}

/** What a builder's btcli reads show of a subnet, straight from storage. */
async function subnet(api) {
  const q = api.query.subtensorModule;
  const base = await read(api);
  const get = async (name) => (await q[name](netuid)).toJSON();
  const [alphaLow, alphaHigh] = await get("alphaValues");
  const hyperparameters = {
    tempo: await get("tempo"),
    kappa: await get("kappa"),
    immunity_period: await get("immunityPeriod"),
    min_allowed_weights: await get("minAllowedWeights"),
    max_weights_limit: await get("maxWeightsLimit"),
    weights_version: await get("weightsVersionKey"),
    weights_rate_limit: await get("weightsSetRateLimit"),
    registration_allowed: await get("networkRegistrationAllowed"),
    target_regs_per_interval: await get("targetRegistrationsPerInterval"),
    min_burn: await get("minBurn"),
    max_burn: await get("maxBurn"),
    bonds_moving_avg: await get("bondsMovingAverage"),
    max_regs_per_block: await get("maxRegistrationsPerBlock"),
    serving_rate_limit: await get("servingRateLimit"),
    max_validators: await get("maxAllowedValidators"),
    commit_reveal_period: await get("revealPeriodEpochs"),
    commit_reveal_weights_enabled: await get("commitRevealWeightsEnabled"),
    alpha_high: alphaHigh,
    alpha_low: alphaLow,
    liquid_alpha_enabled: await get("liquidAlphaOn"),
    yuma_version: (await get("yuma3On")) ? 3 : 2,
    subnet_is_active: await get("subtokenEnabled"),
  };
  const owner = (await q.subnetOwner(netuid)).toString();
  const identity = (await q.subnetIdentitiesV3(netuid)).toHuman();
  // The owner coldkey's stake on each hotkey of the subnet (what `stake list` and `wallet overview` show).
  const ownerStakes = {};
  for (const hotkey of base.hotkeys) {
    const info = await api.call.stakeInfoRuntimeApi.getStakeInfoForHotkeyColdkeyNetuid(hotkey, owner, netuid);
    ownerStakes[hotkey] = info.unwrap().stake.toString();
  }
  const balance = (await api.query.system.account(owner)).data.free.toString();
  return { ...base, owner, identity, hyperparameters, ownerStakes, ownerBalance: balance };
}

/** Names the call of each `block-index` extrinsic: what a tool actually sent. */
async function calls(api, ids) {
  const out = {};
  for (const id of ids.split(",")) {
    const [block, index] = id.split("-").map(Number);
    const hash = await api.rpc.chain.getBlockHash(block);
    const { method } = (await api.rpc.chain.getBlock(hash)).block.extrinsics[index];
    out[id] = `${method.section}.${method.method}`;
  }
  return out;
}

await cryptoWaitReady();
const api = await ApiPromise.create({ provider: new WsProvider(endpoint), noInitWarn: true });
try {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const modes = {
    populate: () => populate(api, keyring),
    read: () => read(api),
    weights: () => weights(api),
    subnet: () => subnet(api),
    calls: () => calls(api, netuidArg),
  };
  if (!modes[mode]) throw new Error(`unknown mode ${mode}: one of ${Object.keys(modes).join(", ")}`);
  const out = await modes[mode]();
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await api.disconnect();
}
