// The reference side of the conformance suite: populates the dev chain and reads it back with
// @polkadot/api, printing JSON for pytest to compare the bittensor SDK's and btcli's reads with.
//   node polkadot-reference.mjs populate ws://… NETUID   registers miners and stakes on NETUID
//   node polkadot-reference.mjs read ws://… NETUID       prints { block, uids, hotkeys, coldkeys, stakes, tempo }
//   node polkadot-reference.mjs weights ws://… NETUID    prints { weights (per uid [[dest, u16]]), incentive,
//                                                         dividends, lastUpdate, validatorPermit, axons, commitReveal }
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

const modes = { populate, read, weights };

await cryptoWaitReady();
const api = await ApiPromise.create({ provider: new WsProvider(endpoint), noInitWarn: true });
try {
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const run = modes[mode];
  if (!run) throw new Error(`unknown mode ${mode}: one of ${Object.keys(modes).join(", ")}`);
  const out = await run(api, keyring);
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await api.disconnect();
}
