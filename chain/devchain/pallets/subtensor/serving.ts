/** Serving (subtensor's `subnets/serving.rs`): `serve_axon` and its checks. */
import { type CallDef, ensureSigned, type RuntimeContext } from "../../pallet.js";
import { t } from "../../scale.js";
import { reject, withFail } from "./module-errors.js";
import { item, NETUID_ARG, SUBTENSOR } from "./storage.js";
import type { AxonInfoValue } from "./types.js";
import { uidOf } from "./uids.js";

function validIp(ip: bigint, ipType: number): boolean {
  if (ipType === 4) return ip < 0xffffffffn && ip !== 0x7f000001n;
  if (ipType === 6) return ip < (1n << 128n) - 1n && ip !== 1n;
  return false;
}

/** The error `serveAxon` fails with, or undefined when the axon is acceptable. */
function axonError(
  ctx: Pick<RuntimeContext, "storage" | "blockNumber">,
  who: Uint8Array,
  a: Record<string, unknown>,
) {
  const netuid = a.netuid as number;
  if (uidOf(ctx as RuntimeContext, netuid, who) === undefined) return "HotKeyNotRegisteredInNetwork";
  const ipType = a.ip_type as number;
  if (ipType !== 4 && ipType !== 6) return "InvalidIpType";
  if (!validIp(BigInt(a.ip as bigint), ipType)) return "InvalidIpAddress";
  const previous = item<AxonInfoValue | undefined>(ctx as RuntimeContext, "Axons").get(netuid, who);
  const limit = item<bigint>(ctx as RuntimeContext, "ServingRateLimit").get(netuid);
  if (previous && limit > 0n && BigInt(ctx.blockNumber) - BigInt(previous.block) < limit) {
    return "ServingRateLimitExceeded";
  }
  if ((a.port as number) === 0) return "InvalidPort";
  return undefined;
}

/** The serving call. */
export const servingCalls: CallDef[] = [
  {
    name: "serve_axon",
    index: 4,
    pays: false,
    args: [
      NETUID_ARG,
      { name: "version", type: t.u32, typeName: "u32" },
      { name: "ip", type: t.u128, typeName: "u128" },
      { name: "port", type: t.u16, typeName: "u16" },
      { name: "ip_type", type: t.u8, typeName: "u8" },
      { name: "protocol", type: t.u8, typeName: "u8" },
      { name: "placeholder1", type: t.u8, typeName: "u8" },
      { name: "placeholder2", type: t.u8, typeName: "u8" },
    ],
    validate(ctx, a) {
      const error = axonError(ctx as unknown as RuntimeContext, ensureSigned(ctx.origin), a);
      if (error && error !== "InvalidIpType") reject(error);
    },
    handler: withFail((ctx, a) => {
      const who = ensureSigned(ctx.origin);
      const error = axonError(ctx, who, a);
      if (error) return ctx.fail(error);
      const netuid = a.netuid as number;
      const axon: AxonInfoValue = {
        block: BigInt(ctx.blockNumber),
        version: a.version as number,
        ip: BigInt(a.ip as bigint),
        port: a.port as number,
        ip_type: a.ip_type as number,
        protocol: a.protocol as number,
        placeholder1: a.placeholder1 as number,
        placeholder2: a.placeholder2 as number,
      };
      item<AxonInfoValue>(ctx, "Axons").set([netuid, who], axon);
      ctx.emit(SUBTENSOR, "AxonServed", [netuid, who]);
    }),
  },
];
