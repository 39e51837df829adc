/**
 * StakeInfoRuntimeApi and DelegateInfoRuntimeApi (subtensor's `rpc_info/stake_info.rs`,
 * `rpc_info/delegate_info.rs`, `staking/lock.rs`): what btcli's `stake list`, `stake add`,
 * `wallet overview` and the SDK's stake reads ask for, with subtensor's struct layouts.
 *
 * The dev chain has no conviction locks, no swap fees and no root stake, so locks, convictions and
 * fees answer what subtensor answers for a subnet where none were ever made.
 */
import { bytesEqual } from "../../../../protocol/bytes.js";
import type { RuntimeApiDef, RuntimeContext } from "../../pallet.js";
import { ACCOUNT_ID, type Type, t } from "../../scale.js";
import { stakeOf } from "./stake.js";
import { item, subnetExists } from "./storage.js";
import { LOCK_STATE, NETUID, U64F64 } from "./types.js";
import { uidOf } from "./uids.js";

const cu16 = t.compact(t.u16);
const cu64 = t.compact(t.u64);
const ACCOUNT_PARAM = [{ name: "AccountId", type: ACCOUNT_ID }];

export const STAKE_INFO: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "stake_info", "StakeInfo"],
  {
    hotkey: ACCOUNT_ID,
    coldkey: ACCOUNT_ID,
    netuid: cu16,
    stake: cu64,
    locked: cu64,
    emission: cu64,
    tao_emission: cu64,
    drain: cu64,
    is_registered: t.bool,
  },
  ACCOUNT_PARAM,
);

export const STAKE_AVAILABILITY: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "stake_info", "StakeAvailability"],
  {
    total: cu64,
    locked: cu64,
    available: cu64,
  },
);

export const DELEGATE_INFO: Type = t.struct(
  ["pallet_subtensor", "rpc_info", "delegate_info", "DelegateInfo"],
  {
    delegate_ss58: ACCOUNT_ID,
    take: cu16,
    nominators: t.vec(t.tuple(ACCOUNT_ID, t.vec(t.tuple(cu16, cu64)))),
    owner_ss58: ACCOUNT_ID,
    registrations: t.vec(cu16),
    validator_permits: t.vec(cu16),
    return_per_1000: cu64,
    total_daily_return: cu64,
  },
  ACCOUNT_PARAM,
);

/** scale-info's `BTreeMap<K, V>`: a composite over the sorted `Vec<(K, V)>` it encodes as. */
function btreeMap(key: Type, value: Type): Type {
  return {
    kind: "composite",
    path: ["BTreeMap"],
    params: [
      { name: "K", type: key },
      { name: "V", type: value },
    ],
    fields: [{ type: t.vec(t.tuple(key, value)) }],
  };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  }
  return a.length - b.length;
}

function subnetNetuids(ctx: RuntimeContext): number[] {
  return item<boolean>(ctx, "NetworksAdded")
    .entries()
    .filter(([, added]) => added)
    .map(([keys]) => Number(keys[0]))
    .sort((a, b) => a - b);
}

function stakeInfo(ctx: RuntimeContext, hotkey: Uint8Array, coldkey: Uint8Array, netuid: number) {
  return {
    hotkey,
    coldkey,
    netuid,
    stake: stakeOf(ctx, hotkey, coldkey, netuid),
    locked: 0n,
    emission: item<bigint>(ctx, "AlphaDividendsPerSubnet").get(netuid, hotkey),
    // Subtensor removed TAO dividends; it reports zero.
    tao_emission: 0n,
    drain: 0n,
    is_registered: uidOf(ctx, netuid, hotkey) !== undefined,
  };
}

/** Every non-zero stake of a coldkey, subnet by subnet, as `_get_stake_info_for_coldkeys` lists them. */
function stakeInfoForColdkey(ctx: RuntimeContext, coldkey: Uint8Array) {
  const hotkeys = item<Uint8Array[]>(ctx, "StakingHotkeys").get(coldkey);
  return subnetNetuids(ctx).flatMap((netuid) =>
    hotkeys.flatMap((hotkey) =>
      stakeOf(ctx, hotkey, coldkey, netuid) === 0n ? [] : [stakeInfo(ctx, hotkey, coldkey, netuid)],
    ),
  );
}

function stakeAvailability(ctx: RuntimeContext, coldkeys: Uint8Array[], requested: number[] | null) {
  if (coldkeys.length === 0) return [];
  const existing = subnetNetuids(ctx);
  let netuids = existing;
  let invalid = false;
  if (requested) {
    netuids = [...new Set(requested)].sort((a, b) => a - b);
    // Subtensor answers an empty or oversized request with empty maps.
    invalid = netuids.length === 0 || netuids.length > existing.length;
    netuids = netuids.filter((n) => subnetExists(ctx, n));
  }
  const unique = coldkeys.filter((c, i) => coldkeys.findIndex((d) => bytesEqual(c, d)) === i);
  return unique.sort(compareBytes).map((coldkey) => {
    if (invalid) return [coldkey, []];
    const hotkeys = item<Uint8Array[]>(ctx, "StakingHotkeys").get(coldkey);
    const rows = netuids.flatMap((netuid) => {
      const total = hotkeys.reduce((sum, h) => sum + stakeOf(ctx, h, coldkey, netuid), 0n);
      // No locks on the dev chain: everything staked is available.
      return total === 0n ? [] : [[netuid, { total, locked: 0n, available: total }]];
    });
    return [coldkey, rows];
  });
}

/** Hotkeys that became delegates, and the coldkey's stake with each (`get_delegated`). */
function delegated(ctx: RuntimeContext, coldkey: Uint8Array) {
  const out: unknown[] = [];
  for (const [[delegate], take] of item<number>(ctx, "Delegates").entries()) {
    const hotkey = delegate as Uint8Array;
    for (const netuid of subnetNetuids(ctx)) {
      if (!item<{ bits: bigint } | undefined>(ctx, "Alpha").has(hotkey, coldkey, netuid)) continue;
      out.push([delegateInfo(ctx, hotkey, take), [netuid, stakeOf(ctx, hotkey, coldkey, netuid)]]);
    }
  }
  return out;
}

/** `get_delegate_by_existing_account(delegate, skip_nominators = true)`. */
function delegateInfo(ctx: RuntimeContext, hotkey: Uint8Array, take: number) {
  const registrations = subnetNetuids(ctx).filter((n) => uidOf(ctx, n, hotkey) !== undefined);
  let perDay = 0n;
  const permits: number[] = [];
  for (const netuid of registrations) {
    const uid = uidOf(ctx, netuid, hotkey) as number;
    if (item<boolean[]>(ctx, "ValidatorPermit").get(netuid)[uid]) permits.push(netuid);
    const emission = item<bigint[]>(ctx, "Emission").get(netuid)[uid] ?? 0n;
    const tempo = BigInt(item<number>(ctx, "Tempo").get(netuid));
    if (tempo > 0n) perDay += (emission * 7200n) / tempo;
  }
  return {
    delegate_ss58: hotkey,
    take,
    nominators: [],
    owner_ss58: item<Uint8Array>(ctx, "Owner").get(hotkey),
    registrations,
    validator_permits: permits,
    // Subtensor prices the return per 1000 TAO of root stake; the dev chain has none.
    return_per_1000: 0n,
    total_daily_return: perDay,
  };
}

const ACCOUNT = (name: string) => ({ name, type: ACCOUNT_ID });
const ACCOUNTS = (name: string) => ({ name, type: t.vec(ACCOUNT_ID) });
const NETUID_INPUT = { name: "netuid", type: NETUID };

export const stakeInfoRuntimeApis: RuntimeApiDef[] = [
  {
    name: "StakeInfoRuntimeApi",
    version: 1,
    methods: [
      {
        name: "get_stake_info_for_coldkey",
        inputs: [ACCOUNT("coldkey_account")],
        output: t.vec(STAKE_INFO),
        call: (ctx, [coldkey]) => stakeInfoForColdkey(ctx, coldkey as Uint8Array),
      },
      {
        name: "get_stake_info_for_coldkeys",
        inputs: [ACCOUNTS("coldkey_accounts")],
        output: t.vec(t.tuple(ACCOUNT_ID, t.vec(STAKE_INFO))),
        call: (ctx, [coldkeys]) => (coldkeys as Uint8Array[]).map((c) => [c, stakeInfoForColdkey(ctx, c)]),
      },
      {
        name: "get_stake_info_for_hotkey_coldkey_netuid",
        inputs: [ACCOUNT("hotkey_account"), ACCOUNT("coldkey_account"), NETUID_INPUT],
        output: t.option(STAKE_INFO),
        call: (ctx, [hotkey, coldkey, netuid]) =>
          stakeInfo(ctx, hotkey as Uint8Array, coldkey as Uint8Array, netuid as number),
      },
      {
        name: "get_stake_availability_for_coldkeys",
        inputs: [ACCOUNTS("coldkey_accounts"), { name: "netuids", type: t.option(t.vec(NETUID)) }],
        output: btreeMap(ACCOUNT_ID, btreeMap(NETUID, STAKE_AVAILABILITY)),
        call: (ctx, [coldkeys, netuids]) =>
          stakeAvailability(ctx, coldkeys as Uint8Array[], (netuids as number[] | null) ?? null),
      },
      {
        name: "get_stake_fee",
        inputs: [
          { name: "origin", type: t.option(t.tuple(ACCOUNT_ID, NETUID)) },
          ACCOUNT("origin_coldkey_account"),
          { name: "destination", type: t.option(t.tuple(ACCOUNT_ID, NETUID)) },
          ACCOUNT("destination_coldkey_account"),
          { name: "amount", type: t.u64 },
        ],
        output: t.u64,
        // Stake converts 1:1 with no pool, so there is no swap fee to charge.
        call: () => 0n,
      },
      {
        name: "get_coldkey_lock",
        inputs: [ACCOUNT("coldkey"), NETUID_INPUT],
        output: t.option(LOCK_STATE),
        call: () => null,
      },
      {
        name: "get_hotkey_conviction",
        inputs: [ACCOUNT("hotkey"), NETUID_INPUT],
        output: U64F64,
        call: () => ({ bits: 0n }),
      },
      {
        name: "get_most_convicted_hotkey_on_subnet",
        inputs: [NETUID_INPUT],
        output: t.option(ACCOUNT_ID),
        call: () => null,
      },
    ],
  },
  {
    name: "DelegateInfoRuntimeApi",
    version: 1,
    methods: [
      {
        name: "get_delegated",
        inputs: [ACCOUNT("delegatee_account")],
        output: t.vec(t.tuple(DELEGATE_INFO, t.tuple(cu16, cu64))),
        call: (ctx, [coldkey]) => delegated(ctx, coldkey as Uint8Array),
      },
    ],
  },
];
