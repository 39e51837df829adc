/**
 * The dev chain's `Commitments` pallet (index 18): a registered hotkey publishes up to three
 * `Data` fields per subnet — our miners publish their libp2p multiaddr there
 * (../shared/reference/subtensor-api.md, section 4).
 */
import { ensureSigned, type PalletDef } from "../../pallet.js";
import { ACCOUNT_ID, t } from "../../scale.js";
import { SUBTENSOR } from "./storage.js";
import { COMMITMENT_INFO, NETUID, REGISTRATION, USAGE_TRACKER } from "./types.js";

const MAX_FIELDS = 3;
const DEFAULT_MAX_SPACE = 3100;

interface DataValue {
  tag: string;
  value?: unknown;
}

/** Space a field uses against the per-epoch quota. */
function fieldSize(field: DataValue): number {
  if (field.tag === "None" || field.tag === "ResetBondsFlag") return 0;
  if (field.tag.startsWith("Raw")) return Number(field.tag.slice(3));
  if (field.tag === "BigRaw") return (field.value as Uint8Array).length;
  if (field.tag === "TimelockEncrypted")
    return ((field.value as { encrypted: Uint8Array }).encrypted ?? []).length;
  return 32;
}

export function commitmentsPallet(): PalletDef {
  const id = { hasher: "Identity" as const, type: NETUID };
  const x64 = { hasher: "Twox64Concat" as const, type: ACCOUNT_ID };
  return {
    name: "Commitments",
    index: 18,
    crate: "pallet_commitments",
    storage: [
      { name: "CommitmentOf", type: REGISTRATION, keys: [id, x64], query: "Optional" },
      { name: "LastCommitment", type: t.u32, keys: [id, x64], query: "Optional" },
      { name: "UsedSpaceOf", type: USAGE_TRACKER, keys: [id, x64], query: "Optional" },
      { name: "MaxSpace", type: t.u32, default: DEFAULT_MAX_SPACE },
    ],
    events: [
      { name: "Commitment", index: 0, fields: { netuid: NETUID, who: ACCOUNT_ID } },
      {
        name: "TimelockCommitment",
        index: 1,
        fields: { netuid: NETUID, who: ACCOUNT_ID, reveal_round: t.u64 },
      },
      { name: "CommitmentRevealed", index: 2, fields: { netuid: NETUID, who: ACCOUNT_ID } },
    ],
    errors: [
      { name: "TooManyFieldsInCommitmentInfo", index: 0 },
      { name: "AccountNotAllowedCommit", index: 1 },
      { name: "SpaceLimitExceeded", index: 2 },
      { name: "UnexpectedUnreserveLeftover", index: 3 },
    ],
    constants: [
      { name: "MaxFields", type: t.u32, value: MAX_FIELDS },
      { name: "InitialDeposit", type: t.u64, value: 0n },
      { name: "FieldDeposit", type: t.u64, value: 0n },
    ],
    calls: [
      {
        name: "set_commitment",
        index: 0,
        pays: false,
        args: [
          { name: "netuid", type: NETUID, typeName: "NetUid" },
          { name: "info", type: COMMITMENT_INFO, typeName: "Box<CommitmentInfo<T::MaxFields>>" },
        ],
        handler(ctx, args) {
          const who = ensureSigned(ctx.origin);
          const netuid = args.netuid as number;
          const info = args.info as { fields: DataValue[] };
          const uid = ctx.storage<number | undefined>(SUBTENSOR, "Uids").get(netuid, who);
          if (uid === undefined || uid === null) return ctx.fail("AccountNotAllowedCommit");
          if (info.fields.length > MAX_FIELDS) return ctx.fail("TooManyFieldsInCommitmentInfo");
          const epoch = ctx.storage<bigint>(SUBTENSOR, "SubnetEpochIndex").get(netuid);
          const cost = BigInt(
            Math.max(
              100,
              info.fields.reduce((sum, f) => sum + fieldSize(f), 0),
            ),
          );
          const usage = ctx.storage<{ last_epoch: bigint; used_space: bigint } | undefined>(
            "Commitments",
            "UsedSpaceOf",
          );
          const current = usage.get(netuid, who);
          const used = current && current.last_epoch === epoch ? current.used_space : 0n;
          const max = BigInt(ctx.storage<number>("Commitments", "MaxSpace").get());
          if (used + cost > max) return ctx.fail("SpaceLimitExceeded");
          usage.set([netuid, who], { last_epoch: epoch, used_space: used + cost });
          ctx.storage("Commitments", "CommitmentOf").set([netuid, who], {
            deposit: 0n,
            block: ctx.blockNumber,
            info,
          });
          ctx.storage<number>("Commitments", "LastCommitment").set([netuid, who], ctx.blockNumber);
          ctx.emit("Commitments", "Commitment", { netuid, who });
        },
      },
    ],
  };
}
