/**
 * SCALE types of subtensor's public API (../shared/reference/subtensor-api.md, sections 4 and 5),
 * described for the dev chain's metadata generator.
 */
import { type Type, t } from "../../scale.js";

export const NETUID: Type = t.u16;

export const AXON_INFO: Type = t.struct(["pallet_subtensor", "pallet", "AxonInfo"], {
  block: t.u64,
  version: t.u32,
  ip: t.u128,
  port: t.u16,
  ip_type: t.u8,
  protocol: t.u8,
  placeholder1: t.u8,
  placeholder2: t.u8,
});

export interface AxonInfoValue {
  block: bigint;
  version: number;
  ip: bigint;
  port: number;
  ip_type: number;
  protocol: number;
  placeholder1: number;
  placeholder2: number;
}

/** substrate-fixed's U64F64: value = bits / 2^64. */
export const U64F64: Type = t.struct(["substrate_fixed", "FixedU128"], { bits: t.u128 });

/** substrate-fixed's signed 128-bit fixed point (I96F32: bits / 2^32; I64F64: bits / 2^64). */
export const FIXED_I128: Type = t.struct(["substrate_fixed", "FixedI128"], { bits: t.i128 });

/** `pallet_subtensor::SubnetIdentityV3`: every field is raw UTF-8 bytes. */
export const SUBNET_IDENTITY_V3: Type = t.struct(["pallet_subtensor", "pallet", "SubnetIdentityV3"], {
  subnet_name: t.vec(t.u8),
  github_repo: t.vec(t.u8),
  subnet_contact: t.vec(t.u8),
  subnet_url: t.vec(t.u8),
  discord: t.vec(t.u8),
  description: t.vec(t.u8),
  logo_url: t.vec(t.u8),
  additional: t.vec(t.u8),
});

/** `pallet_subtensor::ChainIdentityV2`: a coldkey's on-chain identity, raw UTF-8 bytes. */
export const CHAIN_IDENTITY_V2: Type = t.struct(["pallet_subtensor", "pallet", "ChainIdentityV2"], {
  name: t.vec(t.u8),
  url: t.vec(t.u8),
  github_repo: t.vec(t.u8),
  image: t.vec(t.u8),
  discord: t.vec(t.u8),
  description: t.vec(t.u8),
  additional: t.vec(t.u8),
});

/** How a coldkey takes its root dividends; the dev chain has no root stake, so only the default. */
export const ROOT_CLAIM_TYPE: Type = t.enum(["pallet_subtensor", "pallet", "RootClaimTypeEnum"], {
  Swap: [],
  Keep: [],
  KeepSubnets: { subnets: t.vec(t.u16) },
});

/** `staking::lock::LockState`: conviction locks (none are made on the dev chain). */
export const LOCK_STATE: Type = t.struct(["pallet_subtensor", "staking", "lock", "LockState"], {
  locked_mass: t.u64,
  conviction: U64F64,
  last_update: t.u64,
});

/** A sparse row of (uid, u16) pairs, as `Weights` and `Bonds` store them. */
export const SPARSE_ROW: Type = t.vec(t.tuple(t.u16, t.u16));

export const WEIGHT_COMMIT: Type = t.tuple(
  t.newtype(["primitive_types", "H256"], t.array(t.u8, 32)),
  t.u64,
  t.u64,
  t.u64,
);

/** `pallet_commitments::types::Data`: None, Raw0..Raw128, four hashes, and the extended variants. */
function dataType(): Type {
  const variants: Record<string, Type[]> = { None: [] };
  const indices: Record<string, number> = { None: 0 };
  for (let n = 0; n <= 128; n++) {
    variants[`Raw${n}`] = [t.array(t.u8, n)];
    indices[`Raw${n}`] = n + 1;
  }
  const hash = t.array(t.u8, 32);
  Object.assign(variants, {
    BlakeTwo256: [hash],
    Sha256: [hash],
    Keccak256: [hash],
    ShaThree256: [hash],
  });
  Object.assign(indices, { BlakeTwo256: 130, Sha256: 131, Keccak256: 132, ShaThree256: 133 });
  const variantsWithStructs: Record<string, Type[] | Record<string, Type>> = {
    ...variants,
    TimelockEncrypted: { encrypted: t.vec(t.u8), reveal_round: t.u64 },
    ResetBondsFlag: [],
    BigRaw: [t.vec(t.u8)],
  };
  Object.assign(indices, { TimelockEncrypted: 134, ResetBondsFlag: 135, BigRaw: 136 });
  return t.enum(["pallet_commitments", "types", "Data"], variantsWithStructs, indices);
}

export const DATA: Type = dataType();

export const COMMITMENT_INFO: Type = t.struct(["pallet_commitments", "types", "CommitmentInfo"], {
  fields: t.vec(DATA),
});

export const REGISTRATION: Type = t.struct(["pallet_commitments", "types", "Registration"], {
  deposit: t.u64,
  block: t.u32,
  info: COMMITMENT_INFO,
});

export const USAGE_TRACKER: Type = t.struct(["pallet_commitments", "types", "UsageTracker"], {
  last_epoch: t.u64,
  used_space: t.u64,
});
